"""Reading a dataset file as records, each with the line it starts on (JSON array or JSONL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Layout = Literal["json", "jsonl"]


@dataclass(frozen=True, slots=True)
class Record:
    line: int  # 1-based line where the record starts
    index: int  # 0-based position in the file
    value: Any


class FileError(ValueError):
    """The file is not JSON or JSON Lines at all (no record can be read)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class BadLine:
    """A JSONL line that is not JSON; the other lines are still read."""

    line: int
    message: str


def layout_of(text: str) -> Layout:
    return "json" if text.lstrip().startswith("[") else "jsonl"


def _line_at(text: str, offset: int, start_offset: int, start_line: int) -> int:
    return start_line + text.count("\n", start_offset, offset)


def _array_records(text: str) -> Iterator[Record]:
    # Element by element with raw_decode, so every record knows its line number.
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, line_pos = 1 + text.count("\n", 0, pos), pos
    index = 0
    size = len(text)
    while True:
        while pos < size and text[pos] in " \t\r\n":
            pos += 1
        if pos < size and text[pos] == "]" and index == 0:
            pos += 1
            break
        line = _line_at(text, pos, line_pos, line)
        line_pos = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise FileError(f"invalid JSON: {exc.msg}", exc.lineno) from exc
        yield Record(line, index, value)
        index += 1
        while pos < size and text[pos] in " \t\r\n":
            pos += 1
        if pos < size and text[pos] == ",":
            pos += 1
            continue
        if pos < size and text[pos] == "]":
            pos += 1
            break
        raise FileError(
            "invalid JSON: expected ',' or ']' after a record", _line_at(text, pos, line_pos, line)
        )
    if text[pos:].strip():
        raise FileError(
            "invalid JSON: data after the closing ']'", _line_at(text, pos, line_pos, line)
        )


def read_records(text: str) -> tuple[Layout, list[Record], list[BadLine]]:
    """All records of a JSON array or JSONL text; raises FileError if it is neither."""
    layout = layout_of(text)
    if not text.strip():
        raise FileError("the file is empty")
    if layout == "json":
        return layout, list(_array_records(text)), []
    records: list[Record] = []
    bad: list[BadLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append(BadLine(number, f"invalid JSON: {exc.msg}"))
            continue
        records.append(Record(number, len(records) + len(bad), value))
    if not records and bad and len(bad) == sum(1 for r in text.splitlines() if r.strip()):
        # Not one line parsed: most likely not JSON Lines at all.
        raise FileError("neither a JSON array nor JSON Lines", bad[0].line)
    return layout, records, bad
