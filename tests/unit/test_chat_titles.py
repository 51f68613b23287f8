"""Generated session titles (cleaning, fallback) and the Markdown export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from events.chat import TurnData
from handlers.chat import export
from handlers.chat.schemas import Message, Session
from handlers.chat.titles import clean_title, fallback_title, generate_title
from runtime.llm.types import ProviderError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Paris is the capital.", "Paris is the capital"),
        ('"Quantum Computing Basics"\n', "Quantum Computing Basics"),
        ("Title: **Rust ownership rules**", "Rust ownership rules"),
        ("\n\nOne two three four five six seven eight", "One two three four five six"),
        ("   \n", None),
    ],
)
def test_clean_title_keeps_six_plain_words(answer: str, title: str | None) -> None:
    assert clean_title(answer) == title


def test_fallback_title_is_the_start_of_the_question() -> None:
    assert fallback_title("How do I  bake\nsourdough bread at home quickly?") == (
        "How do I bake sourdough bread…"
    )
    assert fallback_title("Hi") == "Hi"
    assert fallback_title("   ") == "New chat"
    assert len(fallback_title("x" * 500)) == 80


def _data(question: str) -> TurnData:
    return TurnData(
        session_id="s",
        user_id="u",
        turn_id="t",
        user_message_id="q",
        question=question,
        assistant_message_id="a",
        answer="answer",
        model_config_id="m",
    )


class _FailingGateway:
    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        raise ProviderError("upstream", "down")


async def test_a_failed_title_call_falls_back_to_the_question() -> None:
    title = await generate_title(_FailingGateway(), _data("Explain the borrow checker please"))  # type: ignore[arg-type]
    assert title == "Explain the borrow checker please"
    assert await generate_title(None, _data("No gateway here")) == "No gateway here"


def test_markdown_export_has_headings_reasoning_and_statuses() -> None:
    session = Session(
        id="s",
        title="Sourdough / notes",
        title_source="user",
        model_config_id="m",
        system_prompt="Be kind.",
        template_id=None,
        variables={},
        parameters={},
        created_at=NOW,
        updated_at=NOW,
    )

    def message(role: str, content: str, **kw: Any) -> Message:
        fields: dict[str, Any] = {
            "id": role,
            "session_id": "s",
            "parent_id": None,
            "role": role,
            "content": content,
            "reasoning": None,
            "status": "completed",
            "meta": {},
            "rating": None,
            "rating_note": None,
            "created_at": NOW,
            "current": True,
            "sibling_index": 0,
            "sibling_count": 1,
            "persisted": True,
        }
        return Message(**{**fields, **kw})

    text = export.markdown(
        session,
        [
            message("user", "How?"),
            message("assistant", "Slowly.", reasoning="step 1\nstep 2", status="cancelled"),
        ],
        "chat",
    )
    assert text.splitlines()[:3] == [
        "# Sourdough / notes",
        "",
        "Model: chat · Created: 2026-01-01T00:00:00+00:00",
    ]
    assert "## System\n\nBe kind.\n" in text
    assert (
        "## Assistant (cancelled)\n\n<details><summary>Reasoning</summary>\n\n> step 1\n> step 2"
        in text
    )
    assert text.endswith("Slowly.\n")
    assert export.filename(session, "md") == "Sourdough-notes.md"
