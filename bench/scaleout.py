"""Benchmark: 200 users against the scaled-out deployment and, as the baseline, one process.

``python -m bench.scaleout`` (about 3 minutes; ``--quick``: about 90 s) measures both in one
run, on one machine, with the same load:

* ``single``: one ``llmforge up`` (API and every consumer) on one nats-server;
* ``scaled``: the compose.yaml shape as processes (tests/scaleout/deployment.py): two
  ``llmforge api``, ``worker --except training`` and ``worker --only training`` on a
  3-node JetStream cluster with streams replicated 3 times. Users are spread over the two
  API processes by the client (no reverse proxy on this machine).

Both use the same fresh PostgreSQL database kind and a fake OpenAI upstream in its own
process (``bench/fake_upstream.py``: 8 tokens, one every 20 ms).

Each user has its own keep-alive connection and an open event feed (``GET /api/events``,
prompts and chat events), then loops for ``--seconds``: a think time (exponential, mean
``--think``), then one action drawn by weight: list, create or edit prompt templates, list
chat sessions, read ``/api/auth/me``, or a streamed chat turn. Latency per route is from
the request written to the last byte read (chat: to the ``start`` event, "first event",
and to ``done``, "complete"); the first ``--warmup`` seconds are not counted. An error is
any status other than 2xx, a broken connection or a turn that never said ``done``.

Lost events: every write a user saw acknowledged (a template created or edited, a turn
done) must reach that user's feed; after the load, feeds get ``--drain`` seconds to catch
up, then whatever is missing is lost and any event id seen twice is a duplicate.

The client is ``bench/loadgen.py``'s lean asyncio HTTP/1.1 connection, in this process; its
own CPU time is reported (it must not be the bottleneck), and so is the CPU time of every
process of the deployment (processes and their children, NATS included) during the load.
Results: a table on stdout and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from bench.gateway import descendants, proc_cpu_seconds
from bench.loadgen import Conn, Pool, pct

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
FEED_TYPES = "prompts.>,chat.>"
CREATED = "llmforge.prompts.template.created.v1"
UPDATED = "llmforge.prompts.template.updated.v1"
TURN_DONE = "llmforge.chat.turn.completed.v1"
# Action mix: route label -> weight.
ACTIONS = {
    "GET /api/prompts": 30,
    "POST /api/prompts": 20,
    "PATCH /api/prompts/{id}": 10,
    "GET /api/chat/sessions": 15,
    "GET /api/auth/me": 10,
    "chat turn": 15,
}
REQUEST_TIMEOUT = 30.0
IDLE_REUSE_S = 4.0


# --- one user ------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Latencies (ms) and errors per route, counted only inside the measured window."""

    measure_from: float = 0.0
    measure_until: float = float("inf")
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)

    def counted(self, started: float) -> bool:
        return self.measure_from <= started <= self.measure_until

    def ok(self, route: str, started: float, now: float) -> None:
        if self.counted(started):
            self.latencies[route].append((now - started) * 1000)

    def error(self, route: str, started: float, detail: str) -> None:
        if self.counted(started):
            self.errors[route] += 1
            self.error_samples.setdefault(route, detail[:300])


class SseParser:
    """Feeds raw body bytes; calls ``on_event(name, id, data)`` per complete event."""

    def __init__(self, on_event: Callable[[str, str, bytes, float], None]) -> None:
        self.pending = b""
        self.on_event = on_event

    def feed(self, payload: bytes, now: float) -> None:
        data = self.pending + payload if self.pending else payload
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        blocks = data.split(b"\n\n")
        self.pending = blocks.pop()
        for block in blocks:
            name, event_id, body = "", "", []
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    name = line[6:].strip().decode()
                elif line.startswith(b"id:"):
                    event_id = line[3:].strip().decode()
                elif line.startswith(b"data:"):
                    body.append(line[5:].lstrip())
            if name or body:
                self.on_event(name, event_id, b"\n".join(body), now)


