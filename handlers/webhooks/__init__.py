"""Webhooks: endpoint routes, the fan-out consumer and the signed, retried sender."""

from handlers.webhooks.controller import WebhookController
from handlers.webhooks.dispatch import DISPATCH_SUBJECTS, dispatch_consumer
from handlers.webhooks.sender import SEND_SUBJECTS, sender_consumer

__all__ = [
    "DISPATCH_SUBJECTS",
    "SEND_SUBJECTS",
    "WebhookController",
    "dispatch_consumer",
    "sender_consumer",
]
