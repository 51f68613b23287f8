"""Serving a model folder (and adapter) with ``llamafactory-cli api`` on a loopback port."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from trainer import config as lf_config
from trainer import process
from trainer.progress import ConsoleLines, clean_console_line


@dataclass(frozen=True, slots=True)
class ServeSpec:
    base_model_path: str
    adapter_path: str | None
    template: str
    finetuning_type: str
    model_name: str
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def api_config(spec: ServeSpec) -> dict[str, object]:
    config: dict[str, object] = {
        "model_name_or_path": spec.base_model_path,
        "template": spec.template,
        "infer_backend": "huggingface",
        "trust_remote_code": False,
    }
    if spec.adapter_path:
        config["adapter_name_or_path"] = spec.adapter_path
        config["finetuning_type"] = spec.finetuning_type
    return config


class ModelServer:
    """One running API server; ``start`` waits until it answers ``/v1/models``."""

    def __init__(
        self, spec: ServeSpec, *, cli: str, grace: float = 5.0, cpu_threads: int = 0
    ) -> None:
        self.spec = spec
        self._cli = cli
        self._grace = grace
        self._cpu_threads = cpu_threads
        self.port = 0
        self.child: asyncio.subprocess.Process | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self._reader: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self, timeout: float = 180.0) -> None:  # noqa: ASYNC109
        folder = self.spec.log_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        config_path = folder / "api.yaml"
        config_path.write_text(lf_config.to_yaml(api_config(self.spec)), encoding="utf-8")
        self.port = free_port()
        # API_HOST matters: without it llamafactory-cli api listens on every interface.
        env = process.child_env(
            {
                "API_HOST": "127.0.0.1",
                "API_PORT": str(self.port),
                "API_MODEL_NAME": self.spec.model_name,
                **process.thread_env(self._cpu_threads),
            }
        )
        self.child = await process.spawn([self._cli, "api", str(config_path)], cwd=folder, env=env)
        sink = self.spec.log_path.open("a", encoding="utf-8")
        self._reader = asyncio.create_task(self._read(sink))
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if self.child.returncode is not None:
                    raise RuntimeError(self.failure("exited during start-up"))
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base_url}/models")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    await self.stop()
                    raise RuntimeError(self.failure(f"not ready after {timeout:.0f} s"))
                await asyncio.sleep(0.5)

    def failure(self, what: str) -> str:
        last = self.tail[-1] if self.tail else ""
        return f"llamafactory-cli api {what}: {last}".strip()

    async def _read(self, sink: TextIO) -> None:
        assert self.child is not None
        assert self.child.stdout is not None
        splitter = ConsoleLines()
        try:
            while chunk := await self.child.stdout.read(1 << 16):
                for text in splitter.feed(chunk):
                    sink.write(text + "\n")
                    if line := clean_console_line(text):
                        self.tail.append(line)
                sink.flush()
        finally:
            sink.close()

    async def wait(self) -> int:
        assert self.child is not None
        return await self.child.wait()

    async def stop(self) -> None:
        if self.child is not None:
            await process.stop_group(self.child, self._grace)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(2):
                    await self._reader


def log_tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` readable lines of a server log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    cleaned = [c for raw in text.splitlines() if (c := clean_console_line(raw))]
    return cleaned[-lines:]
