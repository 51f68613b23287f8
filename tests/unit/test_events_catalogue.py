"""The event catalogue is the contract: names, subjects, streams and generated documents."""

from __future__ import annotations

import re

import msgspec
import pytest

from events import EVENT_TYPES, STREAMS, decode_event, encode_event, stream_for_subject
from events.schema import ASYNCAPI_PATH, asyncapi_document, render_asyncapi
from events.streams import dead_letter_subject, subject_matches

TYPE_RE = re.compile(r"^llmforge\.[a-z_]+\.[a-z_]+\.[a-z_]+\.v\d+$")


def _sample(cls: type) -> msgspec.Struct:
    """Build a valid instance from the JSON schema's required fields."""
    _, components = msgspec.json.schema_components([cls])
    data_ref = components[cls.__name__]["properties"]["data"]["$ref"].split("/")[-1]
    data_schema = components[data_ref]
    filler = {"string": "x", "boolean": True, "integer": 1, "number": 1.5, "array": []}
    data = {
        name: filler[spec.get("type", "string")]
        for name, spec in data_schema["properties"].items()
        if name in data_schema.get("required", [])
    }
    return msgspec.convert({"subject": "e1", "data": data}, cls)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_type_is_named_and_routed_by_the_convention(cls: type) -> None:
    tag = cls.__struct_config__.tag
    assert TYPE_RE.match(tag), tag
    # The subject is the type without its version, so subscribers can filter by prefix.
    assert cls.SUBJECT.replace(".{subject}", "") == tag.rsplit(".", 1)[0]
    assert stream_for_subject(cls.SUBJECT.format(subject="id1")).name.startswith("LLMFORGE_")


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_round_trips_as_a_cloudevent(cls: type) -> None:
    event = _sample(cls)
    raw = encode_event(event)  # type: ignore[arg-type]
    body = msgspec.json.decode(raw)
    assert body["specversion"] == "1.0"
    assert body["type"] == cls.__struct_config__.tag
    assert {"id", "source", "subject", "time", "actor", "data"} <= body.keys()
    assert decode_event(raw) == event


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type": "llmforge.nope.thing.done.v1", "subject": "x", "data": {}}')


def test_streams_do_not_overlap_and_dead_letters_have_their_own() -> None:
    for a in STREAMS:
        for b in STREAMS:
            if a is not b:
                assert not any(
                    subject_matches(pa, pb.replace(">", "x"))
                    for pa in a.subjects
                    for pb in b.subjects
                )
    dlq = dead_letter_subject("audit", "llmforge.auth.user.registered")
    assert stream_for_subject(dlq).name == "LLMFORGE_DLQ"


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("llmforge.>", "llmforge.auth.user.registered", True),
        ("llmforge.>", "llmforge", False),
        ("llmforge.*.user.*", "llmforge.auth.user.registered", True),
        ("llmforge.*.user", "llmforge.auth.user.registered", False),
        ("llmforge.auth.user.registered", "llmforge.auth.user.registered", True),
        ("llmforge.auth.x", "llmforge.auth", False),
    ],
)
def test_subject_matching_follows_nats_wildcards(
    pattern: str, subject: str, expected: bool
) -> None:
    assert subject_matches(pattern, subject) is expected


def test_committed_asyncapi_document_matches_the_catalogue() -> None:
    # Fails when an event changes without `llmforge events schema` being run.
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == render_asyncapi()


def test_asyncapi_document_describes_every_event() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["components"]["messages"]) == {cls.__name__ for cls in EVENT_TYPES}
    for channel in doc["channels"].values():
        assert channel["address"].startswith("llmforge.")
