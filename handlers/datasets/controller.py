"""Dataset routes (/api/datasets): streamed upload with validation, list, read, preview."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.datasets import service
from handlers.datasets.schemas import Dataset, DatasetPage, DatasetPreview, PreviewRecord
from handlers.datasets.upload import receive
from handlers.deps import MAX_OFFSET
from runtime.db.models import Dataset as DatasetRow
from runtime.settings import Settings

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def dataset_out(row: DatasetRow) -> Dataset:
    return Dataset(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        version=row.version,
        format=row.format,
        content_hash=row.content_hash,
        size_bytes=row.size_bytes,
        num_records=row.num_records,
        stats=row.stats,
        dataset_info=row.info,
        created_at=row.created_at,
    )


class DatasetController(Controller):
    path = "/api/datasets"
    tags = ["datasets"]
    guards = [requires(Permission.DATASETS_MANAGE)]

    @post(
        "/",
        operation_id="datasetsUpload",
        # The upload route streams to disk under its own limit (training settings).
        request_max_body_size=None,
        description="multipart/form-data: `file` (JSON or JSONL: alpaca, sharegpt or "
        "OpenAI messages), `name`, optional `base_model_id` to count tokens. 201 new, "
        "200 when the same content already exists under this name; 422 lists problems "
        "by line and field.",
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Response[Dataset]:
        upload = await receive(
            request.stream(),
            request.headers.get("content-type", ""),
            settings.data_dir / "tmp",
            settings.training.max_dataset_bytes,
        )
        try:
            row, created = await service.create(db_session, current_user, upload, settings.data_dir)
        finally:
            upload.discard()
        return Response(dataset_out(row), status_code=201 if created else 200)

    @get("/", operation_id="datasetsList")
    async def list_datasets(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        name: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DatasetPage:
        rows, total = await service.list_datasets(
            db_session, current_user, name=name, limit=limit, offset=offset
        )
        return DatasetPage(
            items=[dataset_out(r) for r in rows], total=total, limit=limit, offset=offset
        )

    @get("/{dataset_id:str}", operation_id="datasetsGet")
    async def get_one(
        self, dataset_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Dataset:
        return dataset_out(await service.get(db_session, current_user, dataset_id))

    @delete("/{dataset_id:str}", operation_id="datasetsDelete", status_code=204)
    async def remove(
        self, dataset_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        await service.delete(db_session, current_user, dataset_id)

    @get("/{dataset_id:str}/preview", operation_id="datasetsPreview")
    async def preview(
        self,
        dataset_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 10,
        offset: Offset = 0,
    ) -> DatasetPreview:
        row = await service.get(db_session, current_user, dataset_id)
        fmt, total, items = await service.preview(row, offset, limit)
        return DatasetPreview(
            dataset_id=row.id,
            format=fmt,
            total=total,
            offset=offset,
            items=msgspec.convert(items, list[PreviewRecord]),
        )
