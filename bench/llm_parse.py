"""Benchmark: CPU per streamed chunk and per streamed request on the OpenAI-compatible path.

Run ``python -m bench.llm_parse`` (or ``python bench/llm_parse.py``). Two parts:

  (a) micro: µs per chunk for SSE parse + msgspec decode + delta, against the same
      framing with ``json.loads`` into dicts (the baseline), same chunks, same run;
  (b) end to end: the adapter streaming from a fake OpenAI server in a child process,
      measuring this process's CPU time per request (so the fake's work is not counted),
      against a naive httpx consumer (``aiter_lines`` + ``json.loads``) in the same run.

Results are printed and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from runtime.llm.clients import ClientPool
from runtime.llm.openai_compat import StreamTranslator
from runtime.llm.registry import adapter_for
from runtime.llm.sse import SSEParser
from runtime.llm.types import ChatRequest, ContentDelta, Message, ProviderConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def openai_chunk(i: int) -> bytes:
    """A chunk shaped like OpenAI's own (with stream_options.include_usage set)."""
    body = {
        "id": "chatcmpl-AbCdEf0123456789",
        "object": "chat.completion.chunk",
        "created": 1733360000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [
            {"index": 0, "delta": {"content": f" tok{i}"}, "logprobs": None, "finish_reason": None}
        ],
        "usage": None,
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def ours(chunks: list[bytes]) -> int:
    parser = SSEParser()
    translator = StreamTranslator(think=True)
    n = 0
    for chunk in chunks:
        for event in parser.feed(chunk):
            n += len(translator.on_event(event))
    return n


def baseline(chunks: list[bytes]) -> int:
    n = 0
    for chunk in chunks:
        for line in chunk.split(b"\n"):
            if line.startswith(b"data: "):
                obj = json.loads(line[6:])
                text = obj["choices"][0]["delta"].get("content")
                if text:
                    ContentDelta(text)
                    n += 1
    return n


def per_chunk_us(fn: Callable[[list[bytes]], int], chunks: list[bytes], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(chunks)
        best = min(best, time.perf_counter() - started)
    return best / len(chunks) * 1e6


FAKE = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.fakes import FakeOpenAI, Scenario

async def main():
    async with FakeOpenAI(api_key=None) as fake:
        fake.scenario = Scenario(tokens=[" tok"] * {tokens}, token_delay={token_delay})
        print(fake.port, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def e2e(base_url: str, requests: int, concurrency: int) -> dict[str, float]:
    request = ChatRequest(model="gpt-fake", messages=[Message(role="user", content="hi")])
    async with ClientPool() as pool:
        config = ProviderConfig(type="openai-compatible", base_url=base_url)

        async def one() -> int:
            n = 0
            async for _ in adapter_for(config, pool).stream_chat(request):
                n += 1
            return n

        async def naive_one(client: httpx.AsyncClient) -> int:
            body: dict[str, Any] = {
                "model": "gpt-fake",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            }
            n = 0
            async with client.stream("POST", base_url + "/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line[6:])
                        n += 1
            return n

        async def measure(make: Callable[[], Any]) -> tuple[float, float]:
            """(user, system) CPU ms per request: the kernel's share is reported apart."""
            await asyncio.gather(*(make() for _ in range(concurrency)))  # warm connections
            before = os.times()
            for _ in range(requests // concurrency):
                await asyncio.gather(*(make() for _ in range(concurrency)))
            after = os.times()
            per = 1e3 / requests
            return (after.user - before.user) * per, (after.system - before.system) * per

        adapter = await measure(one)
        async with httpx.AsyncClient() as client:
            naive = await measure(lambda: naive_one(client))
    return {
        "adapter_user_ms_per_request": adapter[0],
        "adapter_sys_ms_per_request": adapter[1],
        "naive_httpx_user_ms_per_request": naive[0],
        "naive_httpx_sys_ms_per_request": naive[1],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per streamed request")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--token-delay", type=float, default=0.0, help="seconds between tokens at the fake"
    )
    parser.add_argument("--no-e2e", action="store_true")
    args = parser.parse_args(argv)

    chunks = [openai_chunk(i) for i in range(args.chunks)]
    assert ours(chunks) == baseline(chunks) == len(chunks)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "chunk_bytes": len(chunks[0]),
        "ours_us_per_chunk": per_chunk_us(ours, chunks, args.repeats),
        "json_loads_us_per_chunk": per_chunk_us(baseline, chunks, args.repeats),
    }
    print(f"micro, {len(chunks)} chunks of {len(chunks[0])} bytes (best of {args.repeats}):")
    print(f"  SSEParser + msgspec Struct + delta : {result['ours_us_per_chunk']:.2f} µs/chunk")
    print(
        f"  split + json.loads + dict (baseline): {result['json_loads_us_per_chunk']:.2f} µs/chunk"
    )

    if not args.no_e2e:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                FAKE.format(root=str(ROOT), tokens=args.tokens, token_delay=args.token_delay),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            port = int(child.stdout.readline())
            numbers = asyncio.run(
                e2e(f"http://127.0.0.1:{port}/v1", args.requests, args.concurrency)
            )
        finally:
            child.terminate()
            child.wait(5)
        result.update(
            numbers,
            tokens_per_request=args.tokens,
            requests=args.requests,
            concurrency=args.concurrency,
            token_delay=args.token_delay,
        )
        print(
            f"end to end, {args.requests} requests x {args.tokens} tokens, "
            f"{args.concurrency} concurrent, {args.token_delay * 1000:g} ms between tokens "
            "(this process's CPU only):"
        )
        for label, key in (("adapter.stream_chat", "adapter"), ("naive httpx", "naive_httpx")):
            user = numbers[f"{key}_user_ms_per_request"]
            system = numbers[f"{key}_sys_ms_per_request"]
            print(f"  {label:20}: {user:.3f} ms user + {system:.3f} ms system per request")

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"llm_parse-{stamp}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
