"""The process's embedding models: the local one (loaded once) and provider aliases."""

from __future__ import annotations

from pathlib import Path

from runtime.embeddings.base import Embedder
from runtime.embeddings.local import LOCAL_MODEL_NAME, LocalEmbedder
from runtime.embeddings.provider import ProviderEmbedder
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.settings import Settings


class EmbeddingModels:
    """Hands out embedders by model name; the local model loads on first use only."""

    def __init__(self, settings: Settings, gateway: Gateway | None) -> None:
        config = settings.knowledge
        self.cache_dir: Path = config.model_cache_dir or settings.data_dir / "models"
        self._gateway = gateway
        self._batch_size = config.embed_batch_size
        self.local = LocalEmbedder(
            self.cache_dir, threads=config.embedding_threads, batch_size=config.embed_batch_size
        )

    @staticmethod
    def is_local(name: str) -> bool:
        return name == LOCAL_MODEL_NAME

    def for_model(self, name: str, caller: Caller | None = None) -> Embedder:
        if self.is_local(name):
            return self.local
        if self._gateway is None:
            raise RuntimeError("provider embeddings need the LLM gateway, which is not running")
        return ProviderEmbedder(self._gateway, name, caller or Caller(origin="knowledge"))

    async def check_model(self, name: str) -> None:
        """Raise ``ModelNotFound`` unless ``name`` is the local model or a servable alias."""
        if self.is_local(name):
            return
        if self._gateway is None:
            raise RuntimeError("provider embeddings need the LLM gateway, which is not running")
        await self._gateway.resolver.resolve(name)
