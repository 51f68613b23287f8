"""One comparison run: every model streams at once, multiplexed into one SSE response.

Each model runs in its own task of one task group and pushes ready-made SSE messages into
one bounded in-memory stream that the response drains: a slow client slows the models
down instead of growing a buffer, and no model waits on another. When the client goes
away the group is cancelled, which closes every upstream call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec
import structlog
from anyio.streams.memory import MemoryObjectSendStream
from litestar.response import ServerSentEventMessage

from events.compare import CompareRunCompleted, CompareRunData
from handlers.compare.calls import Answer, run_model
from handlers.compare.schemas import CompareParameters, ModelRef
from handlers.compare.targets import stored_parameters, to_messages, to_params
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.types import ContentDelta, Delta, ReasoningDelta, Usage
from runtime.sse import ping

log = structlog.get_logger(__name__)

BUFFER = 256  # messages queued between the models and the client
# Room the event needs besides the answers: envelope, metrics, names.
_EVENT_OVERHEAD = 48 * 1024
_encode = msgspec.json.encode


def _message(event: str, data: dict[str, Any]) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=event, data=_encode(data).decode())


def _end_data(answer: Answer) -> dict[str, Any]:
    return {
        "model_config_id": answer.model.model_config_id,
        "alias": answer.model.alias,
        "status": answer.status,
        "finish_reason": answer.finish_reason,
        "error": answer.error,
        "error_message": answer.error_message,
        "metrics": answer.metrics(),
    }


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What one run asks for: whose, which models, which prompt and parameters."""

    run_id: str
    user_id: str
    models: list[ModelRef]
    prompt: str
    system_prompt: str | None = None
    parameters: CompareParameters | None = None


class CompareStream:
    """The SSE body of ``POST /api/compare``; iterate ``messages()`` once."""

    def __init__(
        self,
        gateway: Gateway,
        spec: RunSpec,
        caller: Caller,
        *,
        heartbeat: float,
        payload_limit: int,
    ) -> None:
        self._gateway = gateway
        self.spec = spec
        self._caller = caller
        self._heartbeat = heartbeat
        self._messages = to_messages(spec.prompt, spec.system_prompt)
        self._params = to_params(spec.parameters)
        self.answers = [Answer(model=m) for m in spec.models]
        text = len(spec.prompt.encode()) + len((spec.system_prompt or "").encode())
        # The answers share what the broker's payload limit leaves after the prompt.
        self._budget = max(0, payload_limit - _EVENT_OVERHEAD - text) // len(spec.models)
        self._scope = anyio.CancelScope()

    async def messages(self) -> AsyncIterator[ServerSentEventMessage]:
        """Per model ``start``, ``reasoning``/``content``/``usage``, ``done`` or ``error``;
        then one ``summary``. ``: ping`` comments while every model is silent."""
        send, receive = anyio.create_memory_object_stream[ServerSentEventMessage](BUFFER)
        producer = asyncio.create_task(self._produce(send), name=f"compare:{self.spec.run_id}")
        try:
            while True:
                message: ServerSentEventMessage | None = None
                with anyio.move_on_after(self._heartbeat):
                    try:
                        message = await receive.receive()
                    except anyio.EndOfStream:
                        break
                yield message or ping()
            yield _message("summary", self._summary())
        finally:
            # Shielded: this runs when the client went away and this task is cancelled.
            self._scope.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(producer, return_exceptions=True)
            receive.close()
            self._record()

    async def _produce(self, send: MemoryObjectSendStream[ServerSentEventMessage]) -> None:
        with send, self._scope:
            async with anyio.create_task_group() as group:
                for answer in self.answers:
                    group.start_soon(self._one, answer, send)

    async def _one(
        self, answer: Answer, send: MemoryObjectSendStream[ServerSentEventMessage]
    ) -> None:
        model = answer.model
        tag = {"model_config_id": model.model_config_id}
        start = {**tag, "run_id": self.spec.run_id, "alias": model.alias, "name": model.name}
        await send.send(_message("start", start))
        # Per token: one encode of the text into a prefix built once per model.
        prefix = _encode(tag)[:-1] + b',"text":'

        async def relay(_: Answer, delta: Delta) -> None:
            if isinstance(delta, ContentDelta | ReasoningDelta):
                kind = "content" if isinstance(delta, ContentDelta) else "reasoning"
                data = (prefix + _encode(delta.text) + b"}").decode()
                await send.send(ServerSentEventMessage(event=kind, data=data))
            elif isinstance(delta, Usage):
                usage = answer.usage
                counts = {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "reasoning_tokens": usage.reasoning_tokens,
                }
                await send.send(_message("usage", {**tag, **counts}))

        try:
            await run_model(
                self._gateway, answer, self._messages, self._params, self._caller, relay
            )
        except Exception:
            # A bug must cost this one model, not the whole comparison.
            log.exception("compare_model_failed", model_config_id=model.model_config_id)
            answer.fail("internal", "Internal error while streaming this model.")
        await send.send(_message("done" if answer.status == "ok" else "error", _end_data(answer)))

    def _summary(self) -> dict[str, Any]:
        return {"run_id": self.spec.run_id, "models": [_end_data(a) for a in self.answers]}

    def _record(self) -> None:
        """Publish the run for the record consumer, off the response path.

        The gateway's recorder publishes in the background and falls back to the outbox
        when the broker is down, so the run is saved late rather than lost.
        """
        if not any(a.started for a in self.answers):
            return  # the client left before any model was called
        spec = self.spec
        data = CompareRunData(
            run_id=spec.run_id,
            user_id=spec.user_id,
            prompt=spec.prompt,
            system_prompt=spec.system_prompt,
            parameters=stored_parameters(spec.parameters),
            models=[a.snapshot(self._budget) for a in self.answers],
        )
        event = CompareRunCompleted(subject=spec.run_id, actor=spec.user_id, data=data)
        self._gateway.recorder.record(event)
