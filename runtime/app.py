"""The Litestar app factory: the composition root of every HTTP route."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from runtime.services import Services
from runtime.settings import ServerSettings

# What a separately hosted web UI sends and reads across origins (beyond the CORS-safelisted
# ones): bearer tokens, JSON bodies, SSE resumption, and the headers the UI shows or uses.
CORS_ALLOW_HEADERS = ["authorization", "content-type", "last-event-id", "x-request-id"]
CORS_EXPOSE_HEADERS = [
    "x-request-id",
    "server-timing",
    "retry-after",
    "content-disposition",
    "x-compare-run-id",
    "x-total-count",
    "x-export-limit",
    "x-export-truncated",
]


def route_handlers() -> list[ControllerRouterHandler]:
    # Imported here so that importing the runtime (CLI, workers) stays cheap.
    from handlers.admin import ADMIN_CONTROLLERS
    from handlers.anthropic_api import AnthropicController
    from handlers.audit import AuditController
    from handlers.auth import AUTH_CONTROLLERS
    from handlers.chat import CHAT_CONTROLLERS
    from handlers.collect import COLLECT_CONTROLLERS
    from handlers.compare import COMPARE_CONTROLLERS
    from handlers.datasets import DatasetController
    from handlers.dify import DifyController
    from handlers.evaluation import EvaluationController
    from handlers.events_feed import EventFeedController
    from handlers.knowledge import KNOWLEDGE_CONTROLLERS
    from handlers.models import ModelAliasController, ModelConfigController
    from handlers.openai_api import OpenAIController
    from handlers.prompts import PromptController
    from handlers.providers import PROVIDER_CONTROLLERS
    from handlers.quotas import QUOTA_CONTROLLERS
    from handlers.stats import StatsController
    from handlers.system import SystemController, metrics
    from handlers.training import TRAINING_CONTROLLERS
    from handlers.usage import UsageController
    from handlers.webhooks import WebhookController
    from handlers.webui import WebUIController

    return [
        SystemController,
        metrics,
        *AUTH_CONTROLLERS,
        *ADMIN_CONTROLLERS,
        AuditController,
        StatsController,
        PromptController,
        WebhookController,
        EventFeedController,
        *PROVIDER_CONTROLLERS,
        ModelAliasController,
        ModelConfigController,
        UsageController,
        *QUOTA_CONTROLLERS,
        OpenAIController,
        AnthropicController,
        *CHAT_CONTROLLERS,
        *COMPARE_CONTROLLERS,
        DatasetController,
        *COLLECT_CONTROLLERS,
        *TRAINING_CONTROLLERS,
        EvaluationController,
        *KNOWLEDGE_CONTROLLERS,
        DifyController,
        # Last: its catch-all path answers page URLs with the app, after every API route.
        WebUIController,
    ]


def cors_config(server: ServerSettings) -> CORSConfig | None:
    """CORS for the listed origins only; None (same-origin only) when none are listed."""
    if not server.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(server.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        # The refresh cookie crosses origins only with credentials, and never for "*": any
        # site could then act with a visitor's session.
        allow_credentials="*" not in server.cors_origins,
    )


def create_app(services: Services) -> Litestar:
    from handlers.auth import AUTH_DEPENDENCIES, auth_invalidation
    from handlers.deps import DEPENDENCIES
    from handlers.models import alias_invalidation
    from runtime.errors import exception_handlers
    from runtime.observability import instrument
    from runtime.openapi import render_plugins
    from runtime.security.headers import SecurityHeaders
    from runtime.security.nul import refuse_nul_characters

    settings = services.settings
    cors = cors_config(settings.server)
    app = Litestar(
        route_handlers=route_handlers(),
        dependencies={**DEPENDENCIES, **AUTH_DEPENDENCIES},
        # Every HTTP process drops its auth caches when a user, key or role changes anywhere.
        lifespan=[auth_invalidation, alias_invalidation],
        exception_handlers=exception_handlers(),
        # PostgreSQL cannot store NUL characters: refused as a 400 before any handler runs.
        before_request=refuse_nul_characters,
        state=State({"services": services}),
        cors_config=cors,
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="llmforge",
            version="0.1.0",
            path="/schema",
            # The served document says what the API answers: problem errors, SSE, no 204 body.
            render_plugins=render_plugins(),
            description="Self-hosted LLM platform: gateway, chat, fine-tuning, RAG, events.",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT or personal API key (lf_…)",
                    )
                }
            ),
        ),
    )
    # Request ids, the access log, HTTP metrics and (when configured) traces wrap the whole
    # handler, so requests no route matched are counted too; the same layer adds the
    # security headers to every response, 404s and CORS preflights included.
    docs_path = app.openapi_config.path if app.openapi_config else None
    headers = SecurityHeaders.from_settings(settings.server, docs_path)
    instrument(app, settings.observability, on_headers=headers)
    return app
