"""More HTTP processes for ``llmforge up``: ``LLMFORGE_API_PROCESSES`` - 1 ``llmforge api``.

One Python process serves requests on one core. ``up`` with ``LLMFORGE_API_PROCESSES=N``
starts N - 1 ``llmforge api`` children on its port (``SO_REUSEPORT``: the kernel spreads
connections over the N listeners), on its broker, database and data directory. The
parent keeps everything else (migrations, consumers, the embedded vector store, which the
children reach over NATS). A child that dies is started again after a backoff; stopping
``up`` stops them first. Each child gets SIGTERM if the parent dies without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping

import structlog

from runtime.children import die_with_parent

log = structlog.get_logger(__name__)

STOP_GRACE = 15.0
RESTART_BACKOFF = (1.0, 30.0)


def child_environment(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment with its effective settings pinned, for one more listener."""
    env = dict(base)
    env.update(overrides)
    # The child serves; it must not start children of its own.
    env["LLMFORGE_API_PROCESSES"] = "1"
    env["LLMFORGE_REUSE_PORT"] = "1"
    return env


class ApiProcesses:
    """``count`` children running ``llmforge api``, kept running until ``stop``."""

    def __init__(self, count: int, env: Mapping[str, str]) -> None:
        self.count = count
        self._env = dict(env)
        self._procs: list[asyncio.subprocess.Process | None] = [None] * count
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.returncode is None]

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "api",
            "--no-banner",
            env=self._env,
            # A parent killed outright must not leave listeners on its port.
            preexec_fn=die_with_parent(signal.SIGTERM),
            # Out of the terminal's process group: Ctrl-C reaches the parent alone, which
            # stops its children in order instead of watching them die and restarting them.
            start_new_session=True,
        )

    async def start(self) -> None:
        for slot in range(self.count):
            self._procs[slot] = await self._spawn()
            self._watchers.append(asyncio.create_task(self._watch(slot), name=f"api-{slot + 2}"))
        log.info("api_processes_started", pids=self.pids)

    async def _watch(self, slot: int) -> None:
        loop = asyncio.get_running_loop()
        delay = RESTART_BACKOFF[0]
        while True:
            proc = self._procs[slot]
            assert proc is not None
            started = loop.time()
            code = await proc.wait()
            if self._stopping:
                return
            if loop.time() - started > RESTART_BACKOFF[1]:
                delay = RESTART_BACKOFF[0]  # it ran for a while: a fresh failure
            log.error("api_process_exited", pid=proc.pid, returncode=code, restart_in_s=delay)
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_BACKOFF[1])
                try:
                    self._procs[slot] = await self._spawn()
                    break
                except OSError:
                    log.exception("api_process_start_failed", retry_in_s=delay)

    async def stop(self) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        running = [p for p in self._procs if p is not None and p.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        log.info("api_processes_stopped", count=len(running))
