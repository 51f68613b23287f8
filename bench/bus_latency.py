"""Benchmark: publish -> JetStream -> audit consumer -> SQLite row, against direct inserts.

Run ``python -m bench.bus_latency`` (or ``python bench/bus_latency.py``). It starts its own
nats-server and a temporary SQLite database, then measures:

  (a) end-to-end latency at a paced rate (publish start -> the handler's commit returns),
  (b) sustained end-to-end throughput (publish as fast as possible, until all committed),
  (c) the baseline in the same run: the same rows inserted straight into the database.

Results are printed and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import STREAMS, Event
from events.auth import UserData, UserRegistered
from handlers.audit import audit_consumer, write_audit_rows
from runtime.bus import BatchHandler, EventBus, FunctionHost
from runtime.db import create_engine, create_session_factory
from runtime.db.models import Base
from runtime.nats_server import EmbeddedNatsServer

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def make_events(count: int, tag: str) -> list[Event]:
    return [
        UserRegistered(
            subject=f"{tag}-{i}",
            actor="bench",
            data=UserData(user_id=f"{tag}-{i}", email=f"{tag}-{i}@example.com", role="user"),
        )
        for i in range(count)
    ]


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50_ms": round(pick(0.50), 3),
        "p90_ms": round(pick(0.90), 3),
        "p99_ms": round(pick(0.99), 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "samples": len(ordered),
    }


class CommitClock:
    """Wraps the audit handler to note when each event's transaction has committed."""

    def __init__(self, handler: BatchHandler) -> None:
        self._handler = handler
        self.committed: dict[str, float] = {}
        self.batch_sizes: list[int] = []
        self.changed = asyncio.Event()

    async def __call__(self, events: list[Event]) -> None:
        await self._handler(events)
        now = time.perf_counter()
        self.batch_sizes.append(len(events))
        for event in events:
            self.committed.setdefault(event.id, now)
        self.changed.set()

    async def wait_for(self, ids: Sequence[str], within: float) -> None:
        deadline = time.perf_counter() + within
        while not all(i in self.committed for i in ids):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                missing = sum(1 for i in ids if i not in self.committed)
                raise TimeoutError(f"{missing} events never committed")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))


async def paced_latency(
    bus: EventBus, clock: CommitClock, events: list[Event], rate: float
) -> dict[str, Any]:
    started: dict[str, float] = {}
    pending: set[asyncio.Task[Any]] = set()
    t0 = time.perf_counter()
    for i, event in enumerate(events):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        started[event.id] = time.perf_counter()
        # One task per publish so a slow ack never holds back the schedule.
        task = asyncio.create_task(bus.publish(event))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    send_seconds = time.perf_counter() - t0
    await clock.wait_for([e.id for e in events], within=60)
    latencies = [clock.committed[e.id] - started[e.id] for e in events]
    return {
        "rate_target": rate,
        "rate_achieved": round(len(events) / send_seconds, 1),
        "events": len(events),
        "latency": percentiles_ms(latencies),
    }


async def sustained(
    bus: EventBus, clock: CommitClock, events: list[Event], chunk: int
) -> dict[str, Any]:
    count = len(events)
    t0 = time.perf_counter()
    for start in range(0, count, chunk):
        await bus.publish_many(events[start : start + chunk])
    published = time.perf_counter() - t0
    await clock.wait_for([e.id for e in events], within=120)
    last_commit = max(clock.committed[e.id] for e in events)
    elapsed = last_commit - t0
    return {
        "events": count,
        "publish_events_per_s": round(count / published, 1),
        "end_to_end_events_per_s": round(count / elapsed, 1),
        "seconds": round(elapsed, 3),
    }


async def direct_baseline(
    sessions: async_sessionmaker[AsyncSession], single: int, batched: int, batch: int
) -> dict[str, Any]:
    latencies = []
    for event in make_events(single, "direct1"):
        t = time.perf_counter()
        async with sessions() as session, session.begin():
            await write_audit_rows(session, [event])
        latencies.append(time.perf_counter() - t)
    events = make_events(batched, "directN")
    t0 = time.perf_counter()
    for start in range(0, batched, batch):
        async with sessions() as session, session.begin():
            await write_audit_rows(session, events[start : start + batch])
    elapsed = time.perf_counter() - t0
    return {
        "single_row_tx": percentiles_ms(latencies),
        "batched_rows_per_s": round(batched / elapsed, 1),
        "batch_size": batch,
    }


class GcPauses:
    """Collector pauses: in a busy asyncio process they are the usual latency outliers."""

    def __init__(self) -> None:
        self._started = 0.0
        self.pauses: list[tuple[int, float]] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def reset(self) -> None:
        self.pauses.clear()

    def summary(self) -> dict[str, Any]:
        full = [d for gen, d in self.pauses if gen == 2]
        return {
            "collections": len(self.pauses),
            "full_collections": len(full),
            "longest_full_ms": round(max(full, default=0.0) * 1000, 2),
            "longest_ms": round(max((d for _, d in self.pauses), default=0.0) * 1000, 2),
        }


pauses = GcPauses()


