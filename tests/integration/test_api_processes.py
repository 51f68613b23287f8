"""`llmforge up` with LLMFORGE_API_PROCESSES=2: a child `llmforge api` on the same port.

The child reaches the embedded vector store through the parent (NATS request-reply), is
started again when it dies, and stops with the parent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import processes
from tests.integration.knowledge_support import DATA, MODEL_CACHE
from tests.integration.test_cli import PASSWORD, Running, create_admin

QUESTION = "What is the Zephyr-9 reactor cooled with?"


def _children(pid: int) -> list[int]:
    """`llmforge api` processes whose parent is ``pid``."""
    return processes(lambda p: p.parent == pid and "runtime.cli api" in p.cmdline)


async def _eventually_children(pid: int, count: int, *, other_than: int = 0) -> list[int]:
    deadline = time.monotonic() + 30
    while True:
        children = [c for c in _children(pid) if c != other_than]
        if len(children) == count:
            return children
        assert time.monotonic() < deadline, f"children of {pid}: {children}"
        await asyncio.sleep(0.1)


@pytest.fixture
def up_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setenv("LLMFORGE_API_PROCESSES", "2")
    monkeypatch.setenv("LLMFORGE_EMBEDDINGS_CACHE_DIR", str(MODEL_CACHE))
    monkeypatch.setenv("LLMFORGE_EMBEDDINGS_THREADS", "1")
    running = Running(tmp_path / "data")
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


async def _admin(data_dir: Path, url: str, client: httpx.AsyncClient) -> dict[str, str]:
    created = create_admin(data_dir, "root@example.com")
    assert created.returncode == 0, created.stderr
    login = await client.post(
        f"{url}/api/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_up_serves_from_two_processes_and_keeps_the_second_running(
    up_two: Running, tmp_path: Path
) -> None:
    await up_two.wait_ready(timeout=60)
    [child] = await _eventually_children(up_two.proc.pid, 1)
    async with httpx.AsyncClient(timeout=60) as client:
        headers = await _admin(tmp_path / "data", up_two.url, client)
        kb = await client.post(
            f"{up_two.url}/api/knowledge-bases", headers=headers, json={"name": "kb"}
        )
        assert kb.status_code == 201, kb.text
        kb_id = kb.json()["id"]
        body = (DATA / "zephyr_reactor.md").read_bytes()
        doc = await client.post(
            f"{up_two.url}/api/knowledge-bases/{kb_id}/documents",
            headers=headers,
            files={"file": ("zephyr_reactor.md", body, "text/markdown")},
        )
        assert doc.status_code == 202, doc.text
        doc_url = f"{up_two.url}/api/knowledge-bases/{kb_id}/documents/{doc.json()['id']}"
        deadline = time.monotonic() + 90
        while (await client.get(doc_url, headers=headers)).json()["status"] != "indexed":
            assert time.monotonic() < deadline, "not indexed in time"
            await asyncio.sleep(0.2)

    # A new connection each time: the kernel picks one of the two listeners per connection,
    # so 16 of them miss the child with probability 2^-16.
    for _ in range(16):
        async with httpx.AsyncClient(base_url=up_two.url, timeout=60) as fresh:
            found = await fresh.post(
                f"/api/knowledge-bases/{kb_id}/search",
                headers=headers,
                json={"query": QUESTION, "top_k": 1},
            )
            assert found.status_code == 200, found.text
            assert "gallium" in found.json()["results"][0]["text"]

    # A child that dies is replaced; the port keeps answering meanwhile.
    os.kill(child, signal.SIGKILL)
    [replacement] = await _eventually_children(up_two.proc.pid, 1, other_than=child)
    async with httpx.AsyncClient(base_url=up_two.url, timeout=10) as fresh:
        assert (await fresh.get("/health/live")).status_code == 200

    assert up_two.stop() == 0
    assert processes(lambda p: p.pid == replacement) == []
    # One banner for the whole port: the children (the replacement too) print none.
    printed = Path(up_two.log.name).read_text().splitlines()
    banners = [line for line in printed if line.startswith("llmforge is running at")]
    assert banners == [f"llmforge is running at {up_two.url}  (2 API processes; Ctrl-C to stop)"]
