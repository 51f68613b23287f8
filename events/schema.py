"""JSON Schemas and the AsyncAPI 3 document, generated from the event catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from events.catalogue import EVENT_TYPES
from events.envelope import Event
from events.streams import STREAMS, stream_for_subject

ASYNCAPI_PATH = Path(__file__).with_name("asyncapi.json")
_TITLE = "llmforge events"
_VERSION = "1.0.0"


def _channel_id(event: type[Event]) -> str:
    return str(event.__struct_config__.tag).removeprefix("llmforge.").replace(".", "_")


def _channel_address(event: type[Event]) -> str:
    # ``{subject}`` in a subject template is the entity id token: an AsyncAPI parameter.
    return event.SUBJECT.replace("{subject}", "{entityId}")


def json_schemas() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One schema per event type, sharing component definitions."""
    refs, components = msgspec.json.schema_components(
        EVENT_TYPES, ref_template="#/components/schemas/{name}"
    )
    return list(refs), components


def asyncapi_document() -> dict[str, Any]:
    refs, components = json_schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event, ref in zip(EVENT_TYPES, refs, strict=True):
        name = event.__name__
        tag = str(event.__struct_config__.tag)
        channel_id = _channel_id(event)
        address = _channel_address(event)
        doc = (event.__doc__ or "").strip().splitlines()
        messages[name] = {
            "name": tag,
            "title": name,
            "summary": doc[0] if doc and not doc[0].startswith("Base") else tag,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "the event id"}},
            },
            "payload": ref,
        }
        channel: dict[str, Any] = {
            "address": address,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": f"JetStream stream {stream_for_subject(event.SUBJECT).name}",
        }
        if "{entityId}" in address:
            channel["parameters"] = {"entityId": {"description": "id of the entity"}}
        channels[channel_id] = channel
        operations[f"on_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": _TITLE,
            "version": _VERSION,
            "description": (
                "Every change in llmforge is published as a CloudEvents 1.0 event on NATS "
                "JetStream. Streams: "
                + ", ".join(f"{s.name} ({', '.join(s.subjects)})" for s in STREAMS)
                + "."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "nats": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "the platform's NATS server (NATS_URL)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def render_asyncapi() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"


def write_asyncapi(path: Path = ASYNCAPI_PATH) -> Path:
    path.write_text(render_asyncapi(), encoding="utf-8")
    return path