class LoopLag:
    """How late a 5 ms timer fires: shows when the process itself was starved of CPU
    (on a shared 2-core machine other processes cause most latency outliers)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + 0.005
            await asyncio.sleep(0.005)
            self.lags.append(max(0.0, time.perf_counter() - due))

    def start(self) -> None:
        self.lags.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, Any]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return {
            **{k: v for k, v in percentiles_ms(self.lags or [0.0]).items() if k != "mean_ms"},
            "load_average_1m": round(os.getloadavg()[0], 2),
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    gc.callbacks.append(pauses)
    with tempfile.TemporaryDirectory(prefix="llmforge-bench-") as tmp:
        workdir = Path(tmp)
        engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = create_session_factory(engine)
        async with EmbeddedNatsServer(workdir / "nats") as server:
            bus = await EventBus.connect(server.url, name="bench")
            await bus.provision(STREAMS)
            consumer = audit_consumer(
                sessions, fetch_batch=args.fetch_batch, concurrency=args.concurrency
            )
            clock = CommitClock(cast("BatchHandler", consumer.handler))
            host = FunctionHost(bus, [dataclasses.replace(consumer, handler=clock)], prefix="bench")
            await host.start()
            paced_events = make_events(int(args.rate * args.seconds), "paced")
            burst_events = make_events(args.events, "burst")
            try:
                # Warm-up: connections, statement caches, the consumer's first pull.
                warm = make_events(500, "warm")
                await bus.publish_many(warm)
                await clock.wait_for([e.id for e in warm], within=30)
                clock.batch_sizes.clear()
                if args.gc_freeze:
                    # What a long-running service does after start-up: move what exists
                    # now (imports, the pre-built events) out of the collector's sweeps.
                    gc.collect()
                    gc.freeze()
                pauses.reset()
                lag = LoopLag()
                lag.start()
                cpu_before = time.process_time()
                paced = await paced_latency(bus, clock, paced_events, args.rate)
                paced["cpu_ms_per_event"] = round(
                    (time.process_time() - cpu_before) * 1000 / len(paced_events), 3
                )
                paced["loop_lag"] = await lag.stop()
                paced["gc"] = pauses.summary()
                paced["mean_batch"] = round(statistics.fmean(clock.batch_sizes or [0]), 2)
                clock.batch_sizes.clear()
                pauses.reset()
                burst = await sustained(bus, clock, burst_events, args.chunk)
                burst["gc"] = pauses.summary()
                burst["mean_batch"] = round(statistics.fmean(clock.batch_sizes), 1)
            finally:
                await host.stop()
                await bus.close()
        baseline = await direct_baseline(
            sessions, args.direct_single, args.events, args.direct_batch
        )
        await engine.dispose()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": vars(args),
        "paced": paced,
        "sustained": burst,
        "direct": baseline,
        "ratios": {
            "p50_bus_over_direct_single_tx": round(
                paced["latency"]["p50_ms"] / baseline["single_row_tx"]["p50_ms"], 2
            ),
            "p99_bus_over_direct_single_tx": round(
                paced["latency"]["p99_ms"] / baseline["single_row_tx"]["p99_ms"], 2
            ),
            "throughput_bus_over_direct_batched": round(
                burst["end_to_end_events_per_s"] / baseline["batched_rows_per_s"], 3
            ),
        },
        "targets": {
            "p99_under_20ms_at_1000_per_s": paced["latency"]["p99_ms"] < 20.0,
            "sustained_at_least_5000_per_s": burst["end_to_end_events_per_s"] >= 5000,
        },
    }


def report(result: dict[str, Any]) -> str:
    paced, burst, direct, ratios = (
        result["paced"],
        result["sustained"],
        result["direct"],
        result["ratios"],
    )
    lat, single = paced["latency"], direct["single_row_tx"]
    rows = [
        ("measure", "bus (publish->row)", "direct DB", "ratio"),
        (
            f"latency p50 @ {paced['rate_achieved']:.0f}/s",
            f"{lat['p50_ms']:.2f} ms",
            f"{single['p50_ms']:.2f} ms (1 row/tx)",
            f"{ratios['p50_bus_over_direct_single_tx']}x",
        ),
        (
            "latency p99",
            f"{lat['p99_ms']:.2f} ms",
            f"{single['p99_ms']:.2f} ms (1 row/tx)",
            f"{ratios['p99_bus_over_direct_single_tx']}x",
        ),
        (
            "sustained events/s",
            f"{burst['end_to_end_events_per_s']:,.0f}",
            f"{direct['batched_rows_per_s']:,.0f} ({direct['batch_size']} rows/tx)",
            f"{ratios['throughput_bus_over_direct_batched']}x",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        f"paced: {paced['events']} events, {paced['cpu_ms_per_event']} ms CPU each (this "
        f"process), mean batch {paced['mean_batch']}, p90 "
        f"{lat['p90_ms']} ms, max {lat['max_ms']} ms; sustained: {burst['events']} events, "
        f"publish {burst['publish_events_per_s']:,.0f}/s, mean batch {burst['mean_batch']}"
    )
    gc_paced = paced["gc"]
    lines.append(
        f"gc during paced run: {gc_paced['full_collections']} full collections, longest "
        f"{gc_paced['longest_full_ms']} ms (gc.freeze after start-up: "
        f"{result['settings']['gc_freeze']})"
    )
    loop_lag = paced["loop_lag"]
    lines.append(
        f"event-loop lag during paced run: p99 {loop_lag['p99_ms']} ms, max "
        f"{loop_lag['max_ms']} ms; load average {loop_lag['load_average_1m']} on "
        f"{result['machine']['cpus']} CPUs"
    )
    lines.append(f"targets met: {result['targets']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced run length")
    parser.add_argument("--events", type=int, default=30_000, help="events in the burst run")
    parser.add_argument("--chunk", type=int, default=2_000, help="events per publish_many")
    parser.add_argument("--fetch-batch", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--direct-single", type=int, default=2_000)
    parser.add_argument("--direct-batch", type=int, default=256)
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave start-up objects and the pre-built events in the collector's sweeps",
    )
    args = parser.parse_args(argv)
    # Warnings and up only: info lines on a terminal would measure the terminal.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    result = asyncio.run(run(args))
    print(report(result))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bus_latency-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
