"""One model's streamed answer within a comparison: collected and measured as it arrives."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from events.compare import AnswerStatus, CompareMetrics, ModelAnswer
from handlers.compare.metrics import clip, measure
from handlers.compare.schemas import ModelRef
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller, CallMeter, call_cost
from runtime.llm.resolver import ModelNotFound
from runtime.llm.types import (
    ContentDelta,
    Delta,
    Finish,
    Message,
    Params,
    ProviderError,
    ReasoningDelta,
    StreamError,
    Usage,
)

OnDelta = Callable[["Answer", Delta], Awaitable[None]]


@dataclass(slots=True, eq=False)
class Answer:
    """Mutable while the model streams; readable at any moment, also after a cancel."""

    model: ModelRef
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    status: AnswerStatus | None = None  # None while the call runs
    finish_reason: str | None = None
    error: str | None = None
    error_message: str | None = None
    started: float = 0.0
    ended: float | None = None
    meter: CallMeter | None = None

    def fail(self, kind: str, message: str) -> None:
        self.status, self.error, self.error_message = "error", kind, message

    def take(self, delta: Delta) -> None:
        if isinstance(delta, ContentDelta):
            self.content.append(delta.text)
        elif isinstance(delta, ReasoningDelta):
            self.reasoning.append(delta.text)
        elif isinstance(delta, Finish):
            self.finish_reason = delta.reason
        elif isinstance(delta, StreamError):
            self.fail(delta.error, delta.message)

    def settle(self) -> None:
        """Fix the final status once the stream ended without raising."""
        if self.status is not None:
            return
        if self.finish_reason == "error":
            self.fail("upstream", "the upstream ended the answer with an error")
        else:
            self.status = "cancelled" if self.finish_reason == "cancelled" else "ok"

    @property
    def usage(self) -> Usage:
        return self.meter.usage if self.meter is not None else Usage()

    def metrics(self) -> CompareMetrics:
        ended = self.ended if self.ended is not None else time.perf_counter()
        meter = self.meter
        if meter is None:  # failed before the upstream answered at all
            return measure(
                started=self.started, first_token_at=None, ended=ended, usage=Usage(), cost=None
            )
        return measure(
            started=meter.started,
            first_token_at=meter.first_token_at,
            ended=meter.upstream_ended_at or ended,
            usage=meter.usage,
            cost=call_cost(meter.model, meter.usage),
        )

    def snapshot(self, budget: int) -> ModelAnswer:
        """The finished answer, its texts clipped to ``budget`` UTF-8 bytes in all."""
        reasoning, cut_r = clip("".join(self.reasoning), budget // 4)
        answer, cut_a = clip("".join(self.content), budget - len(reasoning.encode()))
        return ModelAnswer(
            model_config_id=self.model.model_config_id,
            alias=self.model.alias,
            name=self.model.name,
            status=self.status or "cancelled",
            answer=answer,
            reasoning=reasoning,
            truncated=cut_a or cut_r,
            finish_reason=self.finish_reason,
            error=self.error,
            error_message=self.error_message,
            metrics=self.metrics(),
        )


async def run_model(
    gateway: Gateway,
    answer: Answer,
    messages: list[Message],
    params: Params,
    caller: Caller,
    on_delta: OnDelta | None = None,
) -> Answer:
    """Stream one model's answer into ``answer``; its own failures end up in ``answer``.

    Only cancellation and unexpected errors propagate; a cancelled call is left with
    status ``cancelled`` and whatever had arrived.
    """
    answer.started = time.perf_counter()
    try:
        try:
            stream = await gateway.open_stream(
                answer.model.model_config_id, messages, params, caller, started=answer.started
            )
        except ModelNotFound:
            answer.fail("model_not_found", "The model config is gone or disabled.")
            return answer
        except ProviderError as exc:
            answer.fail(exc.kind, exc.message)
            return answer
        answer.meter = stream.meter
        relay = aiter(stream)
        try:
            async for delta in relay:
                answer.take(delta)
                if on_delta is not None:
                    await on_delta(answer, delta)
        finally:
            # Stopped while suspended (client gone): close the upstream now, not at GC.
            await relay.aclose()
        answer.settle()
    finally:
        answer.ended = time.perf_counter()
        if answer.status is None:
            answer.status = "cancelled"
    return answer
