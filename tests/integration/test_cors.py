"""CORS for a separately hosted web UI: preflights, credentials, headers; cookie flags."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from runtime.platform import Platform
from runtime.settings import ServerSettings
from tests.fixtures.app import PlatformFactory
from tests.integration.permission_support import PASSWORD, make_user

UI = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def db_backend() -> str:
    # CORS happens before any database work: one backend is enough.
    return "sqlite"


async def _platform(
    platform_factory: PlatformFactory, origins: tuple[str, ...], **security: Any
) -> Platform:
    server = dataclasses.replace(ServerSettings(host="127.0.0.1", port=0), cors_origins=origins)
    return await platform_factory(overrides={"server": server}, **security)


def _listed(response: httpx.Response, name: str) -> set[str]:
    return {v.strip().lower() for v in response.headers.get(name, "").split(",") if v.strip()}


def _preflight(method: str, headers: str, origin: str = UI) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": headers,
    }


async def test_a_preflight_from_the_ui_allows_its_methods_and_headers(
    platform_factory: PlatformFactory,
) -> None:
    platform = await _platform(platform_factory, (UI,))
    async with httpx.AsyncClient(base_url=platform.url) as http:
        response = await http.options(
            "/api/chat/sessions/abc",
            headers=_preflight("PATCH", "authorization, content-type, last-event-id, x-request-id"),
        )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == UI
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "origin" in _listed(response, "vary")
        assert {"get", "post", "put", "patch", "delete"} <= _listed(
            response, "access-control-allow-methods"
        )
        assert {"authorization", "content-type", "last-event-id", "x-request-id"} <= _listed(
            response, "access-control-allow-headers"
        )
        # The preflight gets the security headers too (one middleware for every answer).
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_preflights_from_other_origins_or_for_other_headers_are_refused(
    platform_factory: PlatformFactory,
) -> None:
    platform = await _platform(platform_factory, (UI,))
    async with httpx.AsyncClient(base_url=platform.url) as http:
        stranger = await http.options(
            "/api/auth/me", headers=_preflight("GET", "authorization", OTHER)
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers
        odd_header = await http.options("/api/auth/me", headers=_preflight("GET", "x-evil"))
        assert odd_header.status_code == 400
        odd_method = await http.options("/api/auth/me", headers=_preflight("TRACE", ""))
        assert odd_method.status_code == 400


async def test_answers_name_the_ui_origin_and_expose_the_headers_it_reads(
    platform_factory: PlatformFactory,
) -> None:
    platform = await _platform(platform_factory, (UI,))
    async with httpx.AsyncClient(base_url=platform.url) as http:
        allowed = await http.get("/health/live", headers={"origin": UI})
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        exposed = _listed(allowed, "access-control-expose-headers")
        assert {"x-request-id", "server-timing", "retry-after", "content-disposition"} <= exposed
        # A problem answer is readable by the UI too, with its request id.
        problem = await http.get("/api/auth/me", headers={"origin": UI})
        assert problem.status_code == 401
        assert problem.headers["access-control-allow-origin"] == UI
        stranger = await http.get("/health/live", headers={"origin": OTHER})
        assert "access-control-allow-origin" not in stranger.headers


async def test_a_cross_site_ui_keeps_its_session_with_a_samesite_none_cookie(
    platform_factory: PlatformFactory,
) -> None:
    platform = await _platform(platform_factory, (UI,), cookie_secure=True, cookie_samesite="none")
    await make_user(platform, "ada@example.com")
    async with httpx.AsyncClient(base_url=platform.url) as http:
        login = await http.post(
            "/api/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers={"origin": UI},
        )
        assert login.status_code == 200
        assert login.headers["access-control-allow-origin"] == UI
        cookie = login.headers["set-cookie"]
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite=none", "path=/api/auth"} <= flags
        token = cookie.split(";", 1)[0]
        # The browser sends the cookie with `credentials: "include"`; httpx would hold a
        # Secure cookie back over plain http, so it goes in by hand.
        refreshed = await http.post("/api/auth/refresh", headers={"origin": UI, "cookie": token})
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.headers["access-control-allow-credentials"] == "true"
        assert refreshed.headers["cache-control"] == "no-store"


async def test_the_refresh_cookie_is_strict_by_default(
    platform_factory: PlatformFactory,
) -> None:
    platform = await platform_factory(cookie_secure=True)
    await make_user(platform, "ada@example.com")
    async with httpx.AsyncClient(base_url=platform.url) as http:
        login = await http.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        flags = {part.strip().lower() for part in login.headers["set-cookie"].split(";")}
        assert {"httponly", "secure", "samesite=strict", "path=/api/auth"} <= flags


async def test_without_origins_configured_no_cors_headers_are_sent(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    response = await client.get("/health/live", headers={"origin": UI})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options("/api/auth/me", headers=_preflight("GET", "authorization"))
    assert "access-control-allow-origin" not in preflight.headers


async def test_any_origin_never_comes_with_credentials(platform_factory: PlatformFactory) -> None:
    platform = await _platform(platform_factory, ("*",))
    async with httpx.AsyncClient(base_url=platform.url) as http:
        response = await http.get("/health/live", headers={"origin": OTHER})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        preflight = await http.options(
            "/api/auth/me", headers=_preflight("GET", "authorization", OTHER)
        )
        assert preflight.status_code == 204
        assert "access-control-allow-credentials" not in preflight.headers
