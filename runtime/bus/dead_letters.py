"""Publishing a DeadLetter record for a delivery a consumer gave up on."""

from __future__ import annotations

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js.api import Header

from events import Event, dead_letter_subject
from events.dead_letter import DeadLetter, DeadLetterReason, encode_dead_letter
from events.envelope import utcnow
from runtime.bus.connection import EventBus

log = structlog.get_logger(__name__)

# Tracebacks and validation messages can be long; the record only needs the gist.
_MAX_ERROR_CHARS = 4000


async def dead_letter(
    bus: EventBus,
    consumer: str,
    msg: Msg,
    reason: DeadLetterReason,
    error: str,
    error_type: str | None,
    event: Event | None,
) -> None:
    """Publish the record and wait for its ack; raises BusError when it could not be stored."""
    meta = msg.metadata
    headers = dict(msg.headers) if msg.headers else None
    # Publishers set Nats-Msg-Id to the event id, so even undecodable bytes usually
    # carry one; the stream position is the fallback that is always unique.
    event_id = event.id if event else (headers or {}).get(Header.MSG_ID.value)
    position = f"{meta.stream}.{meta.sequence.stream}"
    record = DeadLetter(
        consumer=consumer,
        reason=reason,
        error=error[:_MAX_ERROR_CHARS],
        error_type=error_type,
        event_id=event_id,
        event_type=event.type if event else None,
        original_subject=msg.subject,
        stream=meta.stream,
        stream_seq=meta.sequence.stream,
        delivered=meta.num_delivered,
        payload=msg.data,
        headers=headers,
        dead_lettered_at=utcnow(),
    )
    body = encode_dead_letter(record)
    if len(body) > bus.nc.max_payload:
        # Base64 grows the copy by a third; a record the server refuses would leave
        # the message retrying forever, so point at the original instead.
        record = msgspec.structs.replace(record, payload=b"", payload_omitted=True)
        body = encode_dead_letter(record)
    await bus.publish_raw(
        dead_letter_subject(consumer, msg.subject),
        body,
        msg_id=f"{consumer}:{event_id or position}",
    )
    log.warning(
        "dead_lettered",
        consumer=consumer,
        reason=reason,
        event_id=event_id,
        subject=msg.subject,
        stream_seq=meta.sequence.stream,
        delivered=meta.num_delivered,
        error=record.error,
    )
