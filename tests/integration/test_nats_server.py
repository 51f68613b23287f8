"""The embedded nats-server: free port, JetStream, persistence, and it dies with us."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import nats
import pytest

from runtime.nats_server import EmbeddedNatsServer, find_nats_server
from tests.fixtures.nats import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_binary_is_found_in_the_virtual_environment() -> None:
    assert find_nats_server() == Path(sys.executable).parent / "nats-server"


async def test_embedded_server_starts_on_a_free_loopback_port_with_jetstream(
    tmp_path: Path,
) -> None:
    async with EmbeddedNatsServer(tmp_path / "nats") as server:
        url = urlparse(server.url)
        assert url.hostname == "127.0.0.1"
        assert url.port not in (None, 4222)
        nc = await nats.connect(server.url)
        account = await nc.jetstream().account_info()
        await nc.close()
        assert account.limits is not None
        assert (tmp_path / "nats" / "nats-server.log").stat().st_size > 0
        pid = server.pid
        assert pid is not None
    assert not server.running
    assert _gone(pid)


async def test_embedded_server_keeps_stream_data_across_restarts(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    async with EmbeddedNatsServer(store) as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="KEEP", subjects=["keep.>"])
        await js.publish("keep.one", b"still here")
        await nc.close()
    async with EmbeddedNatsServer(store) as server:
        nc = await nats.connect(server.url)
        msg = await nc.jetstream().get_msg("KEEP", 1)
        await nc.close()
    assert msg.data == b"still here"


async def test_second_server_on_a_taken_port_fails_with_its_log(tmp_path: Path) -> None:
    async with EmbeddedNatsServer(tmp_path / "a") as first:
        port = urlparse(first.url).port
        assert port is not None
        second = EmbeddedNatsServer(tmp_path / "b", port=port, startup_timeout=5)
        with pytest.raises(RuntimeError, match="exited"):
            await second.start()
        assert not second.running


async def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats", binary=tmp_path / "no-such-nats-server")
    with pytest.raises(FileNotFoundError, match="no-such-nats-server"):
        await server.start()


async def test_embedded_server_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from runtime.nats_server import EmbeddedNatsServer

        async def main():
            server = EmbeddedNatsServer(Path({str(tmp_path / "nats")!r}))
            await server.start()
            print("BROKER_PID", server.pid, flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT
    )
    try:
        assert parent.stdout is not None
        broker_pid = 0
        async with asyncio.timeout(10):
            while not broker_pid:
                line = (await parent.stdout.readline()).decode()
                assert line, "child exited before starting the broker"
                if line.startswith("BROKER_PID"):
                    broker_pid = int(line.split()[1])
        assert not _gone(broker_pid)
        parent.kill()  # SIGKILL: no finally blocks, no atexit; only the kernel can help
        await parent.wait()
        await eventually(lambda: _gone(broker_pid), within=5, message="broker outlived us")
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
