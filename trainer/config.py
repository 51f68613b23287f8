"""LLaMA-Factory training configs: the job's hyperparameters plus paths, device and SwanLab."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from events.training import JobSpec

_TEMPLATE = re.compile(r'register_template\(\s*name="([^"]+)"')
# Hyperparameters that go to LLaMA-Factory unchanged when the job sets them.
PASSTHROUGH = (
    "stage",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_target",
    "learning_rate",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "cutoff_len",
    "template",
    "warmup_ratio",
    "warmup_steps",
    "lr_scheduler_type",
    "save_steps",
    "seed",
    "max_steps",
    "max_samples",
    "logging_steps",
    "max_grad_norm",
    "weight_decay",
)
LORA_ONLY = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target")


@lru_cache(maxsize=1)
def known_templates() -> frozenset[str]:
    """Chat templates of the installed LLaMA-Factory, read from its source (no torch import).

    Empty when LLaMA-Factory is not installed here (an API replica without the trainer
    extra): then any name is accepted and the worker's run reports a bad one.
    """
    spec = importlib.util.find_spec("llamafactory")
    if spec is None or spec.origin is None:
        return frozenset()
    source = Path(spec.origin).parent / "data" / "template.py"
    if not source.is_file():  # pragma: no cover - a broken install
        return frozenset()
    return frozenset(_TEMPLATE.findall(source.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Device:
    """Where a run happens: ``cuda`` with bf16 where the GPU has it, else the CPU."""

    kind: str = "cpu"
    bf16: bool = False


@dataclass(frozen=True, slots=True)
class SwanLab:
    mode: str  # offline | local | cloud
    logdir: str
    project: str
    run_name: str
    api_key: str | None = None
    host: str | None = None


DATA_DIR_NAME = "data"


def dataset_dir(output_dir: Path) -> Path:
    return output_dir.parent / DATA_DIR_NAME


def write_dataset_info(spec: JobSpec, target: Path) -> tuple[list[str], list[str]]:
    """The job's own ``dataset_info.json``: names the config refers to, train then eval."""
    target.mkdir(parents=True, exist_ok=True)
    entries = {f"ds_{d.dataset_id}": d.info for d in (*spec.datasets, *spec.eval_datasets)}
    (target / "dataset_info.json").write_text(json.dumps(entries, indent=2), encoding="utf-8")
    return (
        [f"ds_{d.dataset_id}" for d in spec.datasets],
        [f"ds_{d.dataset_id}" for d in spec.eval_datasets],
    )


def build(
    spec: JobSpec,
    *,
    device: Device,
    swanlab: SwanLab | None,
    resume_from: str | None = None,
) -> dict[str, Any]:
    """The YAML mapping for ``llamafactory-cli train``."""
    hp = dict(spec.hyperparameters)
    kind = hp.get("finetuning_type", "lora")
    output_dir = Path(spec.output_dir)
    train_names, eval_names = write_dataset_info(spec, dataset_dir(output_dir))
    config: dict[str, Any] = {
        "model_name_or_path": spec.base_model_path,
        "stage": hp.get("stage", "sft"),
        "do_train": True,
        "finetuning_type": "lora" if kind == "qlora" else kind,
        "dataset": ",".join(train_names),
        "dataset_dir": str(dataset_dir(output_dir)),
        "output_dir": str(output_dir),
        "overwrite_cache": True,
        "dataloader_num_workers": 0,
        "logging_steps": 1,
        "report_to": "none",
        "plot_loss": False,
        # Adds tokens/s ("throughput") to trainer_log.jsonl.
        "include_num_input_tokens_seen": True,
        "save_only_model": False,
    }
    for name in PASSTHROUGH:
        if hp.get(name) is not None and (kind != "full" or name not in LORA_ONLY):
            config[name] = hp[name]
    if kind == "qlora":
        config["quantization_bit"] = 4
        config["quantization_method"] = "bitsandbytes"
    val_size = hp.get("val_size") or 0
    if eval_names:
        config["eval_dataset"] = ",".join(eval_names)
    elif val_size:
        config["val_size"] = val_size
    if eval_names or val_size:
        config["eval_strategy"] = "steps"
        config["eval_steps"] = hp.get("eval_steps") or hp.get("save_steps") or 10
        config["per_device_eval_batch_size"] = hp.get("per_device_train_batch_size", 1)
    if device.kind == "cpu":
        config.update(use_cpu=True, bf16=False, fp16=False)
    else:
        config.update(bf16=device.bf16, fp16=not device.bf16)
    if resume_from:
        config["resume_from_checkpoint"] = resume_from
        config["overwrite_output_dir"] = False
    else:
        config["overwrite_output_dir"] = True
    if swanlab is not None:
        config.update(
            use_swanlab=True,
            swanlab_mode=swanlab.mode,
            swanlab_logdir=swanlab.logdir,
            swanlab_project=swanlab.project,
            swanlab_run_name=swanlab.run_name,
        )
    return config


def to_yaml(config: dict[str, Any]) -> str:
    # JSON is valid YAML 1.2 and PyYAML reads it; no YAML writer needed in the platform.
    return msgspec.json.format(msgspec.json.encode(config)).decode() + "\n"
