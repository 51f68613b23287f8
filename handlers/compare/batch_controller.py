"""Batch comparison routes (/api/compare/batches): queue, status, CSV, live progress."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.compare import batches
from handlers.compare.export import results_csv
from handlers.compare.feed import batch_feed, until_completed
from handlers.compare.schemas import BatchCreate, BatchPage, BatchRead
from handlers.compare.views import batch_read
from handlers.deps import MAX_OFFSET
from handlers.events_feed import InvalidPosition
from handlers.quotas import within_quota
from runtime.bus import EventBus
from runtime.errors import BadRequest
from runtime.settings import Settings

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
ResumeHeader = Annotated[str | None, Parameter(header="Last-Event-ID", required=False)]


class BatchController(Controller):
    path = "/api/compare/batches"
    tags = ["compare"]
    guards = [requires(Permission.CHAT_USE)]

    @post("/", operation_id="compareBatchesCreate", status_code=202, guards=[within_quota])
    async def create(
        self, data: BatchCreate, db_session: AsyncSession, current_user: CurrentUser
    ) -> BatchRead:
        """Queue every prompt for every model; follow it at ``…/{id}/events`` or poll it."""
        return batch_read(await batches.create_batch(db_session, current_user, data))

    @get("/", operation_id="compareBatchesList")
    async def list_batches(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BatchPage:
        rows, total = await batches.list_batches(
            db_session, current_user, limit=limit, offset=offset
        )
        return BatchPage(
            items=[batch_read(b) for b in rows], total=total, limit=limit, offset=offset
        )

    @get("/{batch_id:str}", operation_id="compareBatchesGet")
    async def get_batch(
        self, batch_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> BatchRead:
        """Status, progress and per model: TTFT, tokens/s, cost, errors, win rate if voted."""
        batch = await batches.get_owned(db_session, current_user, batch_id)
        return batch_read(batch, await batches.model_summaries(db_session, batch))

    @get(
        "/{batch_id:str}/results.csv",
        operation_id="compareBatchesResultsCsv",
        media_type="text/csv",
    )
    async def results(
        self, batch_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Response[str]:
        """One row per prompt and model, in prompt order."""
        batch = await batches.get_owned(db_session, current_user, batch_id)
        body = await results_csv(db_session, batch.id)
        disposition = f'attachment; filename="compare-batch-{batch.id}.csv"'
        return Response(
            body,
            media_type="text/csv",  # Litestar appends "; charset=utf-8"
            headers={"Content-Disposition": disposition},
        )

    @get("/{batch_id:str}/events", operation_id="compareBatchesEvents")
    async def events(
        self,
        batch_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        bus: EventBus,
        settings: Settings,
        last_event_id: ResumeHeader = None,
    ) -> ServerSentEvent:
        """SSE: ``ready``, then the batch's ``requested``, ``progress`` and ``completed``
        events (``id`` = resume token for ``Last-Event-ID``); ends after ``completed``."""
        batch = await batches.get_owned(db_session, current_user, batch_id)
        try:
            feed = batch_feed(
                bus, settings, current_user, batch.id, last_event_id, backlog=batch.total + 2
            )
        except InvalidPosition as exc:
            raise BadRequest("invalid_resume_token", detail=str(exc)) from exc
        return ServerSentEvent(until_completed(feed))
