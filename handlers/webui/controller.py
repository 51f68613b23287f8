"""Serve the web UI's production build: hashed assets cached for good, every page path
answered with ``index.html`` so the client-side router can take it (history fallback)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Controller, get, head
from litestar.datastructures import State
from litestar.response import File

from handlers.deps import services_of
from runtime.errors import NotFound

# Paths that belong to the API: an unknown one is a 404 problem, never the app's HTML.
API_PREFIXES = ("api/", "v1/", "health/", "schema", "metrics", "asyncapi.json")
REPO_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite puts a content hash in these names
REVALIDATE = "no-cache"


def resolve_web_dir(configured: Path | None) -> Path:
    return (configured or REPO_WEB_DIST).resolve()


def _asset(root: Path, relative: str) -> Path | None:
    """The file under ``root`` that ``relative`` names, refusing anything outside it."""
    if not relative:
        return None
    candidate = (root / relative).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


def _file(path: Path, cache_control: str) -> File:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return File(
        path,
        media_type=media_type,
        content_disposition_type="inline",
        headers={"cache-control": cache_control},
    )


class WebUIController(Controller):
    path = "/"
    include_in_schema = False
    opt = {"public": True}

    @get(["/", "/{path:path}"], operation_id="webApp", sync_to_thread=False)
    def app(self, state: State, path: Path | None = None) -> File:
        return _serve(state, path)

    # Uptime checks and link checkers ask with HEAD: the same headers, no body.
    @head(["/", "/{path:path}"], operation_id="webAppHead", sync_to_thread=False)
    def app_head(self, state: State, path: Path | None = None) -> File:
        return _serve(state, path)


def _serve(state: State, path: Path | None) -> File:
    relative = str(path or "").lstrip("/")
    if relative.startswith(API_PREFIXES):
        raise NotFound("not_found", detail=f"No route /{relative}.")
    root = resolve_web_dir(services_of(state).settings.server.web_dir)
    asset = _asset(root, relative)
    if asset is not None:
        cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
        return _file(asset, cache)
    if Path(relative).suffix and relative.startswith("assets/"):
        # A missing hashed asset (an old tab after a deploy) must not get HTML back.
        raise NotFound("asset_not_found", detail=f"No asset /{relative}.")
    index = root / "index.html"
    if not index.is_file():
        raise NotFound(
            "web_ui_not_built",
            detail="The web UI is not built: run `make web` (bash web/build.sh).",
        )
    return _file(index, REVALIDATE)
