"""Authorization matrix: every route x {anonymous, user, other user, admin}, from one table.

``ROUTES`` names every route of the app with who may call it and, for routes that take the
id of something a user owns, the kind of that thing. The walk creates one thing of each
kind as user A, then calls every route as anonymous, as user B (the built-in ``user`` role)
and as an admin, and the owned routes' reads as A:

- anonymous: 401 on every route that is not public;
- user B: 403 ``permission_required`` on admin routes, let in on the others, and on A's
  things the same 404/403 a missing thing gets (never a permission error, never A's data);
- admin: let in everywhere; on A's things either treated like the owner (kinds admins
  manage) or like any other user (private kinds: chats, prompts, knowledge, keys, runs);
- A: reads of A's own things do not get B's answer (the ids are right, the test is real).

A new route fails ``test_every_route_has_a_row`` until it gets a row here.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from runtime.app import create_app
from runtime.services import Services
from runtime.settings import Settings
from tests.fixtures.app import PlatformFactory
from tests.integration.owned_support import owned_things
from tests.integration.permission_support import (
    admin_session,
    api_key,
    login,
    make_user,
    problem_code,
)


class Access(Enum):
    PUBLIC = "public"  # no credential needed
    LOGIN = "login"  # any signed-in user: their own account
    USER = "user"  # a permission the built-in "user" role has
    ADMIN = "admin"  # a permission only admins have


P, L, U, A = Access.PUBLIC, Access.LOGIN, Access.USER, Access.ADMIN

# Ids in the path name nothing a user owns (users, roles, providers, model configs, quota
# subjects, page paths): the walk fills them with placeholders.
GLOBAL = "global"

# Kinds of things a user owns, and whether an admin manages other users' ones (True) or
# they stay private to their owner even for admins (False).
ADMIN_SEES = {
    "session": False,
    "message": False,
    "prompt": False,
    "knowledge_base": False,
    "document": False,
    "api_key": False,
    "run": False,
    "batch": False,
    "dataset": True,
    "job": True,
    "adapter": True,
    "webhook": True,
}


@dataclass(frozen=True)
class Row:
    access: Access
    kind: str | None = None
    # Sent by every caller: a valid body, so that B reaches the ownership check instead of
    # a 400. "{name}" strings are filled with the owned thing's ids.
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None
    # The status an anonymous call gets; None: 401 unless public, not 401/403 if public.
    anonymous: int | None = None
    # The route takes personal API keys only (Dify's API).
    api_key: bool = False


ROUTES: dict[str, Row] = {
    # system
    "GET /asyncapi.json": Row(P),
    "GET /health/live": Row(P),
    "GET /health/ready": Row(P),
    "GET /metrics": Row(P),  # its own token when LLMFORGE_METRICS_TOKEN is set
    "GET /": Row(P),
    "GET /{path:path}": Row(P, GLOBAL),
    # auth
    "POST /api/auth/register": Row(P),
    "POST /api/auth/login": Row(P),
    "POST /api/auth/refresh": Row(P, anonymous=401),  # no refresh token presented
    "POST /api/auth/logout": Row(P),
    "GET /api/auth/me": Row(L),
    "PATCH /api/auth/me": Row(L),
    "POST /api/auth/password": Row(L),
    "GET /api/auth/api-keys": Row(L),
    "POST /api/auth/api-keys": Row(L),
    "DELETE /api/auth/api-keys/{key_id:str}": Row(L, "api_key"),
    "GET /api/quotas/me": Row(L),
    # administration
    "GET /api/admin/users": Row(A),
    "POST /api/admin/users": Row(A),
    "PATCH /api/admin/users/{user_id:str}": Row(A, GLOBAL),
    "POST /api/admin/users/{user_id:str}/reset-password": Row(A, GLOBAL),
    "GET /api/admin/roles": Row(A),
    "POST /api/admin/roles": Row(A),
    "GET /api/admin/roles/{name:str}": Row(A, GLOBAL),
    "PATCH /api/admin/roles/{name:str}": Row(A, GLOBAL),
    "DELETE /api/admin/roles/{name:str}": Row(A, GLOBAL),
    "GET /api/admin/permissions": Row(A),
    "GET /api/admin/audit": Row(A),
    "GET /api/admin/audit/export": Row(A),
    "GET /api/admin/stats": Row(A),
    "GET /api/usage/summary": Row(A),
    "GET /api/admin/quotas": Row(A),
    "PUT /api/admin/quotas/{subject_type:str}/{subject_id:str}": Row(A, GLOBAL),
    "DELETE /api/admin/quotas/{subject_type:str}/{subject_id:str}": Row(A, GLOBAL),
    # providers and model configs: shared by everyone, managed by admins
    "GET /api/providers/presets": Row(U),
    "GET /api/providers": Row(A),
    "POST /api/providers": Row(A),
    "GET /api/providers/{provider_id:str}": Row(A, GLOBAL),
    "PATCH /api/providers/{provider_id:str}": Row(A, GLOBAL),
    "DELETE /api/providers/{provider_id:str}": Row(A, GLOBAL),
    "POST /api/providers/{provider_id:str}/test": Row(A, GLOBAL),
    "POST /api/providers/{provider_id:str}/refresh-models": Row(A, GLOBAL),
    "GET /api/models": Row(U),
    "POST /api/models": Row(A),
    "GET /api/models/{config_id:str}": Row(U, GLOBAL),
    "PATCH /api/models/{config_id:str}": Row(A, GLOBAL),
    "DELETE /api/models/{config_id:str}": Row(A, GLOBAL),
    "GET /api/models/aliases": Row(U),
    "PUT /api/models/aliases/{alias:str}": Row(A, GLOBAL),
    "GET /api/models/aliases/{alias:str}/history": Row(A, GLOBAL),
    "POST /api/models/aliases/{alias:str}/rollback": Row(A, GLOBAL),
    # the OpenAI-compatible API
    "GET /v1/models": Row(U),
    "POST /v1/chat/completions": Row(U),
    "POST /v1/embeddings": Row(U),
    "POST /v1/messages": Row(U),
    # prompts
    "GET /api/prompts": Row(U),
    "POST /api/prompts": Row(U),
    "GET /api/prompts/{template_id:str}": Row(U, "prompt"),
    "PATCH /api/prompts/{template_id:str}": Row(U, "prompt", {"name": "taken over"}),
    "DELETE /api/prompts/{template_id:str}": Row(U, "prompt"),
    "GET /api/prompts/{template_id:str}/versions": Row(U, "prompt"),
    "GET /api/prompts/{template_id:str}/versions/{number:int}": Row(U, "prompt"),
    "GET /api/prompts/{template_id:str}/diff": Row(U, "prompt", query={"from": "1", "to": "1"}),
    "POST /api/prompts/{template_id:str}/versions/{number:int}/restore": Row(U, "prompt"),
    "POST /api/prompts/{template_id:str}/render": Row(U, "prompt", {"variables": {}}),
    # chat
    "GET /api/chat/sessions": Row(U),
    "POST /api/chat/sessions": Row(U),
    "GET /api/chat/sessions/{session_id:str}": Row(U, "session"),
    "PATCH /api/chat/sessions/{session_id:str}": Row(U, "session", {"title": "taken over"}),
    "DELETE /api/chat/sessions/{session_id:str}": Row(U, "session"),
    "GET /api/chat/sessions/{session_id:str}/messages": Row(U, "session"),
    "POST /api/chat/sessions/{session_id:str}/messages": Row(U, "session", {"content": "hi"}),
    "POST /api/chat/sessions/{session_id:str}/stop": Row(U, "session"),
    "GET /api/chat/sessions/{session_id:str}/export": Row(U, "session"),
    "POST /api/chat/messages/{message_id:str}/regenerate": Row(U, "message"),
    "POST /api/chat/messages/{message_id:str}/edit": Row(U, "message", {"content": "hi"}),
    "POST /api/chat/messages/{message_id:str}/rating": Row(U, "message", {"rating": 1}),
    "GET /api/chat/messages/{message_id:str}/raw": Row(U, "message"),
    "DELETE /api/chat/messages/{message_id:str}": Row(U, "message"),
    # compare
    "POST /api/compare": Row(U),
    "GET /api/compare/runs": Row(U),
    "GET /api/compare/runs/{run_id:str}": Row(U, "run"),
    "DELETE /api/compare/runs/{run_id:str}": Row(U, "run"),
    "POST /api/compare/runs/{run_id:str}/vote": Row(U, "run", {"winner_model_config_id": None}),
    "GET /api/compare/leaderboard": Row(U),
    "GET /api/compare/batches": Row(U),
    "POST /api/compare/batches": Row(U),
    "GET /api/compare/batches/{batch_id:str}": Row(U, "batch"),
    "GET /api/compare/batches/{batch_id:str}/results.csv": Row(U, "batch"),
    "GET /api/compare/batches/{batch_id:str}/events": Row(U, "batch"),
    # webhooks
    "GET /api/webhooks": Row(U),
    "POST /api/webhooks": Row(U),
    "GET /api/webhooks/{webhook_id:str}": Row(U, "webhook"),
    "PATCH /api/webhooks/{webhook_id:str}": Row(U, "webhook", {"description": "taken over"}),
    "DELETE /api/webhooks/{webhook_id:str}": Row(U, "webhook"),
    "POST /api/webhooks/{webhook_id:str}/rotate-secret": Row(U, "webhook"),
    "POST /api/webhooks/{webhook_id:str}/test": Row(U, "webhook"),
    "GET /api/webhooks/{webhook_id:str}/deliveries": Row(U, "webhook"),
    "POST /api/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver": Row(U, "webhook"),
    "GET /api/events": Row(U),
    # datasets and training
    "GET /api/datasets": Row(U),
    "POST /api/datasets": Row(U),
    "GET /api/datasets/{dataset_id:str}": Row(U, "dataset"),
    "DELETE /api/datasets/{dataset_id:str}": Row(U, "dataset"),
    "GET /api/datasets/{dataset_id:str}/preview": Row(U, "dataset"),
    "GET /api/datasets/{dataset_id:str}/validation": Row(U, "dataset"),
    "GET /api/datasets/{dataset_id:str}/export": Row(U, "dataset"),
    "POST /api/datasets/collect/preview": Row(U),
    "POST /api/datasets/collect": Row(U),
    "GET /api/datasets/{dataset_id:str}/train-defaults": Row(
        U, "dataset", query={"base_model_id": "placeholder"}
    ),
    "POST /api/datasets/{dataset_id:str}/train": Row(
        U, "dataset", {"base_model_id": "placeholder"}
    ),
    "GET /api/training/jobs": Row(U),
    "POST /api/training/jobs": Row(U),
    "GET /api/training/jobs/{job_id:str}": Row(U, "job"),
    "POST /api/training/jobs/{job_id:str}/cancel": Row(U, "job"),
    "GET /api/training/jobs/{job_id:str}/events": Row(U, "job"),
    "GET /api/training/jobs/{job_id:str}/metrics": Row(U, "job"),
    "GET /api/training/jobs/{job_id:str}/report": Row(U, "job"),
    "GET /api/training/jobs/{job_id:str}/evaluation": Row(U, "job"),
    "POST /api/training/jobs/{job_id:str}/evaluation": Row(U, "job", {}),
    "POST /api/models/{config_id:str}/serve": Row(U, "adapter"),
    "GET /api/models/{config_id:str}/serve": Row(U, "adapter"),
    "DELETE /api/models/{config_id:str}/serve": Row(U, "adapter"),
    "GET /api/models/{config_id:str}/serve/logs": Row(U, "adapter"),
    "POST /api/models/{config_id:str}/export": Row(U, "adapter"),
    # knowledge
    "GET /api/knowledge-bases": Row(U),
    "POST /api/knowledge-bases": Row(U),
    "GET /api/knowledge-bases/{kb_id:str}": Row(U, "knowledge_base"),
    "PATCH /api/knowledge-bases/{kb_id:str}": Row(U, "knowledge_base", {"name": "taken over"}),
    "DELETE /api/knowledge-bases/{kb_id:str}": Row(U, "knowledge_base"),
    "POST /api/knowledge-bases/{kb_id:str}/search": Row(U, "knowledge_base", {"query": "q"}),
    "GET /api/knowledge-bases/{kb_id:str}/documents": Row(U, "knowledge_base"),
    "POST /api/knowledge-bases/{kb_id:str}/documents": Row(U, "knowledge_base"),
    "GET /api/knowledge-bases/{kb_id:str}/documents/{doc_id:str}": Row(U, "document"),
    "DELETE /api/knowledge-bases/{kb_id:str}/documents/{doc_id:str}": Row(U, "document"),
    "POST /api/knowledge-bases/{kb_id:str}/documents/{doc_id:str}/reindex": Row(U, "document"),
    "GET /api/knowledge-bases/{kb_id:str}/documents/{doc_id:str}/events": Row(U, "document"),
    "POST /api/dify/retrieval": Row(
        U,
        "knowledge_base",
        {"knowledge_id": "{kb_id}", "query": "q", "retrieval_setting": {"top_k": 1}},
        anonymous=403,  # Dify's error shape: 403 for every credential problem
        api_key=True,
    ),
}

PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _app_routes(app: Litestar) -> set[str]:
    schema = (app.openapi_config.path if app.openapi_config else None) or "/schema"
    found: set[str] = set()
    for route in app.routes:
        # The OpenAPI documents are Litestar's own routes, public by design.
        if not isinstance(route, HTTPRoute) or route.path.startswith(schema):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add(f"{method} {route.path}")
    return found


def test_every_route_has_a_row() -> None:
    services = cast("Any", Services)(
        settings=Settings(), engine=None, session_factory=None, bus=None
    )
    routes = _app_routes(create_app(services))
    missing = sorted(routes - set(ROUTES))
    stale = sorted(set(ROUTES) - routes)
    assert not missing, f"routes without a row in ROUTES: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_rows_say_whose_ids_the_path_takes() -> None:
    """A route with an id in its path says what the id names: owned kinds get the walk."""
    unclear = [
        key
        for key, row in ROUTES.items()
        if (PARAM.search(key) and row.kind is None) or row.kind not in (None, GLOBAL, *ADMIN_SEES)
    ]
    assert not unclear, unclear


# ---------------------------------------------------------------------------------------
# The walk


@dataclass
class Principals:
    owner: dict[str, str]
    other: dict[str, str]
    admin: dict[str, str]
    other_key: dict[str, str]
    admin_key: dict[str, str]


def _path(template: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.groups()
        return ids.get(name, "1" if kind == "int" else "placeholder")

    return PARAM.sub(value, template)


def _fill(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, str):
        return body.format(**ids)
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    return body


Answer = tuple[int, str | None]


@dataclass(frozen=True)
class Reply:
    answer: Answer  # status and problem code
    text: str = ""  # the body, unless it is a stream


async def _call(
    client: httpx.AsyncClient, method: str, path: str, row: Row, headers: dict[str, str] | None
) -> Reply:
    """Streamed, so an SSE route that lets us in is just closed."""
    request = client.stream(method, path, headers=headers, json=row.body, params=row.query)
    async with request as response:
        kind = response.headers.get("content-type", "")
        if kind.startswith("text/event-stream"):
            return Reply((response.status_code, None))
        await response.aread()
        problem = response.status_code >= 400 and "json" in kind and response.content
        code = problem_code(response) if problem else None
        return Reply((response.status_code, code), response.text)


def _walk_order(key: str) -> tuple[int, int, str]:
    """Deletions last, the deepest first (a document before its knowledge base)."""
    method, path = key.split(" ", 1)
    return (method == "DELETE", -path.count("/") if method == "DELETE" else 0, key)


def _denied(answer: Answer) -> bool:
    return answer[0] in (401, 403)


def _hidden(answer: Answer) -> bool:
    """What someone else's thing looks like: not there, or not theirs to touch."""
    return answer[0] in (403, 404) and answer[1] != "permission_required"


