"""Dify apps as a provider: the app's ``chat-messages`` API (streaming or blocking).

A Dify app is one model: its prompt, knowledge and tools live in Dify, keyed by the app's
API key (``app-…``). ``base_url`` is the app API root, e.g. ``https://api.dify.ai/v1``.
Dify keeps conversation history server-side by ``conversation_id``; the gateway is
stateless and sends whole histories, so earlier turns go into the query as a transcript.
``params.extra`` may carry Dify's own fields (``inputs``, ``user``, ``conversation_id``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from runtime.llm.base import HttpAdapter
from runtime.llm.errors import kind_for_status, kind_for_type
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

DEFAULT_USER = "llmforge"
# Dify's error codes that mean the key or the app is wrong, not the request.
_AUTH_CODES = frozenset({"unauthorized", "app_unavailable", "invalid_api_key"})


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Metadata(msgspec.Struct, gc=False):
    usage: _Usage | None = None


class _Event(msgspec.Struct, gc=False):
    event: str = "message"
    answer: str | None = None
    thought: str | None = None
    metadata: _Metadata | None = None
    # error events
    status: int | None = None
    code: str | None = None
    message: str | None = None


class _Info(msgspec.Struct):
    name: str | None = None
    mode: str | None = None


_event_decoder = msgspec.json.Decoder(_Event)
_info_decoder = msgspec.json.Decoder(_Info)
_NOTHING: tuple[Delta, ...] = ()


def _usage(meta: _Metadata | None) -> Usage | None:
    if meta is None or meta.usage is None:
        return None
    return Usage(input_tokens=meta.usage.prompt_tokens, output_tokens=meta.usage.completion_tokens)


def _error(event: _Event) -> ProviderError:
    status = event.status or 500
    code = event.code or ""
    kind = "auth" if code in _AUTH_CODES else kind_for_type(code, kind_for_status(status))
    return ProviderError(kind, event.message or code or "Dify reported an error", status=status)


class StreamTranslator:
    """Dify's stream events -> deltas: answers are content, agent thoughts reasoning."""

    __slots__ = ("_usage", "done")

    def __init__(self) -> None:
        self.done = False
        self._usage: Usage | None = None

    def on_event(self, event: SSEEvent) -> Sequence[Delta]:
        item = _event_decoder.decode(event.data)
        kind = item.event
        if kind in ("message", "agent_message", "message_replace"):
            return (ContentDelta(item.answer),) if item.answer else _NOTHING
        if kind == "agent_thought":
            return (ReasoningDelta(item.thought),) if item.thought else _NOTHING
        if kind == "message_end":
            self._usage = _usage(item.metadata)
            self.done = True
            return _NOTHING
        if kind == "error":
            raise _error(item)
        return _NOTHING  # ping, workflow and node progress, tts audio

    def finish(self) -> Sequence[Delta]:
        if not self.done:
            raise ProviderError("upstream", "the stream ended before message_end")
        if self._usage is not None:
            return (self._usage, Finish("stop"))
        return (Finish("stop"),)


def _text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


def query_of(messages: list[Message]) -> str:
    """The last user message; anything before it as a transcript in front."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise ProviderError("bad_request", "a Dify app needs a user message")
    before = [f"{m.role.capitalize()}: {_text(m.content)}" for m in messages[:last]]
    question = _text(messages[last].content)
    if not before:
        return question
    return "Conversation so far:\n" + "\n".join(before) + f"\n\nUser: {question}"


class DifyAdapter(HttpAdapter):
    """``base_url`` is the app API root (``…/v1``); the API key is the app's key."""

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def _body(self, request: ChatRequest, mode: str) -> dict[str, Any]:
        extra = dict(request.params.extra or {})
        return {
            "inputs": extra.pop("inputs", {}),
            "query": query_of(request.messages),
            "response_mode": mode,
            "conversation_id": extra.pop("conversation_id", ""),
            "user": extra.pop("user", self.config.settings.get("user", DEFAULT_USER)),
            **extra,
        }

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        body = self._body(request, "streaming")
        return self.relay(
            self.build("POST", "/chat-messages", body, stream=True), StreamTranslator()
        )

    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        raw = await self.fetch(
            self.build("POST", "/chat-messages", self._body(request, "blocking"))
        )
        item: _Event = self.decode(_event_decoder, raw)
        if item.event == "error":
            raise _error(item)
        return ChatResult(
            content=item.answer or "",
            reasoning="",
            usage=_usage(item.metadata) or Usage(),
            finish_reason="stop",
            model=request.model,
        )

    async def list_models(self, *, retry: bool = True) -> list[UpstreamModel]:
        """The app itself is the one model; ``/info`` names it."""
        info: _Info = self.decode(
            _info_decoder, await self.fetch(self.build("GET", "/info"), retry=retry)
        )
        return [UpstreamModel(id=info.name or "dify-app", name=info.name, owned_by="dify")]

    async def check_connection(self) -> ConnectionCheck:
        return await self.check(self.list_models)

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        raise ProviderError("bad_request", "Dify apps have no embeddings endpoint")
