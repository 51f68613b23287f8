"""Google Gemini API: generateContent / streamGenerateContent (SSE), thoughts, embeddings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

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

DEFAULT_VERSION = "v1beta"
EFFORT_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
}


class _Part(msgspec.Struct, gc=False):
    text: str | None = None
    thought: bool = False


class _Content(msgspec.Struct, gc=False):
    parts: list[_Part] = []


class _Candidate(msgspec.Struct, gc=False, rename="camel"):
    content: _Content | None = None
    finish_reason: str | None = None
    index: int = 0


class _UsageMetadata(msgspec.Struct, gc=False, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    cached_content_token_count: int = 0


class _PromptFeedback(msgspec.Struct, gc=False, rename="camel"):
    block_reason: str | None = None


class _Error(msgspec.Struct, gc=False):
    code: int = 500
    message: str = "upstream error"
    status: str | None = None


class _Chunk(msgspec.Struct, gc=False, rename="camel"):
    candidates: list[_Candidate] | None = None
    usage_metadata: _UsageMetadata | None = None
    model_version: str | None = None
    prompt_feedback: _PromptFeedback | None = None
    error: _Error | None = None


class _Model(msgspec.Struct, rename="camel"):
    name: str
    display_name: str | None = None
    input_token_limit: int | None = None


class _ModelPage(msgspec.Struct, rename="camel"):
    models: list[_Model] = []
    next_page_token: str | None = None


class _Values(msgspec.Struct):
    values: list[float]


class _Embedding(msgspec.Struct):
    embedding: _Values


class _Embeddings(msgspec.Struct):
    embeddings: list[_Values]


_chunk_decoder = msgspec.json.Decoder(_Chunk)
_models_decoder = msgspec.json.Decoder(_ModelPage)
_embedding_decoder = msgspec.json.Decoder(_Embedding)
_embeddings_decoder = msgspec.json.Decoder(_Embeddings)
_NOTHING: tuple[Delta, ...] = ()


def _usage(u: _UsageMetadata) -> Usage:
    # candidatesTokenCount leaves thoughts out; both are billed as output.
    return Usage(
        input_tokens=u.prompt_token_count,
        output_tokens=u.candidates_token_count + u.thoughts_token_count,
        reasoning_tokens=u.thoughts_token_count,
        cached_input_tokens=u.cached_content_token_count,
    )


def _error(err: _Error) -> ProviderError:
    kind = kind_for_type(err.status, kind_for_status(err.code))
    return ProviderError(kind, err.message, status=err.code)


class StreamTranslator:
    """Gemini SSE chunks -> deltas; one per stream."""

    __slots__ = ("_finish", "_usage", "done")

    def __init__(self) -> None:
        self.done = False  # Gemini has no end marker: the stream just ends
        self._finish: str | None = None
        self._usage: Usage | None = None

    def on_event(self, event: SSEEvent) -> Sequence[Delta]:
        chunk = _chunk_decoder.decode(event.data)
        if chunk.error is not None:
            raise _error(chunk.error)
        if chunk.usage_metadata is not None:
            self._usage = _usage(chunk.usage_metadata)  # cumulative; the last one counts
        if not chunk.candidates:
            if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
                self._finish = "content_filter"
            return _NOTHING
        out: list[Delta] = []
        for candidate in chunk.candidates:
            if candidate.index:
                continue
            if candidate.finish_reason:
                self._finish = FINISH_REASONS.get(candidate.finish_reason, "stop")
            if candidate.content is None:
                continue
            for part in candidate.content.parts:
                if part.text:
                    out.append(
                        ReasoningDelta(part.text) if part.thought else ContentDelta(part.text)
                    )
        return out

    def finish(self) -> Sequence[Delta]:
        if self._finish is None:
            raise ProviderError("upstream", "the stream ended before a finishReason")
        if self._usage is not None:
            return (self._usage, Finish(self._finish))
        return (Finish(self._finish),)


def _parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append({"text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url", "") if isinstance(image, dict) else str(image or "")
            if url.startswith("data:"):
                header, _, data = url.partition(",")
                mime = header[5:].split(";", 1)[0] or "image/png"
                parts.append({"inlineData": {"mimeType": mime, "data": data}})
            else:
                parts.append({"fileData": {"fileUri": url}})
        else:
            parts.append(part)  # already a Gemini part
    return parts


def _contents(messages: list[Message]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    system = [p for m in messages if m.role == "system" for p in _parts(m.content)]
    contents = [
        {"role": "model" if m.role == "assistant" else "user", "parts": _parts(m.content)}
        for m in messages
        if m.role != "system"
    ]
    return ({"parts": system} if system else None), contents


class GeminiAdapter(HttpAdapter):
    """``base_url`` like ``https://generativelanguage.googleapis.com`` (``/v1beta`` added)."""

    def api_root(self, base_url: str) -> str:
        last = base_url.rsplit("/", 1)[-1]
        if last.startswith("v1"):
            return base_url
        return f"{base_url}/{self.config.settings.get('api_version', DEFAULT_VERSION)}"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # Header, not ?key=: URLs end up in logs and exception messages.
        return {"x-goog-api-key": api_key} if api_key else {}

    @staticmethod
    def _model_path(model: str) -> str:
        name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        return "/" + quote(name, safe="/")

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        p = request.params
        system, contents = _contents(request.messages)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = system
        config: dict[str, Any] = {}
        if p.temperature is not None:
            config["temperature"] = p.temperature
        if p.top_p is not None:
            config["topP"] = p.top_p
        if p.max_tokens is not None:
            config["maxOutputTokens"] = p.max_tokens
        if p.stop:
            config["stopSequences"] = p.stop
        if p.seed is not None:
            config["seed"] = p.seed
        if p.presence_penalty is not None:
            config["presencePenalty"] = p.presence_penalty
        if p.frequency_penalty is not None:
            config["frequencyPenalty"] = p.frequency_penalty
        budget = p.reasoning_budget_tokens or (
            EFFORT_BUDGETS[p.reasoning_effort] if p.reasoning_effort else None
        )
        if budget:
            config["thinkingConfig"] = {"includeThoughts": True, "thinkingBudget": budget}
        if config:
            body["generationConfig"] = config
        if p.extra:
            body.update(p.extra)
        return body

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        http_request = self.build(
            "POST",
            self._model_path(request.model) + ":streamGenerateContent?alt=sse",
            self._body(request),
            stream=True,
        )
        return self.relay(http_request, StreamTranslator())

    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        body = await self.fetch(
            self.build(
                "POST", self._model_path(request.model) + ":generateContent", self._body(request)
            )
        )
        chunk: _Chunk = self.decode(_chunk_decoder, body)
        if chunk.error is not None:
            raise _error(chunk.error)
        content: list[str] = []
        reasoning: list[str] = []
        finish = "stop"
        if chunk.candidates:
            candidate = chunk.candidates[0]
            finish = FINISH_REASONS.get(candidate.finish_reason or "STOP", "stop")
            for part in candidate.content.parts if candidate.content else ():
                if part.text:
                    (reasoning if part.thought else content).append(part.text)
        elif chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
            finish = "content_filter"
        return ChatResult(
            content="".join(content),
            reasoning="".join(reasoning),
            usage=_usage(chunk.usage_metadata) if chunk.usage_metadata else Usage(),
            finish_reason=finish,
            model=chunk.model_version or request.model,
        )

    async def list_models(self, *, retry: bool = True) -> list[UpstreamModel]:
        models: list[UpstreamModel] = []
        params: dict[str, str | int] = {"pageSize": 1000}
        for _ in range(20):  # bounded: a looping page token must not hang the caller
            body = await self.fetch(self.build("GET", "/models", params=params), retry=retry)
            page: _ModelPage = self.decode(_models_decoder, body)
            models.extend(
                UpstreamModel(
                    id=m.name.removeprefix("models/"),
                    name=m.display_name,
                    context_window=m.input_token_limit,
                )
                for m in page.models
            )
            if not page.next_page_token:
                break
            params = {"pageSize": 1000, "pageToken": page.next_page_token}
        return models

    async def check_connection(self) -> ConnectionCheck:
        return await self.check(self.list_models)

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        path = self._model_path(model)
        if len(inputs) == 1:
            body = await self.fetch(
                self.build(
                    "POST", path + ":embedContent", {"content": {"parts": [{"text": inputs[0]}]}}
                )
            )
            single: _Embedding = self.decode(_embedding_decoder, body)
            return [single.embedding.values], Usage()
        name = path[1:]
        requests = [{"model": name, "content": {"parts": [{"text": t}]}} for t in inputs]
        body = await self.fetch(
            self.build("POST", path + ":batchEmbedContents", {"requests": requests})
        )
        batch: _Embeddings = self.decode(_embeddings_decoder, body)
        if len(batch.embeddings) != len(inputs):
            raise ProviderError(
                "malformed", f"asked for {len(inputs)} embeddings, got {len(batch.embeddings)}"
            )
        # Gemini's embedding endpoints report no token counts.
        return [e.values for e in batch.embeddings], Usage()
