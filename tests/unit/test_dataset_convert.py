"""Converting records between alpaca and sharegpt, de-duplicating, and the held-out split."""

from __future__ import annotations

import pytest

from trainer.convert import (
    NotConvertible,
    dedupe,
    held_out,
    split,
    to_alpaca,
    to_sharegpt,
    uniform,
)


def _records(n: int) -> list[dict[str, str]]:
    return [{"instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(n)]


def test_the_split_depends_on_the_content_only() -> None:
    records = _records(20)
    train, validation = split(records, 0.2)
    assert (len(train), len(validation)) == (16, 4)
    assert split(list(reversed(records)), 0.2)[1] == list(reversed(validation))
    # Each part keeps the order it was given in.
    assert train == [r for r in records if r not in validation]
    other = split(_records(21), 0.2)[1]
    assert other != validation  # another set is salted differently


@pytest.mark.parametrize(
    ("count", "ratio", "expected"),
    [(10, 0.1, 1), (2, 0.1, 1), (1, 0.5, 0), (10, 0.0, 0), (5, 0.5, 2), (7, 0.5, 3), (3, 0.5, 1)],
)
def test_held_out_takes_at_least_one_and_never_everything(
    count: int, ratio: float, expected: int
) -> None:
    assert held_out(count, ratio) == expected


def test_repeats_are_dropped_keeping_the_first() -> None:
    records = [*_records(3), _records(3)[1]]
    assert dedupe(records) == (_records(3), 1)


def test_sharegpt_and_alpaca_convert_both_ways_with_history() -> None:
    conversation = {
        "conversations": [
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "human", "value": "2+2?"},
            {"from": "gpt", "value": "4"},
        ],
        "system": "Be brief.",
    }
    alpaca = to_alpaca("sharegpt", conversation)
    assert alpaca == {
        "instruction": "2+2?",
        "input": "",
        "output": "4",
        "system": "Be brief.",
        "history": [["Hi", "Hello"]],
    }
    assert to_sharegpt("alpaca", alpaca) == conversation
    with_input = to_sharegpt("alpaca", {"instruction": "Sum", "input": "2 2", "output": "4"})
    assert with_input["conversations"][0] == {"from": "human", "value": "Sum\n2 2"}


def test_tool_turns_have_no_alpaca_form() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "function_call", "content": "{}"},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ]
    }
    with pytest.raises(NotConvertible):
        to_alpaca("openai", record)
    assert to_sharegpt("openai", record)["conversations"][2]["from"] == "observation"


def test_uniform_gives_every_record_the_same_optional_columns() -> None:
    rows = uniform(
        [{"instruction": "a", "output": "b", "system": "s"}, {"instruction": "c", "output": "d"}]
    )
    assert [r["system"] for r in rows] == ["s", ""]
    assert "history" not in rows[1]
