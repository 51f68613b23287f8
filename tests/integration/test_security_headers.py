"""Every response carries the security headers: the web UI's CSP, a strict one elsewhere."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.webui import resolve_web_dir
from runtime.platform import Platform
from runtime.security.headers import API_CSP, DOCS_CSP, UI_CSP
from runtime.settings import ServerSettings
from tests.fixtures.app import PlatformFactory
from tests.integration.permission_support import admin_session

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def db_backend() -> str:
    # Headers do not depend on the database: one backend is enough.
    return "sqlite"


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=app></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    return root


async def _start(platform_factory: PlatformFactory, **server: Any) -> httpx.AsyncClient:
    settings = dataclasses.replace(ServerSettings(host="127.0.0.1", port=0), **server)
    platform = await platform_factory(overrides={"server": settings})
    return httpx.AsyncClient(base_url=platform.url, timeout=10.0)


def _assert_common(response: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers
    # Appended once, never doubled by a handler that already set one.
    assert len(response.headers.get_list("content-security-policy")) == 1


async def test_api_answers_get_a_strict_policy_and_no_store(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    responses = [
        await client.get("/health/live"),
        await client.get("/api/auth/me"),  # a 401 problem
        await client.get("/api/nothing-here"),  # no route matched
        await client.post("/health/live"),  # 405
        await client.get("/schema/openapi.json"),
        await client.get("/asyncapi.json"),
    ]
    for response in responses:
        _assert_common(response)
        assert response.headers["content-security-policy"] == API_CSP, response.url
        assert response.headers["cache-control"] == "no-store", response.url
        assert "x-request-id" in response.headers


async def test_token_answers_keep_one_no_store(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await admin_session(platform, client)
    response = await client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["no-store"]
    _assert_common(response)


async def test_streams_keep_their_own_cache_control(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    async with client.stream("GET", "/api/events", headers=admin) as response:
        assert response.status_code == 200
        assert response.headers.get_list("cache-control") == ["no-cache"]
        assert response.headers["content-security-policy"] == API_CSP
        _assert_common(response)


async def test_the_web_ui_gets_its_content_security_policy(
    platform_factory: PlatformFactory, web_dir: Path
) -> None:
    async with await _start(platform_factory, web_dir=web_dir) as http:
        for path in ("/", "/chat/abc"):
            page = await http.get(path)
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["content-security-policy"] == UI_CSP
            assert page.headers["cross-origin-opener-policy"] == "same-origin"
            assert page.headers["cache-control"] == "no-cache"
            _assert_common(page)
        asset = await http.get("/assets/index-abc123.js")
        assert asset.headers["content-security-policy"] == API_CSP
        assert asset.headers.get_list("cache-control") == ["public, max-age=31536000, immutable"]
        _assert_common(asset)


async def test_the_api_documentation_pages_may_load_their_cdn_bundles(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    for path in ("/schema/swagger", "/schema/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == DOCS_CSP
        _assert_common(page)


async def test_hsts_only_when_configured(platform_factory: PlatformFactory) -> None:
    async with await _start(platform_factory, hsts_max_age=31536000) as http:
        response = await http.get("/health/live")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert (await http.get("/nothing")).headers["strict-transport-security"]


def _policy(csp: str) -> dict[str, set[str]]:
    directives = (d.split() for d in csp.split(";") if d.strip())
    return {name: set(values) for name, *values in directives}


def test_the_ui_policy_allows_what_the_built_app_loads() -> None:
    """The real build: every script is an external file of this origin, nothing inline."""
    index = resolve_web_dir(None) / "index.html"
    if not index.is_file():
        pytest.skip("web/dist is not built (`make web`); CI builds it before the tests")
    html = index.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I)
    assert scripts, "the build has no script tag"
    for attributes, body in scripts:
        assert 'src="/' in attributes, "script-src 'self' allows only scripts from this origin"
        assert not body.strip(), "an inline script would need 'unsafe-inline' or a hash"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        # Same origin: a path, not a scheme-relative or absolute URL to another host.
        assert re.match(r"/[^/]", url), url
    policy = _policy(UI_CSP)
    assert policy["script-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert "'unsafe-inline'" in policy["style-src"]
