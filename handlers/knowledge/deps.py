"""Dependencies of the knowledge routes: the process's vector store and embedding models."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from handlers.deps import services_of
from runtime.embeddings import EmbeddingModels
from runtime.errors import ServiceUnavailable
from runtime.vectors import VectorStore


def provide_vectors(state: State) -> VectorStore:
    vectors = services_of(state).vectors
    if vectors is None:
        raise ServiceUnavailable("vectors_unavailable", detail="The vector store is not running.")
    return vectors


def provide_embeddings(state: State) -> EmbeddingModels:
    embeddings = services_of(state).embeddings
    if embeddings is None:
        raise ServiceUnavailable(
            "embeddings_unavailable", detail="The embedding models are not running."
        )
    return embeddings


KNOWLEDGE_DEPENDENCIES = {
    "vectors": Provide(provide_vectors, sync_to_thread=False),
    "embeddings": Provide(provide_embeddings, sync_to_thread=False),
}
