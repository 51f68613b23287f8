"""The Litestar app factory: the composition root of every HTTP route."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from runtime.services import Services


def route_handlers() -> list[ControllerRouterHandler]:
    # Imported here so that importing the runtime (CLI, workers) stays cheap.
    from handlers.admin import ADMIN_CONTROLLERS
    from handlers.audit import AuditController
    from handlers.auth import AUTH_CONTROLLERS
    from handlers.chat import CHAT_CONTROLLERS
    from handlers.compare import COMPARE_CONTROLLERS
    from handlers.datasets import DatasetController
    from handlers.dify import DifyController
    from handlers.events_feed import EventFeedController
    from handlers.knowledge import KNOWLEDGE_CONTROLLERS
    from handlers.models import ModelConfigController
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
        ModelConfigController,
        UsageController,
        *QUOTA_CONTROLLERS,
        OpenAIController,
        *CHAT_CONTROLLERS,
        *COMPARE_CONTROLLERS,
        DatasetController,
        *TRAINING_CONTROLLERS,
        *KNOWLEDGE_CONTROLLERS,
        DifyController,
        # Last: its catch-all path answers page URLs with the app, after every API route.
        WebUIController,
    ]


def create_app(services: Services) -> Litestar:
    from handlers.auth import AUTH_DEPENDENCIES, auth_invalidation
    from handlers.deps import DEPENDENCIES
    from runtime.errors import exception_handlers
    from runtime.observability import instrument

    settings = services.settings
    cors = (
        CORSConfig(allow_origins=list(settings.server.cors_origins), allow_credentials=True)
        if settings.server.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=route_handlers(),
        dependencies={**DEPENDENCIES, **AUTH_DEPENDENCIES},
        # Every HTTP process drops its auth caches when a user, key or role changes anywhere.
        lifespan=[auth_invalidation],
        exception_handlers=exception_handlers(),
        state=State({"services": services}),
        cors_config=cors,
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="llmforge",
            version="0.1.0",
            path="/schema",
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
    # handler, so requests no route matched are counted too.
    instrument(app, settings.observability)
    return app
