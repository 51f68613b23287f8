"""A fake Gemini API: generateContent, streamGenerateContent (alt=sse), models, embeddings."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.base import Exchange, FakeServer, Scenario

FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
PREFIX = "/v1beta/"


def _sse(obj: Any) -> bytes:
    # Gemini frames its events with CRLF.
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\r\n\r\n"


def _error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUSES.get(status, "UNKNOWN"),
    }
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
    return {"error": error}


class FakeGemini(FakeServer):
    """Serves under ``/v1beta``; ``base_url`` is the bare origin, as the SDKs take it."""

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        request = exchange.request
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if self.api_key is not None and key != self.api_key:
            if key is None:
                message = "Method doesn't allow unregistered callers. Please use an API Key."
                exchange.respond_json(403, _error_body(403, message))
            else:
                message = "API key not valid. Please pass a valid API key."
                exchange.respond_json(400, _error_body(400, message, "API_KEY_INVALID"))
            return
        if scenario.status != 200:
            headers = {"retry-after": scenario.retry_after} if scenario.retry_after else {}
            exchange.respond_json(
                scenario.status, _error_body(scenario.status, scenario.error_message), headers
            )
            return
        path = request.path
        if not path.startswith(PREFIX):
            exchange.respond_json(404, _error_body(404, f"Not found: {path}"))
            return
        resource, _, action = path[len(PREFIX) :].partition(":")
        if request.method == "GET" and resource == "models":
            self._models(exchange, scenario)
        elif request.method == "POST" and resource.startswith("models/"):
            model = resource.removeprefix("models/")
            body = request.json
            if action == "streamGenerateContent":
                if request.query.get("alt") == "sse":
                    await self._stream(exchange, scenario, model)
                else:  # without alt=sse Gemini streams one JSON array
                    exchange.respond_json(200, self._chunks(scenario, model))
            elif action == "generateContent":
                exchange.respond_json(200, self._whole(scenario, model))
            elif action == "embedContent":
                values = self._vector(body["content"], scenario)
                exchange.respond_json(200, {"embedding": {"values": values}})
            elif action == "batchEmbedContents":
                vectors = [
                    {"values": self._vector(r["content"], scenario)} for r in body["requests"]
                ]
                exchange.respond_json(200, {"embeddings": vectors})
            else:
                exchange.respond_json(404, _error_body(404, f"Unknown action {action}"))
        else:
            exchange.respond_json(404, _error_body(404, f"Not found: {path}"))

    @staticmethod
    def _vector(content: dict[str, Any], scenario: Scenario) -> list[float]:
        text = "".join(p.get("text", "") for p in content["parts"])
        return [len(text) + j / 10 for j in range(scenario.embedding_dim)]

    def _models(self, exchange: Exchange, scenario: Scenario) -> None:
        query = exchange.request.query
        size = min(int(query.get("pageSize", 50)), scenario.page_size)
        start = int(query.get("pageToken", "0"))
        page = scenario.models[start : start + size]
        body: dict[str, Any] = {
            "models": [
                {
                    "name": f"models/{m}",
                    "version": "001",
                    "displayName": m.replace("-", " ").title(),
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 8192,
                    "supportedGenerationMethods": ["generateContent", "countTokens"],
                }
                for m in page
            ]
        }
        if start + size < len(scenario.models):
            body["nextPageToken"] = str(start + size)
        exchange.respond_json(200, body)

    def _usage(self, scenario: Scenario, final: bool) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": scenario.input_tokens}
        if final:
            usage["candidatesTokenCount"] = len(scenario.tokens)
            if scenario.reasoning:
                usage["thoughtsTokenCount"] = len(scenario.reasoning)
            if scenario.cached_tokens:
                usage["cachedContentTokenCount"] = scenario.cached_tokens
        usage["totalTokenCount"] = sum(v for v in usage.values())
        return usage

    @staticmethod
    def _candidate(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return candidate

    def _chunks(self, scenario: Scenario, model: str) -> list[dict[str, Any]]:
        def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
            return {
                "candidates": [self._candidate(parts, finish)],
                "usageMetadata": self._usage(scenario, final=finish is not None),
                "modelVersion": model,
                "responseId": "resp-fake",
            }

        chunks = [chunk([{"text": t, "thought": True}]) for t in scenario.reasoning]
        chunks += [chunk([{"text": t}]) for t in scenario.tokens]
        chunks.append(chunk([{"text": ""}], FINISH_REASONS.get(scenario.finish_reason, "STOP")))
        return chunks

    def _whole(self, scenario: Scenario, model: str) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if scenario.reasoning:
            parts.append({"text": "".join(scenario.reasoning), "thought": True})
        parts.append({"text": "".join(scenario.tokens)})
        finish = FINISH_REASONS.get(scenario.finish_reason, "STOP")
        return {
            "candidates": [self._candidate(parts, finish)],
            "usageMetadata": self._usage(scenario, final=True),
            "modelVersion": model,
            "responseId": "resp-fake",
        }

    async def _stream(self, exchange: Exchange, scenario: Scenario, model: str) -> None:
        chunks = [_sse(c) for c in self._chunks(scenario, model)]
        error = _error_body(503, scenario.error_message)
        await self.stream_tokens(
            exchange,
            scenario,
            chunks[:-1],
            epilogue=chunks[-1:],
            malformed=b'data: {"candidates":[{"content":{"parts":[{"te\r\n\r\n',
            error_event=_sse(error),
        )