class Walk:
    """One route at a time, as every caller; what went against the table is collected."""

    def __init__(
        self, client: httpx.AsyncClient, people: Principals, things: dict[str, dict[str, str]]
    ) -> None:
        self.client = client
        self.people = people
        self.things = things
        # A's ids that must not show up in anyone else's lists. Adapters are model configs,
        # which every user may list (not private, only served by their owner).
        self.secret_ids = {
            value
            for kind, ids in things.items()
            if kind != "adapter"
            for name, value in ids.items()
            if name not in ("number", "delivery_id")
        }
        self.failures: list[str] = []

    def check(self, ok: bool, key: str, who: str, answer: Answer) -> None:
        if not ok:
            self.failures.append(f"{key} as {who}: {answer}")

    async def route(self, key: str, row: Row) -> None:
        method, template = key.split(" ", 1)
        ids = self.things.get(row.kind or "", {})
        row = dataclasses.replace(row, body=_fill(row.body, ids))
        path = _path(template, ids)
        people = self.people

        anonymous = (await _call(self.client, method, path, row, None)).answer
        if row.anonymous is not None:
            self.check(anonymous[0] == row.anonymous, key, "anonymous", anonymous)
        elif row.access is Access.PUBLIC:
            self.check(not _denied(anonymous), key, "anonymous", anonymous)
        else:
            self.check(anonymous[0] == 401, key, "anonymous", anonymous)

        user = people.other_key if row.api_key else people.other
        reply = await _call(self.client, method, path, row, user)
        other = reply.answer
        if row.access is Access.ADMIN:
            self.check(other == (403, "permission_required"), key, "user", other)
        elif row.kind in ADMIN_SEES:
            self.check(_hidden(other), key, "other user", other)
        elif row.access is not Access.PUBLIC:
            self.check(not _denied(other), key, "user", other)
        # Lists and searches: none of A's things (a 404 may echo the id it was asked for).
        asked = path + repr(row.body)
        leaked = sorted(i for i in self.secret_ids if i in reply.text and i not in asked)
        self.check(not leaked, key, f"other user (shows A's {leaked})", other)

        if row.kind in ADMIN_SEES and method == "GET":
            mine = (await _call(self.client, method, path, row, people.owner)).answer
            self.check(not _denied(mine) and mine != other, key, "owner", mine)

        admin = people.admin_key if row.api_key else people.admin
        answer = (await _call(self.client, method, path, row, admin)).answer
        if row.kind in ADMIN_SEES and not ADMIN_SEES[row.kind]:
            self.check(answer == other, key, "admin (private to its owner)", answer)
        elif row.kind in ADMIN_SEES:
            ok = not _denied(answer) and answer != other
            self.check(ok, key, "admin (manages it)", answer)
        elif row.access is not Access.PUBLIC:
            self.check(not _denied(answer), key, "admin", answer)


