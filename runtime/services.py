"""The long-lived clients one process shares between requests and consumers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from runtime.bus import EventBus
from runtime.embeddings import EmbeddingModels
from runtime.llm.gateway import Gateway  # at runtime: Litestar reads these annotations
from runtime.security.crypto import Keyring
from runtime.settings import Settings
from runtime.vectors import VectorStore


@dataclass(slots=True)
class Services:
    """Connections, not state: any replica can serve any request with its own copy."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    # Encrypts secrets at rest (provider keys, webhook secrets); None until started.
    keyring: Keyring | None = None
    # The LLM gateway: shared HTTP client pool, model resolution cache, call metering.
    llm: Gateway | None = None
    # Knowledge: the vector store and the embedding models; both open on first use.
    vectors: VectorStore | None = None
    embeddings: EmbeddingModels | None = None
