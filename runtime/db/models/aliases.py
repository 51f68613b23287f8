"""Stable model aliases: a name /v1 clients keep sending while admins move its target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin, utcnow


class ModelAlias(TimestampMixin, Base):
    __tablename__ = "model_aliases"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    # SET NULL: deleting the target leaves the alias answering 404 until a new promotion.
    model_config_id: Mapped[str | None] = mapped_column(
        ForeignKey("model_configs.id", ondelete="SET NULL"), index=True
    )
    # Earlier targets, most recent last: what rollbacks go back to, one at a time.
    previous: Mapped[list[Any]] = mapped_column(default=list)
    updated_by: Mapped[str | None] = mapped_column(String(32))


class ModelAliasChange(IdMixin, Base):
    """One promotion or rollback: who, when, from which target to which."""

    __tablename__ = "model_alias_changes"

    alias: Mapped[str] = mapped_column(
        ForeignKey("model_aliases.alias", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))  # promoted | rolled_back
    # No foreign keys: history outlives deleted model configs and users.
    model_config_id: Mapped[str] = mapped_column(String(32))
    previous_model_config_id: Mapped[str | None] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
