"""Events of the LLM gateway: one per upstream call, for usage accounting."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from events.envelope import Event


class LlmCallData(msgspec.Struct, frozen=True, kw_only=True):
    call_id: str
    # What the caller asked for (the alias) and what it resolved to.
    model_alias: str
    model_config_id: str
    provider_id: str
    provider_type: str
    upstream_model: str
    # Who called: a user, through a personal API key or a login session.
    user_id: str | None = None
    api_key_id: str | None = None
    # Which entry point made the call: v1 (OpenAI-compatible API), chat, compare, …
    origin: str = "v1"
    operation: Literal["chat", "embeddings"] = "chat"
    stream: bool = False
    status: Literal["ok", "error", "cancelled"] = "ok"
    error_kind: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0
    # Milliseconds: to the first content or reasoning delta, in all, and the part of
    # the total the gateway itself spent (resolution, encoding) rather than upstream.
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    upstream_ms: float = 0.0
    gateway_overhead_ms: float = 0.0
    # In the model config's currency unit, from its per-million-token prices.
    cost: float | None = None


class LlmCallCompleted(Event, frozen=True, kw_only=True, tag="llmforge.llm.call.completed.v1"):
    """A gateway call ended: ok, failed or cancelled by the client. Subject: the call id."""

    SUBJECT: ClassVar[str] = "llmforge.llm.call.completed"
    data: LlmCallData


LLM_EVENTS = (LlmCallCompleted,)
