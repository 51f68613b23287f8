"""Benchmark: the per-request cost of the observability middleware (request id, access log,
metrics) on an in-process Litestar app, against the same app without it.

Run ``python -m bench.observability [--requests N] [--rounds R]``. No sockets: each request is
one direct ASGI call, so the middleware's share is not hidden behind network time. Variants:

  bare          Litestar, no middleware at all (the floor)
  before+log    the access-log middleware this replaced (request id, one JSON line), for
                comparison: what a request cost before the metrics existed
  metrics       the middleware with logging at WARNING: request id, timing, metrics
  metrics+log   the middleware as deployed: also one JSON access line per request (to /dev/null)

Rounds alternate the variants so machine noise hits all of them alike; medians are reported.
Results are printed and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog
from litestar import Litestar, get
from litestar.types import ASGIApp, Message

from runtime.logging import configure_logging
from runtime.observability import instrument
from runtime.settings import LogSettings, ObservabilitySettings

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@get("/api/items/{item_id:str}")
async def item(item_id: str) -> dict[str, str]:
    return {"id": item_id, "name": "thing"}


def build(instrumented: bool) -> ASGIApp:
    app = Litestar([item], logging_config=None, openapi_config=None)
    if instrumented:
        instrument(app, ObservabilitySettings())
    return app


def _before(app: ASGIApp) -> ASGIApp:
    """The previous request-context middleware, as it was (commit 4784f98)."""
    access = structlog.get_logger("llmforge.access")

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                access.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )

    return middleware


def set_logging(level: str) -> None:
    configure_logging(LogSettings(level=level, format="json"))
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


async def run(app: ASGIApp, requests: int) -> float:
    """CPU seconds per request over ``requests`` sequential ASGI calls.

    Process CPU time, not wall time: on a shared machine other processes' load would
    otherwise swamp differences of a few microseconds.
    """

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    started = time.process_time()
    for i in range(requests):
        scope: Any = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/api/items/i{i % 100}",
            "raw_path": f"/api/items/i{i % 100}".encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"bench"), (b"accept", b"application/json")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
    return (time.process_time() - started) / requests


async def main(requests: int, rounds: int) -> dict[str, Any]:
    variants: dict[str, tuple[ASGIApp, str]] = {
        "bare": (build(False), "WARNING"),
        "before+log": (
            Litestar([item], logging_config=None, openapi_config=None, middleware=[_before]),
            "INFO",
        ),
        "metrics": (build(True), "WARNING"),
        "metrics+log": (build(True), "INFO"),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for app, level in variants.values():  # warm-up: route caches, first series
        set_logging(level)
        await run(app, min(requests, 500))
    for _ in range(rounds):
        for name, (app, level) in variants.items():
            set_logging(level)
            samples[name].append(await run(app, requests))
    per_request_us = {name: statistics.median(s) * 1e6 for name, s in samples.items()}
    bare = per_request_us["bare"]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "requests_per_round": requests,
        "rounds": rounds,
        "per_request_us": {k: round(v, 2) for k, v in per_request_us.items()},
        "ratio_to_bare": {k: round(v / bare, 3) for k, v in per_request_us.items()},
        "overhead_us": {k: round(v - bare, 2) for k, v in per_request_us.items()},
    }


def report(result: dict[str, Any], out: Callable[[str], None] = print) -> None:
    out(f"{result['requests_per_round']} requests x {result['rounds']} rounds (medians)")
    for name, us in result["per_request_us"].items():
        ratio = result["ratio_to_bare"][name]
        extra = result["overhead_us"][name]
        out(f"  {name:<12} {us:8.2f} us CPU/request  x{ratio:.3f}  (+{extra:.2f} us)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(main(args.requests, args.rounds))
    report(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"observability-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
