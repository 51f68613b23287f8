"""Training defaults from a dataset's size and token lengths and the base model (no I/O).

Rules of thumb for LoRA supervised fine-tuning, written so each choice can be explained
in one sentence: small sets get more passes, a smaller rank and a higher learning rate;
large sets fewer passes and a bigger batch; the cutoff fits the longest sample, not more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Chat templates wrap every turn in role markers the dataset statistics do not count.
TEMPLATE_MARGIN = 1.1
TEMPLATE_TOKENS = 32
MIN_CUTOFF = 128
# When the base model's context is unknown: long enough for most chat pairs, and a
# budget a small machine can still train.
UNKNOWN_CONTEXT_CAP = 4096
CURVE_POINTS = 50
CHECKPOINTS = 4


@dataclass(frozen=True, slots=True)
class DatasetFacts:
    train_records: int
    # Token lengths of whole records; None when not known.
    longest_tokens: int | None = None
    p95_tokens: int | None = None
    # "tokenizer": counted with the base model's tokenizer; "estimate": from characters.
    tokens_source: str = "tokenizer"
    validation_dataset_id: str | None = None
    validation_records: int = 0


@dataclass(frozen=True, slots=True)
class ModelFacts:
    context: int | None = None
    template: str | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    fields: dict[str, Any]
    explanations: dict[str, str]
    estimates: dict[str, Any]


def next_power_of_two(value: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1, value))))


def _epochs(n: int) -> float:
    if n < 100:
        return 5.0
    if n < 1_000:
        return 3.0
    if n < 10_000:
        return 2.0
    return 1.0


def _target_batch(n: int) -> int:
    if n < 64:
        return 4
    if n < 512:
        return 8
    if n < 4_096:
        return 16
    return 32


def _rank(n: int) -> int:
    if n < 1_000:
        return 8
    if n < 10_000:
        return 16
    return 32


def _cutoff(data: DatasetFacts, model: ModelFacts) -> tuple[int, str]:
    cap = model.context or UNKNOWN_CONTEXT_CAP
    cap_note = (
        f"the model's context of {model.context}"
        if model.context
        else f"{UNKNOWN_CONTEXT_CAP} (the model's context is unknown)"
    )
    if data.longest_tokens is None:
        value = min(2048, cap)
        return value, f"no token statistics: {value}, capped by {cap_note}"
    basis, what = data.longest_tokens, "the longest record"
    if data.p95_tokens and data.longest_tokens > 2 * data.p95_tokens:
        # A few outliers should not double the memory of every batch.
        basis, what = data.p95_tokens, "the 95th percentile (a few outliers are truncated)"
    need = math.ceil(basis * TEMPLATE_MARGIN) + TEMPLATE_TOKENS
    value = max(MIN_CUTOFF, next_power_of_two(need))
    how = "counted" if data.tokens_source == "tokenizer" else "estimated from characters"
    why = (
        f"{what} is {basis} tokens ({how}); with the chat template's markers that is "
        f"about {need}, rounded up to a power of two"
    )
    if value > cap:
        return cap, f"{why} ({value}), capped by {cap_note}: longer records are truncated"
    return value, f"{why}; within {cap_note}"


def choose(data: DatasetFacts, model: ModelFacts) -> Defaults:
    """Job fields (LLaMA-Factory's names), one reason per field, and the run's size."""
    n = max(1, data.train_records)
    cutoff, cutoff_why = _cutoff(data, model)
    per_device = 4 if cutoff <= 512 else 2 if cutoff <= 1024 else 1
    batch = min(_target_batch(n), n)
    per_device = min(per_device, batch)
    accumulation = math.ceil(batch / per_device)
    effective = per_device * accumulation
    epochs = _epochs(n)
    steps_per_epoch = math.ceil(n / effective)
    total_steps = math.ceil(steps_per_epoch * epochs)
    logging_steps = max(1, total_steps // CURVE_POINTS)
    save_steps = max(logging_steps, math.ceil(total_steps / CHECKPOINTS))
    rank = _rank(n)
    learning_rate = {8: 2e-4, 16: 1e-4, 32: 5e-5}[rank]
    dropout = 0.05 if n < 1_000 else 0.0
    warmup = 0.03 if total_steps >= 50 else 0.0
    fields: dict[str, Any] = {
        "stage": "sft",
        "finetuning_type": "lora",
        "num_train_epochs": epochs,
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accumulation,
        "cutoff_len": cutoff,
        "lora_rank": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": dropout,
        "learning_rate": learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": warmup,
        "logging_steps": logging_steps,
        "save_steps": save_steps,
        "max_steps": None,
        "val_size": 0.0,
        "eval_dataset_ids": [data.validation_dataset_id] if data.validation_dataset_id else [],
        "seed": 42,
    }
    if model.template:
        fields["template"] = model.template
    size = f"{n} training record(s)"
    explanations = {
        "num_train_epochs": f"{size}: "
        + (
            "small sets need several passes to learn anything"
            if epochs >= 3
            else "large sets learn enough in one or two passes and overfit with more"
        ),
        "per_device_train_batch_size": f"cutoff_len {cutoff}: {per_device} sample(s) per "
        "step fit a modest GPU or the CPU",
        "gradient_accumulation_steps": f"an effective batch of {effective} for {size} "
        f"keeps {steps_per_epoch} optimizer step(s) per epoch",
        "cutoff_len": cutoff_why,
        "lora_rank": f"{size}: rank {rank} has capacity enough without memorising",
        "lora_alpha": "twice the rank, the usual scaling",
        "lora_dropout": "a little dropout against overfitting a small set"
        if dropout
        else "large sets regularise themselves",
        "learning_rate": f"{learning_rate:g} suits LoRA rank {rank} (lower for more steps)",
        "warmup_ratio": "a short warmup steadies the first updates"
        if warmup
        else f"only {total_steps} step(s): no warmup",
        "logging_steps": f"about {CURVE_POINTS} points on the loss curve over "
        f"{total_steps} step(s)",
        "save_steps": f"about {CHECKPOINTS} checkpoints to resume from (also the "
        "evaluation interval)",
        "max_steps": f"unset: num_train_epochs decides (about {total_steps} step(s))",
    }
    if data.validation_dataset_id:
        explanations["eval_dataset_ids"] = (
            f"the dataset's held-out split ({data.validation_records} record(s)) gives "
            "the evaluation loss; the same records the evaluator reads"
        )
        explanations["val_size"] = "0: the held-out split is already a separate dataset"
    else:
        explanations["val_size"] = (
            "0: the dataset has no held-out split (collected datasets have one), so no "
            "evaluation during training"
        )
    if model.template:
        explanations["template"] = "the chat template the base model records"
    estimates = {
        "train_records": data.train_records,
        "validation_records": data.validation_records,
        "effective_batch": effective,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
        "longest_tokens": data.longest_tokens,
        "p95_tokens": data.p95_tokens,
        "tokens_source": data.tokens_source if data.longest_tokens is not None else None,
        "model_context": model.context,
    }
    return Defaults(fields=fields, explanations=explanations, estimates=estimates)
