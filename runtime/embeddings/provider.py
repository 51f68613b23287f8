"""Embeddings from a configured provider's endpoint, through the LLM gateway."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.embeddings.base import EmbeddingError
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.resolver import ModelNotFound
from runtime.llm.types import ProviderError

# Provider errors that will not change on a retry of the same input.
_PERMANENT = frozenset({"auth", "bad_request"})


class ProviderEmbedder:
    """Calls the gateway in batches, so usage is metered and attributed like any call."""

    # Providers' limits vary (OpenAI: 8191); chunk sizes stay far below in practice.
    max_tokens = 8192

    def __init__(self, gateway: Gateway, alias: str, caller: Caller, batch_size: int = 64) -> None:
        self._gateway = gateway
        self._caller = caller
        self._batch_size = batch_size
        self.name = alias

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            try:
                done = await self._gateway.embed(self.name, batch, self._caller)
            except ModelNotFound as exc:
                raise EmbeddingError(
                    f"no model {exc.name!r} is configured", permanent=True
                ) from exc
            except ProviderError as exc:
                raise EmbeddingError(
                    f"embeddings call failed ({exc.kind}): {exc.message}",
                    permanent=exc.kind in _PERMANENT,
                ) from exc
            if len(done.vectors) != len(batch):
                raise EmbeddingError(
                    f"provider returned {len(done.vectors)} vectors for {len(batch)} texts",
                    permanent=False,
                )
            vectors.extend(done.vectors)
        return vectors
