"""The embedded vector store, served to the platform's other processes over NATS.

Qdrant Edge locks its files: one process may open them. Without a Qdrant server, the
process that runs the ``knowledge`` consumers (``llmforge up``, or the worker with that
group) owns the embedded store and answers request-reply calls on
``<consumer prefix>.rpc.vectors``; every other process of the deployment (``llmforge
api`` replicas, the extra HTTP processes of ``llmforge up``) reaches it through
:class:`RemoteVectorStore`, the same ``VectorStore`` contract and test suite.

Core NATS, not JetStream: a call is answered now or fails now; nothing is stored. The
subject is outside the event streams' ``llmforge.<domain>.>`` subjects by its ``rpc``
token, which no event domain uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from runtime.bus.barrier import server_caught_up
from runtime.vectors.base import ChunkPoint, Hit, MetaCondition, MetaFilter, MetaOp, VectorStore

log = structlog.get_logger(__name__)

QUEUE = "vectors"
# A search is milliseconds; a minute covers a delete of a large base on a slow disk.
DEFAULT_TIMEOUT = 60.0


def rpc_subject(consumer_prefix: str) -> str:
    """Per deployment: two platforms sharing a NATS account have different prefixes."""
    return f"{consumer_prefix}.rpc.vectors"


class VectorStoreUnavailable(RuntimeError):
    """No process answers for the embedded store, or it failed the call."""


# --- the wire contract ---------------------------------------------------------------------


class PointWire(msgspec.Struct, frozen=True):
    id: str
    vector: list[float]
    payload: dict[str, Any]


class ConditionWire(msgspec.Struct, frozen=True):
    key: str
    op: MetaOp
    value: Any = None


class FilterWire(msgspec.Struct, frozen=True):
    conditions: list[ConditionWire]
    match_any: bool = False


class Upsert(msgspec.Struct, frozen=True, tag="upsert"):
    points: list[PointWire]


class DeleteDocument(msgspec.Struct, frozen=True, tag="delete_document"):
    document_id: str
    from_chunk: int = 0


class DeleteKb(msgspec.Struct, frozen=True, tag="delete_kb"):
    kb_id: str


class Search(msgspec.Struct, frozen=True, tag="search"):
    kb_ids: list[str]
    vector: list[float]
    top_k: int
    score_threshold: float | None = None
    document_ids: list[str] | None = None
    metadata: FilterWire | None = None


class Count(msgspec.Struct, frozen=True, tag="count"):
    kb_id: str | None = None
    document_id: str | None = None


class PointIds(msgspec.Struct, frozen=True, tag="point_ids"):
    document_id: str


VectorCall = Upsert | DeleteDocument | DeleteKb | Search | Count | PointIds


class HitWire(msgspec.Struct, frozen=True):
    id: str
    score: float
    payload: dict[str, Any]


class VectorReply(msgspec.Struct, frozen=True, omit_defaults=True):
    hits: list[HitWire] | None = None
    count: int | None = None
    ids: list[str] | None = None
    error: str | None = None


_encode = msgspec.msgpack.encode
_call_decoder = msgspec.msgpack.Decoder(VectorCall)
_reply_decoder = msgspec.msgpack.Decoder(VectorReply)


def _filter_wire(metadata: MetaFilter | None) -> FilterWire | None:
    if metadata is None:
        return None
    return FilterWire(
        [ConditionWire(c.key, c.op, c.value) for c in metadata.conditions], metadata.match_any
    )


def _filter(wire: FilterWire | None) -> MetaFilter | None:
    if wire is None:
        return None
    return MetaFilter(
        tuple(MetaCondition(c.key, c.op, c.value) for c in wire.conditions), wire.match_any
    )


# --- the owner's side ----------------------------------------------------------------------


class VectorStoreServer:
    """Answers calls for ``store`` (the owner's local store), each in its own task."""

    def __init__(self, store: VectorStore, nc: NATS, subject: str) -> None:
        self.store = store
        self._nc = nc
        self.subject = subject
        self._sub: Subscription | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # A queue group: were two owners subscribed, each call would still run once.
        self._sub = await self._nc.subscribe(self.subject, queue=QUEUE, cb=self._on_call)
        # Serving once the server has the subscription, or a call from another connection
        # right after start() meets "no responders", as some did after flush().
        await server_caught_up(self._nc)
        log.info("vector_store_served", subject=self.subject)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _on_call(self, msg: Msg) -> None:
        # nats-py runs one subscription's callbacks one after another: searches from many
        # API requests would queue behind each other, so each call gets a task.
        task = asyncio.create_task(self._answer(msg))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _answer(self, msg: Msg) -> None:
        try:
            reply = await self.run(_call_decoder.decode(msg.data))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            reply = VectorReply(error=f"bad vector store call: {exc}")
        except Exception as exc:
            log.exception("vector_store_call_failed")
            reply = VectorReply(error=f"{type(exc).__name__}: {exc}")
        if msg.reply:
            await msg.respond(_encode(reply))

    async def run(self, call: VectorCall) -> VectorReply:
        store = self.store
        if isinstance(call, Search):
            hits = await store.search(
                call.kb_ids,
                call.vector,
                top_k=call.top_k,
                score_threshold=call.score_threshold,
                document_ids=call.document_ids,
                metadata=_filter(call.metadata),
            )
            return VectorReply(hits=[HitWire(h.id, h.score, h.payload) for h in hits])
        if isinstance(call, Count):
            counted = await store.count(kb_id=call.kb_id, document_id=call.document_id)
            return VectorReply(count=counted)
        if isinstance(call, PointIds):
            return VectorReply(ids=await store.point_ids(call.document_id))
        if isinstance(call, Upsert):
            await store.upsert([ChunkPoint(p.id, p.vector, p.payload) for p in call.points])
        elif isinstance(call, DeleteDocument):
            await store.delete_document(call.document_id, from_chunk=call.from_chunk)
        else:
            await store.delete_kb(call.kb_id)
        return VectorReply()


# --- every other process -------------------------------------------------------------------


class RemoteVectorStore:
    """``VectorStore`` by request-reply to the process that owns the embedded store."""

    def __init__(self, nc: NATS, subject: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._nc = nc
        self.subject = subject
        self._timeout = timeout

    async def _call(self, call: VectorCall) -> VectorReply:
        try:
            msg = await self._nc.request(self.subject, _encode(call), timeout=self._timeout)
        except NoRespondersError as exc:
            raise VectorStoreUnavailable(
                "no process serves the embedded vector store: run the knowledge worker "
                "(or llmforge up), or set QDRANT_URL"
            ) from exc
        except NatsTimeout as exc:
            raise VectorStoreUnavailable(
                f"the embedded vector store did not answer within {self._timeout:g} s"
            ) from exc
        reply = _reply_decoder.decode(msg.data)
        if reply.error is not None:
            raise VectorStoreUnavailable(reply.error)
        return reply

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        wire = [PointWire(p.id, list(p.vector), p.payload) for p in points]
        await self._call(Upsert(wire))

    async def delete_document(self, document_id: str, *, from_chunk: int = 0) -> None:
        await self._call(DeleteDocument(document_id, from_chunk))

    async def delete_kb(self, kb_id: str) -> None:
        await self._call(DeleteKb(kb_id))

    async def search(
        self,
        kb_ids: Sequence[str],
        vector: Sequence[float],
        *,
        top_k: int,
        score_threshold: float | None = None,
        document_ids: Sequence[str] | None = None,
        metadata: MetaFilter | None = None,
    ) -> list[Hit]:
        if not kb_ids:
            return []
        reply = await self._call(
            Search(
                list(kb_ids),
                list(vector),
                top_k,
                score_threshold,
                list(document_ids) if document_ids is not None else None,
                _filter_wire(metadata),
            )
        )
        return [Hit(h.id, h.score, h.payload) for h in reply.hits or []]

    async def count(self, *, kb_id: str | None = None, document_id: str | None = None) -> int:
        return (await self._call(Count(kb_id, document_id))).count or 0

    async def point_ids(self, document_id: str) -> list[str]:
        return (await self._call(PointIds(document_id))).ids or []

    async def close(self) -> None:
        return None  # the connection is the bus's
