"""A fake OpenAI-compatible API: chat completions (SSE or JSON), models, embeddings."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.base import Exchange, FakeServer, Scenario

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
}


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class FakeOpenAI(FakeServer):
    """Serves under ``/v1``; ``base_url`` ends with it, as OpenAI documents its root."""

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def _error(
        self, exchange: Exchange, status: int, message: str, headers: dict[str, str]
    ) -> None:
        body = {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "server_error"),
                "param": None,
                "code": "invalid_api_key" if status == 401 else None,
            }
        }
        exchange.respond_json(status, body, headers)

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        request = exchange.request
        auth = request.headers.get("authorization", "")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            self._error(exchange, 401, f"Incorrect API key provided: {auth[7:10]}***.", {})
            return
        if scenario.status != 200:
            headers = {"retry-after": scenario.retry_after} if scenario.retry_after else {}
            self._error(exchange, scenario.status, scenario.error_message, headers)
            return
        route = (request.method, request.path)
        if route == ("POST", "/v1/chat/completions"):
            body = request.json
            if body.get("stream") and not scenario.ignore_stream:
                await self._stream(exchange, scenario, body)
            else:
                self._complete(exchange, scenario, body)
        elif route == ("GET", "/v1/models"):
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for m in scenario.models
            ]
            exchange.respond_json(200, {"object": "list", "data": data})
        elif route == ("POST", "/v1/embeddings"):
            body = request.json
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [len(text) + j / 10 for j in range(scenario.embedding_dim)],
                }
                for i, text in enumerate(inputs)
            ]
            tokens = sum(len(t.split()) for t in inputs)
            usage = {"prompt_tokens": tokens, "total_tokens": tokens}
            # Listed in reverse: clients must order by "index", not by position.
            exchange.respond_json(
                200, {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}
            )
        else:
            self._error(exchange, 404, f"Unknown route {request.method} {request.path}", {})

    def _usage(self, scenario: Scenario) -> dict[str, Any]:
        return {
            "prompt_tokens": scenario.input_tokens,
            "completion_tokens": scenario.output_tokens,
            "total_tokens": scenario.input_tokens + scenario.output_tokens,
            "prompt_tokens_details": {"cached_tokens": scenario.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": len(scenario.reasoning)},
        }

    def _complete(self, exchange: Exchange, scenario: Scenario, body: dict[str, Any]) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(scenario.tokens)}
        if scenario.reasoning:
            reasoning = "".join(scenario.reasoning)
            if scenario.reasoning_mode == "inline":
                message["content"] = f"<think>{reasoning}</think>\n\n{message['content']}"
            else:
                message[scenario.reasoning_field] = reasoning
        exchange.respond_json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": message, "finish_reason": scenario.finish_reason}
                ],
                "usage": self._usage(scenario),
            },
        )

    async def _stream(self, exchange: Exchange, scenario: Scenario, body: dict[str, Any]) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }
        if include_usage:
            base["usage"] = None  # as OpenAI does: null on every chunk but the last

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**base, "choices": [choice]})

        events: list[bytes] = []
        if scenario.reasoning and scenario.reasoning_mode == "inline":
            texts = ["<think>", *scenario.reasoning, "</think>", "\n\n"]
            events += [chunk({"content": t}) for t in texts]
        else:
            events += [chunk({scenario.reasoning_field: t}) for t in scenario.reasoning]
        events += [chunk({"content": t}) for t in scenario.tokens]
        epilogue = [chunk({}, scenario.finish_reason)]
        if include_usage:
            epilogue.append(_sse({**base, "choices": [], "usage": self._usage(scenario)}))
        if scenario.send_done:
            epilogue.append(b"data: [DONE]\n\n")
        await self.stream_tokens(
            exchange,
            scenario,
            events,
            prologue=[chunk({"role": "assistant", "content": ""})],
            epilogue=epilogue,
            malformed=b'data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":"oops\n\n',
            error_event=_sse(
                {"error": {"message": scenario.error_message, "type": "server_error", "code": None}}
            ),
        )
