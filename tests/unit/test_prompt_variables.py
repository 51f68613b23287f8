"""Template variables: declarations must match the body; rendering reports what is missing."""

from __future__ import annotations

from handlers.prompts.variables import Variable, declaration_errors, placeholders, render


def test_placeholders_are_found_once_in_order_with_spacing() -> None:
    assert placeholders("Hi {{ name }}, {{topic}} and {{name}}; {{ 1bad }} {name}") == [
        "name",
        "topic",
    ]


def test_undeclared_unused_and_duplicate_variables_are_reported() -> None:
    errors = declaration_errors(
        "Write about {{topic}} in {{language}}",
        [Variable(name="topic"), Variable(name="tone"), Variable(name="tone")],
    )
    assert {
        "field": "body",
        "name": "language",
        "message": "used in the body but not declared",
    } in errors
    assert {"field": "variables", "name": "tone", "message": "declared but never used"} in errors
    assert {"field": "variables", "name": "tone", "message": "declared twice"} in errors
    assert declaration_errors("{{a}}", [Variable(name="a")]) == []


def test_render_fills_values_then_defaults_and_reports_missing() -> None:
    variables = [
        Variable(name="topic"),
        Variable(name="language", default="English"),
        Variable(name="extra", required=False),
    ]
    result = render("{{topic}} in {{language}}.{{extra}}", variables, {"bogus": "x"})
    assert result.text == "{{topic}} in English."
    assert result.missing == ["topic"]
    assert result.unknown == ["bogus"]
    full = render("{{topic}} in {{language}}", variables, {"topic": "NATS", "language": "中文"})
    assert full.text == "NATS in 中文"
    assert full.missing == []


def test_values_are_inserted_literally() -> None:
    result = render("{{a}}", [Variable(name="a")], {"a": r"{{b}} \1 $0"})
    assert result.text == r"{{b}} \1 $0"
