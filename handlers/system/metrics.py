"""GET /metrics: the Prometheus text format, behind an optional bearer token."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from runtime.errors import Unauthorized
from runtime.observability.scrape import render
from runtime.services import Services

# Prometheus text format 0.0.4, which every scraper reads; prometheus_client's own
# CONTENT_TYPE_LATEST already announces 1.0.0. Litestar appends "; charset=utf-8".
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"


def check_metrics_token(expected: str | None, authorization: str | None) -> None:
    """No token configured: open. Otherwise ``Bearer <token>``, compared in constant time."""
    if expected is None:
        return
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise Unauthorized(
            "metrics_token_required",
            detail="GET /metrics needs `Authorization: Bearer <LLMFORGE_METRICS_TOKEN>`.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


@get(
    "/metrics",
    operation_id="metrics",
    include_in_schema=False,
    # No user permission applies: a scraper is not a user. The token guards it instead.
    opt={"public": True},
    exclude_from_auth=True,
    tags=["system"],
)
async def metrics(request: Request[Any, Any, Any], services: Services) -> Response[bytes]:
    check_metrics_token(
        services.settings.observability.metrics_token, request.headers.get("authorization")
    )
    return Response(await render(services), media_type=METRICS_MEDIA_TYPE)
