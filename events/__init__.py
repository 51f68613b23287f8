"""The platform's contract with the outside: event envelope, catalogue, subjects, streams."""

from events.catalogue import EVENT_TYPES, EVENTS_BY_TYPE, AnyEvent, decode_event, encode_event
from events.envelope import SYSTEM_ACTOR, Event, new_event_id
from events.streams import STREAMS, StreamSpec, dead_letter_subject, stream_for_subject

__all__ = [
    "EVENTS_BY_TYPE",
    "EVENT_TYPES",
    "STREAMS",
    "SYSTEM_ACTOR",
    "AnyEvent",
    "Event",
    "StreamSpec",
    "dead_letter_subject",
    "decode_event",
    "encode_event",
    "new_event_id",
    "stream_for_subject",
]
