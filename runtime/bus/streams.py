"""Idempotent stream provisioning: create what is missing, update changed limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

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


def stream_config(spec: StreamSpec) -> StreamConfig:
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
    )


def _differs(live: StreamConfig, spec: StreamSpec) -> bool:
    def seconds_differ(a: float | None, b: float) -> bool:
        # The server keeps nanoseconds; float seconds round-trip with tiny errors.
        return not math.isclose(a or 0.0, b, abs_tol=1e-6)

    return (
        sorted(live.subjects or []) != sorted(spec.subjects)
        or (live.description or "") != spec.description
        or live.max_bytes != spec.max_bytes
        or seconds_differ(live.max_age, spec.max_age_seconds)
        or seconds_differ(live.duplicate_window, spec.duplicate_window_seconds)
    )


async def provision_stream(js: JetStreamContext, spec: StreamSpec) -> ProvisionResult:
    for _attempt in range(2):
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(stream_config(spec))
            except APIError as exc:
                if exc.err_code == _STREAM_NAME_IN_USE:
                    continue
                raise
            log.info("stream_created", stream=spec.name)
            return ProvisionResult(spec.name, ProvisionAction.CREATED)
        if not _differs(info.config, spec):
            return ProvisionResult(spec.name, ProvisionAction.UNCHANGED)
        await js.update_stream(stream_config(spec))
        log.info("stream_updated", stream=spec.name)
        return ProvisionResult(spec.name, ProvisionAction.UPDATED)
    raise RuntimeError(f"stream {spec.name} kept changing while it was provisioned")


async def provision_streams(
    js: JetStreamContext, specs: Sequence[StreamSpec]
) -> list[ProvisionResult]:
    return [await provision_stream(js, spec) for spec in specs]
