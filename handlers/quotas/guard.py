"""``within_quota``: the guard on every route that spends model calls."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler

from handlers.auth import authenticate
from handlers.deps import services_of
from handlers.quotas.enforcer import QuotaEnforcer

_STATE_KEY = "quota_enforcer"


def enforcer_of(state: State) -> QuotaEnforcer:
    """One enforcer per app: its caches are this process's view of the quotas."""
    enforcer = state.get(_STATE_KEY)
    if not isinstance(enforcer, QuotaEnforcer):
        services = services_of(state)
        enforcer = QuotaEnforcer(services.session_factory, services.bus, services.settings.quotas)
        state[_STATE_KEY] = enforcer
    return enforcer


async def within_quota(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """402 ``budget_exceeded`` or 429 ``rate_limited`` when the user or the API key is over.

    Append it after the route's permission guard: it needs an authenticated caller.
    """
    user = await authenticate(connection)
    await enforcer_of(connection.app.state).check(user.id, user.api_key_id)
