"""Event type filters: NATS wildcards on the type without prefix and version."""

from __future__ import annotations

import pytest

from runtime.webhooks import InvalidFilter, matches, normalize_filter, normalize_filters
from runtime.webhooks.filters import TypeFilter

REGISTERED = "llmforge.auth.user.registered.v1"


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["*"], REGISTERED, True),
        (["auth.>"], REGISTERED, True),
        (["auth.user.*"], REGISTERED, True),
        (["auth.*"], REGISTERED, False),
        (["auth.user.registered"], REGISTERED, True),
        (["auth.user.deleted"], REGISTERED, False),
        (["training.job.*"], "llmforge.training.job.completed.v2", True),
        (["*.user.registered"], REGISTERED, True),
        (["webhooks.>"], REGISTERED, False),
        (["auth.user.deleted", "auth.>"], REGISTERED, True),
    ],
)
def test_filters_match_like_nats_subjects(
    patterns: list[str], event_type: str, expected: bool
) -> None:
    assert matches(patterns, event_type) is expected


def test_full_type_names_and_case_are_normalized() -> None:
    assert normalize_filter(" llmforge.Auth.User.Registered.v1 ") == "auth.user.registered"
    assert normalize_filters(["auth.>", "AUTH.>", "*"]) == ["auth.>", "*"]


@pytest.mark.parametrize("bad", ["", "auth..user", "auth.>.x", "auth user", "auth.us-er", "a.b*"])
def test_malformed_filters_are_refused(bad: str) -> None:
    with pytest.raises(InvalidFilter):
        normalize_filter(bad)


def test_at_least_one_and_at_most_fifty_filters() -> None:
    with pytest.raises(InvalidFilter):
        normalize_filters([])
    with pytest.raises(InvalidFilter):
        normalize_filters([f"d{i}.>" for i in range(51)])


def test_a_type_filter_answers_as_matches_does_and_stays_bounded() -> None:
    filters = ["auth.>", "training.job.*"]
    wanted = TypeFilter(filters)
    types = [
        "llmforge.auth.user.registered.v1",
        "llmforge.training.job.started.v1",
        "llmforge.training.job.x.log.v1",
        "llmforge.chat.turn.completed.v1",
    ]
    for _ in range(2):  # the second round comes from the memo
        assert [wanted(t) for t in types] == [matches(filters, t) for t in types]
    for i in range(TypeFilter._MAX_KNOWN + 10):
        wanted(f"llmforge.other.t{i}.v1")
    assert len(wanted._known) <= TypeFilter._MAX_KNOWN
    assert wanted("llmforge.auth.user.registered.v1")
