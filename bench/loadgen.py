"""Load generator of the gateway benchmark: a lean asyncio HTTP/1.1 client, in its own process.

``python -m bench.loadgen < spec.json`` runs one phase against one target and prints one
JSON object (the measurements, plus this process's own CPU time) on stdout. Standalone on
purpose (standard library, uvloop when importable): nothing of the platform is imported,
so the client costs the same against every target.

The client is an ``asyncio.Protocol`` with keep-alive connections, a hand-written response
parser (Content-Length and chunked bodies) and a byte-level SSE splitter. Every read is
stamped with ``perf_counter`` when it arrives; a streamed token's time is the time of the
read that completed its ``data:`` event. A "token" is an event whose JSON carries a
non-empty ``"content"`` string (role chunks, finish chunks, usage and comments are not).

Modes (``spec["mode"]``):

``steady``  open loop: ``rate`` new streams per second for ``seconds``, whatever is still
            open; waits for every stream to end. TTFT = first token - request written.
``burst``   ``count`` connections opened first, then ``count`` streams written in one go;
            TTFT = first token - the burst instant (the same for all).
``throughput``  closed loop: ``concurrency`` workers, each on its own connection, send
            non-streamed requests back to back for ``seconds``; the first ``warmup``
            seconds are not counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any, cast

_CONTENT = re.compile(rb'"content":\s*"(?!")')
_ERROR = re.compile(rb'^\{\s*"error"\s*:')

HEAD, CL_BODY, CHUNK_SIZE, CHUNK_DATA, TRAILER, EOF_BODY, IDLE = range(7)

BodySink = Callable[[bytes, float], None]


class Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.state = IDLE
        self.left = 0
        self.status = 0
        self.keep_alive = True
        self.closed = False
        self.sink: BodySink | None = None
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.state == EOF_BODY and self.sink is not None:
            self.sink(self.buf, time.perf_counter())
            self._done()
        elif self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def send(self, request: bytes, sink: BodySink | None) -> asyncio.Future[int]:
        assert self.transport is not None
        assert self.state == IDLE
        self.waiter = asyncio.get_running_loop().create_future()
        self.sink = sink
        self.state = HEAD
        self.transport.write(request)
        return self.waiter

    def _done(self) -> None:
        self.state = IDLE
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self.status)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buf + data if self.buf else data
        sink = self.sink
        while True:
            state = self.state
            if state == HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].lower()
                buf = buf[end + 4 :]
                self.status = int(head[9:12])
                self.keep_alive = b"\r\nconnection: close" not in head
                if b"\r\ntransfer-encoding: chunked" in head:
                    self.state = CHUNK_SIZE
                else:
                    at = head.find(b"\r\ncontent-length:")
                    if at >= 0:
                        stop = head.find(b"\r\n", at + 2)
                        self.left = int(head[at + 17 : stop if stop > 0 else None])
                        self.state = CL_BODY
                    else:
                        self.state = EOF_BODY
                        self.keep_alive = False
            elif state == CL_BODY:
                if len(buf) < self.left:
                    break
                body, buf = buf[: self.left], buf[self.left :]
                if sink is not None:
                    sink(body, now)
                self._done()
            elif state == CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                size = int(buf[:end].split(b";", 1)[0], 16)
                buf = buf[end + 2 :]
                if size == 0:
                    self.state = TRAILER
                else:
                    self.left = size
                    self.state = CHUNK_DATA
            elif state == CHUNK_DATA:
                if len(buf) < self.left + 2:
                    break
                payload, buf = buf[: self.left], buf[self.left + 2 :]
                self.state = CHUNK_SIZE
                if sink is not None:
                    sink(payload, now)
            elif state == TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                line, buf = buf[:end], buf[end + 2 :]
                if not line:
                    self._done()
            else:  # EOF_BODY collects until the close; IDLE should see nothing
                break
        self.buf = buf
        if self.state == IDLE and not self.keep_alive and self.transport is not None:
            self.transport.close()


class Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[Conn] = []
        self.opened = 0

    async def get(self) -> Conn:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        _, conn = await asyncio.get_running_loop().create_connection(Conn, self.host, self.port)
        self.opened += 1
        return conn

    def put(self, conn: Conn) -> None:
        if conn.keep_alive and not conn.closed and conn.state == IDLE:
            self.idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()


def build_request(spec: dict[str, Any], stream: bool) -> bytes:
    body = json.dumps({**spec["body"], "stream": stream}, separators=(",", ":")).encode()
    lines = [
        f"POST {spec['path']} HTTP/1.1",
        f"Host: {spec['host']}:{spec['port']}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in spec.get("headers", {}).items()),
    ]
    if stream:
        lines.append("Accept: text/event-stream")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class StreamRecord:
    """What one streamed answer looked like to the client."""

    __slots__ = ("error", "first", "gaps", "last", "pending", "start", "status", "tokens")

    def __init__(self, start: float) -> None:
        self.start = start
        self.first = 0.0
        self.last = 0.0
        self.tokens = 0
        self.gaps: list[float] = []
        self.pending = b""
        self.error: str | None = None
        self.status = 0

    def feed(self, payload: bytes, now: float) -> None:
        data = self.pending + payload if self.pending else payload
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        events = data.split(b"\n\n")
        self.pending = events.pop()
        for event in events:
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                value = line[5:].lstrip()
                if value == b"[DONE]":
                    continue
                if _ERROR.match(value):
                    self.error = "error event: " + value[:200].decode(errors="replace")
                elif _CONTENT.search(value):
                    if self.tokens:
                        self.gaps.append(now - self.last)
                    else:
                        self.first = now
                    self.last = now
                    self.tokens += 1


async def one_stream(pool: Pool, request: bytes, record: StreamRecord, limit: float) -> None:
    conn: Conn | None = None
    try:
        conn = await pool.get()
        if not record.start:
            record.start = time.perf_counter()
        record.status = await asyncio.wait_for(conn.send(request, record.feed), limit)
        if record.status != 200:
            record.error = record.error or f"HTTP {record.status}"
    except Exception as exc:  # every failure is a counted error
        record.error = f"{type(exc).__name__}: {exc}"
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        conn = None
    if conn is not None:
        pool.put(conn)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def dist_ms(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 3),
    }


def summarize_streams(records: list[StreamRecord], spec: dict[str, Any]) -> dict[str, Any]:
    expected = spec.get("tokens_expected")
    interval = spec.get("token_interval") or 0.0
    stall_at = 5 * interval
    ttft, gaps, durations = [], [], []
    errors: dict[str, int] = {}
    short = 0
    stalls = 0
    streams_with_stall = 0
    for r in records:
        if r.error is None and expected and r.tokens != expected:
            r.error = f"got {r.tokens} of {expected} tokens"
            short += 1
        if r.error is not None:
            key = r.error[:120]
            errors[key] = errors.get(key, 0) + 1
            continue
        ttft.append(r.first - r.start)
        durations.append(r.last - r.start)
        gaps.extend(r.gaps)
        n = sum(1 for g in r.gaps if stall_at and g > stall_at)
        stalls += n
        streams_with_stall += bool(n)
    return {
        "streams": len(records),
        "ok": len(records) - sum(errors.values()),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "short_streams": short,
        "ttft": dist_ms(ttft),
        "gap": dist_ms(gaps),
        "duration": dist_ms(durations),
        "stall_threshold_ms": round(stall_at * 1000, 3),
        "stalls": stalls,
        "streams_with_stall": streams_with_stall,
    }


async def steady(spec: dict[str, Any]) -> dict[str, Any]:
    pool = Pool(spec["host"], spec["port"])
    request = build_request(spec, stream=True)
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    timeout = float(spec.get("timeout", 60))
    total = int(rate * seconds)
    records: list[StreamRecord] = []
    tasks: set[asyncio.Task[None]] = set()
    open_max = 0
    late = 0.0
    t0 = time.perf_counter() + 0.05
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        record = StreamRecord(0.0)
        records.append(record)
        task = asyncio.ensure_future(one_stream(pool, request, record, timeout))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        open_max = max(open_max, len(tasks))
    sent = time.perf_counter() - t0
    if tasks:
        await asyncio.gather(*tasks)
    pool.close()
    out = summarize_streams(records, spec)
    out.update(
        rate_target=rate,
        rate_achieved=round(total / sent, 2) if sent > 0 else None,
        schedule_max_late_ms=round(late * 1000, 3),
        open_max=open_max,
        connections_opened=pool.opened,
    )
    return out


async def burst(spec: dict[str, Any]) -> dict[str, Any]:
    count = int(spec["count"])
    timeout = float(spec.get("timeout", 60))
    pool = Pool(spec["host"], spec["port"])
    request = build_request(spec, stream=True)
    conns = await asyncio.gather(*(pool.get() for _ in range(count)))
    pool.idle.extend(conns)
    await asyncio.sleep(0.3)  # let the server accept them all before the burst
    t0 = time.perf_counter()
    records = [StreamRecord(t0) for _ in range(count)]
    # pool.get() returns an idle connection without yielding: every request is written
    # within this one loop iteration, before any answer can be read.
    tasks = [asyncio.ensure_future(one_stream(pool, request, r, timeout)) for r in records]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    pool.close()
    out = summarize_streams(records, spec)
    out.update(count=count, all_done_s=round(elapsed, 3), connections_opened=pool.opened)
    return out


async def throughput(spec: dict[str, Any]) -> dict[str, Any]:
    pool = Pool(spec["host"], spec["port"])
    request = build_request(spec, stream=False)
    concurrency = int(spec["concurrency"])
    seconds, warmup = float(spec["seconds"]), float(spec.get("warmup", 1.0))
    timeout = float(spec.get("timeout", 30))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counted = 0
    completed = 0
    bad_bodies = 0
    start = time.perf_counter()
    window_start = start + warmup
    stop_at = window_start + seconds

    def check(body: bytes, now: float) -> None:
        nonlocal bad_bodies
        if b'"choices"' not in body:
            bad_bodies += 1

    async def worker() -> None:
        nonlocal counted, completed
        conn: Conn | None = None
        while True:
            t = time.perf_counter()
            if t >= stop_at:
                break
            try:
                if conn is None or conn.closed:
                    conn = await pool.get()
                status = await asyncio.wait_for(conn.send(request, check), timeout)
                done = time.perf_counter()
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")
                completed += 1
                if not conn.keep_alive:
                    conn = None
                if t >= window_start and done <= stop_at:
                    counted += 1
                    latencies.append(done - t)
            except Exception as exc:  # counted
                key = f"{type(exc).__name__}: {exc}"[:120]
                errors[key] = errors.get(key, 0) + 1
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                conn = None
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "concurrency": concurrency,
        "seconds": seconds,
        "requests": counted,
        "completed_total": completed,
        "rps": round(counted / seconds, 1),
        "latency": dist_ms(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "bad_bodies": bad_bodies,
        "connections_opened": pool.opened,
    }


MODES = {"steady": steady, "burst": burst, "throughput": throughput}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
        loop_name = "asyncio"
    else:
        runner = uvloop.run
        loop_name = "uvloop"
    cpu0, wall0 = os.times(), time.perf_counter()
    result: dict[str, Any] = runner(MODES[spec["mode"]](spec))
    cpu1, wall = os.times(), time.perf_counter() - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    result["loadgen"] = {
        "loop": loop_name,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_share_of_one_core": round(cpu / wall, 3) if wall else None,
    }
    return result


def main() -> int:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(run(spec)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
