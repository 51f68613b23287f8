"""`llmforge` end to end: `up` on a fresh data dir, users from the CLI, restarts, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from events.schema import ASYNCAPI_PATH
from runtime.cli import main
from runtime.db.migrate import head_revision
from tests.fixtures.processes import processes

BIN = Path(sys.executable).parent / "llmforge"
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env.update(
        LLMFORGE_DATA_DIR=str(data_dir),
        LLMFORGE_LOG_FORMAT="json",
        LLMFORGE_ARGON2_TIME_COST="1",
        LLMFORGE_ARGON2_MEMORY_KIB="1024",
        LLMFORGE_ARGON2_PARALLELISM="1",
        LLMFORGE_COOKIE_SECURE="off",
    )
    return env


def _broker_pids(data_dir: Path) -> list[int]:
    """nats-server processes whose store is in this data dir."""
    return processes(lambda p: "nats-server" in p.cmdline and str(data_dir) in p.cmdline)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


class Running:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (data_dir.parent / f"up-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BIN), "up", "--port", str(self.port)],
            env=_env(data_dir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=self.url) as client:
            while True:
                assert self.proc.poll() is None, "llmforge up exited during start-up"
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "not ready in time"
                await asyncio.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


@pytest.fixture
def running(data_dir: Path) -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


def create_admin(data_dir: Path, email: str) -> subprocess.CompletedProcess[str]:
    """``llmforge user create --admin`` against the data dir of a running ``up``."""
    argv = ["user", "create", "--email", email, "--password", PASSWORD, "--admin"]
    return subprocess.run(
        [str(BIN), *argv],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _login(url: str, email: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})


async def test_up_serves_the_platform_and_keeps_data_across_restarts(
    data_dir: Path, running: list[Running]
) -> None:
    first = Running(data_dir)
    running.append(first)
    await first.wait_ready()
    assert len(_broker_pids(data_dir)) == 1
    assert (data_dir / "secret.key").exists()

    created = create_admin(data_dir, "root@example.com")
    assert created.returncode == 0, created.stderr
    assert "created admin root@example.com" in created.stdout
    assert (await _login(first.url, "root@example.com")).status_code == 200

    assert first.stop(signal.SIGINT) == 0
    # The broker child is stopped with the platform, not left behind.
    assert _broker_pids(data_dir) == []

    second = Running(data_dir)
    running.append(second)
    await second.wait_ready()
    login = await _login(second.url, "root@example.com")
    assert login.status_code == 200
    token = login.json()["access_token"]
    async with httpx.AsyncClient(base_url=second.url) as client:
        # The event of the CLI-made user reached the stream via the outbox relay and the
        # audit consumer, across the restart.
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            audit = await client.get(
                "/api/admin/audit?type=llmforge.auth.user.registered",
                headers={"Authorization": f"Bearer {token}"},
            )
            if audit.json()["total"] >= 1:
                break
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
    assert second.stop(signal.SIGTERM) == 0
    assert _broker_pids(data_dir) == []


def test_user_create_reports_a_taken_email(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in _env(data_dir).items():
        monkeypatch.setenv(key, value)
    args = ["user", "create", "--email", "a@example.com", "--password", PASSWORD]
    assert main(args) == 0
    assert main(args) == 2
    assert "already" in capsys.readouterr().err.lower()


def test_migrate_up_and_down(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--data-dir", str(data_dir)]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert main(["migrate", "--data-dir", str(data_dir), "--downgrade", "base"]) == 0
    assert "revision None" in capsys.readouterr().out


def test_events_schema_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "schema", "--check"]) == 0
    target = tmp_path / "asyncapi.json"
    assert main(["events", "schema", "--output", str(target), "--check"]) == 1
    assert main(["events", "schema", "--output", str(target)]) == 0
    assert target.read_text() == ASYNCAPI_PATH.read_text()
    assert main(["events", "schema", "--output", "-"]) == 0
    assert '"asyncapi": "3.0.0"' in capsys.readouterr().out
