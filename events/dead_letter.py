"""The dead-letter record: what a consumer publishes to LLMFORGE_DLQ when it gives up."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

DEAD_LETTER_TYPE = "llmforge.dead_letter.v1"

# undecodable:       the bytes are not a known, valid event; retrying cannot help.
# permanent_error:   the handler raised PermanentError.
# retries_exhausted: the handler failed on the last allowed delivery.
# abandoned:         the delivery limit was passed without the last attempt settling
#                    (the process died or the ack wait ran out mid-handler).
DeadLetterReason = Literal["undecodable", "permanent_error", "retries_exhausted", "abandoned"]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One message a consumer gave up on, with enough context to inspect and replay it.

    ``payload`` holds the original message bytes unchanged (base64 in JSON), so a replay
    republishes exactly what was first sent, even when it was not valid JSON.
    ``dead_letter_subject(consumer, original_subject)`` is where it is published, with
    ``Nats-Msg-Id`` ``<consumer>:<event id>`` (or ``<consumer>:<stream>.<seq>``).
    """

    type: str = DEAD_LETTER_TYPE
    consumer: str
    reason: DeadLetterReason
    error: str
    error_type: str | None = None
    # The event's own id and type when the payload decoded; None for undecodable bytes.
    event_id: str | None = None
    event_type: str | None = None
    original_subject: str
    stream: str
    stream_seq: int
    delivered: int
    payload: bytes
    # True when the original was too large to copy into the record: it is then read
    # back from ``stream`` at ``stream_seq`` (kept there until the stream's max age).
    payload_omitted: bool = False
    headers: dict[str, str] | None = None
    dead_lettered_at: datetime


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DeadLetter)


def encode_dead_letter(record: DeadLetter) -> bytes:
    return _encoder.encode(record)


def decode_dead_letter(raw: bytes) -> DeadLetter:
    return _decoder.decode(raw)
