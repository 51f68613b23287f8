"""Latency percentiles follow one written-down definition: linear interpolation (numpy's)."""

from __future__ import annotations

import pytest

from handlers.stats.percentiles import latency_stats, percentile


def test_percentiles_interpolate_between_closest_ranks() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0) == 10.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 100) == 40.0
    # rank (4 - 1) * 0.95 = 2.85: 30 + 0.85 * (40 - 30)
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    ramp = [float(v) for v in range(1, 101)]
    assert percentile(ramp, 95) == pytest.approx(95.05)
    assert percentile(ramp, 99) == pytest.approx(99.01)


def test_one_value_is_every_percentile_and_none_has_none() -> None:
    assert percentile([7.5], 1) == 7.5
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_stats_sort_round_and_keep_a_given_average() -> None:
    stats = latency_stats([400.0, 100.0, 300.0, 200.0])
    assert (stats.avg, stats.p50, stats.p95, stats.p99) == (250.0, 250.0, 385.0, 397.0)
    assert latency_stats([1.0, 2.0], average=9.87654).avg == 9.877
    empty = latency_stats([])
    assert (empty.avg, empty.p50, empty.p95, empty.p99) == (None, None, None, None)
