"""A started chat stream: relays deltas, meters them, records the call when it ends."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import anyio

from runtime.llm.metering import CallMeter, Status
from runtime.llm.recorder import CallRecorder
from runtime.llm.resolver import ResolvedModel
from runtime.llm.types import (
    ContentDelta,
    Delta,
    Finish,
    ReasoningDelta,
    StreamError,
    Usage,
)


async def close_upstream(upstream: AsyncIterator[Delta]) -> None:
    """Close the adapter's generator, which closes its upstream HTTP response.

    Shielded: this often runs inside a cancelled scope (the client went away), and a
    cancelled close would leave the upstream connection streaming into the void.
    """
    aclose = getattr(upstream, "aclose", None)
    if aclose is None:
        return
    with anyio.CancelScope(shield=True):
        await aclose()


class ChatStream:
    """Iterate once. Pre-stream failures were already raised by ``Gateway.open_stream``."""

    def __init__(
        self,
        meter: CallMeter,
        upstream: AsyncIterator[Delta],
        first: Delta | None,
        recorder: CallRecorder,
    ) -> None:
        self.meter = meter
        self._upstream = upstream
        self._first = first
        self._recorder = recorder
        self._recorded = False
        self._iterated = False

    @property
    def model(self) -> ResolvedModel:
        return self.meter.model

    @property
    def call_id(self) -> str:
        return self.meter.call_id

    def __aiter__(self) -> AsyncGenerator[Delta, None]:
        if self._iterated:
            raise RuntimeError("a ChatStream can be iterated once")
        self._iterated = True
        return self._relay()

    async def _relay(self) -> AsyncGenerator[Delta, None]:
        meter = self.meter
        status: Status = "cancelled"
        error_kind: str | None = None
        finish_reason: str | None = None
        delta = self._first
        self._first = None
        try:
            while delta is not None:
                # Per-delta work stays to type checks: this loop runs once per token.
                if isinstance(delta, ContentDelta | ReasoningDelta):
                    if meter.first_token_at is None:
                        meter.first_token()
                elif isinstance(delta, Usage):
                    meter.add_usage(delta)
                elif isinstance(delta, Finish):
                    finish_reason = delta.reason
                elif isinstance(delta, StreamError):
                    error_kind = delta.error
                yield delta
                delta = await anext(self._upstream, None)
            meter.upstream_ended()
            status = _status(error_kind, finish_reason)
        finally:
            if status == "cancelled":
                await close_upstream(self._upstream)
            self._record(status, error_kind, finish_reason)

    def _record(self, status: Status, error_kind: str | None, finish_reason: str | None) -> None:
        if not self._recorded:
            self._recorded = True
            event = self.meter.finish(status, error_kind=error_kind, finish_reason=finish_reason)
            self._recorder.record(event)

    async def aclose(self) -> None:
        """Give up on a stream that was never iterated (or stop one early)."""
        if not self._iterated:
            self._iterated = True
            await close_upstream(self._upstream)
            self._record("cancelled", None, None)


def _status(error_kind: str | None, finish_reason: str | None) -> Status:
    if error_kind == "cancelled" or finish_reason == "cancelled":
        return "cancelled"
    if error_kind is not None or finish_reason == "error":
        return "error"
    return "ok"
