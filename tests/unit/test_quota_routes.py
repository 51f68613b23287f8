"""Every route that spends model calls carries ``within_quota``, and no other route does."""

from __future__ import annotations

import re
from typing import Any, cast

from litestar.routes import HTTPRoute

from handlers.quotas import within_quota
from runtime.app import create_app
from runtime.services import Services
from runtime.settings import Settings

SPENDING_ROUTES = {
    "POST /v1/chat/completions",
    "POST /v1/embeddings",
    "POST /v1/messages",
    "POST /api/chat/sessions/{session_id}/messages",
    "POST /api/chat/messages/{message_id}/regenerate",
    "POST /api/chat/messages/{message_id}/edit",
    "POST /api/compare",
    "POST /api/compare/batches",
    # It embeds the query, through a provider when the knowledge base uses one.
    "POST /api/knowledge-bases/{kb_id}/search",
}


def test_quota_guard_is_on_exactly_the_model_spending_routes() -> None:
    services = cast("Any", Services)(
        settings=Settings(), engine=None, session_factory=None, bus=None
    )
    guarded: set[str] = set()
    for route in create_app(services).routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in route.route_handlers:
            guards = handler.resolve_guards()
            if within_quota in guards:
                # After the permission guard: the quota check needs to know the caller.
                assert guards.index(within_quota) == len(guards) - 1
                guarded.update(f"{method} {path}" for method in handler.http_methods)
    assert guarded == SPENDING_ROUTES
