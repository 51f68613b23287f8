"""The local model, exported to ONNX without torch and int8-quantized, matches the original.

The reference vectors come from sentence-transformers (torch, fp32) on the same packaged
weights: ``tests/data/knowledge/minilm_reference.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from runtime.embeddings import LocalEmbedder
from runtime.embeddings.local import load_encoder

REFERENCE = Path(__file__).parents[1] / "data" / "knowledge" / "minilm_reference.json"
# The same cache the integration tests use: the export runs once per machine.
CACHE = Path(tempfile.gettempdir()) / "llmforge-test-models"


def test_int8_model_agrees_with_the_fp32_torch_model() -> None:
    items = json.loads(REFERENCE.read_text())["items"]
    encoder = load_encoder(CACHE)
    vectors = encoder.encode([i["text"] for i in items])
    reference = np.array([i["embedding"] for i in items], dtype=np.float32)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.99, cosine
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


async def test_embedder_keeps_input_order_and_ranks_by_meaning() -> None:
    embedder = LocalEmbedder(CACHE, batch_size=2)
    texts = [
        "How do I change my password?",
        "A long walk through the autumn forest, leaves falling everywhere around us.",
        "Steps to reset a forgotten login password",
        "Bananas",
    ]
    vectors = np.array(await embedder.embed(texts))
    assert vectors.shape == (4, 384)
    singles = np.array([(await embedder.embed([t]))[0] for t in texts])
    # Dynamic int8 quantization scales activations per batch, so a vector moves a little
    # with its batch neighbours; order is what must not change.
    assert ((vectors * singles).sum(axis=1) > 0.98).all()
    sims = vectors @ vectors[0]
    assert int(np.argmax(sims[1:])) + 1 == 2
    assert await embedder.embed([]) == []


@pytest.mark.parametrize("threads", [1])
def test_encoders_are_loaded_once_per_file_and_thread_count(threads: int) -> None:
    assert load_encoder(CACHE, threads=threads) is load_encoder(CACHE, threads=threads)


def test_the_graph_built_without_torch_is_the_model(tmp_path: Path) -> None:
    """fp32 export from the safetensors (no quantization) reproduces torch's vectors."""
    from runtime.embeddings.export import ensure_model
    from runtime.embeddings.local import OnnxEncoder

    path = ensure_model(tmp_path, "fp32")
    assert ensure_model(tmp_path, "fp32") == path  # cached
    items = json.loads(REFERENCE.read_text())["items"]
    vectors = OnnxEncoder(path).encode([i["text"] for i in items])
    reference = np.array([i["embedding"] for i in items], dtype=np.float32)
    assert (vectors * reference).sum(axis=1).min() > 0.9999


def test_the_vector_store_follows_qdrant_url(tmp_path: Path) -> None:
    from runtime.settings import Settings
    from runtime.vectors import open_vector_store
    from runtime.vectors.edge import EdgeVectorStore
    from runtime.vectors.server import QdrantVectorStore

    assert isinstance(open_vector_store(Settings(data_dir=tmp_path)), EdgeVectorStore)
    remote = Settings(data_dir=tmp_path, qdrant_url="http://127.0.0.1:1")
    assert isinstance(open_vector_store(remote), QdrantVectorStore)
