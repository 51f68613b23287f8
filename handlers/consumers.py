"""The consumer table: every event-triggered function, bound in one greppable place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.services import Services

if TYPE_CHECKING:
    from runtime.bus import Consumer

# Consumer groups, so a worker deployment can run a subset (`llmforge worker --only audit`).
GROUPS = ("audit", "webhooks", "usage")


def build_consumers(services: Services, only: frozenset[str] | None = None) -> list[Consumer]:
    from handlers.audit import audit_consumer
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
    }
    unknown = (only or frozenset()) - table.keys()
    if unknown:
        raise ValueError(f"unknown consumer group(s): {', '.join(sorted(unknown))}")
    return [c for group, cs in table.items() if only is None or group in only for c in cs]
