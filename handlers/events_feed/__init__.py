"""The SSE event feed and the reusable JetStream-to-SSE stream behind it."""

from handlers.events_feed.controller import EventFeedController
from handlers.events_feed.position import InvalidPosition, decode_position, encode_position
from handlers.events_feed.stream import EventFeed
from handlers.events_feed.visibility import Subscriber, Viewer, can_see

__all__ = [
    "EventFeed",
    "EventFeedController",
    "InvalidPosition",
    "Subscriber",
    "Viewer",
    "can_see",
    "decode_position",
    "encode_position",
]
