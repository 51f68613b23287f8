"""A process supervisor for real ``llmforge`` processes: start, health waits, kill, restart.

Each process writes JSON logs to its own file (appended across restarts, so a test that
fails shows what every incarnation said). Processes die with the test run: the kernel
SIGKILLs them if the supervising process goes away without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from runtime.children import die_with_parent

LLMFORGE = Path(sys.executable).with_name("llmforge")


@dataclass
class ManagedProcess:
    """One ``llmforge <argv>`` process; ``port``: where it serves HTTP (or its probes)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)
    _log_offset: int = 0

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        self.starts += 1
        self.proc = subprocess.Popen(
            [str(LLMFORGE), *self.argv],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # SIGKILL this child when the test process dies, however it dies.
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown code runs."""
        self._end(signal.SIGKILL, 10.0)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (the CLI stops every part in order), SIGKILL after ``grace``."""
        self._end(signal.SIGTERM, grace)

    def _end(self, sig: signal.Signals, grace: float) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_records(self, *, current: bool = True) -> Iterator[dict[str, object]]:
        """The JSON log lines (of the current incarnation only, by default)."""
        with contextlib.suppress(OSError), self.log_path.open("rb") as handle:
            if current:
                handle.seek(self._log_offset)
            for line in handle:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        yield record

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    async def wait_ready(self, within: float = 60.0) -> None:
        """/health/ready answers 200 (API, or a worker's probe port), else the start log line."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if not self.running:
                    raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
                if await self._ready(http):
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} not ready in {within}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def _ready(self, http: httpx.AsyncClient) -> bool:
        if self.port is None:  # no probes: the platform says when it has started
            return any(r.get("event") == "platform_started" for r in self.log_records())
        try:
            response = await http.get(f"{self.url}/health/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200


class Supervisor:
    """The processes of one deployment, by name."""

    def __init__(self) -> None:
        self.processes: dict[str, ManagedProcess] = {}

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes[process.name] = process
        return process

    def __getitem__(self, name: str) -> ManagedProcess:
        return self.processes[name]

    async def start(self, *names: str, within: float = 90.0) -> None:
        """Start them together (imports overlap) and wait until each is ready."""
        chosen = [self.processes[n] for n in names] or list(self.processes.values())
        for process in chosen:
            process.start()
        await asyncio.gather(*(p.wait_ready(within) for p in chosen))

    async def restart(self, name: str, within: float = 90.0) -> None:
        process = self.processes[name]
        process.stop()
        process.start()
        await process.wait_ready(within)

    def stop_all(self) -> None:
        # SIGTERM everyone first, so they shut down in parallel, then wait for each.
        for process in self.processes.values():
            if process.running and process.proc is not None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.stop()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {p.name} ({p.log_path}) ---\n{p.log_tail(lines)}" for p in self.processes.values()
        )
