"""Idempotent stream provisioning: create what is missing, update changed limits."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from events.streams import StreamSpec

log = structlog.get_logger(__name__)

# JetStream's error code for "stream name already in use": another process won the race.
_STREAM_NAME_IN_USE = 10058


class ProvisionAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    stream: str
    action: ProvisionAction


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_seconds,
        max_bytes=spec.max_bytes,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=replicas,
    )


def _differs(live: StreamConfig, spec: StreamSpec, replicas: int) -> bool:
    def seconds_differ(a: float | None, b: float) -> bool:
        # The server keeps nanoseconds; float seconds round-trip with tiny errors.
        return not math.isclose(a or 0.0, b, abs_tol=1e-6)

    return (
        sorted(live.subjects or []) != sorted(spec.subjects)
        or (live.description or "") != spec.description
        or live.max_bytes != spec.max_bytes
        or seconds_differ(live.max_age, spec.max_age_seconds)
        or seconds_differ(live.duplicate_window, spec.duplicate_window_seconds)
        or (live.num_replicas or 1) != replicas
    )


async def provision_stream(
    js: JetStreamContext, spec: StreamSpec, replicas: int = 1
) -> ProvisionResult:
    for _attempt in range(2):
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(stream_config(spec, replicas))
            except APIError as exc:
                if exc.err_code == _STREAM_NAME_IN_USE:
                    continue
                raise
            log.info("stream_created", stream=spec.name)
            return ProvisionResult(spec.name, ProvisionAction.CREATED)
        if not _differs(info.config, spec, replicas):
            return ProvisionResult(spec.name, ProvisionAction.UNCHANGED)
        await js.update_stream(stream_config(spec, replicas))
        log.info("stream_updated", stream=spec.name)
        return ProvisionResult(spec.name, ProvisionAction.UPDATED)
    raise RuntimeError(f"stream {spec.name} kept changing while it was provisioned")


# While a cluster elects its leaders (just formed, or a node lost) JetStream's API times out
# or answers 503 for a few seconds: a process starting then waits instead of exiting.
_TRANSIENT = (TimeoutError, ServiceUnavailableError)


async def provision_streams(
    js: JetStreamContext,
    specs: Sequence[StreamSpec],
    *,
    replicas: int = 1,
    patience: float = 30.0,
) -> list[ProvisionResult]:
    deadline = time.monotonic() + patience
    results: list[ProvisionResult] = []
    for spec in specs:
        delay = 0.25
        while True:
            try:
                results.append(await provision_stream(js, spec, replicas))
                break
            except _TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.info("stream_provision_retry", stream=spec.name, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
    return results
