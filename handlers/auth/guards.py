"""Route guards every route family uses: ``requires_login`` and ``requires_admin``."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from handlers.auth.deps import authenticate
from runtime.errors import Forbidden


async def requires_login(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """401 unless a valid access token or API key names an active user."""
    await authenticate(connection)


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """401 as ``requires_login``; 403 for a logged-in user without the admin role."""
    user = await authenticate(connection)
    if not user.is_admin:
        raise Forbidden("admin_required", "Administrator role required")


async def requires_password_login(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """401 as ``requires_login``; 403 when the caller used an API key.

    For actions that manage credentials (password, API keys): a leaked key must not be
    able to mint more keys or lock its owner out.
    """
    user = await authenticate(connection)
    if user.auth_method != "jwt":
        raise Forbidden(
            "login_session_required",
            "Login session required",
            "Log in with your password for this action; API keys cannot perform it.",
        )
