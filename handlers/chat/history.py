"""The messages a turn sends upstream: system prompt, earlier turns that fit, the question.

Token counts are estimated (about four characters a token, plus a few per message for
the chat template): no tokenizer is shipped for every provider, and the estimate only
has to keep a long session under the model's window, with the answer's room reserved.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.chat.tree import Node
from runtime.llm.types import Message

CHARS_PER_TOKEN = 4
PER_MESSAGE_TOKENS = 4
# Room kept for the answer when neither the request nor the model sets max_tokens.
DEFAULT_ANSWER_RESERVE = 1024


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS


def _turns(branch: Sequence[Node]) -> list[list[Message]]:
    """Earlier exchanges, one list per question; empty or failed answers are left out."""
    turns: list[list[Message]] = []
    for node in branch:
        if node.role == "user":
            turns.append([Message(role="user", content=node.content)])
        elif node.role == "assistant" and node.content and node.status != "failed":
            if not turns:  # an answer without its question cannot be sent alone
                continue
            turns[-1].append(Message(role="assistant", content=node.content))
    return turns


def budget(context_window: int | None, max_tokens: int | None) -> int | None:
    """Prompt tokens allowed, or None when the model's window is unknown."""
    if not context_window:
        return None
    reserve = max_tokens or min(DEFAULT_ANSWER_RESERVE, context_window // 4)
    return max(0, context_window - reserve)


def build_messages(
    system_prompt: str | None,
    earlier: Sequence[Node],
    question: str,
    *,
    prompt_budget: int | None,
) -> tuple[list[Message], int]:
    """The upstream messages and how many earlier turns were dropped to fit.

    The system prompt and the new question are always kept, even alone over budget: the
    provider's own error then says so, rather than the platform silently truncating them.
    """
    head = [Message(role="system", content=system_prompt)] if system_prompt else []
    tail = [Message(role="user", content=question)]
    turns = _turns(earlier)
    if prompt_budget is not None:
        fixed = sum(estimate_tokens(str(m.content)) for m in head + tail)
        sizes = [sum(estimate_tokens(str(m.content)) for m in turn) for turn in turns]
        total = fixed + sum(sizes)
        dropped = 0
        while turns and total > prompt_budget:
            total -= sizes[dropped]
            dropped += 1
            turns = turns[1:]
        kept = [m for turn in turns for m in turn]
        return head + kept + tail, dropped
    return head + [m for turn in turns for m in turn] + tail, 0
