"""LLM providers (with encrypted keys), the model configs clients address, and usage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin, utcnow


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


class LlmCall(Base):
    """One gateway call, projected from ``llmforge.llm.call.completed`` for usage reports."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_time_alias", "time", "model_alias"),)

    # The event id: a redelivered event cannot count a call twice.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(index=True)
    # No foreign keys: usage history outlives deleted models, providers and users.
    model_alias: Mapped[str] = mapped_column(String(200))
    model_config_id: Mapped[str] = mapped_column(String(32), index=True)
    provider_id: Mapped[str] = mapped_column(String(32), index=True)
    provider_type: Mapped[str] = mapped_column(String(32))
    upstream_model: Mapped[str] = mapped_column(String(300))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)  # per-key budgets
    origin: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(32))
    stream: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    reasoning_tokens: Mapped[int]
    cached_input_tokens: Mapped[int]
    ttft_ms: Mapped[float | None]
    latency_ms: Mapped[float]
    upstream_ms: Mapped[float]
    gateway_overhead_ms: Mapped[float]
    cost: Mapped[float | None] = mapped_column(Numeric(18, 8, asdecimal=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