@pytest.fixture
def db_backend() -> str:
    # Authorization lives in the handlers, not in SQL dialects: SQLite is enough here, and
    # the walk makes several hundred requests.
    return "sqlite"


async def test_every_route_answers_each_caller_as_the_table_says(
    platform_factory: PlatformFactory,
) -> None:
    platform = await platform_factory(overrides={"webhooks_allow_private": True})
    async with httpx.AsyncClient(base_url=platform.url, timeout=30.0) as client:
        admin = await admin_session(platform, client)
        owner_id = await make_user(platform, "owner@example.com")
        await make_user(platform, "other@example.com")
        other = await login(client, "other@example.com")
        people = Principals(
            owner=await login(client, "owner@example.com"),
            other=other,
            admin=admin,
            other_key=await api_key(client, other),
            admin_key=await api_key(client, admin),
        )
        things = await owned_things(platform, client, owner_id, people.owner)
        assert set(things) == set(ADMIN_SEES)

        assert platform.app is not None
        live = _app_routes(platform.app)
        walk = Walk(client, people, things)
        for key in sorted(ROUTES, key=_walk_order):
            if key in live:  # a missing one is test_every_route_has_a_row's to report
                await walk.route(key, ROUTES[key])
        assert not walk.failures, "\n".join(walk.failures)
