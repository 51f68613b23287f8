"""Dify's metadata_condition becomes the vector store's metadata filter."""

from __future__ import annotations

import pytest

from handlers.dify.conditions import UnsupportedCondition, to_filter
from handlers.dify.schemas import Condition, MetadataCondition
from runtime.vectors import MetaCondition, MetaFilter


def _cond(op: str, value: object = None, name: str | list[str] = "page") -> MetadataCondition:
    return MetadataCondition(
        conditions=[Condition(name=name, comparison_operator=op, value=value)]  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("is", "3", MetaCondition("page", "eq", 3)),
        ("=", 3, MetaCondition("page", "eq", 3)),
        ("≠", "x", MetaCondition("page", "ne", "x")),
        ("in", "1, 2", MetaCondition("page", "in", ["1", "2"])),
        ("not in", [1, 2], MetaCondition("page", "not_in", [1, 2])),
        ("≥", "2.5", MetaCondition("page", "gte", 2.5)),
        ("<", 9, MetaCondition("page", "lt", 9.0)),
        ("empty", None, MetaCondition("page", "empty", None)),
        ("not empty", None, MetaCondition("page", "not_empty", None)),
    ],
)
def test_operators_map_onto_metadata_conditions(
    op: str, value: object, expected: MetaCondition
) -> None:
    assert to_filter(_cond(op, value)) == MetaFilter((expected,))


def test_names_lists_and_or() -> None:
    condition = MetadataCondition(
        logical_operator="or",
        conditions=[Condition(name=["page", "row_start"], comparison_operator="is", value="1")],
    )
    built = to_filter(condition)
    assert built is not None
    assert built.match_any
    assert [c.key for c in built.conditions] == ["page", "row_start"]
    assert to_filter(None) is None
    assert to_filter(MetadataCondition()) is None


@pytest.mark.parametrize(
    ("op", "value", "name"),
    [("contains", "x", "page"), (">", "many", "page"), ("is", "x", "bad key!")],
)
def test_what_cannot_be_filtered_is_refused(op: str, value: object, name: str) -> None:
    with pytest.raises(UnsupportedCondition):
        to_filter(_cond(op, value, name))
