"""A fake Anthropic Messages API: streaming events, thinking blocks, model pages, errors."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.base import Exchange, FakeServer, Scenario

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _event(name: str, obj: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


class FakeAnthropic(FakeServer):
    """Serves under ``/v1``; ``base_url`` is the bare origin, as the SDKs take it."""

    def _error(
        self, exchange: Exchange, status: int, message: str, headers: dict[str, str]
    ) -> None:
        error_type = _ERROR_TYPES.get(status, "api_error")
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        exchange.respond_json(status, body, {"request-id": "req_fake", **headers})

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        request = exchange.request
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            self._error(exchange, 401, "invalid x-api-key", {})
            return
        if "anthropic-version" not in request.headers:
            self._error(exchange, 400, "anthropic-version: header is required", {})
            return
        if scenario.status != 200:
            headers = {"retry-after": scenario.retry_after} if scenario.retry_after else {}
            self._error(exchange, scenario.status, scenario.error_message, headers)
            return
        route = (request.method, request.path)
        if route == ("POST", "/v1/messages"):
            body = request.json
            if not isinstance(body.get("max_tokens"), int):
                self._error(exchange, 400, "max_tokens: Field required", {})
            elif any(m.get("role") == "system" for m in body.get("messages", [])):
                self._error(exchange, 400, 'messages: Unexpected role "system"', {})
            elif body.get("stream"):
                await self._stream(exchange, scenario, body)
            else:
                self._complete(exchange, scenario, body)
        elif route == ("GET", "/v1/models"):
            self._models(exchange, scenario)
        else:
            self._error(exchange, 404, f"Not found: {request.path}", {})

    def _models(self, exchange: Exchange, scenario: Scenario) -> None:
        query = exchange.request.query
        limit = min(int(query.get("limit", 20)), scenario.page_size)
        ids = scenario.models
        start = ids.index(query["after_id"]) + 1 if "after_id" in query else 0
        page = ids[start : start + limit]
        exchange.respond_json(
            200,
            {
                "data": [
                    {
                        "type": "model",
                        "id": m,
                        "display_name": m.replace("-", " ").title(),
                        "created_at": "2025-05-14T00:00:00Z",
                    }
                    for m in page
                ],
                "has_more": start + limit < len(ids),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            },
        )

    def _usage(self, scenario: Scenario, output: int) -> dict[str, Any]:
        return {
            "input_tokens": scenario.input_tokens - scenario.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": scenario.cached_tokens,
            "output_tokens": output,
        }

    def _complete(self, exchange: Exchange, scenario: Scenario, body: dict[str, Any]) -> None:
        content: list[dict[str, Any]] = []
        if scenario.reasoning:
            thinking = "".join(scenario.reasoning)
            content.append({"type": "thinking", "thinking": thinking, "signature": "sig-fake"})
        content.append({"type": "text", "text": "".join(scenario.tokens)})
        exchange.respond_json(
            200,
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": STOP_REASONS.get(scenario.finish_reason, "end_turn"),
                "stop_sequence": None,
                "usage": self._usage(scenario, scenario.output_tokens),
            },
        )

    async def _stream(self, exchange: Exchange, scenario: Scenario, body: dict[str, Any]) -> None:
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(scenario, 1),
        }
        prologue = [_event("message_start", {"type": "message_start", "message": message})]
        prologue.append(_event("ping", {"type": "ping"}))
        events: list[bytes] = []
        text_start = {"type": "text", "text": ""}
        if scenario.reasoning:
            thinking_start = {"type": "thinking", "thinking": "", "signature": ""}
            prologue.append(self._start(0, thinking_start))
            events += [
                self._delta(0, {"type": "thinking_delta", "thinking": t})
                for t in scenario.reasoning
            ]
            # The thinking block's end rides on the first text token, so the scripted
            # faults count tokens only.
            text_prefix = (
                self._delta(0, {"type": "signature_delta", "signature": "sig-fake"})
                + _event("content_block_stop", {"type": "content_block_stop", "index": 0})
                + self._start(1, text_start)
            )
            index = 1
        else:
            prologue.append(self._start(0, text_start))
            text_prefix = b""
            index = 0
        for i, text in enumerate(scenario.tokens):
            event = self._delta(index, {"type": "text_delta", "text": text})
            events.append(text_prefix + event if i == 0 else event)
        epilogue = [] if scenario.tokens else [text_prefix]
        epilogue += [
            _event("content_block_stop", {"type": "content_block_stop", "index": index}),
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": STOP_REASONS.get(scenario.finish_reason, "end_turn"),
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": scenario.output_tokens},
                },
            ),
        ]
        if scenario.send_done:
            epilogue.append(_event("message_stop", {"type": "message_stop"}))
        error = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": scenario.error_message},
        }
        await self.stream_tokens(
            exchange,
            scenario,
            events,
            prologue=prologue,
            epilogue=epilogue,
            malformed=b'event: content_block_delta\ndata: {"type":"content_block_delta","ind\n\n',
            error_event=_event("error", error),
        )

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        body = {"type": "content_block_delta", "index": index, "delta": delta}
        return _event("content_block_delta", body)

    @staticmethod
    def _start(index: int, block: dict[str, Any]) -> bytes:
        body = {"type": "content_block_start", "index": index, "content_block": block}
        return _event("content_block_start", body)
