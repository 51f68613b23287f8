"""Route guards: ``requires(permission)`` for route families, ``requires_login`` for self-service.

Every route has exactly one of: a ``requires(...)`` guard, ``requires_login`` /
``requires_password_login`` (the caller's own account), or ``opt={"public": True}``;
``tests/integration/test_route_guards.py`` fails for a route with none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from handlers.auth.deps import authenticate
from handlers.auth.permissions import Permission
from runtime.errors import Forbidden, ProblemError

# Marks a route that needs no credential (health, login, …); read by the coverage test.
PUBLIC = "public"

# Turns the guard's 401/403 problem into a route family's own error (Dify's shape).
DeniedHook = Callable[[ProblemError], Exception]


def requires(*permissions: Permission, denied: DeniedHook | None = None) -> Guard:
    """A guard: 401 without a live credential, 403 unless the caller's role grants all of them.

    The 403 problem's code is ``permission_required``. ``denied`` may replace either error
    for routes that must answer in another error format.
    """
    needed = frozenset(permissions)
    if not needed:
        raise ValueError("requires() needs at least one permission")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        try:
            user = await authenticate(connection)
            missing = needed - user.permissions
            if missing:
                names = ", ".join(sorted(missing))
                raise Forbidden(
                    "permission_required",
                    f"Permission required: {names}",
                    f"Your role '{user.role}' does not grant {names}.",
                )
        except ProblemError as exc:
            if denied is None:
                raise
            raise denied(exc) from exc

    guard.__qualname__ = f"requires({', '.join(sorted(needed))})"
    # Read by the authorization-coverage test and the route table in the docs.
    guard.permissions = needed  # type: ignore[attr-defined]
    return guard


def guard_permissions(guard: object) -> frozenset[Permission] | None:
    """The permissions a ``requires`` guard checks, or None for any other guard."""
    permissions = getattr(guard, "permissions", None)
    return permissions if isinstance(permissions, frozenset) else None


async def requires_login(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """401 unless a valid access token or API key names an active user."""
    await authenticate(connection)


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
