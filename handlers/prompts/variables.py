"""Template variables: find ``{{name}}`` placeholders, check declarations, render."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Variable(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    name: str
    description: str | None = None
    default: str | None = None
    required: bool = True


def placeholders(body: str) -> list[str]:
    """Names in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(body)))


def declaration_errors(body: str, variables: Sequence[Variable]) -> list[dict[str, str]]:
    """Undeclared and unused variables, and duplicate declarations, as problem entries."""
    errors: list[dict[str, str]] = []
    declared = [v.name for v in variables]
    used = placeholders(body)
    for name in sorted({n for n in declared if declared.count(n) > 1}):
        errors.append({"field": "variables", "name": name, "message": "declared twice"})
    for name in used:
        if name not in declared:
            errors.append(
                {"field": "body", "name": name, "message": "used in the body but not declared"}
            )
    for name in dict.fromkeys(declared):
        if name not in used:
            errors.append(
                {"field": "variables", "name": name, "message": "declared but never used"}
            )
    return errors


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    # Required variables with neither a value nor a default; their placeholders stay.
    missing: list[str]
    # Values given for names the template does not have.
    unknown: list[str]


def render(body: str, variables: Sequence[Variable], values: Mapping[str, str]) -> Rendered:
    declared = {v.name: v for v in variables}
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        spec = declared.get(name)
        if spec is not None and spec.default is not None:
            return spec.default
        if spec is not None and not spec.required:
            return ""
        if name not in missing:
            missing.append(name)
        return match.group(0)

    text = PLACEHOLDER.sub(fill, body)
    unknown = sorted(set(values) - set(declared))
    return Rendered(text=text, missing=missing, unknown=unknown)
