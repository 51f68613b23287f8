"""SingleFlight: one call per key for concurrent callers, whatever happens to the leader."""

from __future__ import annotations

import asyncio

import pytest

from runtime.singleflight import SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(flights.run("k", load)) for _ in range(50)]
    await asyncio.sleep(0)
    assert len(flights) == 1
    gate.set()
    assert await asyncio.gather(*tasks) == [42] * 50
    assert calls == 1
    assert len(flights) == 0
    # Done calls are not remembered: the next caller runs again.
    assert await flights.run("k", load) == 42
    assert calls == 2


async def test_waiters_get_the_leaders_error() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def fail() -> int:
        await gate.wait()
        raise LookupError("no such key")

    tasks = [asyncio.create_task(flights.run("k", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)


async def test_a_cancelled_leader_leaves_its_waiters_to_run_again() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    started: list[int] = []

    async def slow() -> int:
        started.append(1)
        await asyncio.sleep(0.05 if len(started) > 1 else 10)
        return len(started)

    leader = asyncio.create_task(flights.run("k", slow))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flights.run("k", slow))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await waiter == 2  # the waiter became the next leader


async def test_a_cancelled_waiter_does_not_cancel_the_call() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def load() -> int:
        await gate.wait()
        return 7

    leader = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    assert await leader == 7
