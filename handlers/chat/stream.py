"""One turn as server-sent events, straight from the provider.

A producer task opens the upstream stream and puts its deltas on a queue; the SSE
generator relays them, sends ``: ping`` comments while the queue is quiet (the wait for
a reasoning model's first token can be long), and takes a stop signal from any replica
through the same queue. When the turn ends it publishes the turn's event; nothing in
between touches the broker or the database.

SSE events: ``start`` (turn and message ids), ``citations`` (a session with knowledge
bases: the retrieved sources, ``[{index, document_id, filename, chunk_index, score, text}]``),
``reasoning`` and ``content`` (``{"text"}``), ``usage``, then ``done`` or ``error``; each has
the id ``<turn id>:<seq>``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import structlog
from litestar.response import ServerSentEventMessage

from events.chat import TurnCitation, TurnEvent
from handlers.chat import knowledge
from handlers.chat.framing import TurnFramer
from handlers.chat.outcome import Answer, CancelReason, Outcome, publish_turn, turn_event
from handlers.chat.stop import StopListener
from handlers.chat.turns import TurnPlan
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.resolver import ModelNotFound
from runtime.llm.stream import ChatStream
from runtime.llm.types import ContentDelta, Finish, ProviderError, ReasoningDelta, StreamError
from runtime.services import Services
from runtime.sse import ping

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Opened:
    stream: ChatStream


@dataclass(frozen=True, slots=True)
class _Cited:
    citations: list[TurnCitation]


@dataclass(frozen=True, slots=True)
class _Failed:
    kind: str
    message: str


_END = object()
_STOP = object()


class TurnStream:
    """Iterate ``events()`` once; every exit path publishes exactly one turn event."""

    def __init__(
        self, plan: TurnPlan, services: Services, gateway: Gateway, *, keepalive: float
    ) -> None:
        self.plan = plan
        self._services = services
        self._gateway = gateway
        self._keepalive = keepalive
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._frames = TurnFramer(plan)
        self.answer = Answer()
        self.event: TurnEvent | None = None

    async def _produce(self) -> None:
        plan, put = self.plan, self._queue.put_nowait
        caller = Caller(user_id=plan.user_id, api_key_id=plan.api_key_id, origin="chat")
        messages = plan.messages
        if plan.knowledge_base_ids:
            citations = await knowledge.gather(
                self._services,
                plan.knowledge_base_ids,
                plan.question.content,
                plan.knowledge_top_k,
                user_id=plan.user_id,
                turn_id=plan.turn_id,
            )
            put(_Cited(citations))
            messages = knowledge.with_context(messages, citations)
        try:
            stream = await self._gateway.open_stream(
                plan.model_config_id, messages, plan.params, caller, started=plan.started
            )
        except ModelNotFound:
            put(_Failed("model_not_found", "The session's model is not available."))
            return
        except ProviderError as exc:
            put(_Failed(exc.kind, exc.message))
            return
        except Exception as exc:
            log.exception("chat_stream_open_failed", turn_id=plan.turn_id)
            put(_Failed("internal", f"unexpected error: {type(exc).__name__}"))
            return
        put(_Opened(stream))
        try:
            async for delta in stream:
                put(delta)
        except Exception as exc:
            log.exception("chat_stream_failed", turn_id=plan.turn_id)
            put(_Failed("internal", f"unexpected error: {type(exc).__name__}"))
            return
        put(_END)

    def _take(self, item: object) -> tuple[ServerSentEventMessage | None, Outcome | None]:
        """Fold one queue item into the answer: what to send, and whether the turn ended."""
        answer = self.answer
        if isinstance(item, ContentDelta):
            answer.content.append(item.text)
            return self._frames.text("content", item.text), None
        if isinstance(item, ReasoningDelta):
            answer.reasoning.append(item.text)
            return self._frames.text("reasoning", item.text), None
        if isinstance(item, Finish):
            answer.finish_reason = item.reason
        elif isinstance(item, StreamError):
            answer.error = (item.error, item.message)
        elif isinstance(item, _Cited):
            answer.citations = item.citations
            return self._frames.citations(knowledge.as_dicts(item.citations)), None
        elif isinstance(item, _Opened):
            answer.stream = item.stream
        elif isinstance(item, _Failed):
            answer.error = (item.kind, item.message)
            return None, "failed"
        elif item is _END:
            return None, "failed" if answer.error else "completed"
        elif item is _STOP:
            return None, "cancelled"
        return None, None  # Usage: the call's meter already adds it up

    async def _stop_producer(self, producer: asyncio.Task[None]) -> None:
        # Cancelling the producer cancels the upstream read; the gateway's stream then
        # closes the provider's response and records the call as cancelled.
        with anyio.CancelScope(shield=True):
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    async def _finish(self, outcome: Outcome, reason: CancelReason = "stopped") -> TurnEvent:
        self.event = event = turn_event(self.plan, self.answer, outcome, reason)
        with anyio.CancelScope(shield=True):
            await publish_turn(self._services, event)
        return event

    async def events(self) -> AsyncIterator[ServerSentEventMessage]:
        listener = StopListener(
            self._services.bus.nc,
            self.plan.session_id,
            self.plan.turn_id,
            lambda: self._queue.put_nowait(_STOP),
        )
        await listener.open()
        producer = asyncio.create_task(self._produce(), name=f"chat-turn-{self.plan.turn_id}")
        published = False
        try:
            yield self._frames.start()
            outcome: Outcome | None = None
            while outcome is None:
                try:
                    # Tokens usually wait in the queue already: skip wait_for's task then.
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    try:
                        item = await asyncio.wait_for(self._queue.get(), self._keepalive)
                    except TimeoutError:
                        yield ping()
                        continue
                message, outcome = self._take(item)
                if message is not None:
                    yield message
            await self._stop_producer(producer)
            event = await self._finish(outcome)
            published = True
            for message in self._frames.closing(event):
                yield message
        finally:
            # Reached without publishing only when the client went away mid-turn.
            await self._stop_producer(producer)
            if not published:
                await self._finish("cancelled", "client_disconnected")
            await listener.close()
