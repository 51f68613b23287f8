"""The quota caches: TTL, invalidation, and no stale read stored after an invalidation."""

from __future__ import annotations

from handlers.quotas.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(5.0, clock=clock)
    cache.put("a", 1, generation=cache.generation)
    clock.now += 4.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None
    assert len(cache) == 0


def test_forget_drops_matching_entries_and_refuses_older_reads() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0, clock=Clock())
    cache.put("a", 1, generation=0)
    cache.put("b", 2, generation=0)
    began = cache.generation  # a lookup starts reading the database...
    cache.forget(lambda key: key == "a")  # ...the row changes meanwhile
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.put("a", 1, generation=began)  # what it read may predate the change
    assert cache.get("a") is None
    cache.forget()
    assert len(cache) == 0


def test_zero_ttl_caches_nothing_and_size_is_bounded() -> None:
    clock = Clock()
    assert len(_filled(TtlCache(0.0, clock=clock), 3)) == 0
    bounded: TtlCache[str, int] = TtlCache(5.0, max_size=2, clock=clock)
    _filled(bounded, 3)
    assert len(bounded) == 2
    assert bounded.get("k0") is None  # the oldest insertion went first
    assert bounded.get("k2") == 2


def _filled(cache: TtlCache[str, int], n: int) -> TtlCache[str, int]:
    for i in range(n):
        cache.put(f"k{i}", i, generation=cache.generation)
    return cache
