"""Evaluation arithmetic: the Wilson interval against published values, ties as half a win."""

from __future__ import annotations

import pytest

from handlers.compare.ratings import wilson_interval
from handlers.evaluation.statistics import side_summary, win_rate

# Reference values: statsmodels' proportion_confint(count, nobs, alpha=0.05, method="wilson").
KNOWN = [
    (8, 10, 0.4901625, 0.9433178),
    (5, 10, 0.2365931, 0.7634069),
    (15, 20, 0.5312991, 0.8881383),
    (0, 10, 0.0, 0.2775328),
    (10, 10, 0.7224672, 1.0),
]


@pytest.mark.parametrize(("successes", "n", "low", "high"), KNOWN)
def test_wilson_interval_matches_published_values(
    successes: int, n: int, low: float, high: float
) -> None:
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=1e-6)
    assert got_high == pytest.approx(high, abs=1e-6)


def test_wilson_interval_is_symmetric_and_stays_inside_zero_one() -> None:
    low, high = wilson_interval(2.5, 5)
    assert low + high == pytest.approx(1.0)
    assert 0.0 < low < 0.5 < high < 1.0
    assert wilson_interval(0, 1)[1] == pytest.approx(0.7934, abs=1e-4)


def test_wilson_interval_without_data_is_the_whole_range_and_rejects_impossible_counts() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)


def test_win_rate_counts_a_tie_as_half_a_win() -> None:
    record = win_rate(["win", "win", "tie", "loss", None])
    assert (record.wins, record.losses, record.ties, record.unjudged) == (2, 1, 1, 1)
    assert record.judged == 4
    assert record.rate == 0.625  # (2 + 0.5) / 4
    low, high = wilson_interval(2.5, 4)
    assert record.ci_low == round(low, 4)
    assert record.ci_high == round(high, 4)


def test_all_ties_is_an_even_split() -> None:
    record = win_rate(["tie"] * 6)
    assert record.rate == 0.5
    assert record.ci_low is not None
    assert record.ci_high is not None
    assert record.ci_low + record.ci_high == pytest.approx(1.0, abs=1e-4)


def test_without_a_judged_example_there_is_no_rate() -> None:
    record = win_rate([None, None])
    assert record.rate is record.ci_low is record.ci_high is None
    assert record.unjudged == 2


def test_side_summary_means_successful_answers_and_sums_every_token() -> None:
    summary = side_summary(
        [
            {"status": "ok", "latency_ms": 100.0, "ttft_ms": 10.0, "output_tokens": 4},
            {"status": "ok", "latency_ms": 300.0, "ttft_ms": None, "output_tokens": 8},
            {"status": "error", "latency_ms": 5.0, "input_tokens": 3, "output_tokens": 0},
        ]
    )
    assert summary["answers"] == 3
    assert summary["errors"] == 1
    assert summary["mean_latency_ms"] == 200.0
    assert summary["mean_ttft_ms"] == 10.0
    assert summary["mean_output_tokens"] == 6.0
    assert summary["total_output_tokens"] == 12
    assert summary["total_input_tokens"] == 3
