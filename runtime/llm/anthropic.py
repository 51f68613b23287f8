"""Anthropic Messages API: streaming events, extended thinking, model listing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from runtime.llm.base import HttpAdapter
from runtime.llm.errors import kind_for_type
from runtime.llm.sse import SSEEvent
from runtime.llm.types import (
    ChatRequest,
    ChatResult,
    ConnectionCheck,
    ContentDelta,
    Delta,
    Finish,
    Message,
    ProviderError,
    ReasoningDelta,
    UpstreamModel,
    Usage,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# reasoning_effort -> thinking budget; Anthropic's minimum budget is 1024.
EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class _Usage(msgspec.Struct, gc=False):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Block(msgspec.Struct, gc=False):
    type: str = ""
    text: str = ""
    thinking: str = ""


class _Delta(msgspec.Struct, gc=False):
    type: str = ""
    text: str = ""
    thinking: str = ""
    stop_reason: str | None = None


class _Message(msgspec.Struct, gc=False):
    model: str = ""
    content: list[_Block] = []
    stop_reason: str | None = None
    usage: _Usage | None = None


class _Error(msgspec.Struct, gc=False):
    type: str = "api_error"
    message: str = "upstream error"


class _Event(msgspec.Struct, gc=False):
    """Every streaming event's data, flattened: each type fills its own fields."""

    type: str = ""
    delta: _Delta | None = None
    usage: _Usage | None = None
    message: _Message | None = None
    content_block: _Block | None = None
    error: _Error | None = None


class _Model(msgspec.Struct):
    id: str
    display_name: str | None = None
    max_input_tokens: int | None = None


class _ModelPage(msgspec.Struct):
    data: list[_Model]
    has_more: bool = False
    last_id: str | None = None


_event_decoder = msgspec.json.Decoder(_Event)
_message_decoder = msgspec.json.Decoder(_Message)
_models_decoder = msgspec.json.Decoder(_ModelPage)
_NOTHING: tuple[Delta, ...] = ()


class _Counts:
    """Usage is split over message_start (input) and message_delta (cumulative output)."""

    __slots__ = ("cache_creation", "cache_read", "input", "output", "seen")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_creation = 0
        self.seen = False

    def add(self, u: _Usage) -> None:
        self.seen = True
        if u.input_tokens:
            self.input = u.input_tokens
        if u.output_tokens:
            self.output = u.output_tokens
        if u.cache_read_input_tokens:
            self.cache_read = u.cache_read_input_tokens
        if u.cache_creation_input_tokens:
            self.cache_creation = u.cache_creation_input_tokens

    def usage(self) -> Usage:
        # Anthropic's input_tokens leaves out the cached part; ours is the whole prompt.
        return Usage(
            input_tokens=self.input + self.cache_read + self.cache_creation,
            output_tokens=self.output,
            cached_input_tokens=self.cache_read,
        )


def _stream_error(err: _Error | None) -> ProviderError:
    if err is None:
        return ProviderError("upstream", "the upstream sent an error event")
    return ProviderError(kind_for_type(err.type), f"{err.type}: {err.message}")


