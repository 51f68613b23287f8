"""Anthropic Messages wire shapes: what ``POST /v1/messages`` accepts and what the
official SDKs parse. Block types the gateway cannot carry (tools, documents) are refused
by their ``type`` tag, as a 400 that names the field."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta


class Base64Source(msgspec.Struct, tag="base64", tag_field="type", kw_only=True):
    media_type: Annotated[str, Meta(pattern=r"^image/(png|jpeg|gif|webp)$")]
    data: str


class UrlSource(msgspec.Struct, tag="url", tag_field="type", kw_only=True):
    url: Annotated[str, Meta(min_length=1, max_length=8192)]


class TextBlockIn(msgspec.Struct, tag="text", tag_field="type", kw_only=True):
    text: str


class ImageBlockIn(msgspec.Struct, tag="image", tag_field="type", kw_only=True):
    source: Base64Source | UrlSource


class ThinkingBlockIn(msgspec.Struct, tag="thinking", tag_field="type", kw_only=True):
    """An earlier turn's thinking, sent back by a client: not forwarded upstream."""

    thinking: str
    signature: str | None = None


BlockIn = TextBlockIn | ImageBlockIn | ThinkingBlockIn


class MessageIn(msgspec.Struct, kw_only=True):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[BlockIn], Meta(min_length=1)]


class ThinkingEnabled(msgspec.Struct, tag="enabled", tag_field="type", kw_only=True):
    budget_tokens: Annotated[int, Meta(ge=1)]


class ThinkingDisabled(msgspec.Struct, tag="disabled", tag_field="type"):
    pass


class MessagesRequest(msgspec.Struct, kw_only=True):
    """Unknown fields are ignored (``metadata``, ``service_tier``…), as Anthropic's API does
    for fields it does not act on; ``tools`` is refused: the gateway carries no tool calls."""

    model: Annotated[str, Meta(min_length=1, max_length=300)]
    max_tokens: Annotated[int, Meta(ge=1)]
    messages: Annotated[list[MessageIn], Meta(min_length=1)]
    system: str | list[TextBlockIn] | None = None
    stream: bool = False
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, Meta(ge=1)] | None = None
    stop_sequences: Annotated[list[str], Meta(max_length=16)] | None = None
    thinking: ThinkingEnabled | ThinkingDisabled | None = None
    tools: list[dict[str, object]] | None = None


class TextBlock(msgspec.Struct, tag="text", tag_field="type", kw_only=True):
    text: str


class ThinkingBlock(msgspec.Struct, tag="thinking", tag_field="type", kw_only=True):
    thinking: str
    # Anthropic signs thinking so it can be sent back; a relayed upstream's is not ours.
    signature: str = ""


class MessageUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]


class MessageOut(msgspec.Struct, kw_only=True):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ThinkingBlock | TextBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: MessageUsage
