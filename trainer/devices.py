"""What this machine can train on, found without importing torch (the API stays light)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from trainer.config import Device


@dataclass(frozen=True, slots=True)
class Gpu:
    index: str
    compute_capability: float


@lru_cache(maxsize=1)
def cuda_gpus() -> tuple[Gpu, ...]:
    """The NVIDIA GPUs ``nvidia-smi`` lists; none where it is missing or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            [smi, "--query-gpu=index,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    gpus = []
    for line in out.splitlines():
        index, _, cap = (part.strip() for part in line.partition(","))
        try:
            gpus.append(Gpu(index, float(cap)))
        except ValueError:
            continue
    return tuple(gpus)


def has_bitsandbytes() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def device_for(gpus: tuple[Gpu, ...]) -> Device:
    if not gpus:
        return Device("cpu", bf16=False)
    # bf16 from Ampere (compute capability 8.0) on; fp16 before that.
    return Device("cuda", bf16=min(g.compute_capability for g in gpus) >= 8.0)


def slot_names(configured: int, gpus: tuple[Gpu, ...]) -> list[str | None]:
    """One slot per GPU (its CUDA_VISIBLE_DEVICES), or CPU slots (None) when there are none."""
    if gpus:
        names: list[str | None] = [g.index for g in gpus]
        return names[:configured] if configured > 0 else names
    return [None] * max(1, configured)
