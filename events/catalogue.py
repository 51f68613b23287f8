"""The event catalogue: the tagged union of every event type and its codecs.

A new event type is one Struct in its domain module and one entry in ``EVENT_TYPES``.
Fields get defaults when added; a breaking change is a new ``.v2`` type.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

from events.auth import AUTH_EVENTS
from events.chat import CHAT_EVENTS
from events.compare import COMPARE_EVENTS
from events.envelope import Event
from events.evaluation import EVALUATION_EVENTS
from events.knowledge import KNOWLEDGE_EVENTS
from events.llm import LLM_EVENTS
from events.prompts import PROMPT_EVENTS
from events.providers import PROVIDER_EVENTS
from events.quotas import QUOTA_EVENTS
from events.training import TRAINING_EVENTS
from events.webhooks import WEBHOOK_EVENTS

EVENT_TYPES: tuple[type[Event], ...] = (
    *AUTH_EVENTS,
    *PROMPT_EVENTS,
    *PROVIDER_EVENTS,
    *LLM_EVENTS,
    *WEBHOOK_EVENTS,
    *CHAT_EVENTS,
    *COMPARE_EVENTS,
    *TRAINING_EVENTS,
    *EVALUATION_EVENTS,
    *KNOWLEDGE_EVENTS,
    *QUOTA_EVENTS,
)

# msgspec needs a real Union to dispatch on the ``type`` tag.
AnyEvent: Any = Union[EVENT_TYPES]  # noqa: UP007

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(AnyEvent)

EVENTS_BY_TYPE: dict[str, type[Event]] = {
    str(cls.__struct_config__.tag): cls for cls in EVENT_TYPES
}


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(raw: bytes) -> Event:
    """Decode and validate; raises ``msgspec.ValidationError`` / ``DecodeError``."""
    return _decoder.decode(raw)
