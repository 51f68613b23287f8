"""Latency percentiles, by linear interpolation between closest ranks.

The definition is numpy's default (``method="linear"``, Hyndman & Fan type 7): over the
values sorted ascending, ``x[0] … x[n-1]``, the q-th percentile sits at rank
``h = (n - 1) * q / 100`` and is ``x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])``.
So p50 of ``[10, 20, 30, 40]`` is 25, p95 of ``1 … 100`` is 95.05, and one value is
every percentile of itself. No values: no percentile (``None``), never a made-up zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from handlers.stats.schemas import LatencyStats

# Milliseconds are reported to the microsecond; more digits would be float noise.
DIGITS = 3


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 ≤ q ≤ 100) of values already sorted ascending."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside [0, 100]")
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def latency_stats(values: Iterable[float], *, average: float | None = None) -> LatencyStats:
    """Average and p50/p95/p99 of the values; ``average`` when SQL already computed it."""
    ordered = sorted(values)
    if average is None and ordered:
        average = math.fsum(ordered) / len(ordered)
    return LatencyStats(
        avg=_rounded(average),
        p50=_rounded(percentile(ordered, 50)),
        p95=_rounded(percentile(ordered, 95)),
        p99=_rounded(percentile(ordered, 99)),
    )
