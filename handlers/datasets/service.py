"""Dataset use cases: ingest an upload, list, read, preview and delete (owner or admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from events.training import DatasetCreated, DatasetData, DatasetDeleted
from handlers.auth import CurrentUser
from handlers.datasets.upload import Upload
from runtime.db.models import Dataset, ModelConfig, TrainingJob
from runtime.db.paging import page_of
from runtime.errors import BadRequest, Conflict, NotFound, Unprocessable
from runtime.outbox import emit
from trainer import stats as dataset_stats
from trainer import store

ACTIVE = ("validating_files", "queued", "running")


def datasets_root(data_dir: Path) -> Path:
    return data_dir / "datasets"


def _visible(user: CurrentUser) -> ColumnElement[bool]:
    return true() if user.is_admin else Dataset.owner_id == user.id


def _data(row: Dataset) -> DatasetData:
    return DatasetData(
        dataset_id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        version=row.version,
        format=row.format,
        content_hash=row.content_hash,
        num_records=row.num_records,
    )


def _rejected(exc: store.DatasetRejected) -> Unprocessable:
    result = exc.validation
    if result is None:
        errors = [{"line": exc.line, "field": "", "message": str(exc)}] if exc.line else None
        return Unprocessable("invalid_dataset", detail=str(exc), errors=errors)
    by_field = ", ".join(f"{k or 'record'} x{n}" for k, n in result.errors_by_field.most_common())
    bad = len({e.line for e in result.errors})
    detail = (
        f"{result.error_count} problem(s) ({by_field}); the first {len(result.errors)} are "
        f"listed, on {bad} line(s). Format: {result.format or 'unknown'}. Nothing was kept."
        if result.error_count
        else "The file holds no records."
    )
    errors = [
        {"line": e.line, "record": e.record, "field": e.field, "message": e.message}
        for e in result.errors
    ]
    return Unprocessable("invalid_dataset", detail=detail, errors=errors)


async def tokenizer_dir(session: AsyncSession, base_model_id: str | None) -> str | None:
    if not base_model_id:
        return None
    model = await session.get(ModelConfig, base_model_id)
    if model is None or not model.local_path:
        raise BadRequest(
            "unknown_base_model", detail=f"No local model {base_model_id} to count tokens with."
        )
    return model.local_path


async def create(
    session: AsyncSession, user: CurrentUser, upload: Upload, data_dir: Path
) -> tuple[Dataset, bool]:
    """Validate and store; (row, created). The same content under the same name is reused."""
    assert upload.path is not None
    name = (upload.fields.get("name") or Path(upload.filename or "dataset").stem).strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest("invalid_name", detail="The name must have 1 to 200 characters.")
    tokenizer = await tokenizer_dir(session, upload.fields.get("base_model_id"))
    try:
        ingested = await asyncio.to_thread(
            store.ingest, upload.path, datasets_root(data_dir), tokenizer
        )
    except store.DatasetRejected as exc:
        raise _rejected(exc) from exc
    versions = (
        await session.scalars(
            select(Dataset).where(Dataset.owner_id == user.id, Dataset.name == name)
        )
    ).all()
    for existing in versions:
        if existing.content_hash == ingested.content_hash:
            return existing, False
    row = Dataset(
        owner_id=user.id,
        name=name,
        version=max((v.version for v in versions), default=0) + 1,
        format=ingested.format,
        file_path=str(ingested.path),
        content_hash=ingested.content_hash,
        size_bytes=ingested.size_bytes,
        num_records=ingested.num_records,
        stats=ingested.stats,
        info=ingested.info,
    )
    session.add(row)
    await session.flush()
    emit(session, DatasetCreated(subject=row.id, actor=user.id, data=_data(row)))
    return row, True


async def get(session: AsyncSession, user: CurrentUser, dataset_id: str) -> Dataset:
    row = await session.scalar(select(Dataset).where(Dataset.id == dataset_id, _visible(user)))
    if row is None:
        raise NotFound("dataset_not_found", detail=f"No dataset {dataset_id}.")
    return row


async def list_datasets(
    session: AsyncSession, user: CurrentUser, *, name: str | None, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    query = select(Dataset).where(_visible(user))
    if name:
        query = query.where(Dataset.name == name)
    query = query.order_by(Dataset.created_at.desc(), Dataset.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def delete(session: AsyncSession, user: CurrentUser, dataset_id: str) -> None:
    row = await get(session, user, dataset_id)
    active = await session.scalars(select(TrainingJob).where(TrainingJob.status.in_(ACTIVE)))
    if any(row.id in (job.dataset_ids or []) for job in active):
        raise Conflict("dataset_in_use", detail="A queued or running job uses this dataset.")
    emit(session, DatasetDeleted(subject=row.id, actor=user.id, data=_data(row)))
    await session.delete(row)
    await session.flush()
    shared = await session.scalar(
        select(func.count()).where(Dataset.content_hash == row.content_hash)
    )
    if not shared:
        # Content-addressed: the file goes with the last dataset version that names it.
        await asyncio.to_thread(Path(row.file_path).unlink, missing_ok=True)


async def preview(
    row: Dataset, offset: int, limit: int
) -> tuple[str, int, list[dict[str, object]]]:
    fmt, records = await asyncio.to_thread(store.load, Path(row.file_path))
    return fmt, len(records), dataset_stats.preview(fmt, records, offset, limit)
