"""The API process serves the web UI build: assets, history fallback, API paths kept apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import PlatformFactory


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=app></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


async def _client(platform_factory: PlatformFactory, web_dir: Path | None) -> httpx.AsyncClient:
    from runtime.settings import ServerSettings

    server = ServerSettings(host="127.0.0.1", port=0, web_dir=web_dir)
    platform = await platform_factory(overrides={"server": server})
    return httpx.AsyncClient(base_url=platform.url, timeout=10.0)


async def test_page_paths_get_the_app_and_assets_are_cached_for_good(
    platform_factory: PlatformFactory, web_dir: Path
) -> None:
    async with await _client(platform_factory, web_dir) as http:
        for path in ("/", "/chat", "/training/0123abc", "/admin/users?x=1"):
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "<div id=app>" in response.text
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["content-type"].startswith("text/html")
        asset = await http.get("/assets/index-abc123.js")
        assert asset.status_code == 200
        assert asset.text == "console.log(1)"
        assert "immutable" in asset.headers["cache-control"]
        assert (await http.get("/favicon.svg")).headers["cache-control"] == "no-cache"


async def test_head_answers_with_the_get_headers_and_no_body(
    platform_factory: PlatformFactory, web_dir: Path
) -> None:
    async with await _client(platform_factory, web_dir) as http:
        for path in ("/", "/chat", "/assets/index-abc123.js"):
            got, headed = await http.get(path), await http.head(path)
            assert headed.status_code == 200, path
            assert headed.content == b""
            for name in ("content-type", "cache-control", "content-length"):
                assert headed.headers[name] == got.headers[name], (path, name)
        assert (await http.head("/assets/gone-123.js")).status_code == 404


async def test_unknown_api_paths_and_missing_assets_are_404_problems(
    platform_factory: PlatformFactory, web_dir: Path
) -> None:
    async with await _client(platform_factory, web_dir) as http:
        for path in ("/api/nothing-here", "/v1/nothing", "/assets/gone-123.js"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
        # The API still answers under the catch-all.
        assert (await http.get("/health/live")).status_code == 200


async def test_paths_cannot_escape_the_build_directory(
    platform_factory: PlatformFactory, web_dir: Path
) -> None:
    async with await _client(platform_factory, web_dir) as http:
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
            response = await http.get(path)
            assert "outside the build" not in response.text


async def test_an_unbuilt_ui_says_how_to_build_it(
    platform_factory: PlatformFactory, tmp_path: Path
) -> None:
    async with await _client(platform_factory, tmp_path / "missing") as http:
        response = await http.get("/chat")
        assert response.status_code == 404
        assert response.json()["code"] == "web_ui_not_built"


def test_web_dir_comes_from_the_environment() -> None:
    from runtime.settings import load_settings

    settings = load_settings({"LLMFORGE_WEB_DIR": "/srv/llmforge-web"})
    assert settings.server.web_dir == Path("/srv/llmforge-web")
    assert dataclasses.replace(settings.server, web_dir=None).web_dir is None
