"""GET /api/events: every event the caller may see, live over SSE, resumable."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent

from events import Event
from events.streams import SUBJECT_ROOT
from handlers.auth import CurrentUser, Permission, requires
from handlers.events_feed.position import InvalidPosition, decode_position
from handlers.events_feed.stream import EventFeed
from handlers.events_feed.visibility import can_see
from runtime.bus import EventBus
from runtime.errors import BadRequest
from runtime.settings import Settings
from runtime.webhooks.filters import ALL, InvalidFilter, TypeFilter, normalize_filters

TypesQuery = Annotated[
    str | None,
    Parameter(
        description="comma-separated type filters, as for webhooks: 'auth.>', 'training.job.*'"
    ),
]
ResumeHeader = Annotated[str | None, Parameter(header="Last-Event-ID", required=False)]
ResumeQuery = Annotated[
    str | None,
    Parameter(query="last_event_id", required=False, description="same as Last-Event-ID"),
]


def subjects_for(filters: list[str]) -> list[str]:
    """Only the domains' streams the filters can match: fewer consumers per connection."""
    domains = {f.split(".", 1)[0] for f in filters}
    if ALL in filters or domains & {"*", ">"}:
        return [f"{SUBJECT_ROOT}.>"]
    return [f"{SUBJECT_ROOT}.{domain}.>" for domain in sorted(domains)]


class EventFeedController(Controller):
    path = "/api/events"
    tags = ["events"]
    guards = [requires(Permission.EVENTS_READ)]

    @get("/", operation_id="eventsFeed")
    async def feed(
        self,
        current_user: CurrentUser,
        bus: EventBus,
        settings: Settings,
        types: TypesQuery = None,
        last_event_id: ResumeHeader = None,
        resume: ResumeQuery = None,
    ) -> ServerSentEvent:
        """SSE: ``ready`` (id = start position), then events (``id`` = resume token, ``event``
        = type, ``data`` = CloudEvents JSON), ``: ping`` comments while idle, and a final
        ``error`` event if the client falls too far behind."""
        try:
            filters = normalize_filters((types or ALL).split(","))
            token = last_event_id or resume
            position = decode_position(token) if token else None
        except (InvalidFilter, InvalidPosition) as exc:
            raise BadRequest("invalid_feed_query", detail=str(exc)) from exc

        wanted = TypeFilter(filters)

        def visible(event: Event) -> bool:
            return wanted(event.type) and can_see(current_user, event)

        try:
            feed = EventFeed(
                bus.fanout,
                subjects_for(filters),
                visible,
                resume=position,
                heartbeat=settings.event_feed.heartbeat_seconds,
                queue_size=settings.event_feed.queue_size,
            )
        except ValueError as exc:  # no stream holds any of the filtered domains
            raise BadRequest("invalid_feed_query", detail=str(exc)) from exc
        return ServerSentEvent(feed.messages())
