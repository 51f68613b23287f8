"""The consumer table: every event-triggered function, bound in one greppable place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.services import Services

if TYPE_CHECKING:
    from runtime.bus import Consumer

# Consumer groups, so a worker deployment can run a subset (`llmforge worker --only audit`).
GROUPS = (
    "audit",
    "webhooks",
    "usage",
    "chat",
    "compare",
    "training",
    "training-projection",
    "evaluation",
    "knowledge",
)


def build_consumers(services: Services, only: frozenset[str] | None = None) -> list[Consumer]:
    from handlers.audit import audit_consumer
    from handlers.chat import chat_consumer, titles_consumer
    from handlers.compare import batch_consumer, run_record_consumer
    from handlers.evaluation import evaluator_consumer
    from handlers.knowledge import indexer_consumer
    from handlers.training.export_worker import export_consumer
    from handlers.training.projection import projection_consumer
    from handlers.training.serving_worker import server_consumer
    from handlers.training.worker import trainer_consumer
    from handlers.usage import usage_consumer
    from handlers.webhooks import dispatch_consumer, sender_consumer

    table: dict[str, list[Consumer]] = {
        "audit": [audit_consumer(services.session_factory)],
        # Fan-out of events to endpoints, then the signed sends with their retries.
        "webhooks": [
            dispatch_consumer(services.session_factory, services.bus),
            sender_consumer(services),
        ],
        # Gateway calls -> llm_calls rows for the usage dashboard.
        "usage": [usage_consumer(services.session_factory)],
        # Chat turns -> chat_messages rows, then a title for new sessions.
        "chat": [chat_consumer(services.session_factory), titles_consumer(services)],
        # Comparison runs -> saved records; batch comparisons run in the background.
        "compare": [run_record_consumer(services.session_factory), batch_consumer(services)],
        # The trainer worker (llamafactory-cli train and api); run it on the GPU nodes.
        "training": [
            trainer_consumer(services),
            server_consumer(services),
            export_consumer(services),
        ],
        # Training events -> job rows, metric curves, adapters as model configs, servers.
        "training-projection": [projection_consumer(services.session_factory, services.bus)],
        # Succeeded jobs -> base vs fine-tuned on held-out prompts, judged pairwise.
        "evaluation": [evaluator_consumer(services)],
        # Uploaded documents -> parsed, chunked, embedded, upserted into the vector store.
        "knowledge": [indexer_consumer(services)],
    }
    unknown = (only or frozenset()) - table.keys()
    if unknown:
        raise ValueError(f"unknown consumer group(s): {', '.join(sorted(unknown))}")
    return [c for group, cs in table.items() if only is None or group in only for c in cs]
