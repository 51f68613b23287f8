"""Request and response bodies of the training routes (LLaMA-Factory's argument names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "warmup_stable_decay",
]
Ids = Annotated[list[Annotated[str, Meta(min_length=1, max_length=32)]], Meta(max_length=16)]
Prompt = Annotated[str, Meta(min_length=1, max_length=20_000)]


class EvaluationSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Compare the fine-tuned model with its base once the job succeeds (not LLaMA-Factory's).

    Prompts: these, else the job's datasets' validation split. A judge (any model config)
    makes it a pairwise preference with a win rate; without one, outputs and speed only.
    """

    enabled: bool = True
    prompts: Annotated[list[Prompt], Meta(min_length=1, max_length=200)] | None = None
    judge_model_id: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    max_examples: Annotated[int, Meta(ge=1, le=200)] = 20
    # Per answer of either model.
    max_tokens: Annotated[int, Meta(ge=1, le=4096)] = 256


class JobCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A fine-tuning job. Field names and meanings are LLaMA-Factory's own."""

    base_model_id: str
    dataset_ids: Annotated[Ids, Meta(min_length=1)]
    # Datasets used only for evaluation (LLaMA-Factory's eval_dataset); or use val_size.
    eval_dataset_ids: Ids = msgspec.field(default_factory=list)
    stage: Literal["sft", "dpo"] = "sft"
    finetuning_type: Literal["lora", "qlora", "full"] = "lora"
    lora_rank: Annotated[int, Meta(ge=1, le=1024)] = 8
    lora_alpha: Annotated[int, Meta(ge=1, le=4096)] = 16
    lora_dropout: Annotated[float, Meta(ge=0, lt=1)] = 0.0
    lora_target: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.*,-]+$", max_length=500)] = "all"
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = 1e-4
    num_train_epochs: Annotated[float, Meta(gt=0, le=1000)] = 3.0
    per_device_train_batch_size: Annotated[int, Meta(ge=1, le=4096)] = 1
    gradient_accumulation_steps: Annotated[int, Meta(ge=1, le=4096)] = 8
    cutoff_len: Annotated[int, Meta(ge=8, le=1_048_576)] = 2048
    # Default: the base model's own (recorded with the local model), else required.
    template: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)] | None = None
    warmup_ratio: Annotated[float, Meta(ge=0, lt=1)] = 0.0
    warmup_steps: Annotated[int, Meta(ge=0)] | None = None
    lr_scheduler_type: Scheduler = "cosine"
    # A fraction (< 1) or a number of records (>= 1) held out for evaluation.
    val_size: Annotated[float, Meta(ge=0)] = 0.0
    save_steps: Annotated[int, Meta(ge=1)] = 500
    seed: int = 42
    max_steps: Annotated[int, Meta(ge=1)] | None = None
    max_samples: Annotated[int, Meta(ge=1)] | None = None
    logging_steps: Annotated[int, Meta(ge=1, le=10_000)] = 1
    # Absent: evaluated when the datasets hold a validation split (collected ones do).
    evaluation: EvaluationSpec | None = None


class Job(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    status: str
    base_model_id: str | None
    dataset_ids: list[str]
    hyperparameters: dict[str, Any]
    progress: dict[str, Any]
    error: str | None
    swanlab_run_id: str | None
    result_model_id: str | None
    output_dir: str | None
    adapter_path: str | None
    report_url: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Only in the answer to POST: what may go less well than hoped (truncation…).
    warnings: list[str] = msgspec.field(default_factory=list)


class JobPage(msgspec.Struct, kw_only=True):
    items: list[Job]
    total: int
    limit: int
    offset: int


class MetricPoint(msgspec.Struct, kw_only=True, omit_defaults=True):
    step: int
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    throughput: float | None = None
    elapsed_seconds: float | None = None


class Metrics(msgspec.Struct, kw_only=True):
    job_id: str
    status: str
    points: list[MetricPoint]
