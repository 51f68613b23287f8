"""Response bodies of the dataset routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class Dataset(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    name: str
    version: int
    format: str
    content_hash: str
    size_bytes: int
    num_records: int
    stats: dict[str, Any]
    # The dataset_info.json entry LLaMA-Factory reads the file with.
    dataset_info: dict[str, Any]
    created_at: datetime


class DatasetPage(msgspec.Struct, kw_only=True):
    items: list[Dataset]
    total: int
    limit: int
    offset: int


class PreviewRecord(msgspec.Struct, kw_only=True):
    index: int
    line: int
    system: str | None
    # Normalized: roles user / assistant (observation, function_call for tool turns).
    messages: list[dict[str, str]]
    raw: Any


class DatasetPreview(msgspec.Struct, kw_only=True):
    dataset_id: str
    format: str
    total: int
    offset: int
    items: list[PreviewRecord]
