"""A stored dataset as a downloadable file in alpaca or sharegpt form."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Literal

from handlers.collect.schemas import Layout
from runtime.db.models import Dataset
from runtime.errors import Unprocessable
from trainer import convert, store

_SAFE = re.compile(r"[^\w.-]+")
MEDIA = {"jsonl": "application/x-ndjson", "json": "application/json"}


def filename(row: Dataset, target: convert.Target, layout: Layout) -> str:
    stem = _SAFE.sub("-", row.name).strip("-")[:80] or "dataset"
    return f"{stem}-v{row.version}.{target}.{layout}"


def _render(path: Path, target: convert.Target, layout: Literal["jsonl", "json"]) -> bytes:
    fmt, found = store.load(path)
    out = []
    for record in found:
        try:
            out.append(convert.convert(fmt, record.value, target))
        except convert.NotConvertible as exc:
            raise Unprocessable(
                "not_convertible",
                detail=f"Record {record.index} (line {record.line}): {exc}. "
                f"Export it as {fmt if fmt != 'openai' else 'sharegpt'} instead.",
            ) from exc
    return convert.encode(convert.uniform(out), layout)


async def render(row: Dataset, target: convert.Target, layout: Layout) -> bytes:
    return await asyncio.to_thread(_render, Path(row.file_path), target, layout)