class User:
    def __init__(
        self, n: int, token: str, session_id: str, url: str, recorder: Recorder, seed: int
    ) -> None:
        parts = urlsplit(url)
        self.n = n
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.session_id = session_id
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.pool = Pool(self.host, self.port)
        self.last_used = 0.0
        self.templates: list[str] = []
        self.expected: set[tuple[str, str]] = set()
        self.received: set[tuple[str, str]] = set()
        self.event_ids: Counter[str] = Counter()
        self.feed_conn: Conn | None = None
        self.feed_ready = asyncio.Event()
        self.feed_errors = 0

    def _request(self, method: str, path: str, body: Any = None, sse: bool = False) -> bytes:
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.auth}"
            + (f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n")
            + ("Accept: text/event-stream\r\n" if sse else "")
            + "\r\n"
        )
        return head.encode() + payload

    async def connection(self) -> Conn:
        # uvicorn closes a keep-alive connection idle for 5 s; reusing one just then races
        # with its close (a reset POST). Like a proxy's upstream keepalive_timeout, stop
        # reusing them a little sooner.
        now = time.perf_counter()
        if now - self.last_used > IDLE_REUSE_S:
            self.pool.close()
        self.last_used = now
        return await self.pool.get()

    async def call(
        self, route: str, method: str, path: str, body: Any = None
    ) -> tuple[int, bytes] | None:
        """One request on the user's keep-alive connection; None on a counted error."""
        chunks: list[bytes] = []
        started = time.perf_counter()
        conn: Conn | None = None
        try:
            conn = await self.connection()
            status = await asyncio.wait_for(
                conn.send(self._request(method, path, body), lambda b, _: chunks.append(b)),
                REQUEST_TIMEOUT,
            )
        except Exception as exc:
            self.recorder.error(route, started, f"{type(exc).__name__}: {exc}")
            if conn is not None and conn.transport is not None:
                conn.transport.close()
            return None
        now = time.perf_counter()
        self.pool.put(conn)
        payload = b"".join(chunks)
        if not 200 <= status < 300:
            self.recorder.error(route, started, f"HTTP {status}: {payload[:200]!r}")
            return None
        self.recorder.ok(route, started, now)
        return status, payload

    # --- the event feed ------------------------------------------------------------------

    async def open_feed(self) -> None:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(Conn, self.host, self.port)
        self.feed_conn = conn
        parser = SseParser(lambda name, eid, data, now: self._feed_event(name, data, started, now))
        path = f"/api/events?types={FEED_TYPES}"
        waiter = conn.send(self._request("GET", path, sse=True), parser.feed)
        waiter.add_done_callback(self._feed_ended)

    def _feed_ended(self, waiter: asyncio.Future[int]) -> None:
        if not waiter.cancelled():
            waiter.exception()  # read, so asyncio does not warn about it
        # Closed by us at the end of the run, or cut: only the latter is an error.
        if self.feed_conn is not None:
            self.feed_errors += 1

    def _feed_event(self, name: str, data: bytes, started: float, now: float) -> None:
        if name == "ready":
            self.recorder.ok("GET /api/events (ready)", started, now)
            self.feed_ready.set()
            return
        if name == "error":
            self.feed_errors += 1
            return
        if not name.startswith("llmforge."):
            return
        event = json.loads(data)
        self.event_ids[event["id"]] += 1
        key = event["data"].get("turn_id") if name == TURN_DONE else event["subject"]
        self.received.add((name, str(key)))

    def close(self) -> None:
        conn, self.feed_conn = self.feed_conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        self.pool.close()

    # --- actions -------------------------------------------------------------------------

    async def act(self, route: str) -> None:
        if route == "GET /api/prompts":
            await self.call(route, "GET", "/api/prompts?limit=20")
        elif route == "POST /api/prompts" or (route.startswith("PATCH") and not self.templates):
            route = "POST /api/prompts"
            body = {"name": f"u{self.n}-{len(self.templates)}", "body": "Summarise the text."}
            done = await self.call(route, "POST", "/api/prompts", body)
            if done:
                template_id = json.loads(done[1])["id"]
                self.templates.append(template_id)
                self.expected.add((CREATED, template_id))
        elif route.startswith("PATCH"):
            template_id = self.rng.choice(self.templates)
            body = {"body": f"Summarise the text in {self.rng.randint(2, 99)} words."}
            if await self.call(route, "PATCH", f"/api/prompts/{template_id}", body):
                self.expected.add((UPDATED, template_id))
        elif route == "GET /api/chat/sessions":
            await self.call(route, "GET", "/api/chat/sessions?limit=20")
        elif route == "GET /api/auth/me":
            await self.call(route, "GET", "/api/auth/me")
        else:
            await self.chat_turn()

    async def chat_turn(self) -> None:
        route = "chat turn"
        started = time.perf_counter()
        state: dict[str, Any] = {}

        def on_event(name: str, _id: str, data: bytes, now: float) -> None:
            if name == "start":
                state["turn_id"] = json.loads(data)["turn_id"]
                self.recorder.ok(f"{route}: first event", started, now)
            elif name in ("done", "error"):
                state["end"] = name

        parser = SseParser(on_event)
        conn: Conn | None = None
        path = f"/api/chat/sessions/{self.session_id}/messages"
        request = self._request("POST", path, {"content": "Tell me a short story."}, sse=True)
        try:
            conn = await self.connection()
            status = await asyncio.wait_for(conn.send(request, parser.feed), REQUEST_TIMEOUT)
        except Exception as exc:
            self.recorder.error(route, started, f"{type(exc).__name__}: {exc}")
            if conn is not None and conn.transport is not None:
                conn.transport.close()
            return
        self.pool.put(conn)
        if status != 200 or state.get("end") != "done":
            self.recorder.error(route, started, f"HTTP {status}, ended {state.get('end')}")
            return
        self.recorder.ok(f"{route}: complete", started, time.perf_counter())
        self.expected.add((TURN_DONE, state["turn_id"]))

    async def run(self, until: float, think: float) -> int:
        routes, weights = list(ACTIONS), list(ACTIONS.values())
        actions = 0
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / think))
            if time.perf_counter() >= until:
                return actions
            await self.act(self.rng.choices(routes, weights)[0])
            actions += 1


