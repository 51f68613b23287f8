"""LLM providers (with encrypted keys) and the model configs clients address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class Provider(IdMixin, TimestampMixin, Base):
    __tablename__ = "providers"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))  # openai-compatible | anthropic | gemini | dify
    base_url: Mapped[str] = mapped_column(String(1000))
    preset: Mapped[str | None] = mapped_column(String(64))
    # AES-GCM ciphertext; the clear key never reaches the database, a response or a log.
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    api_key_hint: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    models_synced_at: Mapped[datetime | None]
    available_models: Mapped[list[Any]] = mapped_column(default=list)


class ModelConfig(IdMixin, TimestampMixin, Base):
    """A model as the platform offers it: an upstream model of a provider, or a local one."""

    __tablename__ = "model_configs"
    __table_args__ = (UniqueConstraint("alias"),)

    provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[str] = mapped_column(String(300))
    alias: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="remote")  # remote | local | adapter
    local_path: Mapped[str | None] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_price_per_mtok: Mapped[float | None] = mapped_column(Numeric(12, 6, asdecimal=False))
    output_price_per_mtok: Mapped[float | None] = mapped_column(Numeric(12, 6, asdecimal=False))
    context_window: Mapped[int | None]
