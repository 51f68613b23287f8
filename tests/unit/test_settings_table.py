"""README's settings table names every environment variable runtime/settings.py reads, and
only those: a setting added without a row (or a row left for a removed one) fails here.

The table is written by hand (what each setting does needs prose the code does not hold);
``python -m tests.unit.test_settings_table`` prints the variables it misses or has extra.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "runtime" / "settings.py"
README = ROOT / "README.md"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")
# How settings.py reads a variable: _env("X", …), _flag("X", …), _env.secret("X").
_READERS = {"_env", "_flag", "secret"}
# Documented in the table, read by a library rather than by settings.py.
READ_ELSEWHERE = {"FORWARDED_ALLOW_IPS"}  # uvicorn: proxies whose X-Forwarded-* it believes


def variables_read() -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        first = node.args[0]
        if (
            name in _READERS
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and _NAME.match(first.value)
        ):
            found.add(first.value)
    return found


def variables_documented() -> set[str]:
    """The backticked names in the first column of the table under ``## Settings``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(n for n in re.findall(r"`([^`]+)`", first_cell) if _NAME.match(n))
    return names


def test_every_setting_read_has_a_row() -> None:
    missing = variables_read() - variables_documented()
    assert not missing, f"add rows to README.md's settings table for: {sorted(missing)}"


def test_every_row_names_a_setting_that_is_read() -> None:
    extra = variables_documented() - variables_read() - READ_ELSEWHERE
    assert not extra, f"README.md documents settings nothing reads: {sorted(extra)}"


def test_the_reader_finds_the_settings_it_should() -> None:
    # Guards the AST walk itself: one of each way settings.py reads a variable.
    read = variables_read()
    assert {"LLMFORGE_DATA_DIR", "LLMFORGE_COOKIE_SECURE", "NATS_URL"} <= read


if __name__ == "__main__":
    print("missing:", sorted(variables_read() - variables_documented()))
    print("extra:", sorted(variables_documented() - variables_read() - READ_ELSEWHERE))
