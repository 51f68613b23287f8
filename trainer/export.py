"""Merging an adapter into its base model with ``llamafactory-cli export``."""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass
from pathlib import Path

from trainer import config as lf_config
from trainer import process, sidecar
from trainer.progress import ConsoleLines, clean_console_line


@dataclass(frozen=True, slots=True)
class ExportSpec:
    base_model_path: str
    adapter_path: str
    template: str
    export_dir: Path


@dataclass(frozen=True, slots=True)
class ExportResult:
    ok: bool
    seconds: float
    tail: list[str]


def export_config(spec: ExportSpec) -> dict[str, object]:
    return {
        "model_name_or_path": spec.base_model_path,
        "adapter_name_or_path": spec.adapter_path,
        "template": spec.template,
        "finetuning_type": "lora",
        "export_dir": str(spec.export_dir),
        "export_size": 5,
        "export_device": "cpu",
        "export_legacy_format": False,
    }


async def merge(
    spec: ExportSpec, *, cli: str, grace: float = 5.0, cpu_threads: int = 0
) -> ExportResult:
    """Run the export into ``export_dir.partial`` and rename it when complete."""
    started = time.monotonic()
    partial = spec.export_dir.with_name(spec.export_dir.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    work = ExportSpec(spec.base_model_path, spec.adapter_path, spec.template, partial)
    config_path = partial.parent / f"{spec.export_dir.name}.export.yaml"
    config_path.write_text(lf_config.to_yaml(export_config(work)), encoding="utf-8")
    child = await process.spawn(
        [cli, "export", str(config_path)],
        cwd=partial.parent,
        env=process.child_env(process.thread_env(cpu_threads)),
    )
    tail: collections.deque[str] = collections.deque(maxlen=30)
    splitter = ConsoleLines()
    assert child.stdout is not None
    try:
        while chunk := await child.stdout.read(1 << 16):
            tail.extend(c for t in splitter.feed(chunk) if (c := clean_console_line(t)))
        code = await child.wait()
    except BaseException:
        await asyncio.shield(process.stop_group(child, grace))
        raise
    ok = code == 0 and (partial / "config.json").is_file()
    if ok:
        sidecar.write(partial, kind="local", template=spec.template, merged_from=spec.adapter_path)
        partial.rename(spec.export_dir)
    return ExportResult(ok, time.monotonic() - started, list(tail))
