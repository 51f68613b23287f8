"""Who may see which event: the one rule the SSE feed and webhooks both apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from events import Event

# Fields of an event's data that name the user the event is about. A domain whose
# events belong to a resource (a training job, a knowledge base) names its owner here.
OWNER_FIELDS = ("user_id", "owner_id")


class Viewer(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A viewer known by id and role only, e.g. the owner of a webhook endpoint."""

    id: str
    is_admin: bool = False


def can_see(viewer: Viewer, event: Event) -> bool:
    """Admins see everything; a user sees what they did and what names them as its owner."""
    if viewer.is_admin or event.actor == viewer.id:
        return True
    data = getattr(event, "data", None)
    return any(getattr(data, name, None) == viewer.id for name in OWNER_FIELDS)
