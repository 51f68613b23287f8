"""Alias → model config → enabled provider with its decrypted key, cached for a moment.

A stable alias (``model_aliases``, moved by promotions) is looked up first, so a name an
admin promoted answers from its current target whatever config shares its spelling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.models import ModelAlias, ModelConfig, Provider
from runtime.llm.types import Params, ProviderConfig, ProviderError
from runtime.security.crypto import CryptoError, Keyring
from runtime.singleflight import SingleFlight


class ModelNotFound(LookupError):
    """No enabled model config with that alias (or id) on an enabled provider."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# repr=False: ``provider`` carries the decrypted key and must never reach a log line.
@dataclass(frozen=True, slots=True, repr=False)
class ResolvedModel:
    model_config_id: str
    alias: str
    name: str
    upstream_model: str
    provider_id: str
    provider_type: str
    provider: ProviderConfig
    parameters: Params
    input_price_per_mtok: float | None
    output_price_per_mtok: float | None
    created_at: float


def provider_config(provider: Provider, keyring: Keyring) -> ProviderConfig:
    """What an adapter needs, with the key decrypted (in memory only)."""
    api_key = None
    if provider.api_key_encrypted:
        try:
            api_key = keyring.decrypt(provider.api_key_encrypted)
        except CryptoError as exc:
            # The master key changed under the stored value: an operator problem, but to
            # the caller it is a provider that cannot authenticate.
            raise ProviderError("auth", f"stored API key unreadable: {exc}") from exc
    return ProviderConfig(
        type=provider.type,
        base_url=provider.base_url,
        api_key=api_key,
        settings=dict(provider.settings or {}),
    )


def stored_params(parameters: dict[str, Any] | None) -> Params:
    return msgspec.convert(parameters or {}, Params)


class ModelResolver:
    """A per-process cache, never a source of truth: entries live ``ttl`` seconds."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        *,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self.keyring = keyring
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, ResolvedModel]] = {}
        # Concurrent first requests for one alias share a single query.
        self._loading: SingleFlight[str, ResolvedModel] = SingleFlight()
        # Bumped by every forget: a load that began before one is answered, not cached.
        self._epoch = 0

    async def resolve(self, name: str) -> ResolvedModel:
        hit = self._cache.get(name)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return await self._loading.run(name, lambda: self._load_and_cache(name))

    async def _load_and_cache(self, name: str) -> ResolvedModel:
        epoch = self._epoch
        resolved = await self._load(name)
        if epoch == self._epoch:
            self._cache[name] = (self._clock() + self._ttl, resolved)
        return resolved

    def invalidate(self) -> None:
        """Forget everything (this replica changed a model or provider)."""
        self._epoch += 1
        self._cache.clear()

    def forget(self, name: str) -> None:
        """Forget one name (a stable alias that was just promoted or rolled back)."""
        self._epoch += 1
        self._cache.pop(name, None)

    async def _load(self, name: str) -> ResolvedModel:
        query = (
            select(ModelConfig, Provider)
            .join(Provider, Provider.id == ModelConfig.provider_id)
            .where(ModelConfig.enabled.is_(True), Provider.enabled.is_(True))
        )
        async with self._session_factory() as session:
            target = await session.execute(
                select(ModelAlias.model_config_id).where(ModelAlias.alias == name)
            )
            promoted = target.first()
            if promoted is None:
                query = query.where(or_(ModelConfig.alias == name, ModelConfig.id == name))
            elif promoted[0] is None:  # its target was deleted
                raise ModelNotFound(name)
            else:
                query = query.where(ModelConfig.id == promoted[0])
            rows = (await session.execute(query)).all()
        if not rows:
            raise ModelNotFound(name)
        # An alias wins over an id that happens to be spelled the same.
        model, provider = min(rows, key=lambda r: r[0].alias != name)
        return ResolvedModel(
            model_config_id=model.id,
            alias=model.alias,
            name=model.name,
            upstream_model=model.model_id,
            provider_id=provider.id,
            provider_type=provider.type,
            provider=provider_config(provider, self.keyring),
            parameters=stored_params(model.parameters),
            input_price_per_mtok=model.input_price_per_mtok,
            output_price_per_mtok=model.output_price_per_mtok,
            created_at=model.created_at.timestamp(),
        )
