"""Vote arithmetic: outcomes per model, Wilson intervals, standings and their ranking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.compare.ratings import Standing, ranked, tally, vote_outcomes, wilson_interval


def test_a_winner_beats_every_other_model_and_no_winner_is_a_tie_for_all() -> None:
    assert vote_outcomes(["a", "b", "c"], "b") == {"a": "loss", "b": "win", "c": "loss"}
    assert vote_outcomes(["a", "b"], None) == {"a": "tie", "b": "tie"}
    with pytest.raises(ValueError, match="did not take part"):
        vote_outcomes(["a", "b"], "z")


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Reference values of the Wilson score interval at 95 %.
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_interval_matches_reference_values(
    successes: int, n: int, low: float, high: float
) -> None:
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_without_data_is_the_whole_range_and_refuses_nonsense() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(3, 2)


@given(
    st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_wilson_interval_holds_the_observed_rate_inside_zero_and_one(case: tuple[int, int]) -> None:
    successes, n = case
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_standings_count_ties_as_games_not_won() -> None:
    s = Standing("m", wins=3, losses=1, ties=4)
    assert (s.games, s.win_rate) == (8, 3 / 8)
    assert s.interval == wilson_interval(3, 8)
    assert Standing("x", 0, 0, 0).win_rate is None


def test_tally_sums_grouped_counts_per_model() -> None:
    table = tally([("a", "win", 2), ("a", "tie", 1), ("b", "loss", 2), ("a", "win", 1)])
    assert table["a"] == Standing("a", wins=3, losses=0, ties=1)
    assert table["b"] == Standing("b", wins=0, losses=2, ties=0)
    with pytest.raises(ValueError, match="unknown outcome"):
        tally([("a", "draw", 1)])


def test_ranking_prefers_a_steady_record_over_a_few_lucky_votes() -> None:
    lucky = Standing("lucky", wins=2, losses=0, ties=0)  # 100 %, but two votes
    steady = Standing("steady", wins=80, losses=20, ties=0)  # 80 % of a hundred
    poor = Standing("poor", wins=1, losses=9, ties=0)
    assert [s.model_config_id for s in ranked([lucky, poor, steady])] == [
        "steady",
        "lucky",
        "poor",
    ]
