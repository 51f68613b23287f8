"""The LLM gateway: resolve a model, call its provider, meter the call, record it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

import msgspec

from runtime.llm.clients import ClientPool
from runtime.llm.metering import Caller, CallMeter
from runtime.llm.recorder import CallRecorder
from runtime.llm.resolver import ModelResolver, ResolvedModel
from runtime.llm.stream import ChatStream, close_upstream
from runtime.llm.types import (
    ChatRequest,
    ChatResult,
    Delta,
    Message,
    Params,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    StreamError,
    Usage,
)

AdapterFactory = Callable[[ProviderConfig, ClientPool], ProviderAdapter]


def merge_params(preset: Params, request: Params) -> Params:
    """The model config's presets, overridden field by field by what the request sets."""
    changes = {f: v for f in request.__struct_fields__ if (v := getattr(request, f)) is not None}
    if preset.extra and request.extra:
        changes["extra"] = {**preset.extra, **request.extra}
    return msgspec.structs.replace(preset, **changes) if changes else preset


def _default_factory() -> AdapterFactory:
    from runtime.llm.registry import adapter_for

    return adapter_for


@dataclass(frozen=True, slots=True)
class Completed:
    result: ChatResult
    meter: CallMeter


@dataclass(frozen=True, slots=True)
class Embedded:
    vectors: list[list[float]]
    usage: Usage
    meter: CallMeter


class Gateway:
    """One per process (it lives in ``Services.llm``); holds no per-request state."""

    def __init__(
        self,
        resolver: ModelResolver,
        pool: ClientPool,
        recorder: CallRecorder,
        *,
        adapter_factory: AdapterFactory | None = None,
    ) -> None:
        self.resolver = resolver
        self.pool = pool
        self.recorder = recorder
        self._factory = adapter_factory

    def adapter(self, config: ProviderConfig) -> ProviderAdapter:
        if self._factory is None:
            self._factory = _default_factory()
        return self._factory(config, self.pool)

    async def _start(
        self,
        name: str,
        caller: Caller,
        started: float | None,
        *,
        stream: bool = False,
        operation: Literal["chat", "embeddings"] = "chat",
    ) -> tuple[ResolvedModel, CallMeter, ProviderAdapter]:
        started = started if started is not None else time.perf_counter()
        model = await self.resolver.resolve(name)
        meter = CallMeter(model, caller, started=started, stream=stream, operation=operation)
        return model, meter, self.adapter(model.provider)

    def _failed(self, meter: CallMeter, exc: ProviderError) -> None:
        self.recorder.record(meter.finish("error", error_kind=exc.kind))

    async def open_stream(
        self,
        name: str,
        messages: list[Message],
        params: Params,
        caller: Caller,
        *,
        started: float | None = None,
    ) -> ChatStream:
        """Start the upstream stream and wait for its first delta.

        Raises ``ModelNotFound`` or ``ProviderError`` while nothing is sent to the
        client yet, so the caller can still answer with a proper HTTP status.
        """
        model, meter, adapter = await self._start(name, caller, started, stream=True)
        request = ChatRequest(
            model=model.upstream_model,
            messages=messages,
            params=merge_params(model.parameters, params),
        )
        meter.upstream_started()
        upstream: AsyncIterator[Delta] | None = None
        try:
            upstream = adapter.stream_chat(request)
            first = await anext(upstream, None)
            if isinstance(first, StreamError):  # failed before anything useful was said
                await close_upstream(upstream)
                raise ProviderError(first.error, first.message, status=first.status)
        except ProviderError as exc:
            self._failed(meter, exc)
            raise
        except BaseException:
            if upstream is not None:
                await close_upstream(upstream)
            self.recorder.record(meter.finish("cancelled"))
            raise
        return ChatStream(meter, upstream, first, self.recorder)

    async def complete(
        self,
        name: str,
        messages: list[Message],
        params: Params,
        caller: Caller,
        *,
        started: float | None = None,
    ) -> Completed:
        model, meter, adapter = await self._start(name, caller, started)
        request = ChatRequest(
            model=model.upstream_model,
            messages=messages,
            params=merge_params(model.parameters, params),
        )
        meter.upstream_started()
        try:
            result = await adapter.complete_chat(request)
        except ProviderError as exc:
            self._failed(meter, exc)
            raise
        meter.upstream_ended()
        meter.add_usage(result.usage)
        self.recorder.record(meter.finish("ok", finish_reason=result.finish_reason))
        return Completed(result, meter)

    async def embed(
        self, name: str, inputs: list[str], caller: Caller, *, started: float | None = None
    ) -> Embedded:
        model, meter, adapter = await self._start(name, caller, started, operation="embeddings")
        meter.upstream_started()
        try:
            vectors, usage = await adapter.embed(model.upstream_model, inputs)
        except ProviderError as exc:
            self._failed(meter, exc)
            raise
        meter.upstream_ended()
        meter.add_usage(usage)
        self.recorder.record(meter.finish("ok"))
        return Embedded(vectors, usage, meter)

    async def aclose(self) -> None:
        await self.recorder.drain()
        await self.pool.aclose()
