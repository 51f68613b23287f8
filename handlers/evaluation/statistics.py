"""Evaluation arithmetic: win rate with ties counted half, its Wilson interval, side means.

Win rate: ``(wins + ties / 2) / n`` over the n examples the judge decided (in both
orders). Its 95 % interval is the Wilson score interval of that proportion,

    (p + z²/2n ± z·sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n),   z = 1.959964,

with the tie-adjusted count as the successes. Unlike p ± z·sqrt(p(1 - p)/n) it stays
inside [0, 1] and is not zero-width at p = 0 or 1, which matters with the handful of
examples a validation split usually holds. Pure: no I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from handlers.compare.ratings import wilson_interval


@dataclass(frozen=True, slots=True)
class WinRate:
    wins: int
    losses: int
    ties: int
    # Examples without a usable verdict (a failed answer, an unreadable judge).
    unjudged: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def judged(self) -> int:
        return self.wins + self.losses + self.ties


def win_rate(outcomes: Iterable[str | None]) -> WinRate:
    """The fine-tuned model's record from per-example outcomes (win, loss, tie or None)."""
    counts = {"win": 0, "loss": 0, "tie": 0, None: 0}
    for outcome in outcomes:
        counts[outcome if outcome in ("win", "loss", "tie") else None] += 1
    wins, losses, ties = counts["win"], counts["loss"], counts["tie"]
    n = wins + losses + ties
    if n == 0:
        return WinRate(wins, losses, ties, counts[None], None, None, None)
    successes = wins + ties / 2
    low, high = wilson_interval(successes, n)
    return WinRate(
        wins, losses, ties, counts[None], round(successes / n, 4), round(low, 4), round(high, 4)
    )


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def side_summary(metrics: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over one model's successful answers; errors counted; tokens summed."""
    rows = list(metrics)
    ok = [m for m in rows if m.get("status") == "ok"]
    return {
        "answers": len(rows),
        "errors": len(rows) - len(ok),
        "mean_latency_ms": _mean([float(m["latency_ms"]) for m in ok if m.get("latency_ms")]),
        "mean_ttft_ms": _mean([float(m["ttft_ms"]) for m in ok if m.get("ttft_ms") is not None]),
        "mean_output_tokens": _mean([float(m.get("output_tokens") or 0) for m in ok]),
        "total_input_tokens": sum(int(m.get("input_tokens") or 0) for m in rows),
        "total_output_tokens": sum(int(m.get("output_tokens") or 0) for m in rows),
    }
