"""LLMFORGE_REUSE_PORT: two API processes on one port, the kernel splitting connections."""

from __future__ import annotations

import dataclasses

import httpx

from runtime.platform import Roles
from runtime.settings import ServerSettings
from tests.fixtures.app import PlatformFactory


async def test_two_api_processes_share_one_port(platform_factory: PlatformFactory) -> None:
    shared = ServerSettings(host="127.0.0.1", port=0, reuse_port=True)
    first = await platform_factory(overrides={"server": shared})
    second = await platform_factory(
        Roles(consumers=False), overrides={"server": dataclasses.replace(shared, port=first.port)}
    )
    assert second.port == first.port
    for _ in range(40):
        # A new connection each time: the kernel picks a listener per connection.
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            assert (await client.get("/health/live")).status_code == 200
    served = (first.requests_served, second.requests_served)
    assert sum(served) == 40
    assert min(served) > 0, served
