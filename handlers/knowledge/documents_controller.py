"""Document routes: upload, list, read, delete, re-index and live indexing progress."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from events import Event
from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.events_feed.position import InvalidPosition, decode_position
from handlers.events_feed.stream import EventFeed
from handlers.knowledge import documents
from handlers.knowledge.deps import KNOWLEDGE_DEPENDENCIES
from handlers.knowledge.schemas import Document, DocumentPage
from handlers.knowledge.views import document_out
from runtime.bus import EventBus
from runtime.errors import BadRequest
from runtime.settings import Settings
from runtime.vectors import VectorStore

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
Status = Literal["uploaded", "indexing", "indexed", "failed"]
ResumeHeader = Annotated[str | None, Parameter(header="Last-Event-ID", required=False)]
KNOWLEDGE_STREAM = "LLMFORGE_KNOWLEDGE"


class DocumentController(Controller):
    path = "/api/knowledge-bases/{kb_id:str}/documents"
    tags = ["knowledge"]
    guards = [requires(Permission.KNOWLEDGE_MANAGE)]
    dependencies = KNOWLEDGE_DEPENDENCIES

    # The body limit is the upload limit, enforced while streaming, not the API's.
    @post("/", operation_id="documentsUpload", status_code=202, request_max_body_size=None)
    async def upload(
        self,
        kb_id: str,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Document:
        """Multipart ``file`` (.txt .md .html .pdf .docx .csv .json); indexed in the
        background: follow ``status`` or ``GET …/documents/{doc_id}/events``."""
        row = await documents.upload(db_session, current_user, kb_id, request, settings)
        return document_out(row)

    @get("/", operation_id="documentsList")
    async def list_documents(
        self,
        kb_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        status: Status | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DocumentPage:
        rows, total = await documents.list_documents(
            db_session, current_user, kb_id, status=status, limit=limit, offset=offset
        )
        items = [document_out(r) for r in rows]
        return DocumentPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{doc_id:str}", operation_id="documentsGet")
    async def get_one(
        self, kb_id: str, doc_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Document:
        return document_out(await documents.get(db_session, current_user, kb_id, doc_id))

    @delete("/{doc_id:str}", operation_id="documentsDelete", status_code=204)
    async def remove(
        self,
        kb_id: str,
        doc_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        vectors: VectorStore,
        settings: Settings,
    ) -> None:
        await documents.delete(db_session, current_user, kb_id, doc_id, vectors, settings.data_dir)

    @post("/{doc_id:str}/reindex", operation_id="documentsReindex", status_code=202)
    async def reindex(
        self, kb_id: str, doc_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Document:
        return document_out(await documents.reindex(db_session, current_user, kb_id, doc_id))

    @get("/{doc_id:str}/events", operation_id="documentsEvents")
    async def events(
        self,
        kb_id: str,
        doc_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        bus: EventBus,
        settings: Settings,
        last_event_id: ResumeHeader = None,
    ) -> ServerSentEvent:
        """SSE: the document's events from its upload on (uploaded, indexing progress,
        indexed or failed), then live ones; resume with ``Last-Event-ID``."""
        row = await documents.get(db_session, current_user, kb_id, doc_id)
        try:
            # Without a resume token, replay the document's history from the start.
            resume = decode_position(last_event_id) if last_event_id else {KNOWLEDGE_STREAM: 0}
        except InvalidPosition as exc:
            raise BadRequest("invalid_resume_token", detail=str(exc)) from exc

        def visible(_: Event) -> bool:
            return True  # the subject names this document, which the caller may read

        feed = EventFeed(
            bus.fanout,
            [f"llmforge.knowledge.document.{row.id}.>"],
            visible,
            resume=resume,
            heartbeat=settings.event_feed.heartbeat_seconds,
            queue_size=settings.event_feed.queue_size,
        )
        return ServerSentEvent(feed.messages())
