"""Dataset formats: detection, validation by line and field, stats, preview, storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer import store
from trainer.formats import MAX_REPORTED_ERRORS, dataset_info, optional_columns
from trainer.records import FileError, read_records
from trainer.stats import compute, conversation, preview

DATA = Path(__file__).parents[1] / "data" / "training"


def _parse(text: str) -> store.Validation:
    return store.parse(text)


@pytest.mark.parametrize(
    ("name", "fmt", "records"),
    [
        ("alpaca_math.json", "alpaca", 40),
        ("sharegpt_chat.jsonl", "sharegpt", 12),
        ("openai_messages.jsonl", "openai", 8),
    ],
)
def test_good_files_are_detected_and_pass(name: str, fmt: str, records: int) -> None:
    result = _parse((DATA / name).read_text())
    assert result.format == fmt
    assert result.ok, result.errors
    assert len(result.records) == records


def test_broken_alpaca_reports_each_problem_by_line_and_field() -> None:
    result = _parse((DATA / "broken_alpaca.json").read_text())
    assert result.format == "alpaca"
    found = {(e.line, e.field) for e in result.errors}
    assert found == {
        (3, "instruction"),
        (4, "output"),
        (5, "output"),
        (6, "history[0]"),
        (7, ""),
        (8, "system"),
    }
    assert result.error_count == 6
    assert result.errors_by_field["output"] == 2


def test_broken_sharegpt_reports_order_roles_bad_json_and_mixed_formats() -> None:
    result = _parse((DATA / "broken_sharegpt.jsonl").read_text())
    assert result.format == "sharegpt"
    by_line: dict[int, set[str]] = {}
    for e in result.errors:
        by_line.setdefault(e.line, set()).add(e.field)
    assert by_line[2] == {"conversations[0].from", "conversations[1].from"}
    assert by_line[3] == {""}  # not JSON
    assert by_line[4] == {"conversations"}  # ends without an answer
    assert by_line[5] == {"conversations"}  # empty
    assert by_line[6] == {"conversations[1].value"}
    assert by_line[7] == {""}  # an alpaca record in a sharegpt file
    assert 1 not in by_line
    messages = {e.line: e.message for e in result.errors if e.field == ""}
    assert "invalid JSON" in messages[3]
    assert "alpaca" in messages[7]


def test_openai_messages_need_alternating_roles_and_string_content() -> None:
    text = "\n".join(
        json.dumps(r)
        for r in [
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text"}]},
                    {"role": "assistant", "content": "b"},
                ]
            },
            {
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                ]
            },
            {"messages": "nope"},
            {"messages": [{"role": "user", "content": "a"}, "x"]},
        ]
    )
    result = _parse(text)
    fields = {(e.line, e.field) for e in result.errors}
    assert (2, "messages[0].content") in fields
    assert (3, "messages[2].role") in fields
    assert (4, "messages") in fields
    assert (5, "messages[1]") in fields
    assert result.format == "openai"


def test_only_the_first_errors_are_listed_but_all_are_counted() -> None:
    text = "\n".join(json.dumps({"instruction": "", "output": ""}) for _ in range(80))
    result = _parse(text)
    assert result.error_count == 160
    assert len(result.errors) == MAX_REPORTED_ERRORS


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("[1, 2", "invalid JSON"),
        ('[{"a": 1}] trailing', "after the closing"),
        ("this is not json\nnor this\n", "neither"),
        ('[{"a": 1} {"b": 2}]', "expected ','"),
    ],
)
def test_unreadable_files_are_rejected_as_a_whole(text: str, problem: str) -> None:
    with pytest.raises(store.DatasetRejected, match=problem):
        _parse(text)


def test_unknown_format_and_empty_arrays() -> None:
    result = _parse('[{"question": "q", "answer": "a"}]')
    assert result.format is None
    assert not result.ok
    assert "unknown format" in result.errors[0].message
    assert _parse("[]").records == []


def test_record_lines_follow_the_array_layout() -> None:
    layout, records, bad = read_records('[\n\n  {"a": 1},\n  {"b":\n 2}, {"c": 3}\n]')
    assert layout == "json"
    assert not bad
    assert [r.line for r in records] == [3, 4, 5]
    with pytest.raises(FileError):
        read_records("   ")


def test_stats_count_turns_lengths_tokens_and_duplicates() -> None:
    class Tok:
        def encode_batch(self, texts: list[str]) -> list[object]:
            return [type("E", (), {"ids": t.split()})() for t in texts]

    rows = [{"instruction": "a b", "output": "c"}] * 2 + [
        {"instruction": "x", "input": "y", "output": "z", "history": [["h", "i"]], "system": "s"}
    ]
    result = _parse(json.dumps(rows))
    stats = compute("alpaca", result.records, Tok())
    assert stats["records"] == 3
    assert stats["turns"] == 4
    assert stats["duplicates"] == 1
    assert stats["with_system_prompt"] == 1
    assert stats["tokens"]["max"] >= stats["tokens"]["min"] > 0
    system, messages = conversation("alpaca", rows[2])
    assert system == "s"
    assert messages[-2]["content"] == "x\ny"


def test_sharegpt_preview_normalizes_roles_and_system() -> None:
    text = json.dumps(
        {
            "conversations": [
                {"from": "system", "value": "sys"},
                {"from": "human", "value": "q"},
                {"from": "gpt", "value": "a"},
            ]
        }
    )
    result = _parse(text)
    items = preview("sharegpt", result.records, 0, 5)
    assert items[0]["system"] == "sys"
    assert [m["role"] for m in items[0]["messages"]] == ["user", "assistant"]


def test_dataset_info_maps_only_the_columns_present() -> None:
    alpaca = _parse((DATA / "alpaca_math.json").read_text())
    info = dataset_info("alpaca", "/x.json", optional_columns(alpaca.records))
    assert info["columns"] == {
        "prompt": "instruction",
        "response": "output",
        "query": "input",
        "system": "system",
    }
    openai = dataset_info("openai", "/y.jsonl", [])
    assert openai["formatting"] == "sharegpt"
    assert openai["tags"]["role_tag"] == "role"
    assert openai["columns"] == {"messages": "messages"}


def test_ingest_stores_by_content_hash_and_leaves_nothing_on_rejection(tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    upload = tmp_path / "up1"
    upload.write_bytes((DATA / "sharegpt_chat.jsonl").read_bytes())
    first = store.ingest(upload, root)
    assert first.path.is_file()
    assert not upload.exists()
    assert first.info["file_name"] == str(first.path.resolve())
    again = tmp_path / "up2"
    again.write_bytes((DATA / "sharegpt_chat.jsonl").read_bytes())
    assert store.ingest(again, root).path == first.path
    fmt, records = store.load(first.path)
    assert fmt == "sharegpt"
    assert len(records) == 12
    bad = tmp_path / "bad"
    bad.write_bytes((DATA / "broken_alpaca.json").read_bytes())
    with pytest.raises(store.DatasetRejected) as caught:
        store.ingest(bad, root)
    assert caught.value.validation is not None
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == [first.path.name]
    latin = tmp_path / "latin"
    latin.write_bytes('[{"instruction": "caf\xe9", "output": "x"}]'.encode("latin-1"))
    with pytest.raises(store.DatasetRejected, match="UTF-8"):
        store.ingest(latin, root)
