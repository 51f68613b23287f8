"""The pairwise judge: a strict verdict line, and both orders combined against position bias."""

from __future__ import annotations

import pytest

from handlers.evaluation.judge import combine, judge_prompt, parse_verdict


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("A is more precise.\nVERDICT: A", "A"),
        ("Both fine.\n\nVERDICT: TIE\n", "tie"),
        ("verdict: b", "B"),
        ("B follows the format.\n**VERDICT: B**", "B"),
        ("`VERDICT: A`.", "A"),
        ("VERDICT:TIE", "tie"),
    ],
)
def test_a_last_verdict_line_is_read(text: str, verdict: str) -> None:
    assert parse_verdict(text) == verdict


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n ",
        "A is better.",
        "VERDICT: A\nbecause it is shorter",  # not the last line
        "VERDICT: C",
        "VERDICT: A or B",
        "The VERDICT: A",
        "VERDICT: A\nVERDICT: B",  # two verdicts: which one?
        "VERDICT: A\nVERDICT: A",
        "\x00\x1b[31mVERDICT\x1b[0m: A",
        "I cannot decide. VERDICT:",
    ],
)
def test_garbage_or_ambiguous_text_is_no_verdict(text: str) -> None:
    assert parse_verdict(text) is None


@pytest.mark.parametrize(
    ("base_first", "tuned_first", "outcome"),
    [
        ("B", "A", "win"),  # tuned preferred in both positions
        ("A", "B", "loss"),  # base preferred in both positions
        ("A", "A", "tie"),  # always the first answer: position bias cancels out
        ("B", "B", "tie"),  # always the second answer
        ("tie", "tie", "tie"),
        ("B", "tie", "tie"),  # only a preference held in both orders counts
        ("tie", "B", "tie"),
    ],
)
def test_both_orders_combine_into_the_tuned_models_outcome(
    base_first: str, tuned_first: str, outcome: str
) -> None:
    assert combine(base_first, tuned_first) == outcome  # type: ignore[arg-type]


def test_an_unreadable_verdict_in_either_order_leaves_the_example_unjudged() -> None:
    assert combine(None, "A") is None
    assert combine("B", None) is None


def test_the_prompt_names_both_answers_and_the_reference_when_there_is_one() -> None:
    text = judge_prompt("What is 2+2?", "four", "5", system="Be brief.", reference="4")
    assert text.index("[Answer A]\nfour") < text.index("[Answer B]\n5")
    assert "[Reference answer, for guidance]\n4" in text
    assert "Be brief." in text
    assert "Reference" not in judge_prompt("q", "a", "b", system=None, reference=None)
