"""A session's messages as a tree: siblings, the current branch, and applying a turn.

Pure code over plain nodes, so the readers (which may overlay a turn the consumer has not
written yet) and the tests share one rule with the consumer: among siblings the newest
one is current, and any older one is superseded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.chat import TurnEvent
from handlers.chat.records import turn_rows
from runtime.db.models import ChatMessage


@dataclass(slots=True)
class Node:
    id: str
    parent_id: str | None
    role: str
    content: str
    created_at: datetime
    reasoning: str | None = None
    status: str = "completed"
    turn_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    superseded: bool = False
    deleted: bool = False
    rating: int | None = None
    rating_note: str | None = None
    # False for a message known only from its turn event (the consumer is behind).
    persisted: bool = True

    @property
    def order(self) -> tuple[datetime, str]:
        return self.created_at, self.id

    @classmethod
    def of(cls, row: ChatMessage) -> Node:
        return cls(
            id=row.id,
            parent_id=row.parent_id,
            role=row.role,
            content=row.content,
            created_at=row.created_at,
            reasoning=row.thinking_content,
            status=row.status,
            turn_id=row.turn_id,
            meta=dict(row.meta_info or {}),
            superseded=row.superseded_at is not None,
            deleted=row.deleted_at is not None,
            rating=row.rating,
            rating_note=row.rating_note,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Node:
        return cls(
            id=row["id"],
            parent_id=row["parent_id"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
            reasoning=row["thinking_content"],
            status=row["status"],
            turn_id=row["turn_id"],
            meta=dict(row["meta_info"]),
            persisted=False,
        )


class Tree:
    """Every message of one session, deleted ones included (they are tombstones)."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self.nodes: dict[str, Node] = {}
        self._children: dict[str | None, list[Node]] = {}
        for node in sorted(nodes, key=lambda n: n.order):
            self._put(node)

    def _put(self, node: Node) -> None:
        self.nodes[node.id] = node
        self._children.setdefault(node.parent_id, []).append(node)
        self._children[node.parent_id].sort(key=lambda n: n.order)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.nodes

    def get(self, message_id: str) -> Node | None:
        return self.nodes.get(message_id)

    def siblings(self, node: Node) -> list[Node]:
        """The node and its live siblings, oldest first."""
        return [n for n in self._children.get(node.parent_id, []) if not n.deleted]

    def current_child(self, parent_id: str | None) -> Node | None:
        live = [n for n in self._children.get(parent_id, []) if not n.deleted]
        if not live:
            return None
        # Normally exactly one live child is unsuperseded; after deleting the current one
        # (or before the consumer settles a race) the newest live child stands in.
        current = [n for n in live if not n.superseded]
        return (current or live)[-1]

    def branch(self) -> list[Node]:
        """The current branch, from the first question to the last answer."""
        out: list[Node] = []
        node = self.current_child(None)
        while node is not None:
            out.append(node)
            node = self.current_child(node.id)
        return out

    def walk(self) -> list[Node]:
        """Every live message, depth first, siblings oldest first (what ``?all=true`` lists)."""
        out: list[Node] = []
        stack = [n for n in reversed(self._children.get(None, [])) if not n.deleted]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(n for n in reversed(self._children.get(node.id, [])) if not n.deleted)
        return out

    def path_to(self, message_id: str) -> list[Node]:
        """The message and its ancestors, oldest first."""
        out: list[Node] = []
        node = self.nodes.get(message_id)
        while node is not None:
            out.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id else None
        return out[::-1]

    def on_branch(self, message_id: str) -> bool:
        return any(n.id == message_id for n in self.branch())

    def leaf(self) -> Node | None:
        branch = self.branch()
        return branch[-1] if branch else None

    def descendants(self, message_id: str) -> list[Node]:
        out: list[Node] = []
        stack = list(self._children.get(message_id, []))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(self._children.get(node.id, []))
        return out

    def add(self, node: Node) -> bool:
        """Insert as the consumer does; False when the id is already known."""
        if node.id in self.nodes:
            return False
        for other in self._children.get(node.parent_id, []):
            if other.order < node.order:
                other.superseded = True
            elif not other.deleted:
                node.superseded = True
        self._put(node)
        return True

    def apply(self, event: TurnEvent) -> None:
        """Overlay a turn the consumer has not persisted yet."""
        for row in turn_rows(event):
            self.add(Node.from_row(row))
