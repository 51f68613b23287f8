"""Dify's External Knowledge API bodies (``POST {endpoint}/retrieval``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Scalar = str | int | float | bool


class RetrievalSetting(msgspec.Struct, kw_only=True):
    top_k: Annotated[int, Meta(ge=1, le=100)] = 5
    # 0.0 when the threshold is switched off in Dify.
    score_threshold: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.0


class Condition(msgspec.Struct, kw_only=True):
    # A metadata field name (Dify has sent a list of names in some versions).
    name: str | list[str]
    comparison_operator: str
    value: Scalar | list[Scalar] | None = None


class MetadataCondition(msgspec.Struct, kw_only=True):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition] = msgspec.field(default_factory=list)


class RetrievalRequest(msgspec.Struct, kw_only=True):
    knowledge_id: Annotated[str, Meta(min_length=1, max_length=64)]
    query: Annotated[str, Meta(min_length=1, max_length=8000)]
    retrieval_setting: RetrievalSetting = msgspec.field(default_factory=RetrievalSetting)
    metadata_condition: MetadataCondition | None = None


class Record(msgspec.Struct, kw_only=True):
    content: str
    score: float
    title: str
    # Always an object: Dify's pipeline breaks on null metadata.
    metadata: dict[str, Any]


class RetrievalResponse(msgspec.Struct, kw_only=True):
    records: list[Record]


class DifyError(msgspec.Struct, kw_only=True):
    error_code: int
    error_msg: str
