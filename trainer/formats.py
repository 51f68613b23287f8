"""Dataset formats LLaMA-Factory reads (alpaca, sharegpt, OpenAI messages): detect, validate.

Every record is checked, and errors name the line and the field, because LLaMA-Factory
itself silently drops a malformed conversation and trains on the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from trainer.records import BadLine, Layout, Record

Format = Literal["alpaca", "sharegpt", "openai"]
FORMATS: tuple[Format, ...] = ("alpaca", "sharegpt", "openai")
MAX_REPORTED_ERRORS = 50


@dataclass(frozen=True, slots=True)
class RecordError:
    line: int
    field: str
    message: str
    record: int | None = None  # 0-based index in the file


@dataclass(slots=True)
class Validation:
    format: Format | None
    layout: Layout
    records: list[Record]
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    errors_by_field: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and bool(self.records)

    def add(self, error: RecordError) -> None:
        self.error_count += 1
        self.errors_by_field[error.field] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def detect(value: Any) -> Format | None:
    if not isinstance(value, dict):
        return None
    if "conversations" in value:
        return "sharegpt"
    if "messages" in value:
        return "openai"
    if "instruction" in value or "output" in value:
        return "alpaca"
    return None


Problems = list[tuple[str, str]]


def _text(value: dict[str, Any], key: str, *, required: bool, problems: Problems) -> None:
    item = value.get(key)
    if item is None:
        if required:
            problems.append((key, "is required"))
        return
    if not isinstance(item, str):
        problems.append((key, f"must be a string, not {type(item).__name__}"))
    elif required and not item.strip():
        problems.append((key, "must not be empty"))


def _alpaca(value: dict[str, Any]) -> Problems:
    problems: Problems = []
    _text(value, "instruction", required=True, problems=problems)
    _text(value, "input", required=False, problems=problems)
    _text(value, "output", required=True, problems=problems)
    _text(value, "system", required=False, problems=problems)
    history = value.get("history")
    if history is not None:
        if not isinstance(history, list):
            problems.append(("history", "must be a list of [question, answer] pairs"))
        else:
            for i, pair in enumerate(history):
                if (
                    not isinstance(pair, list | tuple)
                    or len(pair) != 2
                    or not all(isinstance(p, str) for p in pair)
                ):
                    problems.append((f"history[{i}]", "must be a [question, answer] pair"))
    return problems


@dataclass(frozen=True, slots=True)
class Tags:
    """Role names of a conversation format, as LLaMA-Factory's ``tags`` entry spells them."""

    key: str
    role: str
    content: str
    user: str
    assistant: str
    system: str
    observation: str
    function: str


SHAREGPT = Tags(
    "conversations", "from", "value", "human", "gpt", "system", "observation", "function_call"
)
OPENAI = Tags("messages", "role", "content", "user", "assistant", "system", "tool", "function_call")


def _conversation(value: dict[str, Any], tags: Tags) -> Problems:
    problems: Problems = []
    turns = value.get(tags.key)
    if not isinstance(turns, list) or not turns:
        return [(tags.key, "must be a non-empty list of messages")]
    _text(value, "system", required=False, problems=problems)
    asking = {tags.user, tags.observation}
    answering = {tags.assistant, tags.function}
    start = 1 if isinstance(turns[0], dict) and turns[0].get(tags.role) == tags.system else 0
    for i, turn in enumerate(turns):
        where = f"{tags.key}[{i}]"
        if not isinstance(turn, dict):
            problems.append((where, "must be an object"))
            continue
        role, content = turn.get(tags.role), turn.get(tags.content)
        if not isinstance(content, str):
            kind = "missing" if content is None else f"a {type(content).__name__}"
            problems.append((f"{where}.{tags.content}", f"must be a string, not {kind}"))
        if i < start:
            continue
        expected = asking if (i - start) % 2 == 0 else answering
        if role not in expected:
            want = " or ".join(repr(r) for r in sorted(expected))
            problems.append((f"{where}.{tags.role}", f"is {role!r}; expected {want} here"))
    if (len(turns) - start) % 2 != 0 or len(turns) == start:
        problems.append((tags.key, f"must end with an {tags.assistant!r} message"))
    return problems


CHECKS: dict[Format, Callable[[dict[str, Any]], Problems]] = {
    "alpaca": _alpaca,
    "sharegpt": lambda v: _conversation(v, SHAREGPT),
    "openai": lambda v: _conversation(v, OPENAI),
}


def validate(
    layout: Layout, records: list[Record], bad_lines: Iterable[BadLine] = ()
) -> Validation:
    """Detect the format from the records, then check every one of them against it."""
    result = Validation(format=None, layout=layout, records=records)
    for bad in bad_lines:
        result.add(RecordError(bad.line, "", bad.message))
    votes = Counter(f for r in records if (f := detect(r.value)) is not None)
    if not votes:
        if records:
            result.add(
                RecordError(
                    records[0].line,
                    "",
                    "unknown format: expected alpaca "
                    "(instruction/output), sharegpt (conversations) or "
                    "OpenAI messages (messages)",
                    records[0].index,
                )
            )
        return result
    fmt = votes.most_common(1)[0][0]
    result.format = fmt
    check = CHECKS[fmt]
    for record in records:
        if not isinstance(record.value, dict):
            result.add(RecordError(record.line, "", "must be a JSON object", record.index))
            continue
        other = detect(record.value)
        if other != fmt:
            message = (
                f"looks like {other}, but the file is {fmt}"
                if other
                else (f"is not a {fmt} record")
            )
            result.add(RecordError(record.line, "", message, record.index))
            continue
        for name, message in check(record.value):
            result.add(RecordError(record.line, name, message, record.index))
    return result


def optional_columns(records: Iterable[Record]) -> list[str]:
    """Optional columns some record has: only those may be mapped (a missing one fails)."""
    present = {k for r in records if isinstance(r.value, dict) for k in r.value}
    return [c for c in ("input", "system", "history") if c in present]


def dataset_info(fmt: Format, file_path: str, optional: Iterable[str] = ()) -> dict[str, Any]:
    """The ``dataset_info.json`` entry LLaMA-Factory expects for a file of this format."""
    extra = set(optional)
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "response": "output"}
        for name, column in (("query", "input"), ("system", "system"), ("history", "history")):
            if column in extra:
                columns[name] = column
        return {"file_name": file_path, "columns": columns}
    tags = SHAREGPT if fmt == "sharegpt" else OPENAI
    columns = {"messages": tags.key, **({"system": "system"} if "system" in extra else {})}
    return {
        "file_name": file_path,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": {
            "role_tag": tags.role,
            "content_tag": tags.content,
            "user_tag": tags.user,
            "assistant_tag": tags.assistant,
            "observation_tag": tags.observation,
            "function_tag": tags.function,
            "system_tag": tags.system,
        },
    }
