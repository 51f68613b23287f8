"""Request and response bodies of the collect, export and one-action train routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from handlers.training.schemas import JobCreate

Source = Literal["chat", "compare"]
Layout = Literal["jsonl", "json"]
Kind = Literal["email", "phone", "secret"]
Text = Annotated[str, Meta(max_length=200_000)]
Ids = Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]], Meta(max_length=100)]
Tags = Annotated[list[Annotated[str, Meta(min_length=1, max_length=100)]], Meta(max_length=50)]
# [question, answer] turns before the pair, oldest first (LLaMA-Factory's alpaca history).
History = Annotated[
    list[Annotated[list[Text], Meta(min_length=2, max_length=2)]], Meta(max_length=200)
]


class ScrubOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    emails: bool = True
    phones: bool = True
    secrets: bool = True


class PreviewRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which rated conversations become pairs. ``rating`` for compare: ``up`` = the voted
    winner's answer, ``down`` = the other answers of a run with a winner (ties give none)."""

    sources: Annotated[list[Source], Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: ["chat", "compare"]
    )
    model_config_ids: Ids | None = None
    since: datetime | None = None
    until: datetime | None = None
    rating: Literal["up", "down", "any"] = "up"
    # Chat sessions and compare runs have no tags in this version: given tags are not
    # applied, and ``notes`` says so.
    tags: Tags | None = None
    # Admins only: every user who opted in (share_conversations_for_training), and oneself.
    all_users: bool = False
    scrub: ScrubOptions = msgspec.field(default_factory=ScrubOptions)
    limit: Annotated[int, Meta(ge=1, le=5000)] = 500
    # Chat pairs: the earlier turns of the branch as ``history`` (multi-turn training).
    history: bool = False


class Scrubbed(msgspec.Struct, kw_only=True):
    field: str
    kind: Kind
    # Masked: enough to recognise the value in review, never the value.
    text: str


class Pair(msgspec.Struct, kw_only=True):
    id: str
    source: Source
    source_id: str
    system: str | None
    instruction: str
    input: str
    output: str
    model_alias: str | None
    rating: int
    created_at: datetime
    scrubbed: list[Scrubbed]
    model_config_id: str | None = None
    # The chat session or compare run the pair comes from.
    conversation_id: str | None = None
    history: list[list[str]] = msgspec.field(default_factory=list)


class PreviewResponse(msgspec.Struct, kw_only=True):
    pairs: list[Pair]
    # Matching pairs before ``limit`` (the newest ``limit`` are returned).
    total: int
    scrub_summary: dict[str, int]
    # Users whose conversations were read (the caller, plus opted-in users for all_users).
    user_count: int = 1
    notes: list[str] = msgspec.field(default_factory=list)


class CollectPair(msgspec.Struct, kw_only=True):
    """A reviewed pair; a preview pair may be sent back as it is (other fields are ignored)."""

    instruction: Text
    output: Text
    input: Text = ""
    system: Text | None = None
    history: History = msgspec.field(default_factory=list)
    source: str | None = None


class CollectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=180)]
    format: Literal["alpaca", "sharegpt"] = "alpaca"
    pairs: Annotated[list[CollectPair], Meta(max_length=50_000)]
    # Share of the pairs held out as the validation split (seeded by the content).
    val_ratio: Annotated[float, Meta(ge=0, le=0.5)] = 0.1
    # A local model to count tokens with (the stats then hold token lengths).
    base_model_id: str | None = None
    # The preview request the pairs came from, recorded in the dataset and the event.
    filters: PreviewRequest | None = None


class ValidationItem(msgspec.Struct, kw_only=True):
    instruction: str
    input: str
    output: str
    system: str | None
    history: list[list[str]] = msgspec.field(default_factory=list)


class ValidationSplit(msgspec.Struct, kw_only=True):
    dataset_id: str
    # The dataset the split is stored as (its own row, usable as eval_dataset_ids).
    validation_dataset_id: str | None
    total: int
    items: list[ValidationItem]


class TrainDefaults(JobCreate, kw_only=True):
    """A job request for this dataset and base model, with why each value was chosen."""

    explanations: dict[str, str] = msgspec.field(default_factory=dict)
    # train_records, effective_batch, steps_per_epoch, total_steps, longest_tokens…
    estimates: dict[str, Any] = msgspec.field(default_factory=dict)


class TrainRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    base_model_id: Annotated[str, Meta(min_length=1, max_length=64)]
    # Any job field except base_model_id and dataset_ids, over the defaults.
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    # Handed to the job request unchanged when jobs take an ``evaluation`` field.
    evaluation: dict[str, Any] | None = None
