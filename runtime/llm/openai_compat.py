"""OpenAI-compatible chat completions (OpenAI, DeepSeek, Qwen, vLLM, Ollama, …)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

from runtime.llm.base import HttpAdapter
from runtime.llm.errors import kind_for_status, kind_for_type
from runtime.llm.sse import SSEEvent
from runtime.llm.think import ThinkSplitter, split_think
from runtime.llm.types import (
    ChatRequest,
    ChatResult,
    ConnectionCheck,
    ContentDelta,
    Delta,
    Finish,
    ProviderError,
    ReasoningDelta,
    UpstreamModel,
    Usage,
)

# Only the fields we read: msgspec skips the rest of each chunk without building it.


class _Details(msgspec.Struct, gc=False):
    reasoning_tokens: int = 0
    cached_tokens: int = 0


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    completion_tokens_details: _Details | None = None
    prompt_tokens_details: _Details | None = None
    prompt_cache_hit_tokens: int = 0  # DeepSeek's name for cached input


class _Delta(msgspec.Struct, gc=False):
    content: str | None = None
    reasoning_content: str | None = None  # DeepSeek, Qwen, SiliconFlow, vLLM
    reasoning: str | None = None  # OpenRouter, Groq, Ollama


class _Choice(msgspec.Struct, gc=False):
    index: int = 0
    delta: _Delta | None = None
    message: _Delta | None = None
    finish_reason: str | None = None


class _Error(msgspec.Struct, gc=False):
    message: str = "upstream error"
    type: str | None = None
    code: Any = None


class _Chunk(msgspec.Struct, gc=False):
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    model: str | None = None
    error: _Error | None = None


class _Model(msgspec.Struct):
    id: str
    owned_by: str | None = None
    name: str | None = None
    # Each server names the context length its own way.
    context_window: int | None = None
    context_length: int | None = None
    max_model_len: int | None = None


class _ModelList(msgspec.Struct):
    data: list[_Model]


class _Embedding(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _Embeddings(msgspec.Struct):
    data: list[_Embedding]
    usage: _Usage | None = None


_chunk_decoder = msgspec.json.Decoder(_Chunk)
_models_decoder = msgspec.json.Decoder(_ModelList | list[_Model])
_embeddings_decoder = msgspec.json.Decoder(_Embeddings)

FINISH_REASONS = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}

_DONE = b"[DONE]"
_NOTHING: tuple[Delta, ...] = ()


def _usage(u: _Usage) -> Usage:
    completion = u.completion_tokens_details
    prompt = u.prompt_tokens_details
    return Usage(
        input_tokens=u.prompt_tokens,
        output_tokens=u.completion_tokens,
        reasoning_tokens=completion.reasoning_tokens if completion else 0,
        cached_input_tokens=(prompt.cached_tokens if prompt else 0) or u.prompt_cache_hit_tokens,
    )


def _error(err: _Error) -> ProviderError:
    """An error object sent in place of a chunk (OpenAI, OpenRouter, vLLM do this)."""
    kind = kind_for_type(err.type)
    if isinstance(err.code, str):
        kind = kind_for_type(err.code, kind)
    elif isinstance(err.code, int) and 400 <= err.code < 600:
        kind = kind_for_status(err.code)
    return ProviderError(kind, err.message)


class StreamTranslator:
    """Chat-completion chunks -> deltas; one per stream."""

    __slots__ = ("_finish", "_think", "_usage", "done")

    def __init__(self, think: bool) -> None:
        self.done = False
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._think = ThinkSplitter() if think else None

    def on_event(self, event: SSEEvent) -> Sequence[Delta]:
        data = event.data
        if data == _DONE:
            self.done = True
            return _NOTHING
        chunk = _chunk_decoder.decode(data)
        if chunk.error is not None:
            raise _error(chunk.error)
        if chunk.usage is not None:
            self._usage = _usage(chunk.usage)
        if not chunk.choices:
            return _NOTHING
        out: list[Delta] = []
        for choice in chunk.choices:
            if choice.index:  # n > 1 is not relayed: the gateway speaks one answer
                continue
            if choice.finish_reason:
                self._finish = FINISH_REASONS.get(choice.finish_reason, "stop")
            delta = choice.delta
            if delta is None:
                continue
            reasoning = delta.reasoning_content or delta.reasoning
            if reasoning:
                out.append(ReasoningDelta(reasoning))
            content = delta.content
            if content:
                if self._think is not None:
                    think_text, content = self._think.feed(content)
                    if think_text:
                        out.append(ReasoningDelta(think_text))
                if content:
                    out.append(ContentDelta(content))
        return out

    def finish(self) -> Sequence[Delta]:
        out: list[Delta] = []
        if self._think is not None:
            reasoning, content = self._think.finish()
            if reasoning:
                out.append(ReasoningDelta(reasoning))
            if content:
                out.append(ContentDelta(content))
        if self._finish is None and not self.done:
            raise ProviderError("upstream", "the stream ended before the model finished")
        if self._usage is not None:
            out.append(self._usage)
        out.append(Finish(self._finish or "stop"))
        return out


class OpenAICompatAdapter(HttpAdapter):
    """``base_url`` is the API root, e.g. ``https://api.openai.com/v1``."""

    def api_root(self, base_url: str) -> str:
        # A bare origin ("http://localhost:11434") means the conventional /v1 root.
        if not urlsplit(base_url).path.strip("/"):
            return base_url + "/v1"
        return base_url

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # Local servers (Ollama, vLLM, llama.cpp) run without a key.
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def _body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        p = request.params
        settings = self.config.settings
        body: dict[str, Any] = {"model": request.model, "messages": request.messages}
        if stream:
            body["stream"] = True
            # Some older servers reject stream_options; a provider can switch it off.
            if settings.get("stream_usage", True):
                body["stream_options"] = {"include_usage": True}
        if p.temperature is not None:
            body["temperature"] = p.temperature
        if p.top_p is not None:
            body["top_p"] = p.top_p
        if p.max_tokens is not None:
            # OpenAI's reasoning models only accept max_completion_tokens.
            body[settings.get("max_tokens_field", "max_tokens")] = p.max_tokens
        if p.stop:
            body["stop"] = p.stop
        if p.seed is not None:
            body["seed"] = p.seed
        if p.presence_penalty is not None:
            body["presence_penalty"] = p.presence_penalty
        if p.frequency_penalty is not None:
            body["frequency_penalty"] = p.frequency_penalty
        if p.reasoning_effort is not None:
            body["reasoning_effort"] = p.reasoning_effort
        if p.extra:
            body.update(p.extra)
        return body

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        http_request = self.build(
            "POST", "/chat/completions", self._body(request, stream=True), stream=True
        )
        translator = StreamTranslator(think=self.config.settings.get("think_tags", True))
        return self.relay(http_request, translator)

    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        body = await self.fetch(
            self.build("POST", "/chat/completions", self._body(request, stream=False))
        )
        chunk: _Chunk = self.decode(_chunk_decoder, body)
        if chunk.error is not None:
            raise _error(chunk.error)
        if not chunk.choices or chunk.choices[0].message is None:
            raise ProviderError("malformed", "the upstream answered without a choice")
        choice = chunk.choices[0]
        message = choice.message
        assert message is not None
        reasoning = message.reasoning_content or message.reasoning or ""
        content = message.content or ""
        if not reasoning and self.config.settings.get("think_tags", True):
            reasoning, content = split_think(content)
        return ChatResult(
            content=content,
            reasoning=reasoning,
            usage=_usage(chunk.usage) if chunk.usage else Usage(),
            finish_reason=FINISH_REASONS.get(choice.finish_reason or "stop", "stop"),
            model=chunk.model or request.model,
        )

    async def list_models(self, *, retry: bool = True) -> list[UpstreamModel]:
        body = await self.fetch(self.build("GET", "/models"), retry=retry)
        decoded = self.decode(_models_decoder, body)
        models: list[_Model] = decoded.data if isinstance(decoded, _ModelList) else decoded
        return [
            UpstreamModel(
                id=m.id,
                name=m.name,
                owned_by=m.owned_by,
                context_window=m.context_window or m.context_length or m.max_model_len,
            )
            for m in models
        ]

    async def check_connection(self) -> ConnectionCheck:
        return await self.check(self.list_models)

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        body = await self.fetch(
            self.build(
                "POST",
                "/embeddings",
                {"model": model, "input": inputs, "encoding_format": "float"},
            )
        )
        decoded: _Embeddings = self.decode(_embeddings_decoder, body)
        vectors = [e.embedding for e in sorted(decoded.data, key=lambda e: e.index)]
        if len(vectors) != len(inputs):
            raise ProviderError(
                "malformed", f"asked for {len(inputs)} embeddings, got {len(vectors)}"
            )
        u = decoded.usage
        return vectors, Usage(input_tokens=u.prompt_tokens if u else 0)
