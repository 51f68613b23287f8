"""Up-front checks of a job request, so a bad job fails at once with a clear 422."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from handlers.training.schemas import JobCreate
from runtime.db.models import Dataset, ModelConfig
from runtime.errors import Unprocessable
from trainer import devices, sidecar
from trainer.config import known_templates


def base_model_path(model: ModelConfig | None, model_id: str) -> str:
    if model is None or model.kind != "local" or not model.local_path:
        raise Unprocessable(
            "base_model_not_local",
            detail=f"{model_id} is not a local model folder (a model config of kind 'local'); "
            "register one with `llmforge models add-smollm2`.",
        )
    if not (Path(model.local_path) / "config.json").is_file():
        raise Unprocessable("base_model_missing", detail=f"No model folder at {model.local_path}.")
    return model.local_path


def template(data: JobCreate, model_path: str) -> str:
    name = data.template or sidecar.read(model_path).get("template")
    if not isinstance(name, str) or not name:
        raise Unprocessable(
            "template_required", detail="Give `template`: the base model records none."
        )
    known = known_templates()
    if known and name not in known:
        close = sorted(t for t in known if t.startswith(name[:3]))[:10]
        raise Unprocessable(
            "unknown_template",
            detail=f"No LLaMA-Factory template {name!r}."
            + (f" Close: {', '.join(close)}." if close else ""),
        )
    return name


def hardware(data: JobCreate) -> None:
    if data.stage == "dpo":
        raise Unprocessable(
            "stage_not_supported",
            detail="DPO needs preference datasets (chosen/rejected pairs), which llmforge "
            "does not take yet; use stage 'sft'.",
        )
    if data.finetuning_type == "qlora":
        if not devices.cuda_gpus():
            raise Unprocessable(
                "qlora_needs_gpu", detail="QLoRA (4-bit) needs a CUDA GPU; none is present."
            )
        if not devices.has_bitsandbytes():
            raise Unprocessable(
                "qlora_needs_bitsandbytes", detail="QLoRA needs the bitsandbytes package."
            )


def fit(data: JobCreate, datasets: Sequence[Dataset]) -> list[str]:
    """Errors for data that cannot train; warnings for data that trains worse than hoped."""
    total = sum(d.num_records for d in datasets)
    if data.max_samples:
        total = min(total, data.max_samples * len(datasets))
    held_out = (
        0
        if data.eval_dataset_ids or not data.val_size
        else (int(data.val_size) if data.val_size >= 1 else math.floor(total * data.val_size))
    )
    if data.val_size and not data.eval_dataset_ids and held_out < 1:
        raise Unprocessable(
            "dataset_too_small",
            detail=f"val_size {data.val_size} of {total} records holds out no record.",
        )
    if total - held_out < 1:
        raise Unprocessable(
            "dataset_too_small",
            detail=f"{total} record(s) leave nothing to train on after val_size {data.val_size}.",
        )
    warnings = []
    for d in datasets:
        tokens = d.stats.get("tokens")
        if not isinstance(tokens, dict):
            continue
        if tokens.get("min", 0) > data.cutoff_len:
            raise Unprocessable(
                "dataset_does_not_fit",
                detail=f"Every record of {d.name!r} is longer than cutoff_len "
                f"{data.cutoff_len} tokens (shortest: {int(tokens['min'])}).",
            )
        if tokens.get("p95", 0) > data.cutoff_len:
            warnings.append(
                f"{d.name}: over 5% of records exceed cutoff_len {data.cutoff_len} tokens "
                f"(p95 {int(tokens['p95'])}) and will be truncated"
            )
    batch = data.per_device_train_batch_size * data.gradient_accumulation_steps
    if total - held_out < batch and not data.max_steps:
        warnings.append(f"{total - held_out} training record(s) is less than one batch of {batch}")
    return warnings
