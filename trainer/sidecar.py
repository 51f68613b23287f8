"""``llmforge.json`` beside a model folder: what the platform knows about a local model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAME = "llmforge.json"


def read(folder: str | Path) -> dict[str, Any]:
    try:
        value = json.loads((Path(folder) / NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write(folder: str | Path, **values: Any) -> None:
    path = Path(folder) / NAME
    path.write_text(json.dumps({**read(folder), **values}, indent=2), encoding="utf-8")
