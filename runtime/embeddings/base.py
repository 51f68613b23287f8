"""What the knowledge code needs from an embedding model, local or behind a provider."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class EmbeddingError(Exception):
    """The model could not embed the texts (provider refused, model missing...)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        # Permanent: retrying the same texts will fail the same way.
        self.permanent = permanent


class Embedder(Protocol):
    """Turns texts into vectors of one fixed size, in the order given."""

    @property
    def name(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """Longest input it embeds whole, in tokens of ``runtime.embeddings.tokenizer``."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
