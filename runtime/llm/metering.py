"""Measure one gateway call (timing, tokens, cost) and turn it into its event."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from events.llm import LlmCallCompleted, LlmCallData
from runtime.llm.resolver import ResolvedModel
from runtime.llm.types import Usage

Status = Literal["ok", "error", "cancelled"]
_MTOK = 1_000_000


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, for attribution in the usage records."""

    user_id: str | None = None
    api_key_id: str | None = None
    origin: str = "v1"


def call_cost(model: ResolvedModel, usage: Usage) -> float | None:
    """Prices are per million tokens; reasoning tokens are part of the output tokens."""
    if model.input_price_per_mtok is None and model.output_price_per_mtok is None:
        return None
    cost_in = usage.input_tokens * (model.input_price_per_mtok or 0.0)
    cost_out = usage.output_tokens * (model.output_price_per_mtok or 0.0)
    return round((cost_in + cost_out) / _MTOK, 10)


def merge_usage(a: Usage, b: Usage) -> Usage:
    # Adapters report cumulative counts (some send input early and output late), so the
    # largest value of each field is the total.
    return Usage(
        input_tokens=max(a.input_tokens, b.input_tokens),
        output_tokens=max(a.output_tokens, b.output_tokens),
        reasoning_tokens=max(a.reasoning_tokens, b.reasoning_tokens),
        cached_input_tokens=max(a.cached_input_tokens, b.cached_input_tokens),
    )


class CallMeter:
    """Clock readings of one call; all times are ``perf_counter`` seconds."""

    __slots__ = (
        "_clock",
        "call_id",
        "caller",
        "first_token_at",
        "model",
        "operation",
        "started",
        "stream",
        "upstream_ended_at",
        "upstream_started_at",
        "usage",
    )

    def __init__(
        self,
        model: ResolvedModel,
        caller: Caller,
        *,
        operation: Literal["chat", "embeddings"] = "chat",
        stream: bool = False,
        started: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self.model = model
        self.caller = caller
        self.operation = operation
        self.stream = stream
        self.call_id = os.urandom(16).hex()  # uuid4().hex's shape, a fifth of its cost
        self.started = started if started is not None else clock()
        self.upstream_started_at: float | None = None
        self.upstream_ended_at: float | None = None
        self.first_token_at: float | None = None
        self.usage = Usage()

    def upstream_started(self) -> None:
        self.upstream_started_at = self._clock()

    def upstream_ended(self) -> None:
        if self.upstream_ended_at is None:
            self.upstream_ended_at = self._clock()

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = self._clock()

    def add_usage(self, usage: Usage) -> None:
        self.usage = merge_usage(self.usage, usage)

    def upstream_ms(self) -> float:
        if self.upstream_started_at is None:
            return 0.0
        end = self.upstream_ended_at if self.upstream_ended_at is not None else self._clock()
        return (end - self.upstream_started_at) * 1000

    def timing(self) -> tuple[float, float, float]:
        """(total, upstream, gateway) milliseconds so far; gateway = total - upstream."""
        total = (self._clock() - self.started) * 1000
        upstream = self.upstream_ms()
        return total, upstream, max(0.0, total - upstream)

    def server_timing(self) -> str:
        """The W3C ``Server-Timing`` value of this call so far."""
        _, upstream, gateway = self.timing()
        return f"gateway;dur={gateway:.1f}, upstream;dur={upstream:.1f}"

    def finish(
        self, status: Status, *, error_kind: str | None = None, finish_reason: str | None = None
    ) -> LlmCallCompleted:
        self.upstream_ended()
        total, upstream, gateway = self.timing()
        ttft = None if self.first_token_at is None else (self.first_token_at - self.started) * 1000
        m, c, u = self.model, self.caller, self.usage
        data = LlmCallData(
            call_id=self.call_id,
            model_alias=m.alias,
            model_config_id=m.model_config_id,
            provider_id=m.provider_id,
            provider_type=m.provider_type,
            upstream_model=m.upstream_model,
            user_id=c.user_id,
            api_key_id=c.api_key_id,
            origin=c.origin,
            operation=self.operation,
            stream=self.stream,
            status=status,
            error_kind=error_kind,
            finish_reason=finish_reason,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            reasoning_tokens=u.reasoning_tokens,
            cached_input_tokens=u.cached_input_tokens,
            ttft_ms=None if ttft is None else round(ttft, 3),
            latency_ms=round(total, 3),
            upstream_ms=round(upstream, 3),
            gateway_overhead_ms=round(gateway, 3),
            cost=call_cost(m, u),
        )
        actor = c.user_id or "system"
        return LlmCallCompleted(subject=self.call_id, actor=actor, data=data)
