"""The HTTP basics over real HTTP: health, docs, problem details, request ids, body limits."""

from __future__ import annotations

import httpx
import pytest

from runtime.platform import Platform


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
