"""The built single-page app (web/dist) served at ``/`` with a history fallback."""

from handlers.webui.controller import WebUIController, resolve_web_dir

__all__ = ["WebUIController", "resolve_web_dir"]
