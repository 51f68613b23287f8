"""Dataset files on disk: validated, then stored once per content hash."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.formats import Format, Validation, dataset_info, optional_columns, validate
from trainer.records import FileError, Record, read_records
from trainer.stats import compute, load_tokenizer


class DatasetRejected(ValueError):
    """The upload is not a usable dataset; ``validation`` says where and why."""

    def __init__(
        self, message: str, validation: Validation | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.validation = validation
        self.line = line


@dataclass(frozen=True, slots=True)
class Ingested:
    format: Format
    layout: str
    path: Path
    content_hash: str
    size_bytes: int
    num_records: int
    stats: dict[str, Any]
    info: dict[str, Any]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse(text: str) -> Validation:
    try:
        layout, records, bad = read_records(text)
    except FileError as exc:
        raise DatasetRejected(str(exc), line=exc.line) from exc
    result = validate(layout, records, bad)
    result.errors.sort(key=lambda e: e.line)
    return result


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetRejected(f"the file is not UTF-8 text (byte {exc.start})") from exc


def ingest(upload: Path, root: Path, tokenizer_dir: str | None = None) -> Ingested:
    """Validate every record of ``upload`` and move it under ``root``; raises DatasetRejected.

    The upload is moved only when it is valid, so a rejected file leaves nothing behind
    (the caller deletes the temporary file either way).
    """
    result = parse(read_text(upload))
    if not result.ok or result.format is None:
        problem = (
            "no records"
            if not result.records and not result.error_count
            else (f"{result.error_count} problem(s) in the file")
        )
        raise DatasetRejected(problem, result)
    tokenizer = load_tokenizer(tokenizer_dir) if tokenizer_dir else None
    stats = compute(result.format, result.records, tokenizer)
    content_hash = sha256_file(upload)
    target = root / content_hash[:2] / f"{content_hash}.{result.layout}"
    target.parent.mkdir(parents=True, exist_ok=True)
    size = upload.stat().st_size
    if target.exists():
        upload.unlink()
    else:
        # Same filesystem (the upload lands under the data dir): an atomic rename.
        os.replace(upload, target)
    info = dataset_info(result.format, str(target.resolve()), optional_columns(result.records))
    return Ingested(
        format=result.format,
        layout=result.layout,
        path=target,
        content_hash=content_hash,
        size_bytes=size,
        num_records=len(result.records),
        stats=stats,
        info=info,
    )


def load(path: Path) -> tuple[Format, list[Record]]:
    """A stored (already valid) dataset's records."""
    result = parse(read_text(path))
    if result.format is None:
        raise DatasetRejected("stored dataset has no known format")
    return result.format, result.records
