"""Gauges read at scrape time from the broker and the database, each within a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING

import nats.js.errors
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import STREAMS, dead_letter_subject, stream_for_subject
from runtime.observability.metrics import REGISTRY, SCRAPE_ERRORS

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from runtime.services import Services

log = structlog.get_logger(__name__)

Source = Callable[[], Awaitable[list[Metric]]]
# Whichever stream holds the dead-letter subjects (LLMFORGE_DLQ).
DEAD_LETTER_STREAM = stream_for_subject(dead_letter_subject("consumer", "subject")).name
# Present at zero before the first job of each status exists.
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


async def consumer_metrics(js: JetStreamContext) -> list[Metric]:
    """Backlog and retries of every durable consumer on every stream (JetStream's numbers).

    Ephemeral consumers (the SSE feeds' ordered readers) come and go with their clients,
    so they are left out: each would be a series that lives for one connection.
    """
    labels = ["consumer", "stream"]
    pending = GaugeMetricFamily(
        "llmforge_consumer_pending_messages",
        "Messages on the stream not yet delivered to the durable consumer (its lag).",
        labels=labels,
    )
    ack_pending = GaugeMetricFamily(
        "llmforge_consumer_ack_pending_messages",
        "Messages delivered to the durable consumer and not yet acked (in flight or waiting "
        "for a retry).",
        labels=labels,
    )
    redelivered = GaugeMetricFamily(
        "llmforge_consumer_redelivered_messages",
        "Unacked messages of the durable consumer that were delivered more than once.",
        labels=labels,
    )
    for infos in await asyncio.gather(*(_durables(js, spec.name) for spec in STREAMS)):
        for info in infos:
            key = [info.name, info.stream_name]
            pending.add_metric(key, info.num_pending or 0)
            ack_pending.add_metric(key, info.num_ack_pending or 0)
            redelivered.add_metric(key, info.num_redelivered or 0)
    return [pending, ack_pending, redelivered]


async def _durables(js: JetStreamContext, stream: str) -> list[nats.js.api.ConsumerInfo]:
    try:
        infos = await js.consumers_info(stream)
    except nats.js.errors.NotFoundError:
        return []  # not provisioned (yet): no consumers to report
    return [info for info in infos if info.config.durable_name]


async def dead_letter_metrics(js: JetStreamContext) -> list[Metric]:
    info = await js.stream_info(DEAD_LETTER_STREAM)
    family = GaugeMetricFamily(
        "llmforge_dead_letter_messages",
        f"Dead-lettered events kept in {DEAD_LETTER_STREAM} (its subjects name the consumer).",
    )
    family.add_metric([], info.state.messages)
    return [family]


async def training_job_metrics(
    session_factory: async_sessionmaker[AsyncSession],
) -> list[Metric]:
    from runtime.db.models import TrainingJob

    query = select(TrainingJob.status, func.count()).group_by(TrainingJob.status)
    async with session_factory() as session:
        counts: dict[str, int] = {status: 0 for status in JOB_STATUSES}
        for status, count in await session.execute(query):
            counts[status] = count
    family = GaugeMetricFamily(
        "llmforge_training_jobs", "Fine-tuning jobs by status.", labels=["status"]
    )
    for status, count in counts.items():
        family.add_metric([status], count)
    return [family]


async def collect_sources(sources: Mapping[str, Source], timeout: float) -> list[Metric]:  # noqa: ASYNC109
    """Every source at once, each cut off after ``timeout`` seconds.

    A slow or failing source costs its own gauges and one ``llmforge_scrape_errors_total``
    increment, never the scrape: the process metrics matter most when the broker is down.
    """

    async def one(name: str, source: Source) -> list[Metric]:
        try:
            return await asyncio.wait_for(source(), timeout)
        except Exception as exc:
            SCRAPE_ERRORS.labels(name).inc()
            log.warning("metrics_source_failed", source=name, error=repr(exc))
            return []

    results = await asyncio.gather(*(one(name, source) for name, source in sources.items()))
    return [family for families in results for family in families]


class _Snapshot(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """The text format: the process registry, then this scrape's own gauges."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(extra))
    return generate_latest(REGISTRY) + generate_latest(snapshot)


async def render(services: Services) -> bytes:
    js = services.bus.js
    sources: dict[str, Source] = {
        "consumers": partial(consumer_metrics, js),
        "dead_letters": partial(dead_letter_metrics, js),
        "training_jobs": partial(training_job_metrics, services.session_factory),
    }
    timeout = services.settings.observability.scrape_timeout_seconds
    return exposition(await collect_sources(sources, timeout))