# --- one topology --------------------------------------------------------------------------


async def prepare_users(
    d: Any, count: int, model_id: str, prefix: str
) -> list[tuple[str, str, str]]:
    """(token, session id, API url) per user: rows in one transaction, then logins."""
    from handlers.auth import create_user
    from runtime.db import create_engine, create_session_factory
    from tests.scaleout.deployment import CHEAP, PASSWORD

    engine = create_engine(d.database_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with create_session_factory(engine)() as session:
            for n in range(count):
                await create_user(
                    session, f"{prefix}{n}@example.com", PASSWORD, "user", passwords=CHEAP
                )
            await session.commit()
    finally:
        await engine.dispose()
    urls = d.api_urls
    # Few logins at once: they all come from 127.0.0.1, and the login rate limiter takes
    # heavy compare-and-set contention on one address's counter for an attack (429).
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(n: int) -> tuple[str, str, str]:
            url = urls[n % len(urls)]
            async with gate:
                login = await http.post(
                    f"{url}/api/auth/login",
                    json={"email": f"{prefix}{n}@example.com", "password": PASSWORD},
                )
                assert login.status_code == 200, login.text
                token = login.json()["access_token"]
                session = await http.post(
                    f"{url}/api/chat/sessions",
                    json={"model_config_id": model_id, "title": f"bench {n}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert session.status_code == 201, session.text
            return token, session.json()["id"], url

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def tree_cpu(pids: list[int]) -> float:
    return sum(proc_cpu_seconds(p) for root in pids for p in [root, *descendants(root)])


async def run_topology(name: str, args: argparse.Namespace, upstream_url: str) -> dict[str, Any]:
    from tests.scaleout.deployment import deployment

    root = Path(tempfile.mkdtemp(prefix=f"llmforge-bench-{name}-"))
    print(f"[{name}] starting the deployment in {root}", flush=True)
    async with deployment(root, single=name == "single") as d:
        async with httpx.AsyncClient(timeout=60) as http:
            model_id = await d.chat_model(http, upstream_url, f"admin-{name}@example.com")
        users_spec = await prepare_users(d, args.users, model_id, f"{name}-user")
        recorder = Recorder()
        users = [
            User(n, token, session_id, url, recorder, seed=n)
            for n, (token, session_id, url) in enumerate(users_spec)
        ]
        if args.feeds:
            print(f"[{name}] {len(users)} users ready; opening their event feeds", flush=True)
            for user in users:
                await user.open_feed()
            await asyncio.wait_for(asyncio.gather(*(u.feed_ready.wait() for u in users)), 60)

        pids = [p.pid for p in d.supervisor.processes.values()]
        pids += [n.proc.pid for n in d.cluster.nodes if n.proc is not None]
        start = time.perf_counter()
        recorder.measure_from = start + args.warmup
        recorder.measure_until = start + args.seconds
        cpu_before, own_before = tree_cpu(pids), os.times()
        print(f"[{name}] load: {args.seconds} s ({args.warmup} s warm-up)", flush=True)
        actions = await asyncio.gather(*(u.run(start + args.seconds, args.think) for u in users))
        elapsed = time.perf_counter() - start
        cpu_after, own_after = tree_cpu(pids), os.times()

        # Feeds catch up: every acknowledged write's event, at most --drain seconds.
        for _ in range(int(args.drain / 0.2) if args.feeds else 0):
            if not any(u.expected - u.received for u in users):
                break
            await asyncio.sleep(0.2)
        lost = sum(len(u.expected - u.received) for u in users) if args.feeds else None
        duplicates = sum(n - 1 for u in users for n in u.event_ids.values() if n > 1)
        feed_errors = sum(u.feed_errors for u in users)
        for user in users:
            user.close()

    measured = args.seconds - args.warmup
    routes = {}
    for route, values in sorted(recorder.latencies.items()):
        routes[route] = {
            "count": len(values),
            "per_s": round(len(values) / measured, 1),
            "p50_ms": _round(pct(values, 0.50)),
            "p99_ms": _round(pct(values, 0.99)),
            "errors": recorder.errors.get(route, 0),
        }
    for route, errors in recorder.errors.items():
        routes.setdefault(route, {"count": 0, "errors": errors})
    own_cpu = (own_after.user - own_before.user) + (own_after.system - own_before.system)
    return {
        "topology": name,
        "users": args.users,
        "actions": sum(actions),
        "actions_per_s": round(sum(actions) / elapsed, 1),
        "routes": routes,
        "errors": sum(recorder.errors.values()),
        "error_samples": recorder.error_samples,
        "events_expected": sum(len(u.expected) for u in users),
        "events_lost": lost,
        "events_duplicated": duplicates,
        "feed_errors": feed_errors,
        "deployment_cpu_s": round(cpu_after - cpu_before, 1),
        "loadgen_cpu_s": round(own_cpu, 1),
        "elapsed_s": round(elapsed, 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- report --------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def report(results: dict[str, dict[str, Any]]) -> str:
    single, scaled = results["single"], results["scaled"]
    lines = [
        f"{'route':34} {'single p50/p99 ms':>19} {'scaled p50/p99 ms':>19} "
        f"{'p99 ratio':>9} {'n single/scaled':>16} {'errors':>8}"
    ]
    for route in sorted(set(single["routes"]) | set(scaled["routes"])):
        a, b = single["routes"].get(route, {}), scaled["routes"].get(route, {})
        lines.append(
            f"{route:34} {_pair(a):>19} {_pair(b):>19} "
            f"{ratio(b.get('p99_ms'), a.get('p99_ms')):>9} "
            f"{a.get('count', 0):>7}/{b.get('count', 0):<8} "
            f"{a.get('errors', 0):>3}/{b.get('errors', 0):<4}"
        )
    for key in (
        "actions_per_s",
        "errors",
        "events_expected",
        "events_lost",
        "events_duplicated",
        "feed_errors",
        "deployment_cpu_s",
        "loadgen_cpu_s",
    ):
        lines.append(f"{key:34} {single[key]!s:>19} {scaled[key]!s:>19}")
    return "\n".join(lines)


def _pair(route: dict[str, Any]) -> str:
    return f"{route.get('p50_ms', '-')}/{route.get('p99_ms', '-')}"


def start_upstream(tokens: int, token_delay: float) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fake_upstream",
            "--tokens",
            str(tokens),
            "--token-delay",
            str(token_delay),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    port = int(json.loads(proc.stdout.readline())["port"])
    return proc, f"http://127.0.0.1:{port}/v1"


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    upstream, upstream_url = start_upstream(args.tokens, args.token_delay)
    try:
        results = {}
        for name in args.topologies:
            results[name] = await run_topology(name, args, upstream_url)
        return results
    finally:
        upstream.terminate()
        upstream.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per topology")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not counted")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--drain", type=float, default=20.0, help="feeds' time to catch up")
    parser.add_argument("--tokens", type=int, default=8, help="tokens per chat answer")
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--quick", action="store_true", help="15 s per topology")
    parser.add_argument(
        "--topologies", nargs="+", choices=("single", "scaled"), default=["single", "scaled"]
    )
    parser.add_argument(
        "--no-feeds", dest="feeds", action="store_false", help="no event feeds (what they cost)"
    )
    args = parser.parse_args()
    # This process creates the users: keep its own log lines (one per user) off the report.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.quick:
        args.seconds, args.warmup = 15.0, 3.0
    try:
        import uvloop
    except ImportError:
        results = asyncio.run(main_async(args))
    else:
        results = uvloop.run(main_async(args))
    if len(results) == 2:
        print()
        print(report(results))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"scaleout-{stamp}.json"
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "args": vars(args)}
    out.write_text(json.dumps({"meta": meta, **results}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
