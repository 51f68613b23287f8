"""The pairwise judge: its prompt, the strict verdict it must end with, both orders combined.

Judges favour a position (often the first answer), so each example is judged twice, the
base model's answer first and then the fine-tuned model's. Only a preference held in both
orders counts as a win or a loss; verdicts that disagree count as a tie (MT-Bench's
conservative rule). An unreadable verdict in either order leaves the example unjudged.
Pure functions: no I/O.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["A", "B", "tie"]
Outcome = Literal["win", "loss", "tie"]

JUDGE_SYSTEM = (
    "You are an impartial judge. You compare two answers, A and B, to the same request and "
    "decide which one is more helpful, correct and faithful to the request. Ignore the "
    "order in which they are shown and their length. Explain your decision in at most "
    "three sentences, then end with one last line that is exactly one of:\n"
    "VERDICT: A\nVERDICT: B\nVERDICT: TIE"
)

# The whole last line, give or take Markdown emphasis and a final full stop.
_VERDICT_LINE = re.compile(r"^[*_`\s]*VERDICT\s*:\s*(A|B|TIE)[*_`.\s]*$", re.IGNORECASE)
_ANY_VERDICT = re.compile(r"VERDICT\s*:", re.IGNORECASE)


def judge_prompt(
    request: str, answer_a: str, answer_b: str, *, system: str | None, reference: str | None
) -> str:
    parts = []
    if system:
        parts += ["[System prompt given to both models]", system, ""]
    parts += ["[Request]", request, ""]
    if reference:
        parts += ["[Reference answer, for guidance]", reference, ""]
    parts += [
        "[Answer A]",
        answer_a,
        "[End of answer A]",
        "",
        "[Answer B]",
        answer_b,
        "[End of answer B]",
    ]
    return "\n".join(parts)


def parse_verdict(text: str) -> Verdict | None:
    """The verdict of the judge's last non-empty line; None for anything else.

    Strict on purpose: a verdict anywhere but the last line, two verdict lines, or a
    last line with more words is unreadable rather than guessed at.
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    match = _VERDICT_LINE.match(lines[-1])
    if match is None:
        return None
    if any(_ANY_VERDICT.search(line) for line in lines[:-1]):
        return None
    value = match.group(1).upper()
    return "tie" if value == "TIE" else "A" if value == "A" else "B"


def _tuned_side(verdict: Verdict, tuned_position: Literal["A", "B"]) -> Outcome:
    if verdict == "tie":
        return "tie"
    return "win" if verdict == tuned_position else "loss"


def combine(base_first: Verdict | None, tuned_first: Verdict | None) -> Outcome | None:
    """The fine-tuned model's outcome from the two orders: base as A, then tuned as A."""
    if base_first is None or tuned_first is None:
        return None
    one = _tuned_side(base_first, "B")
    two = _tuned_side(tuned_first, "A")
    return one if one == two else "tie"
