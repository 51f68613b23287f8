"""Progress of a run, read from LLaMA-Factory's ``trainer_log.jsonl`` and its console output."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRAINER_LOG = "trainer_log.jsonl"
_DURATION = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2})$")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    total_steps: int
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    throughput: float | None = None
    elapsed_seconds: float | None = None
    remaining_seconds: float | None = None
    percentage: float | None = None


def seconds(text: Any) -> float | None:
    """``"1 day, 0:00:05"`` → 86405.0, as LLaMA-Factory writes durations."""
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    days, h, m, s = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + h) * 60 + m) * 60 + s)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_log_line(line: str) -> Step | None:
    """One ``trainer_log.jsonl`` line; None for anything that is not a step record."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("current_steps"), int):
        return None
    return Step(
        step=row["current_steps"],
        total_steps=int(row.get("total_steps") or 0),
        epoch=_float(row.get("epoch")),
        loss=_float(row.get("loss")),
        eval_loss=_float(row.get("eval_loss")),
        learning_rate=_float(row.get("lr")),
        throughput=_float(row.get("throughput")),
        elapsed_seconds=seconds(row.get("elapsed_time")),
        remaining_seconds=seconds(row.get("remaining_time")),
        percentage=_float(row.get("percentage")),
    )


def parse_console_metrics(line: str) -> dict[str, float] | None:
    """The Trainer's printed log dict (``{'loss': '0.87', 'grad_norm': '2.5', …}``)."""
    text = line.strip()
    if not (text.startswith("{'") and text.endswith("}")) or "grad_norm" not in text:
        return None
    try:
        raw = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    out: dict[str, float] = {}
    for key, value in raw.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


# Characters JSON leaves as they are but line readers (str.splitlines, httpx) split on: in
# an SSE data line they would cut the event in two for such a client.
_LINE_BREAKERS = str.maketrans(dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", " "))


def clean_console_line(raw: str) -> str:
    """Progress bars redraw with carriage returns: keep what the terminal would show."""
    parts = [p for p in raw.rstrip("\n").split("\r") if p.strip()]
    return parts[-1].rstrip().translate(_LINE_BREAKERS) if parts else ""


class ConsoleLines:
    """Splits a child's output into lines without a length limit.

    A progress bar redraws with carriage returns and may go a long time without a newline;
    ``StreamReader.readline`` would fail past 64 KiB, stop reading, and the child would
    block on a full pipe. Chunks in, complete lines out.
    """

    def __init__(self, keep: int = 1 << 16) -> None:
        self._partial = b""
        self._keep = keep

    def feed(self, chunk: bytes) -> list[str]:
        data = self._partial + chunk
        lines = data.split(b"\n")
        # Only the unfinished line's tail matters: a bar's latest redraw.
        self._partial = lines.pop()[-self._keep :]
        return [line.decode("utf-8", "replace") for line in lines]

    def close(self) -> list[str]:
        rest, self._partial = self._partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


class LogTail:
    """New complete lines of a growing file, from where the last read stopped."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""

    def read(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, 2)
                if size < self.offset:  # truncated: the run started over
                    self.offset, self._partial = 0, b""
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [line.decode("utf-8", "replace") for line in lines if line.strip()]


def checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (``trainer_state.json`` is written last), oldest first."""
    found = []
    if output_dir.is_dir():
        for child in output_dir.iterdir():
            match = _CHECKPOINT.match(child.name)
            if match and (child / "trainer_state.json").is_file():
                found.append((int(match.group(1)), child))
    return sorted(found)
