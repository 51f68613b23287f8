"""The gateway's one vocabulary: requests, normalized stream deltas, results and errors.

Every provider adapter turns its wire format into these types, so chat, compare, the
``/v1`` surface and usage accounting never see a provider-specific shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

import msgspec

Role = Literal["system", "user", "assistant", "tool"]


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: Role
    # Plain text, or OpenAI-style content parts ({"type": "text"|"image_url", ...}).
    content: str | list[dict[str, Any]]
    name: str | None = None


class Params(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Sampling parameters; None means the provider's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    # Provider-specific reasoning switch: OpenAI reasoning_effort, Anthropic thinking
    # budget, Gemini thinkingBudget. None leaves the model's default.
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning_budget_tokens: int | None = None
    # Passed through untouched to the upstream body (escape hatch for new options).
    extra: dict[str, Any] | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    model: str  # the upstream model id
    messages: list[Message]
    params: Params = msgspec.field(default_factory=Params)


# --- the normalized stream -------------------------------------------------------------


class ReasoningDelta(msgspec.Struct, frozen=True, tag="reasoning", tag_field="kind"):
    text: str


class ContentDelta(msgspec.Struct, frozen=True, tag="content", tag_field="kind"):
    text: str


class Usage(msgspec.Struct, frozen=True, tag="usage", tag_field="kind", kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0


class Finish(msgspec.Struct, frozen=True, tag="finish", tag_field="kind"):
    # Normalized: stop | length | content_filter | tool_calls | error | cancelled
    reason: str


ErrorKind = Literal[
    "auth",  # 401/403: bad or missing key
    "rate_limited",  # 429
    "timeout",  # connect or read timeout
    "unreachable",  # DNS, refused, reset before any byte
    "bad_request",  # 400/404/422: the request or model id is wrong
    "upstream",  # 5xx or an error event mid-stream
    "malformed",  # the upstream broke its own wire format
    "cancelled",  # the client went away
]


class StreamError(msgspec.Struct, frozen=True, tag="error", tag_field="kind", kw_only=True):
    """The last delta of a stream that failed after it started."""

    error: ErrorKind
    message: str
    status: int | None = None


Delta = ReasoningDelta | ContentDelta | Usage | Finish | StreamError


class ChatResult(msgspec.Struct, kw_only=True):
    """A whole (non-streamed) answer."""

    content: str
    reasoning: str
    usage: Usage
    finish_reason: str
    model: str  # as the upstream reported it


class UpstreamModel(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    name: str | None = None
    owned_by: str | None = None
    context_window: int | None = None


class ConnectionCheck(msgspec.Struct, kw_only=True, omit_defaults=True):
    ok: bool
    latency_ms: float
    error: ErrorKind | None = None
    message: str | None = None
    models: int | None = None


class ProviderError(Exception):
    """A call that failed before its stream started (or a whole call that failed)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in {"rate_limited", "timeout", "unreachable", "upstream"}


class ProviderConfig(msgspec.Struct, kw_only=True, frozen=True):
    """What an adapter needs; ``api_key`` is the decrypted key, held in memory only."""

    type: str
    base_url: str
    api_key: str | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderAdapter(Protocol):
    """One wire protocol. A new protocol is one new module implementing this."""

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Deltas as they arrive. Raises ProviderError before the first delta;
        after it, failures arrive as a final StreamError delta."""
        ...

    async def complete_chat(self, request: ChatRequest) -> ChatResult: ...

    async def list_models(self) -> list[UpstreamModel]: ...

    async def check_connection(self) -> ConnectionCheck: ...

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        """Raises ProviderError("bad_request") where the protocol has no embeddings."""
        ...
