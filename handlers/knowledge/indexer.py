"""The indexer consumer: a stored document becomes searchable chunks.

Per event: parse, chunk (token-aware), embed in batches, upsert under deterministic
point ids (uuid5 of document and chunk index), drop points past the new last chunk,
then mark the document indexed. Running it twice for one document changes nothing.
A file that cannot be indexed (encrypted PDF, no text, bad format) fails at once; an
outage (vector store, provider) is retried by the bus until ``index_max_attempts``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from events import Event
from events.knowledge import (
    DocumentFailed,
    DocumentFailedData,
    DocumentIndexed,
    DocumentIndexedData,
    DocumentIndexing,
    DocumentReindexRequested,
    DocumentUploaded,
    IndexingProgressData,
)
from handlers.knowledge.chunking import Chunk, chunk_sections, token_splitter
from handlers.knowledge.parsers import ParseFailure, parse_file
from runtime.bus import Consumer
from runtime.bus.errors import BusError
from runtime.db.models import Document, KnowledgeBase, utcnow
from runtime.embeddings import EmbeddingError, EmbeddingModels
from runtime.embeddings.tokenizer import count_tokens, load_tokenizer
from runtime.llm.metering import Caller
from runtime.outbox import emit, publish_committed
from runtime.services import Services
from runtime.vectors import ChunkPoint, VectorStore, point_id

log = structlog.get_logger(__name__)

INDEX_SUBJECTS = (
    "llmforge.knowledge.document.*.uploaded",
    "llmforge.knowledge.document.*.reindex_requested",
)
FINAL = frozenset({"indexed", "failed"})


@dataclass(frozen=True, slots=True)
class Job:
    """What one run needs, read once so no session stays open while embedding."""

    event_id: str
    document_id: str
    kb_id: str
    owner_id: str
    filename: str
    path: Path
    model: str
    chunk_size: int
    chunk_overlap: int
    dimension: int | None
    attempt: int


class Indexer:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.config = services.settings.knowledge

    @property
    def vectors(self) -> VectorStore:
        assert self.services.vectors is not None, "vector store not started"
        return self.services.vectors

    @property
    def embeddings(self) -> EmbeddingModels:
        assert self.services.embeddings is not None, "embedding models not started"
        return self.services.embeddings

    async def handle(self, event: Event) -> None:
        if not isinstance(event, DocumentUploaded | DocumentReindexRequested):
            return
        job = await self._claim(event)
        if job is None:
            return
        with structlog.contextvars.bound_contextvars(document_id=job.document_id):
            if job.attempt > self.config.index_max_attempts:
                await self._fail(job, "too_many_attempts", "indexing kept failing; see the logs")
                return
            try:
                count, dimension, started = await self._index(job)
            except ParseFailure as exc:
                await self._fail(job, exc.reason, exc.detail)
                return
            except EmbeddingError as exc:
                if not exc.permanent and job.attempt < self.config.index_max_attempts:
                    raise
                await self._fail(job, "embedding_failed", str(exc))
                return
            except Exception as exc:
                if job.attempt < self.config.index_max_attempts:
                    raise  # nak with backoff; the bus redelivers
                await self._fail(job, "index_error", f"{type(exc).__name__}: {exc}")
                return
            await self._finish(job, count, dimension, started)

    async def _claim(self, event: DocumentUploaded | DocumentReindexRequested) -> Job | None:
        """Mark the document indexing and count the attempt, or None if nothing to do."""
        async with self.services.session_factory() as session:
            row = await session.get(Document, event.data.document_id)
            kb = await session.get(KnowledgeBase, row.knowledge_base_id) if row else None
            if row is None or kb is None:
                return None  # deleted since: nothing to index
            if row.index_event_id == event.id and row.status in FINAL:
                return None  # a redelivery of an event already settled
            if row.index_event_id != event.id:
                row.index_event_id, row.index_attempts = event.id, 0
            row.index_attempts += 1
            row.status = "indexing"
            await session.commit()
            return Job(
                event_id=event.id,
                document_id=row.id,
                kb_id=kb.id,
                owner_id=kb.owner_id,
                filename=row.filename,
                path=self.services.settings.data_dir / row.file_path,
                model=kb.embedding_model,
                chunk_size=kb.chunk_size,
                chunk_overlap=kb.chunk_overlap,
                dimension=kb.embedding_dimension,
                attempt=row.index_attempts,
            )

    async def _index(self, job: Job) -> tuple[int, int, float]:
        started = time.perf_counter()
        await self._progress(job, "parsing")
        embedder = self.embeddings.for_model(
            job.model, Caller(user_id=job.owner_id, origin="knowledge")
        )
        sections = await asyncio.to_thread(parse_file, job.path, job.filename)
        chunks = await asyncio.to_thread(
            chunk_sections,
            sections,
            size=min(job.chunk_size, embedder.max_tokens),
            overlap=job.chunk_overlap,
            count=count_tokens,
            split=token_splitter(load_tokenizer()),
        )
        if not chunks:
            raise ParseFailure("empty_text", f"{job.filename} contains no text to index")
        await self._progress(job, "embedding", 0, len(chunks))
        dimension = job.dimension
        batch = self.config.embed_batch_size
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            vectors = await embedder.embed([c.embed_text for c in part])
            size = len(vectors[0])
            if dimension is not None and size != dimension:
                raise EmbeddingError(
                    f"{job.model} returned {size}-dimensional vectors; this knowledge base "
                    f"holds {dimension}-dimensional ones",
                    permanent=True,
                )
            dimension = size
            await self.vectors.upsert(
                [self._point(job, c, v) for c, v in zip(part, vectors, strict=True)]
            )
            await self._progress(job, "embedding", start + len(part), len(chunks))
        # A shorter new version of the file leaves old chunks past its end: drop them.
        await self.vectors.delete_document(job.document_id, from_chunk=len(chunks))
        assert dimension is not None
        return len(chunks), dimension, started

    @staticmethod
    def _point(job: Job, chunk: Chunk, vector: list[float]) -> ChunkPoint:
        payload = {
            "kb_id": job.kb_id,
            "doc_id": job.document_id,
            "chunk_index": chunk.index,
            "text": chunk.text,
            "filename": job.filename,
            "meta": chunk.meta,
        }
        return ChunkPoint(point_id(job.document_id, chunk.index), vector, payload)

    async def _progress(self, job: Job, stage: str, done: int = 0, total: int = 0) -> None:
        data = IndexingProgressData(
            document_id=job.document_id,
            knowledge_base_id=job.kb_id,
            owner_id=job.owner_id,
            stage=stage,
            chunks_done=done,
            chunks_total=total,
        )
        try:
            await self.services.bus.publish(DocumentIndexing(subject=job.document_id, data=data))
        except BusError as exc:  # progress is advisory; the outcome event is not
            log.warning("indexing_progress_not_published", error=str(exc))

    async def _finish(self, job: Job, count: int, dimension: int, started: float) -> None:
        async with self.services.session_factory() as session:
            row = await session.get(Document, job.document_id)
            kb = await session.get(KnowledgeBase, job.kb_id)
            if row is None or kb is None:
                # Deleted while we embedded: our upserts must not outlive it.
                await self.vectors.delete_document(job.document_id)
                return
            row.status, row.num_chunks, row.indexed_at = "indexed", count, utcnow()
            row.error = row.error_reason = None
            if kb.embedding_dimension is None:
                kb.embedding_dimension = dimension
            data = DocumentIndexedData(
                document_id=row.id,
                knowledge_base_id=kb.id,
                owner_id=kb.owner_id,
                num_chunks=count,
                embedding_model=kb.embedding_model,
                dimension=dimension,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            emit(session, DocumentIndexed(subject=row.id, data=data))
            await _commit_and_publish(session, self.services)
        log.info("document_indexed", chunks=count, ms=data.duration_ms)

    async def _fail(self, job: Job, reason: str, detail: str) -> None:
        # A failed document must not be half-searchable.
        await self.vectors.delete_document(job.document_id)
        async with self.services.session_factory() as session:
            row = await session.get(Document, job.document_id)
            if row is None:
                return
            row.status, row.error, row.error_reason = "failed", detail, reason
            row.num_chunks = 0
            data = DocumentFailedData(
                document_id=row.id,
                knowledge_base_id=job.kb_id,
                owner_id=job.owner_id,
                reason=reason,
                detail=detail,
            )
            emit(session, DocumentFailed(subject=row.id, data=data))
            await _commit_and_publish(session, self.services)
        log.info("document_failed", reason=reason, detail=detail)


async def _commit_and_publish(session: AsyncSession, services: Services) -> None:
    await session.commit()
    await publish_committed(session, services.bus)


def indexer_consumer(services: Services) -> Consumer:
    """One document at a time: embedding already uses every core of the worker."""
    indexer = Indexer(services)
    attempts = services.settings.knowledge.index_max_attempts
    return Consumer(
        name="knowledge-indexer",
        subjects=INDEX_SUBJECTS,
        handler=indexer.handle,
        concurrency=1,
        # Above the indexer's own attempt limit, so the indexer marks the document
        # failed before the bus gives up and dead-letters it.
        max_deliver=attempts + 2,
        ack_wait=services.settings.knowledge.ack_wait_seconds,
        description="parses, chunks, embeds and upserts uploaded documents",
    )
