"""Vote arithmetic: what a vote means per model, win rates and Wilson intervals. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["win", "loss", "tie"]

# Two-sided 95 %: the 0.975 quantile of the standard normal distribution.
Z_95 = 1.959963984540054


def vote_outcomes(participants: Sequence[str], winner: str | None) -> dict[str, Outcome]:
    """A winner beats every other model of the run; no winner is a tie for all of them."""
    if winner is not None and winner not in participants:
        raise ValueError(f"{winner!r} did not take part in the run")
    if winner is None:
        return dict.fromkeys(participants, "tie")
    return {m: "win" if m == winner else "loss" for m in participants}


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when there is no data.
    ``successes`` may be fractional (the evaluation counts a tie as half a win).

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0 or n
    successes, which is where a model with few votes sits.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 or n successes a bound is exactly 0 or 1; rounding must not move it off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True, slots=True)
class Standing:
    """One model's record. A tie counts as a game not won: win rate = wins / games."""

    model_config_id: str
    wins: int
    losses: int
    ties: int

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.games if self.games else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.wins, self.games)


def tally(counts: Iterable[tuple[str, str, int]]) -> dict[str, Standing]:
    """Standings from (model, outcome, how many) rows, e.g. a GROUP BY over outcomes."""
    seen: dict[str, dict[str, int]] = {}
    for model, outcome, n in counts:
        per = seen.setdefault(model, {"win": 0, "loss": 0, "tie": 0})
        if outcome not in per:
            raise ValueError(f"unknown outcome {outcome!r}")
        per[outcome] += n
    return {m: Standing(m, wins=c["win"], losses=c["loss"], ties=c["tie"]) for m, c in seen.items()}


def ranked(standings: Iterable[Standing]) -> list[Standing]:
    """Best first by the interval's lower bound: a few lucky votes do not top the table."""
    return sorted(
        standings,
        key=lambda s: (-s.interval[0], -(s.win_rate or 0.0), -s.games, s.model_config_id),
    )
