"""The per-process quota enforcer: cached limits and spend, shared request counters, notices."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import cast

import structlog
from nats.js.api import StorageType
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.quotas import LimitExceeded, LimitExceededData
from handlers.quotas import service
from handlers.quotas.cache import TtlCache
from handlers.quotas.rules import (
    Breach,
    Limits,
    Month,
    Spend,
    Subject,
    budget_breach,
    defaults_of,
    describe_breach,
    effective_limits,
    month_at,
    subjects_of,
)
from runtime.bus import EventBus
from runtime.errors import ProblemError, TooManyRequests
from runtime.security.rate_limit import FixedWindowCounter, SharedBucket, Window
from runtime.settings import QuotaSettings
from runtime.singleflight import SingleFlight

log = structlog.get_logger(__name__)

COUNTER_BUCKET = "llmforge_quota_requests"
NOTICE_BUCKET = "llmforge_quota_notices"
# A month's notices must outlive the month; the bucket's max age drops them after.
NOTICE_TTL_SECONDS = 35 * 86_400.0
MINUTE = 60
_NOTICE_IDS = uuid.UUID("0b7f0c52-8d4f-4c39-9a55-6f1f3b1f6d2e")
_NOTICE_MEMO_MAX = 4096


class BudgetExceeded(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(402, "budget_exceeded", "Budget exceeded", detail)


class QuotaEnforcer:
    """Decides, before a model call, whether the caller's user and API key may make it.

    Without any quota (no row, no default) a check is two dictionary lookups: rows and
    spend are cached per subject, and NATS is only asked when a rate limit applies.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        settings: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
        window_seconds: int = MINUTE,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self.defaults = defaults_of(settings)
        self.clock = clock
        self.window_seconds = window_seconds
        self._limits: TtlCache[Subject, Limits] = TtlCache(settings.cache_ttl_seconds)
        self._spend: TtlCache[tuple[Subject, str], Spend] = TtlCache(
            settings.spend_cache_ttl_seconds
        )
        self._counter = FixedWindowCounter(
            bus.js,
            bucket=COUNTER_BUCKET,
            window_seconds=window_seconds,
            description="requests per subject and minute, for quotas",
        )
        self._notices = SharedBucket(
            bus.js,
            NOTICE_BUCKET,
            description="which quota rejections were announced, per subject and window",
            ttl_seconds=NOTICE_TTL_SECONDS,
            storage=StorageType.FILE,
        )
        # Notices this process knows were sent, until their window ends (wall clock).
        self._noticed: dict[str, float] = {}
        # A burst that finds an entry just expired makes one query, not one per request.
        self._loading_limits: SingleFlight[tuple[Subject, ...], dict[Subject, Limits]] = (
            SingleFlight()
        )
        self._loading_spend: SingleFlight[tuple[Subject, str], Spend] = SingleFlight()

    async def check(self, user_id: str, api_key_id: str | None) -> None:
        """Return when the call may go ahead; raise 402 ``budget_exceeded`` or 429."""
        subjects = subjects_of(user_id, api_key_id)
        limits = await self.limits_of(subjects)
        for lim in limits:
            if lim.any:
                break
        else:
            return
        now = self.clock()
        month = month_at(now)
        for subject, lim in zip(subjects, limits, strict=True):
            if not lim.has_budget:
                continue
            breach = budget_breach(lim, await self.spend_of(subject, month))
            if breach is not None:
                await self._notice(user_id, subject, breach, month.key, month.start, month.end)
                raise BudgetExceeded(describe_breach(subject, breach, month))
        rated = [
            (subject, lim.requests_per_minute)
            for subject, lim in zip(subjects, limits, strict=True)
            if lim.requests_per_minute is not None
        ]
        if rated:
            await self._count(user_id, rated, Window.at(now, self.window_seconds))

    async def limits_of(self, subjects: Sequence[Subject]) -> list[Limits]:
        cached = [self._limits.get(s) for s in subjects]
        missing = [s for s, lim in zip(subjects, cached, strict=True) if lim is None]
        if not missing:
            return cast("list[Limits]", cached)
        loaded = await self._loading_limits.run(tuple(missing), lambda: self._load_limits(missing))
        return [
            lim if lim is not None else loaded[s] for s, lim in zip(subjects, cached, strict=True)
        ]

    async def _load_limits(self, missing: list[Subject]) -> dict[Subject, Limits]:
        generation = self._limits.generation
        async with self._session_factory() as session:
            stored = await service.quota_limits(session, missing)
        loaded = {s: effective_limits(s, stored.get(s), self.defaults) for s in missing}
        for subject, lim in loaded.items():
            self._limits.put(subject, lim, generation=generation)
        return loaded

    async def spend_of(self, subject: Subject, month: Month) -> Spend:
        key = (subject, month.key)
        spend = self._spend.get(key)
        if spend is None:
            spend = await self._loading_spend.run(key, lambda: self._load_spend(key, month))
        return spend

    async def _load_spend(self, key: tuple[Subject, str], month: Month) -> Spend:
        generation = self._spend.generation
        async with self._session_factory() as session:
            spend = await service.month_spend(session, key[0], month)
        self._spend.put(key, spend, generation=generation)
        return spend

    def forget(self, subject: Subject | None = None) -> None:
        """Drop what this process cached about the subject (about everyone without one)."""
        if subject is None:
            self._limits.forget()
            self._spend.forget()
            return
        self._limits.forget(lambda s: s == subject)
        self._spend.forget(lambda key: key[0] == subject)

    async def _count(self, user_id: str, rated: list[tuple[Subject, int]], window: Window) -> None:
        try:
            counts = await self._counter.hit([f"rpm.{s.key}" for s, _ in rated], window)
        except Exception as exc:
            # Fail open: a broker outage must not stop every model call; the budgets and
            # the upstream providers' own limits still hold.
            log.warning("quota_rate_limit_unavailable", error=type(exc).__name__)
            return
        for (subject, per_minute), count in zip(rated, counts, strict=True):
            if count is None:
                # So many concurrent writers that no increment got through: let it pass
                # rather than refuse honest parallel clients.
                log.warning("quota_counter_contended", subject=subject.key)
                continue
            if count > per_minute:
                breach = Breach("requests_per_minute", float(per_minute), float(count))
                start = datetime.fromtimestamp(window.start, UTC)
                end = datetime.fromtimestamp(window.end, UTC)
                await self._notice(user_id, subject, breach, str(window.index), start, end)
                raise TooManyRequests(
                    "rate_limited",
                    window.retry_after,
                    f"{subject.title} allows {per_minute} requests per minute; "
                    f"retry in {window.retry_after} s.",
                )

    async def _notice(
        self,
        user_id: str,
        subject: Subject,
        breach: Breach,
        window_key: str,
        start: datetime,
        end: datetime,
    ) -> None:
        """Publish ``limit.exceeded`` once per subject, limit and window, across replicas."""
        name = f"{subject.key}.{breach.limit}.{window_key}"
        if name in self._noticed:
            return
        self._remember(name, end.timestamp())
        try:
            bucket = (
                self._counter.bucket if breach.limit == "requests_per_minute" else self._notices
            )
            if not await bucket.mark_once(f"notice.{name}"):
                return
            owner = user_id if subject.type == "api_key" else subject.id
            event = LimitExceeded(
                # The same id from every replica: JetStream drops a duplicate publish.
                id=uuid.uuid5(_NOTICE_IDS, name).hex,
                subject=subject.id,
                actor=user_id,
                data=LimitExceededData(
                    subject_type=subject.type,
                    subject_id=subject.id,
                    user_id=owner,
                    limit=breach.limit,
                    limit_value=breach.limit_value,
                    observed=breach.observed,
                    window_start=start,
                    window_end=end,
                ),
            )
            await self._bus.publish(event)
        except Exception as exc:
            # The rejection stands; only its announcement is lost.
            log.warning("quota_notice_failed", subject=subject.key, error=type(exc).__name__)

    def _remember(self, name: str, until: float) -> None:
        noticed = self._noticed
        if len(noticed) >= _NOTICE_MEMO_MAX:
            now = self.clock()
            for stale in [k for k, end in noticed.items() if end <= now]:
                del noticed[stale]
            if len(noticed) >= _NOTICE_MEMO_MAX:
                noticed.clear()
        noticed[name] = until
