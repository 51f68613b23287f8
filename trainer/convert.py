"""Records from one dataset format to another (alpaca ⇄ sharegpt), and the held-out split.

No I/O: the export route, the collect route and the validation reader share these.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, Literal

from trainer.formats import SHAREGPT, Format
from trainer.stats import conversation

Target = Literal["alpaca", "sharegpt"]
_SHAREGPT_ROLE = {
    "user": SHAREGPT.user,
    "assistant": SHAREGPT.assistant,
    "observation": SHAREGPT.observation,
    "function_call": SHAREGPT.function,
}


class NotConvertible(ValueError):
    """A record that the target format cannot hold (tool calls as alpaca, for one)."""


def alpaca_record(
    instruction: str,
    output: str,
    *,
    input: str = "",
    system: str | None = None,
    history: Sequence[Sequence[str]] = (),
) -> dict[str, Any]:
    record: dict[str, Any] = {"instruction": instruction, "input": input, "output": output}
    if system:
        record["system"] = system
    if history:
        record["history"] = [[q, a] for q, a in history]
    return record


def to_alpaca(fmt: Format, value: dict[str, Any]) -> dict[str, Any]:
    """One valid record as alpaca: the last exchange, earlier ones as ``history``."""
    if fmt == "alpaca":
        return alpaca_record(
            value["instruction"],
            value["output"],
            input=value.get("input") or "",
            system=value.get("system"),
            history=value.get("history") or (),
        )
    system, messages = conversation(fmt, value)
    roles = [m["role"] for m in messages]
    if any(r not in ("user", "assistant") for r in roles):
        raise NotConvertible("tool turns (observation, function_call) have no alpaca form")
    turns = [
        [messages[i]["content"], messages[i + 1]["content"]] for i in range(0, len(messages), 2)
    ]
    question, answer = turns[-1]
    return alpaca_record(question, answer, system=system, history=turns[:-1])


def to_sharegpt(fmt: Format, value: dict[str, Any]) -> dict[str, Any]:
    system, messages = conversation(fmt, value)
    record: dict[str, Any] = {
        "conversations": [
            {SHAREGPT.role: _SHAREGPT_ROLE[m["role"]], SHAREGPT.content: m["content"]}
            for m in messages
        ]
    }
    if system:
        record["system"] = system
    return record


def convert(fmt: Format, value: dict[str, Any], target: Target) -> dict[str, Any]:
    return to_alpaca(fmt, value) if target == "alpaca" else to_sharegpt(fmt, value)


def uniform(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every record with the same optional columns, so one dataset_info mapping fits all."""
    defaults = {"system": "", "history": []}
    present = [c for c in defaults if any(c in r for r in records)]
    return [{**r, **{c: r.get(c, defaults[c]) for c in present}} for r in records]


def encode(records: Sequence[dict[str, Any]], layout: Literal["jsonl", "json"]) -> bytes:
    if layout == "json":
        return json.dumps(list(records), ensure_ascii=False, indent=1).encode() + b"\n"
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(record, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def held_out(count: int, ratio: float) -> int:
    """How many of ``count`` records the validation split takes: at least one when asked,
    never all of them."""
    if ratio <= 0 or count < 2:
        return 0
    # Rounded down: a fraction of a record goes to training, which needs it more.
    return min(count - 1, max(1, math.floor(count * ratio)))


def split(
    records: Sequence[dict[str, Any]], ratio: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, validation), each in the given order; the same records give the same split.

    Records are ranked by a hash of their own content salted with the whole set's, so the
    choice needs no random seed and does not change with the order they came in.
    """
    digests = [digest(r) for r in records]
    salt = hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()
    ranked = sorted(
        range(len(records)), key=lambda i: hashlib.sha256((salt + digests[i]).encode()).digest()
    )
    chosen = set(ranked[: held_out(len(records), ratio)])
    train = [r for i, r in enumerate(records) if i not in chosen]
    validation = [r for i, r in enumerate(records) if i in chosen]
    return train, validation


def dedupe(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The records without exact repeats (a repeat on both sides of the split leaks)."""
    seen: set[str] = set()
    out = []
    for record in records:
        key = digest(record)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out, len(records) - len(out)
