"""Readiness checks: can this replica reach its database and the event bus?"""

from __future__ import annotations

import asyncio

import msgspec
from sqlalchemy import text

from runtime.services import Services


class CheckResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    ok: bool
    detail: str | None = None


class Readiness(msgspec.Struct, kw_only=True):
    status: str  # ready | not_ready
    checks: dict[str, CheckResult]


async def _database(services: Services) -> CheckResult:
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return CheckResult(ok=False, detail=type(exc).__name__)
    return CheckResult(ok=True)


async def _bus(services: Services) -> CheckResult:
    try:
        result = await services.bus.ready()
    except Exception as exc:
        return CheckResult(ok=False, detail=type(exc).__name__)
    return CheckResult(ok=result.ok, detail=None if result.ok else result.detail)


CHECK_TIMEOUT_SECONDS = 2.0


async def readiness(services: Services) -> Readiness:
    async def bounded(name: str, check: asyncio.Future[CheckResult]) -> tuple[str, CheckResult]:
        try:
            return name, await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return name, CheckResult(ok=False, detail="timeout")

    results = dict(
        await asyncio.gather(
            bounded("database", asyncio.ensure_future(_database(services))),
            bounded("nats", asyncio.ensure_future(_bus(services))),
        )
    )
    ready = all(r.ok for r in results.values())
    return Readiness(status="ready" if ready else "not_ready", checks=results)
