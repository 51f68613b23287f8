"""Chat sessions and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class ChatSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat_sessions"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_config_id: Mapped[str | None] = mapped_column(
        ForeignKey("model_configs.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(300), default="New chat")
    # default | user | generated: only a default title is replaced by a generated one.
    title_source: Mapped[str] = mapped_column(String(16), default="default")
    system_prompt: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(
        ForeignKey("prompt_templates.id", ondelete="SET NULL")
    )
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Knowledge bases each turn retrieves from (ids; the caller could read each when set).
    knowledge_base_ids: Mapped[list[Any]] = mapped_column(default=list)
    # Chunks retrieved per turn; None: the default (5).
    knowledge_top_k: Mapped[int | None]


class ChatMessage(IdMixin, TimestampMixin, Base):
    """One message of a session's tree; the current branch follows the unsuperseded children.

    Rows are written by the ``chat`` consumer from turn events; ids come from the handler
    that streamed the turn, so a redelivered event inserts nothing.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_session_parent", "session_id", "parent_id"),)

    session_id: Mapped[str] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True
    )
    # Regenerated answers and edited questions are siblings: same parent, the newest one
    # is current and the older ones get ``superseded_at``.
    parent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))  # system | user | assistant
    content: Mapped[str] = mapped_column(Text, default="")
    thinking_content: Mapped[str | None] = mapped_column(Text)
    # completed | failed | cancelled: how the answer ended (questions are always completed)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    meta_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    superseded_at: Mapped[datetime | None]
    # Deleted messages stay as tombstones: a redelivered turn event must not bring them back.
    deleted_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)  # 1 | -1
    rating_note: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    # The event that produced this row: persisting a turn twice is a no-op.
    source_event_id: Mapped[str | None] = mapped_column(String(64), index=True)