class StreamTranslator:
    """Anthropic stream events -> deltas; one per stream."""

    __slots__ = ("_counts", "_stop", "done")

    def __init__(self) -> None:
        self.done = False
        self._stop: str | None = None
        self._counts = _Counts()

    def on_event(self, event: SSEEvent) -> Sequence[Delta]:
        if event.event == "ping":
            return _NOTHING
        ev = _event_decoder.decode(event.data)
        kind = ev.type
        if kind == "content_block_delta":
            delta = ev.delta
            if delta is not None:
                if delta.type == "text_delta" and delta.text:
                    return (ContentDelta(delta.text),)
                if delta.type == "thinking_delta" and delta.thinking:
                    return (ReasoningDelta(delta.thinking),)
            # signature_delta, input_json_delta: nothing to relay
            return _NOTHING
        if kind == "content_block_start":
            block = ev.content_block
            if block is not None:
                if block.type == "text" and block.text:
                    return (ContentDelta(block.text),)
                if block.type == "thinking" and block.thinking:
                    return (ReasoningDelta(block.thinking),)
            return _NOTHING
        if kind == "message_start":
            if ev.message is not None and ev.message.usage is not None:
                self._counts.add(ev.message.usage)
        elif kind == "message_delta":
            if ev.delta is not None and ev.delta.stop_reason:
                self._stop = STOP_REASONS.get(ev.delta.stop_reason, "stop")
            if ev.usage is not None:
                self._counts.add(ev.usage)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise _stream_error(ev.error)
        return _NOTHING

    def finish(self) -> Sequence[Delta]:
        if not self.done and self._stop is None:
            raise ProviderError("upstream", "the stream ended before message_stop")
        out: list[Delta] = []
        if self._counts.seen:
            out.append(self._counts.usage())
        out.append(Finish(self._stop or "stop"))
        return out


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0] or "image/png"
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content(content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """OpenAI-style content parts -> Anthropic content blocks."""
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url", "") if isinstance(image, dict) else str(image or "")
            blocks.append(_image(url))
        else:
            blocks.append(part)  # already an Anthropic block
    return blocks


def _text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    system = [_text(m.content) for m in messages if m.role == "system"]
    turns = [
        # Anthropic has no tool role without tool_use ids; the result reads as user text.
        {"role": "assistant" if m.role == "assistant" else "user", "content": _content(m.content)}
        for m in messages
        if m.role != "system"
    ]
    return ("\n\n".join(system) if system else None), turns


class AnthropicAdapter(HttpAdapter):
    """``base_url`` as for the SDK, e.g. ``https://api.anthropic.com`` (``/v1`` is added)."""

    def api_root(self, base_url: str) -> str:
        return base_url if base_url.endswith("/v1") else base_url + "/v1"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {
            "anthropic-version": str(self.config.settings.get("anthropic_version", API_VERSION))
        }
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def _body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        p = request.params
        system, messages = _messages(request.messages)
        max_tokens = p.max_tokens or int(self.config.settings.get("max_tokens", DEFAULT_MAX_TOKENS))
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        if system:
            body["system"] = system
        budget = p.reasoning_budget_tokens or (
            EFFORT_BUDGETS[p.reasoning_effort] if p.reasoning_effort else None
        )
        if budget:
            budget = max(1024, budget)
            # max_tokens counts thinking too and must exceed the budget.
            max_tokens = max(max_tokens, budget + 1024)
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        else:
            # Thinking refuses a changed temperature/top_p, so they only go without it.
            if p.temperature is not None:
                body["temperature"] = p.temperature
            if p.top_p is not None:
                body["top_p"] = p.top_p
        body["max_tokens"] = max_tokens
        if p.stop:
            body["stop_sequences"] = p.stop
        if stream:
            body["stream"] = True
        if p.extra:
            body.update(p.extra)
        return body

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        http_request = self.build(
            "POST", "/messages", self._body(request, stream=True), stream=True
        )
        return self.relay(http_request, StreamTranslator())

    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        body = await self.fetch(self.build("POST", "/messages", self._body(request, stream=False)))
        message: _Message = self.decode(_message_decoder, body)
        counts = _Counts()
        if message.usage is not None:
            counts.add(message.usage)
        return ChatResult(
            content="".join(b.text for b in message.content if b.type == "text"),
            reasoning="".join(b.thinking for b in message.content if b.type == "thinking"),
            usage=counts.usage(),
            finish_reason=STOP_REASONS.get(message.stop_reason or "end_turn", "stop"),
            model=message.model or request.model,
        )

    async def list_models(self, *, retry: bool = True) -> list[UpstreamModel]:
        models: list[UpstreamModel] = []
        params: dict[str, str | int] = {"limit": 1000}
        for _ in range(20):  # bounded: a looping cursor must not hang the caller
            body = await self.fetch(self.build("GET", "/models", params=params), retry=retry)
            page: _ModelPage = self.decode(_models_decoder, body)
            models.extend(
                UpstreamModel(
                    id=m.id,
                    name=m.display_name,
                    context_window=m.max_input_tokens,
                )
                for m in page.data
            )
            if not page.has_more or not page.last_id:
                break
            params = {"limit": 1000, "after_id": page.last_id}
        return models

    async def check_connection(self) -> ConnectionCheck:
        return await self.check(self.list_models)

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        raise ProviderError("bad_request", "the Anthropic API has no embeddings endpoint")
