"""Vector stores: embedded Qdrant Edge (default) or a Qdrant server, one interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.vectors.base import (
    ChunkPoint,
    Hit,
    MetaCondition,
    MetaFilter,
    VectorStore,
    point_id,
)

if TYPE_CHECKING:
    from runtime.settings import Settings

__all__ = [
    "ChunkPoint",
    "Hit",
    "MetaCondition",
    "MetaFilter",
    "VectorStore",
    "open_vector_store",
    "point_id",
]


def open_vector_store(settings: Settings) -> VectorStore:
    """The store this process uses; opens nothing on disk or network until first use."""
    if settings.qdrant_url:
        from qdrant_client import AsyncQdrantClient

        from runtime.vectors.server import QdrantVectorStore

        # No version probe: it is a blocking HTTP call, made while the platform starts.
        client = AsyncQdrantClient(
            url=settings.qdrant_url,
            api_key=settings.knowledge.qdrant_api_key,
            check_compatibility=False,
        )
        return QdrantVectorStore(client)
    from runtime.vectors.edge import EdgeVectorStore

    return EdgeVectorStore(settings.data_dir / "vectors")
