"""The HTTP basics over real HTTP: health, docs, problem details, request ids, body limits."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from runtime.platform import Platform
from runtime.settings import ServerSettings
from tests.fixtures.app import PlatformFactory


async def test_liveness_and_readiness_report_ok(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["nats"]["ok"] is True


async def test_readiness_fails_when_a_stream_is_missing(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await platform.services.bus.js.delete_stream("LLMFORGE_DLQ")
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    nats = ready.json()["checks"]["nats"]
    assert nats["ok"] is False
    assert "LLMFORGE_DLQ" in nats["detail"]


async def test_openapi_and_asyncapi_documents_are_served(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/schema/openapi.json")).json()
    assert "/api/auth/login" in openapi["paths"]
    ids = [
        op["operationId"]
        for path in openapi["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert "UserRegistered" in asyncapi["components"]["messages"]


async def test_unknown_route_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert body["instance"] == "/api/nope"


async def test_invalid_body_lists_the_field_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register", json={"email": "a@b.io"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["type"].endswith("/validation-failed")
    assert body["errors"]
    malformed = await client.post(
        "/api/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "bad_request"


async def test_oversized_body_is_refused(client: httpx.AsyncClient, platform: Platform) -> None:
    limit = platform.settings.server.max_body_bytes
    response = await client.post(
        "/api/auth/register",
        content=b"x" * (limit + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("given", [None, "abc-123"])
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {"x-request-id": given} if given else {}
    response = await client.get("/health/live", headers=headers)
    request_id = response.headers["x-request-id"]
    assert request_id == given if given else len(request_id) == 32


async def _idle_connection_closed_after(platform: Platform, wait: float) -> bool:
    """Send one request on a raw connection, stay idle ``wait`` s: did the server close it?"""
    reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
    try:
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        try:
            async with asyncio.timeout(wait):
                return await reader.read(1) == b""
        except TimeoutError:
            return False
    finally:
        writer.close()


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_idle_keep_alive_connections_close_after_the_configured_time(
    platform_factory: PlatformFactory,
) -> None:
    # The default (75 s) outlives client pools (httpx: 5 s), so they always close first.
    assert ServerSettings().keep_alive_seconds == 75
    server = ServerSettings(host="127.0.0.1", port=0, keep_alive_seconds=1)
    platform = await platform_factory(overrides={"server": server})
    assert await _idle_connection_closed_after(platform, 3.0)
    # uvicorn's own default would have closed it after 5 s; ours keeps it past that.
    default = await platform_factory()
    assert not await _idle_connection_closed_after(default, 6.0)
