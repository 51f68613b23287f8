"""Reviewed pairs become a dataset: checked, de-duplicated, split, stored as two datasets.

The training split is the dataset the caller names; the held-out split is stored beside it
as ``<name> (validation)``, a dataset of its own, so a job can take it as
``eval_dataset_ids`` and the evaluator reads the very same records. Both go through the
upload path (validation, stats, content hash, ``dataset_info.json`` entry).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from events.training import DatasetCollected, DatasetCollectedData
from handlers.auth import CurrentUser
from handlers.collect.schemas import CollectPair, CollectRequest, ValidationItem, ValidationSplit
from handlers.datasets import service as datasets
from handlers.datasets.upload import Upload
from runtime.db.models import Dataset
from runtime.errors import BadRequest, NotFound
from runtime.outbox import emit
from trainer import convert, store

VALIDATION_SUFFIX = " (validation)"
MAX_REPORTED = 50


def _check(pairs: list[CollectPair]) -> None:
    if not pairs:
        raise BadRequest("no_pairs", detail="Send at least one pair.")
    errors: list[dict[str, Any]] = []
    for index, pair in enumerate(pairs):
        for name, value in (("instruction", pair.instruction), ("output", pair.output)):
            if not value.strip():
                errors.append({"index": index, "field": name, "message": "must not be empty"})
        for turn, (question, answer) in enumerate(pair.history):
            if not question.strip() or not answer.strip():
                errors.append(
                    {"index": index, "field": f"history[{turn}]", "message": "empty turn"}
                )
    if errors:
        raise BadRequest(
            "invalid_pairs",
            detail=f"{len(errors)} problem(s); nothing was stored.",
            errors=errors[:MAX_REPORTED],
        )


def records(pairs: list[CollectPair], fmt: convert.Target) -> list[dict[str, Any]]:
    out = []
    for pair in pairs:
        record = convert.alpaca_record(
            pair.instruction,
            pair.output,
            input=pair.input,
            system=pair.system,
            history=pair.history,
        )
        out.append(record if fmt == "alpaca" else convert.to_sharegpt("alpaca", record))
    return out


def _write(folder: Path, rows: list[dict[str, Any]]) -> tuple[Path, int]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"collect-{uuid.uuid4().hex}.jsonl"
    content = convert.encode(convert.uniform(rows), "jsonl")
    path.write_bytes(content)
    return path, len(content)


async def _store(
    session: AsyncSession,
    user: CurrentUser,
    name: str,
    rows: list[dict[str, Any]],
    data_dir: Path,
    base_model_id: str | None,
) -> tuple[Dataset, bool]:
    path, size = await asyncio.to_thread(_write, data_dir / "tmp", rows)
    fields = {"name": name, **({"base_model_id": base_model_id} if base_model_id else {})}
    upload = Upload(path=path, filename=path.name, size=size, fields=fields)
    try:
        return await datasets.create(session, user, upload, data_dir)
    finally:
        upload.discard()


def _sources(pairs: list[CollectPair]) -> dict[str, int]:
    counts = Counter(p.source if p.source in ("chat", "compare") else "manual" for p in pairs)
    return dict(sorted(counts.items()))


async def collect(
    session: AsyncSession, user: CurrentUser, body: CollectRequest, data_dir: Path
) -> tuple[Dataset, bool]:
    """(training dataset, created); the same content under the same name is reused."""
    _check(body.pairs)
    unique, dropped = convert.dedupe(records(body.pairs, body.format))
    train, validation = convert.split(unique, body.val_ratio)
    row, created = await _store(session, user, body.name, train, data_dir, body.base_model_id)
    held: Dataset | None = None
    if validation:
        held, _ = await _store(
            session, user, body.name + VALIDATION_SUFFIX, validation, data_dir, body.base_model_id
        )
        held.stats = {**held.stats, "split": {"role": "validation", "dataset_id": row.id}}
    filters = msgspec.to_builtins(body.filters) if body.filters is not None else {}
    sources = _sources(body.pairs)
    row.stats = {
        **row.stats,
        "split": {
            "role": "train",
            "validation_dataset_id": held.id if held else None,
            "train_records": len(train),
            "validation_records": len(validation),
            "val_ratio": body.val_ratio,
            "duplicates_dropped": dropped,
        },
        "collected": {"sources": sources, "filters": filters},
    }
    await session.flush()
    data = DatasetCollectedData(
        dataset_id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        version=row.version,
        format=row.format,
        validation_dataset_id=held.id if held else None,
        pairs=len(body.pairs),
        duplicates_dropped=dropped,
        train_records=len(train),
        validation_records=len(validation),
        sources=sources,
        filters=filters,
    )
    emit(session, DatasetCollected(subject=row.id, actor=user.id, data=data))
    return row, created


def split_of(row: Dataset) -> dict[str, Any] | None:
    split = (row.stats or {}).get("split")
    return split if isinstance(split, dict) else None


async def _items(row: Dataset) -> list[ValidationItem]:
    fmt, found = await asyncio.to_thread(store.load, Path(row.file_path))
    items = []
    for record in found:
        value = convert.to_alpaca(fmt, record.value)
        items.append(
            ValidationItem(
                instruction=value["instruction"],
                input=value["input"],
                output=value["output"],
                system=value.get("system") or None,
                history=value.get("history", []),
            )
        )
    return items


async def _held(session: AsyncSession, row: Dataset) -> Dataset | None:
    """The dataset holding ``row``'s validation split (itself, for a validation split)."""
    split = split_of(row) or {}
    held_id = row.id if split.get("role") == "validation" else split.get("validation_dataset_id")
    if not held_id:
        return None
    held = row if held_id == row.id else await session.get(Dataset, held_id)
    if held is None:
        raise NotFound("validation_split_deleted", detail=f"Dataset {held_id} was deleted.")
    return held


async def validation(session: AsyncSession, user: CurrentUser, dataset_id: str) -> ValidationSplit:
    """The held-out records of a collected dataset (asked of either split)."""
    row = await datasets.get(session, user, dataset_id)
    if split_of(row) is None:
        raise NotFound(
            "no_validation_split",
            detail="Only collected datasets hold a validation split; upload an evaluation "
            "dataset and pass it as eval_dataset_ids instead.",
        )
    held = await _held(session, row)
    items = await _items(held) if held is not None else []
    return ValidationSplit(
        dataset_id=row.id,
        validation_dataset_id=held.id if held is not None else None,
        total=len(items),
        items=items,
    )


async def validation_items(
    session: AsyncSession, dataset_ids: Sequence[str], limit: int
) -> list[ValidationItem]:
    """For other features (the evaluator): the first ``limit`` held-out records of these
    datasets, in order. No owner check: the caller already holds the job that names them."""
    out: list[ValidationItem] = []
    for dataset_id in dict.fromkeys(dataset_ids):
        row = await session.get(Dataset, dataset_id)
        if row is None or split_of(row) is None or len(out) >= limit:
            continue
        try:
            held = await _held(session, row)
        except NotFound:
            continue
        if held is not None:
            out += (await _items(held))[: limit - len(out)]
    return out
