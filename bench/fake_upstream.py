"""The fake OpenAI upstream of the gateway benchmark, run as its own process.

``python -m bench.fake_upstream --tokens 20 --token-delay 0.1`` prints its port on the first
line of stdout, then serves until it is terminated. It is ``tests.fakes.FakeOpenAI`` (the
raw-asyncio fake of the test suite) with three changes a long benchmark needs:

* a listen backlog of 1024: a 200-stream burst opens 200 upstream connections at once and
  asyncio's default of 100 would make some of them wait for a SYN retry (a 1 s stall);
* requests are counted, not recorded (the tests keep every request; a throughput run
  would keep hundreds of thousands);
* ``GET /_bench/stats`` answers ``{"connections": …, "requests": …}``: the benchmark reads
  it before and after a phase to tell how many upstream connections each proxy opened.

Streams: a role chunk and the first token at once, then one token every ``token_delay``
seconds (a fixed token rate), a finish chunk, usage when asked for, ``[DONE]``.
Non-streamed requests are answered at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.base import Exchange, Scenario, _Connection
from tests.fakes.openai_server import FakeOpenAI

STATS_PATH = "/_bench/stats"


class _BenchConnection(_Connection):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The base class asserts an asyncio.Transport, which uvloop's transports are not.
        self.transport = cast("asyncio.Transport", transport)
        self._server._connections.add(self)


class BenchFakeOpenAI(FakeOpenAI):
    def __init__(self, port: int = 0) -> None:
        super().__init__(api_key=None)
        self._wanted_port = port
        self.connections = 0
        self.served = 0

    def _connection(self) -> _Connection:
        self.connections += 1
        return _BenchConnection(self)

    async def start(self) -> BenchFakeOpenAI:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._connection, "127.0.0.1", self._wanted_port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _dispatch(self, exchange: Exchange) -> None:
        if exchange.request.path == STATS_PATH:
            exchange.respond_json(200, {"connections": self.connections, "requests": self.served})
            return
        self.served += 1
        scenario = self.scenario
        if scenario.first_byte_delay and not await exchange.pause(scenario.first_byte_delay):
            return
        await self.handle(exchange, scenario)


async def serve(tokens: int, token_delay: float, port: int) -> None:
    fake = BenchFakeOpenAI(port)
    fake.scenario = Scenario(
        tokens=[f" tok{i}" for i in range(tokens)], token_delay=token_delay, input_tokens=12
    )
    await fake.start()
    print(json.dumps({"port": fake.port}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=20, help="content tokens per answer")
    parser.add_argument("--token-delay", type=float, default=0.1, help="seconds between tokens")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop  # the same fake for every target; uvloop only makes it cheaper
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.tokens, args.token_delay, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
