"""docs/events.md stays true: its per-type examples are generated from the catalogue.

After changing an event: ``.venv/bin/python -m tests.unit.test_webhook_docs`` rewrites the
section between the ``catalogue`` markers (like ``llmforge events schema`` for AsyncAPI).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from events import EVENT_TYPES, STREAMS, Event, stream_for_subject

DOC = Path(__file__).parents[2] / "docs" / "events.md"
_SAMPLE_ID = "0f8e4c2a9b7d4e5f8a1b2c3d4e5f6a7b"


def _sample(name: str, schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _struct(components[schema["$ref"].split("/")[-1]], components)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _sample(name, options[0], components)
    kind = schema.get("type", "string")
    if kind == "array":
        return [_sample(name, schema.get("items", {}), components)]
    if kind == "object":
        return {}
    if kind in ("integer", "number"):
        return 1 if kind == "integer" else 1.5
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2026-01-01T12:00:00Z"
    if name == "email":
        return "ada@example.com"
    return _SAMPLE_ID if name == "id" or name.endswith("_id") else f"<{name}>"


def _struct(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    return {name: _sample(name, spec, components) for name, spec in schema["properties"].items()}


def example_data(cls: type[Event]) -> dict[str, Any]:
    _, components = msgspec.json.schema_components([cls])
    return _struct(components[cls.__name__], components)["data"]  # type: ignore[no-any-return]


def render_catalogue() -> str:
    parts = []
    for spec in STREAMS:
        types = [c for c in EVENT_TYPES if stream_for_subject(c.SUBJECT).name == spec.name]
        if not types:
            continue
        parts.append(f"### {spec.name}\n")
        for cls in types:
            summary = (cls.__doc__ or "").strip().splitlines()
            data = json.dumps(example_data(cls))
            if len(data) > 90:  # short examples on one line, long ones one field a line
                data = json.dumps(example_data(cls), indent=2)
            parts.append(
                f"#### `{cls.__struct_config__.tag}`\n\n"
                + (f"{summary[0]}\n\n" if summary else "")
                + f"Subject `{cls.SUBJECT.replace('{subject}', '<id>')}`. Example `data`:\n\n"
                f"```json\n{data}\n```\n"
            )
    return "\n".join(parts)


def render_streams() -> str:
    rows = [
        "| stream | subjects | holds | max age | max size |",
        "|---|---|---|---|---|",
    ]
    for spec in STREAMS:
        subjects = ", ".join(f"`{subject}`" for subject in spec.subjects)
        rows.append(
            f"| `{spec.name}` | {subjects} | {spec.description} "
            f"| {spec.max_age_seconds / 86400:g} days | {spec.max_bytes // 2**20:,} MiB |"
        )
    return "\n".join(rows) + "\n"


SECTIONS = {"streams": render_streams, "catalogue": render_catalogue}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _section(text: str, name: str) -> str:
    start, end = _markers(name)
    return text.split(start)[1].split(end)[0].strip("\n")


def write() -> None:
    """Regenerate every marked section of docs/events.md in place."""
    text = DOC.read_text(encoding="utf-8")
    for name, render in SECTIONS.items():
        start, end = _markers(name)
        before, rest = text.split(start)
        after = rest.split(end)[1]
        text = f"{before}{start}\n{render()}\n{end}{after}"
    DOC.write_text(text, encoding="utf-8")


def test_every_event_type_has_a_generated_example_in_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    tags = [str(c.__struct_config__.tag) for c in EVENT_TYPES]
    missing = [tag for tag in tags if f"`{tag}`" not in text]
    assert not missing, f"undocumented: {missing}; run python -m tests.unit.test_webhook_docs"
    for name, render in SECTIONS.items():
        assert _section(text, name) == render().strip("\n"), (
            f"docs/events.md ({name}) is stale: python -m tests.unit.test_webhook_docs"
        )


if __name__ == "__main__":
    write()
