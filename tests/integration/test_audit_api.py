"""The audit log routes over real HTTP: filters, pages, the CSV export, who may read them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from events import Event
from events.auth import (
    LoginFailed,
    LoginFailedData,
    LoginSucceeded,
    LoginSucceededData,
    UserData,
    UserRegistered,
)
from handlers.audit import write_audit_rows
from handlers.audit.service import CSV_COLUMNS, AuditFilter, export_csv
from handlers.auth import create_user
from runtime.platform import Platform, Roles
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params
from tests.fixtures.app import PlatformFactory

PASSWORD = "correct horse battery"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def _user(platform: Platform, email: str, role: str = "user") -> str:
    async with platform.services.session_factory() as session:
        user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
        return user.id


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _events() -> list[Event]:
    """Five events a minute apart, oldest first; the last carries spreadsheet formulas."""
    return [
        UserRegistered(
            subject="u1",
            actor="system",
            time=at(1),
            data=UserData(user_id="u1", email="alice@example.com", role="user"),
        ),
        LoginSucceeded(subject="u1", actor="u1", time=at(2), data=LoginSucceededData(user_id="u1")),
        LoginFailed(
            subject="mallory",
            actor="anonymous",
            time=at(3),
            data=LoginFailedData(email="Mallory@Example.com", reason="invalid_credentials"),
        ),
        LoginSucceeded(subject="u2", actor="u2", time=at(4), data=LoginSucceededData(user_id="u2")),
        LoginFailed(
            subject='=HYPERLINK("http://evil","x")',
            actor="@evil",
            source="+cmd",
            time=at(5),
            data=LoginFailedData(email="-2+3@example.com", reason="invalid_credentials"),
        ),
    ]


@pytest.fixture
async def quiet(platform_factory: PlatformFactory) -> Platform:
    # No audit consumer: the rows the tests write are the whole log.
    return await platform_factory(Roles(consumers=False))


@pytest.fixture
async def http(quiet: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=quiet.url, timeout=10.0) as client:
        yield client


async def _seeded_admin(platform: Platform, client: httpx.AsyncClient) -> dict[str, str]:
    await _user(platform, "root@example.com", "admin")
    async with platform.services.session_factory() as session, session.begin():
        await write_audit_rows(session, _events())
    return await _token(client, "root@example.com")


async def test_audit_filters_and_pages_newest_first(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _seeded_admin(quiet, http)

    async def subjects(query: str) -> tuple[list[str], int]:
        response = await http.get(f"/api/admin/audit?{query}", headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        return [e["subject"] for e in page["items"]], page["total"]

    first = await subjects("limit=2")
    assert first == (['=HYPERLINK("http://evil","x")', "u2"], 5)
    assert await subjects("limit=2&offset=2") == (["mallory", "u1"], 5)
    assert await subjects("limit=2&offset=4") == (["u1"], 5)

    assert await subjects("type=llmforge.auth.login.succeeded.") == (["u2", "u1"], 2)
    assert await subjects("type=llmforge.auth.login.") == (
        ['=HYPERLINK("http://evil","x")', "u2", "mallory", "u1"],
        4,
    )
    assert await subjects("type=llmforge.auth.login._") == ([], 0)  # a prefix, not a pattern
    assert await subjects("actor=u1") == (["u1"], 1)
    assert await subjects("subject=u1") == (["u1", "u1"], 2)
    assert await subjects("resource=u1&type=llmforge.auth.user.") == (["u1"], 1)
    window = "since=2025-01-01T00:02:00Z&until=2025-01-01T00:04:00Z"
    assert await subjects(window) == (["mallory", "u1"], 2)
    assert await subjects("q=mallory@EXAMPLE") == (["mallory"], 1)
    assert await subjects("q=invalid_credentials&actor=anonymous") == (["mallory"], 1)
    assert await subjects("q=100%25") == ([], 0)  # % is text, not a wildcard

    entry = (await http.get("/api/admin/audit?actor=u2", headers=headers)).json()["items"][0]
    assert entry["type"] == "llmforge.auth.login.succeeded.v1"
    assert entry["time"] == "2025-01-01T00:04:00Z"
    assert entry["data"]["user_id"] == "u2"

    for query, code in [
        ("subject=u1&resource=u2", "conflicting_filters"),
        ("since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "invalid_range"),
    ]:
        for path in ("/api/admin/audit", "/api/admin/audit/export"):
            bad = await http.get(f"{path}?{query}", headers=headers)
            assert bad.status_code == 400, (path, query)
            assert bad.json()["code"] == code
    assert (await http.get("/api/admin/audit?limit=201", headers=headers)).status_code == 400


async def test_audit_export_is_a_csv_with_formulas_neutralised(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _seeded_admin(quiet, http)
    response = await http.get("/api/admin/audit/export?type=llmforge.auth.login.", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audit-')
    assert disposition.endswith('.csv"')
    assert (response.headers["x-total-count"], response.headers["x-export-truncated"]) == (
        "4",
        "false",
    )
    assert response.headers["x-export-limit"] == "100000"

    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r[4] for r in rows[1:]] == [
        '\'=HYPERLINK("http://evil","x")',
        "u2",
        "mallory",
        "u1",
    ]
    evil = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert evil["time"] == "2025-01-01T00:05:00Z"
    assert evil["type"] == "llmforge.auth.login.failed.v1"
    assert (evil["actor"], evil["source"]) == ("'@evil", "'+cmd")
    # Data is one JSON cell; it starts with "{", so it needs no quote and parses back.
    data = json.loads(evil["data"])
    assert (data["email"], data["reason"]) == ("-2+3@example.com", "invalid_credentials")
    assert rows[2][0:3] == ["2025-01-01T00:04:00Z", rows[2][1], "llmforge.auth.login.succeeded.v1"]

    empty = await http.get("/api/admin/audit/export?actor=nobody", headers=headers)
    assert list(csv.reader(io.StringIO(empty.text))) == [list(CSV_COLUMNS)]


async def test_the_export_pages_through_ties_and_stops_at_its_bound(quiet: Platform) -> None:
    same_time = [
        LoginSucceeded(subject=f"s{i}", actor="a", time=T0, data=LoginSucceededData(user_id="a"))
        for i in range(5)
    ]
    async with quiet.services.session_factory() as session, session.begin():
        await write_audit_rows(session, [*same_time, *_events()])

    async def exported(**bounds: int) -> list[list[str]]:
        chunks = [
            c async for c in export_csv(quiet.services.session_factory, AuditFilter(), **bounds)
        ]
        return list(csv.reader(io.StringIO(b"".join(chunks).decode())))[1:]

    everything = await exported(page=2)
    ids = [r[1] for r in everything]
    assert len(ids) == 10
    assert len(set(ids)) == 10
    # Newest first; equal times in id order.
    tied = [r[1] for r in everything if r[0] == "2025-01-01T00:00:00Z"]
    assert tied == sorted(e.id for e in same_time)
    assert [r[1] for r in await exported(page=2, max_rows=3)] == ids[:3]


async def test_a_plain_user_cannot_read_the_audit_log(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    await _user(quiet, "user@example.com")
    headers = await _token(http, "user@example.com")
    for path in ("/api/admin/audit", "/api/admin/audit/export"):
        assert (await http.get(path)).status_code == 401, path
        forbidden = await http.get(path, headers=headers)
        assert forbidden.status_code == 403, path
        assert forbidden.json()["code"] == "permission_required"


async def _eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_every_event_reaches_the_audit_log_once(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await _user(platform, "root@example.com", "admin")
    headers = await _token(client, "root@example.com")
    registered = await client.post(
        "/api/auth/register", json={"email": "new@example.com", "password": PASSWORD}
    )
    new_id = registered.json()["id"]
    await client.patch(f"/api/admin/users/{new_id}", headers=headers, json={"role": "admin"})

    async def audit_has_update() -> list[dict[str, Any]]:
        page = (await client.get(f"/api/admin/audit?subject={new_id}", headers=headers)).json()
        types = [e["type"] for e in page["items"]]
        return page["items"] if "llmforge.auth.user.updated.v1" in types else []

    entries = await _eventually(audit_has_update)
    types = sorted(e["type"] for e in entries)
    assert types == ["llmforge.auth.user.registered.v1", "llmforge.auth.user.updated.v1"]
    update = next(e for e in entries if e["type"].endswith("updated.v1"))
    assert update["data"]["changed"] == ["role"]
    assert update["actor"] != new_id

    filtered = (
        await client.get("/api/admin/audit?type=llmforge.auth.login.", headers=headers)
    ).json()
    assert filtered["total"] >= 1
    assert all(e["type"].startswith("llmforge.auth.login.") for e in filtered["items"])
