"""Provider calls made on an admin's behalf: connection tests and model list refreshes."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from events.providers import ModelsRefreshed, ModelsRefreshedData
from handlers.providers.service import get_provider
from runtime.db.models import Provider, utcnow
from runtime.errors import ProblemError
from runtime.llm.gateway import Gateway
from runtime.llm.resolver import provider_config
from runtime.llm.types import ConnectionCheck, ProviderAdapter, ProviderError, UpstreamModel
from runtime.outbox import emit


def provider_problem(exc: ProviderError) -> ProblemError:
    """An upstream failure seen by an admin route: 502 (504 for a timeout)."""
    status = 504 if exc.kind == "timeout" else 502
    title = "Provider call failed"
    return ProblemError(status, f"provider_{exc.kind}", title, exc.message)


async def _adapter(session: AsyncSession, provider_id: str, gateway: Gateway) -> ProviderAdapter:
    provider = await get_provider(session, provider_id)
    config = provider_config(provider, gateway.resolver.keyring)
    # End the read transaction: no database connection waits on the upstream call.
    await session.commit()
    try:
        return gateway.adapter(config)
    except (KeyError, ValueError) as exc:
        raise ProviderError("bad_request", f"unsupported provider: {exc}") from exc


async def check_connection(
    session: AsyncSession, provider_id: str, gateway: Gateway
) -> ConnectionCheck:
    try:
        adapter = await _adapter(session, provider_id, gateway)
        return await adapter.check_connection()
    except ProviderError as exc:
        return ConnectionCheck(ok=False, latency_ms=0.0, error=exc.kind, message=exc.message)


async def refresh_models(
    session: AsyncSession, provider_id: str, gateway: Gateway, *, actor: str
) -> tuple[Provider, list[UpstreamModel]]:
    try:
        adapter = await _adapter(session, provider_id, gateway)
        models = await adapter.list_models()
    except ProviderError as exc:
        raise provider_problem(exc) from exc
    provider = await get_provider(session, provider_id)
    provider.available_models = [msgspec.to_builtins(m) for m in models]
    provider.models_synced_at = utcnow()
    data = ModelsRefreshedData(provider_id=provider.id, model_ids=[m.id for m in models])
    emit(session, ModelsRefreshed(subject=provider.id, actor=actor, data=data))
    return provider, models
