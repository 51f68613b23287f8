"""Dify's ``metadata_condition`` as a vector-store metadata filter."""

from __future__ import annotations

from handlers.dify.schemas import Condition, MetadataCondition
from runtime.vectors import MetaCondition, MetaFilter
from runtime.vectors.base import MetaOp

_OPS: dict[str, MetaOp] = {
    "is": "eq",
    "=": "eq",
    "is not": "ne",
    "≠": "ne",
    "!=": "ne",
    "in": "in",
    "not in": "not_in",
    ">": "gt",
    "<": "lt",
    "≥": "gte",
    ">=": "gte",
    "≤": "lte",
    "<=": "lte",
    "empty": "empty",
    "not empty": "not_empty",
}


class UnsupportedCondition(ValueError):
    """An operator or value this store cannot filter on."""


def _one(name: str, cond: Condition) -> MetaCondition:
    op = _OPS.get(cond.comparison_operator.strip().lower())
    if op is None:
        supported = ", ".join(sorted(_OPS))
        raise UnsupportedCondition(
            f"comparison_operator {cond.comparison_operator!r} is not supported ({supported})"
        )
    value = cond.value
    if op in ("in", "not_in"):
        value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
    elif op in ("gt", "gte", "lt", "lte"):
        try:
            value = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise UnsupportedCondition(
                f"{name}: {cond.comparison_operator} needs a number"
            ) from exc
    elif op in ("eq", "ne") and isinstance(value, str) and value.lstrip("-").isdigit():
        # Dify sends every value as text; page numbers and rows are stored as integers.
        value = int(value)
    try:
        return MetaCondition(name, op, value)
    except ValueError as exc:
        raise UnsupportedCondition(str(exc)) from exc


def to_filter(condition: MetadataCondition | None) -> MetaFilter | None:
    if condition is None or not condition.conditions:
        return None
    parts: list[MetaCondition] = []
    for cond in condition.conditions:
        names = cond.name if isinstance(cond.name, list) else [cond.name]
        parts.extend(_one(name, cond) for name in names)
    return MetaFilter(tuple(parts), match_any=condition.logical_operator == "or")
