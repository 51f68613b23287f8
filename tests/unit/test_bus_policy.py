"""The ack policy and the subject-to-stream binding plan, without a server."""

from __future__ import annotations

import pytest

from events import STREAMS
from events.streams import StreamSpec
from runtime.bus import Action, Consumer, PermanentError, RetryPolicy, plan_bindings
from runtime.bus.bindings import intersect_subjects


def test_backoff_follows_schedule_and_repeats_its_last_step() -> None:
    policy = RetryPolicy(max_deliver=10, backoff=(1, 5, 30, 120))
    assert [policy.delay_for(n) for n in range(1, 7)] == [1, 5, 30, 120, 120, 120]


def test_empty_backoff_retries_at_once() -> None:
    assert RetryPolicy(backoff=()).delay_for(3) == 0.0


def test_success_acks() -> None:
    assert RetryPolicy().on_success().action is Action.ACK


def test_temporary_failure_naks_with_the_backoff_of_that_attempt() -> None:
    policy = RetryPolicy(max_deliver=5, backoff=(1, 5, 30))
    decision = policy.on_error(RuntimeError("db down"), num_delivered=2)
    assert decision.action is Action.NAK
    assert decision.delay == 5


def test_failure_on_the_last_attempt_dead_letters() -> None:
    decision = RetryPolicy(max_deliver=3).on_error(RuntimeError("still down"), num_delivered=3)
    assert decision.action is Action.DEAD_LETTER
    assert decision.reason == "retries_exhausted"


def test_permanent_error_dead_letters_on_the_first_attempt() -> None:
    decision = RetryPolicy().on_error(PermanentError("bad data"), num_delivered=1)
    assert decision.action is Action.DEAD_LETTER
    assert decision.reason == "permanent_error"


def test_undecodable_message_dead_letters() -> None:
    decision = RetryPolicy().on_undecodable()
    assert (decision.action, decision.reason) == (Action.DEAD_LETTER, "undecodable")


def test_delivery_past_the_limit_is_dead_lettered_before_the_handler_runs() -> None:
    policy = RetryPolicy(max_deliver=3)
    assert policy.before_handling(3) is None
    decision = policy.before_handling(4)
    assert decision is not None
    assert decision.reason == "abandoned"


def test_policy_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="max_deliver"):
        RetryPolicy(max_deliver=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(backoff=(-1,))


async def _noop(event: object) -> None:
    return None


def test_consumer_spec_validates_name_and_normalises_subjects() -> None:
    consumer = Consumer(name="audit", subjects=["llmforge.>"], handler=_noop, max_deliver=2)
    assert consumer.subjects == ("llmforge.>",)
    assert consumer.policy.max_deliver == 2
    with pytest.raises(ValueError, match="one subject token"):
        Consumer(name="bad.name", subjects=["llmforge.>"], handler=_noop)
    with pytest.raises(ValueError, match="non-empty"):
        Consumer(name="x", subjects="llmforge.>", handler=_noop)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("llmforge.>", "llmforge.auth.>", "llmforge.auth.>"),
        ("llmforge.auth.>", "llmforge.>", "llmforge.auth.>"),
        ("llmforge.*.user.>", "llmforge.auth.>", "llmforge.auth.user.>"),
        ("llmforge.auth.login.*", "llmforge.auth.>", "llmforge.auth.login.*"),
        ("llmforge.chat.>", "llmforge.auth.>", None),
        ("llmforge.>", "llmforge_dlq.>", None),
        ("a.b", "a.*", "a.b"),
        ("a.b", "a.b.c", None),
        ("a.>", "a", None),
        (">", "a.b", "a.b"),
    ],
)
def test_subject_intersection(a: str, b: str, expected: str | None) -> None:
    assert intersect_subjects(a, b) == expected


def test_wildcard_consumer_binds_every_domain_stream_without_filters() -> None:
    bindings = plan_bindings(["llmforge.>"], STREAMS)
    domain_streams = [s.name for s in STREAMS if s.name != "LLMFORGE_DLQ"]
    assert [b.stream for b in bindings] == domain_streams
    assert all(b.filters == () for b in bindings)


def test_narrow_consumer_binds_one_stream_with_a_filter() -> None:
    bindings = plan_bindings(["llmforge.auth.user.>", "llmforge.auth.login.*"], STREAMS)
    assert len(bindings) == 1
    assert bindings[0].stream == "LLMFORGE_AUTH"
    assert bindings[0].filters == ("llmforge.auth.user.>", "llmforge.auth.login.*")


def test_redundant_patterns_collapse_to_the_broader_one() -> None:
    collapsed = plan_bindings(["llmforge.auth.user.>", "llmforge.auth.user.deleted"], STREAMS)
    assert collapsed[0].filters == ("llmforge.auth.user.>",)


def test_patterns_outside_every_stream_are_refused() -> None:
    with pytest.raises(ValueError, match="no stream"):
        plan_bindings(["elsewhere.>"], STREAMS)


def test_overlapping_filters_on_one_stream_are_refused() -> None:
    spec = StreamSpec(name="S", subjects=["a.>"], description="", max_age_seconds=1, max_bytes=1)
    with pytest.raises(ValueError, match="overlap"):
        plan_bindings(["a.*.x", "a.y.*"], [spec])
