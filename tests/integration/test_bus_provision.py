"""Stream provisioning: idempotent, creates what is missing, updates changed limits."""

from __future__ import annotations

import msgspec

from events import STREAMS
from runtime.bus import EventBus, ProvisionAction
from tests.fixtures.nats import user_registered


async def test_provisioning_again_changes_nothing(bus: EventBus) -> None:
    results = await bus.provision(STREAMS)
    assert {r.action for r in results} == {ProvisionAction.UNCHANGED}
    assert [r.stream for r in results] == [s.name for s in STREAMS]


async def test_provisioning_recreates_a_missing_stream(bus: EventBus) -> None:
    await bus.js.delete_stream("LLMFORGE_AUTH")
    results = {r.stream: r.action for r in await bus.provision(STREAMS)}
    assert results["LLMFORGE_AUTH"] is ProvisionAction.CREATED
    assert results["LLMFORGE_CHAT"] is ProvisionAction.UNCHANGED


async def test_changed_limits_reach_the_live_stream_and_keep_its_messages(bus: EventBus) -> None:
    await bus.publish(user_registered())
    auth = next(s for s in STREAMS if s.name == "LLMFORGE_AUTH")
    changed = msgspec.structs.replace(
        auth, max_age_seconds=3600.0, max_bytes=64 * 1024 * 1024, duplicate_window_seconds=30.0
    )
    [result] = await bus.provision([changed])
    assert result.action is ProvisionAction.UPDATED
    info = await bus.js.stream_info("LLMFORGE_AUTH")
    assert info.config.max_age == 3600.0
    assert info.config.max_bytes == 64 * 1024 * 1024
    assert info.config.duplicate_window == 30.0
    assert info.state.messages == 1
    [again] = await bus.provision([changed])
    assert again.action is ProvisionAction.UNCHANGED
