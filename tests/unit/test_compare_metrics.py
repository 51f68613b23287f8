"""Per-model metrics, batch summaries, clipping for the event, and CSV cell safety."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from handlers.compare.calls import Answer
from handlers.compare.export import safe_text
from handlers.compare.metrics import clip, measure, summarize
from handlers.compare.schemas import ModelRef
from runtime.llm.types import ContentDelta, Finish, ReasoningDelta, StreamError, Usage


def test_measure_takes_ttft_from_the_start_and_tokens_per_second_from_the_first_token() -> None:
    usage = Usage(input_tokens=10, output_tokens=50, reasoning_tokens=5)
    m = measure(started=100.0, first_token_at=100.25, ended=102.75, usage=usage, cost=0.002)
    assert (m.ttft_ms, m.latency_ms, m.generation_ms) == (250.0, 2750.0, 2500.0)
    assert m.tokens_per_s == 20.0  # 50 tokens over 2.5 s of generation
    assert (m.input_tokens, m.output_tokens, m.reasoning_tokens, m.cost) == (10, 50, 5, 0.002)


def test_measure_without_tokens_or_without_generation_time_has_no_rate() -> None:
    failed = measure(started=1.0, first_token_at=None, ended=1.5, usage=Usage(), cost=None)
    assert (failed.ttft_ms, failed.generation_ms, failed.tokens_per_s) == (None, None, None)
    assert failed.latency_ms == 500.0
    instant = measure(
        started=1.0, first_token_at=1.2, ended=1.2, usage=Usage(output_tokens=3), cost=None
    )
    assert instant.tokens_per_s is None


@dataclass
class Row:
    status: str
    ttft_ms: float | None
    tokens_per_s: float | None
    latency_ms: float
    cost: float | None


def test_summary_averages_successes_counts_errors_and_adds_every_cost() -> None:
    rows = [
        Row("ok", 100.0, 10.0, 1000.0, 0.5),
        Row("ok", 300.0, 30.0, 2000.0, 0.25),
        Row("ok", 200.0, None, 1500.0, None),
        Row("error", None, None, 50.0, 0.125),
        Row("cancelled", 900.0, 1.0, 9000.0, None),
    ]
    s = summarize("m1", "fast", rows)
    assert (s.answers, s.errors) == (5, 1)
    assert (s.mean_ttft_ms, s.p50_ttft_ms) == (200.0, 200.0)
    assert (s.mean_tokens_per_s, s.p50_tokens_per_s) == (20.0, 20.0)
    assert s.mean_latency_ms == 1500.0
    assert s.total_cost == 0.875


def test_summary_of_nothing_has_no_numbers() -> None:
    s = summarize("m1", "fast", [])
    assert (s.answers, s.mean_ttft_ms, s.p50_ttft_ms, s.total_cost) == (0, None, None, None)


def test_clip_cuts_on_a_character_boundary() -> None:
    assert clip("héllo", 100) == ("héllo", False)
    assert clip("héllo", 2) == ("h", True)  # é is two bytes: never half a character
    assert clip("abc", 0) == ("", True)


def test_an_answer_collects_deltas_and_its_snapshot_fits_the_budget() -> None:
    answer = Answer(model=ModelRef(model_config_id="m1", alias="fast", name="Fast"))
    for delta in (ReasoningDelta("r" * 40), ContentDelta("a" * 100), Finish("stop")):
        answer.take(delta)
    answer.settle()
    snap = answer.snapshot(budget=60)
    assert (snap.status, snap.finish_reason, snap.truncated) == ("ok", "stop", True)
    assert (len(snap.reasoning), len(snap.answer)) == (15, 45)  # reasoning gets a quarter
    whole = answer.snapshot(budget=1000)
    assert (len(whole.reasoning), len(whole.answer), whole.truncated) == (40, 100, False)


def test_a_stream_error_or_an_error_finish_makes_the_answer_an_error() -> None:
    ref = ModelRef(model_config_id="m1", alias="fast", name="Fast")
    broken = Answer(model=ref)
    broken.take(ContentDelta("par"))
    broken.take(StreamError(error="upstream", message="boom"))
    broken.settle()
    assert (broken.status, broken.error, broken.error_message) == ("error", "upstream", "boom")
    ended = Answer(model=ref)
    ended.take(Finish("error"))
    ended.settle()
    assert (ended.status, ended.error) == ("error", "upstream")
    never = Answer(model=ref)
    assert never.snapshot(100).status == "cancelled"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("plain text", "plain text"),
        (None, ""),
    ],
)
def test_csv_text_cells_never_start_a_formula(cell: str | None, written: str) -> None:
    assert safe_text(cell) == written
