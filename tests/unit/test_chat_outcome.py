"""A turn's outcome as its event and its closing SSE messages."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from events import encode_event
from events.chat import TurnCancelled, TurnCompleted, TurnFailed
from handlers.chat.framing import TurnFramer
from handlers.chat.outcome import MAX_TEXT_BYTES, Answer, fit_texts, turn_event
from handlers.chat.turns import Question, TurnPlan
from runtime.llm.types import Params

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _plan() -> TurnPlan:
    return TurnPlan(
        turn_id="t1",
        kind="send",
        session_id="s1",
        user_id="u1",
        api_key_id=None,
        model_config_id="m1",
        messages=[],
        params=Params(),
        question=Question(message_id="q1", parent_id=None, content="why?", created_at=NOW),
        assistant_id="a1",
        assistant_created_at=NOW,
        started=time.perf_counter(),
    )


def test_long_answers_are_cut_reasoning_first_to_fit_one_nats_message() -> None:
    assert fit_texts("q", "answer", "thoughts") == ("answer", "thoughts", False)
    answer, reasoning, cut = fit_texts("q", "é" * 300_000, "r" * 800_000)
    assert cut
    assert answer == "é" * 300_000  # whole: only the reasoning had to give way
    assert len((answer + reasoning + "q").encode()) <= MAX_TEXT_BYTES
    answer, reasoning, cut = fit_texts("q", "a" * 2_000_000, "r")
    assert (len(answer), reasoning, cut) == (MAX_TEXT_BYTES - 1, "", True)


def test_each_outcome_makes_its_event_and_closing_messages() -> None:
    plan = _plan()
    answer = Answer(content=["Be", "cause"], reasoning=["hm"], finish_reason="length")
    done = turn_event(plan, answer, "completed")
    assert isinstance(done, TurnCompleted)
    assert (done.subject, done.actor, done.nats_subject) == (
        "s1",
        "u1",
        "llmforge.chat.turn.s1.completed",
    )
    assert (done.data.answer, done.data.reasoning, done.data.finish_reason) == (
        "Because",
        "hm",
        "length",
    )
    assert (done.data.asked_at, done.data.parent_id) == (NOW, None)
    assert len(encode_event(done)) < 2000

    framer = TurnFramer(plan)
    assert framer.start().id == "t1:0"
    usage, last = framer.closing(done)
    assert (usage.event, usage.id, last.event, last.id) == ("usage", "t1:1", "done", "t1:2")
    assert json.loads(str(last.data))["status"] == "completed"

    stopped = turn_event(plan, answer, "cancelled")
    assert isinstance(stopped, TurnCancelled)
    assert (stopped.data.reason, stopped.data.finish_reason) == ("stopped", "cancelled")
    assert json.loads(str(framer.closing(stopped)[1].data))["status"] == "cancelled"

    answer.error = ("rate_limited", "slow down")
    failed = turn_event(plan, answer, "failed")
    assert isinstance(failed, TurnFailed)
    assert (failed.data.error, failed.data.error_message) == ("rate_limited", "slow down")
    error = framer.closing(failed)[1]
    assert error.event == "error"
    assert json.loads(str(error.data))["code"] == "upstream_rate_limited"
