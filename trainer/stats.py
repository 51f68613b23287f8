"""Dataset statistics and previews: turns, lengths in characters and tokens, duplicates."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.formats import OPENAI, SHAREGPT, Format
from trainer.records import Record

Message = dict[str, str]


def conversation(fmt: Format, value: dict[str, Any]) -> tuple[str | None, list[Message]]:
    """A valid record as (system prompt, [{role, content}…]) with user/assistant roles."""
    if fmt == "alpaca":
        messages: list[Message] = []
        for question, answer in value.get("history") or []:
            messages += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        prompt = value["instruction"]
        if value.get("input"):
            prompt = f"{prompt}\n{value['input']}"
        messages += [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": value["output"]},
        ]
        return value.get("system"), messages
    tags = SHAREGPT if fmt == "sharegpt" else OPENAI
    roles = {
        tags.user: "user",
        tags.assistant: "assistant",
        tags.system: "system",
        tags.observation: "observation",
        tags.function: "function_call",
    }
    system = value.get("system")
    turns: list[Message] = []
    for turn in value[tags.key]:
        role = roles.get(turn[tags.role], turn[tags.role])
        if role == "system" and not turns and system is None:
            system = turn[tags.content]
            continue
        turns.append({"role": role, "content": turn[tags.content]})
    return system, turns


def _summary(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "mean": 0, "p50": 0, "p95": 0, "max": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return float(ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)])

    return {
        "min": float(ordered[0]),
        "mean": round(sum(ordered) / len(ordered), 1),
        "p50": pct(0.5),
        "p95": pct(0.95),
        "max": float(ordered[-1]),
    }


def load_tokenizer(model_dir: str | Path) -> Any | None:
    """The model's fast tokenizer via the light ``tokenizers`` package; None if unavailable."""
    path = Path(model_dir) / "tokenizer.json"
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - tokenizers comes with the trainer extra
        return None
    return Tokenizer.from_file(str(path)) if path.is_file() else None


def compute(fmt: Format, records: Sequence[Record], tokenizer: Any | None = None) -> dict[str, Any]:
    """Counts and length distributions of a validated dataset."""
    turns: list[int] = []
    prompt_chars: list[int] = []
    response_chars: list[int] = []
    totals: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    with_system = 0
    for record in records:
        system, messages = conversation(fmt, record.value)
        with_system += bool(system)
        turns.append(sum(1 for m in messages if m["role"] == "assistant"))
        prompt_chars.append(sum(len(m["content"]) for m in messages if m["role"] != "assistant"))
        response_chars.append(sum(len(m["content"]) for m in messages if m["role"] == "assistant"))
        text = "\n".join([system or "", *(m["content"] for m in messages)])
        totals.append(text)
        digest = hashlib.sha256(
            json.dumps(record.value, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        if digest in seen:
            duplicates += 1
        seen.add(digest)
    stats: dict[str, Any] = {
        "records": len(records),
        "turns": sum(turns),
        "turns_per_record": _summary(turns),
        "prompt_chars": _summary(prompt_chars),
        "response_chars": _summary(response_chars),
        "total_chars": _summary([len(t) for t in totals]),
        "duplicates": duplicates,
        "with_system_prompt": with_system,
    }
    if tokenizer is not None:
        encoded = tokenizer.encode_batch(totals)
        counts = [len(e.ids) for e in encoded]
        stats["tokens"] = {**_summary(counts), "total": sum(counts)}
    return stats


def preview(
    fmt: Format, records: Sequence[Record], offset: int, limit: int
) -> list[dict[str, Any]]:
    """Records as stored plus their normalized conversation, for display."""
    out = []
    for record in records[offset : offset + limit]:
        system, messages = conversation(fmt, record.value)
        out.append(
            {
                "index": record.index,
                "line": record.line,
                "system": system,
                "messages": messages,
                "raw": record.value,
            }
        )
    return out
