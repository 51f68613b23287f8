"""Benchmark: client CPU per streamed chat, httpx's own transport against AiohttpTransport.

Run ``python -m bench.upstream_client``. Both clients stream the same chats from one fake
OpenAI upstream (``bench/fake_upstream.py``, its own process) in alternating rounds, in
this process on uvloop, and the CPU this process spends (``time.process_time``) is
divided by the streams of the round. The medians of the rounds and their ratio are
printed: this is the number behind ``runtime/llm/aiohttp_transport.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import uvloop

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.llm.aiohttp_transport import AiohttpTransport

BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
KINDS = ("httpx", "aiohttp")


def client_of(kind: str, connections: int) -> httpx.AsyncClient:
    timeout = httpx.Timeout(30.0, connect=5.0)
    if kind == "httpx":
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    transport = AiohttpTransport(
        max_connections=connections, keepalive_expiry=30.0, trust_env=False
    )
    return httpx.AsyncClient(timeout=timeout, transport=transport)


async def round_cpu_ms(client: httpx.AsyncClient, url: str, streams: int, at_once: int) -> float:
    """CPU ms per stream for ``streams`` streams, ``at_once`` in flight."""
    gate = asyncio.Semaphore(at_once)

    async def one() -> None:
        async with gate, client.stream("POST", url, json=BODY) as response:
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                pass

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(streams)))
    return (time.process_time() - started) * 1000 / streams


async def measure(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    clients = {kind: client_of(kind, args.at_once) for kind in KINDS}
    try:
        for client in clients.values():  # warm-up: connections, imports, caches
            await round_cpu_ms(client, url, args.at_once, args.at_once)
        samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(args.rounds):
            for kind, client in clients.items():
                samples[kind].append(await round_cpu_ms(client, url, args.streams, args.at_once))
        return samples
    finally:
        for client in clients.values():
            await client.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=600, help="streams per round")
    parser.add_argument("--at-once", type=int, default=30, help="streams in flight")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per client")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per stream")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "bench.fake_upstream", "--tokens", str(args.tokens)]
    fake = subprocess.Popen(
        [*command, "--token-delay", "0.005"],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert fake.stdout is not None
        port = json.loads(fake.stdout.readline())["port"]
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        samples = uvloop.run(measure(args, url))
    finally:
        fake.terminate()
        fake.wait(10)
    medians = {kind: statistics.median(values) for kind, values in samples.items()}
    for kind in KINDS:
        rounds = ", ".join(f"{v:.3f}" for v in samples[kind])
        print(f"{kind:8s} client CPU ms per stream: median {medians[kind]:.3f}  ({rounds})")
    print(f"httpx / aiohttp: {medians['httpx'] / medians['aiohttp']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
