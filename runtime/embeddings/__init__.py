"""Embedding models: the packaged all-MiniLM-L6-v2 on onnxruntime, or a provider's."""

from runtime.embeddings.base import Embedder, EmbeddingError
from runtime.embeddings.local import LOCAL_DIMENSION, LOCAL_MODEL_NAME, LocalEmbedder
from runtime.embeddings.models import EmbeddingModels

__all__ = [
    "LOCAL_DIMENSION",
    "LOCAL_MODEL_NAME",
    "Embedder",
    "EmbeddingError",
    "EmbeddingModels",
    "LocalEmbedder",
]
