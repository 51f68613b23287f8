"""``POST /v1/messages``: Anthropic's Messages API over every model the gateway serves."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Response, post
from litestar.datastructures import State
from litestar.response import Stream

from handlers.anthropic_api.convert import message, to_messages, to_params
from handlers.anthropic_api.errors import ANTHROPIC_EXCEPTION_HANDLERS
from handlers.anthropic_api.framing import sse_events
from handlers.anthropic_api.schemas import MessagesRequest
from handlers.auth import CurrentUser, Permission, requires
from handlers.openai_api.controller import SSE_HEADERS, caller_of
from handlers.providers.deps import provide_gateway
from handlers.quotas import within_quota


class AnthropicController(Controller):
    path = "/v1"
    tags = ["anthropic-compatible"]
    guards = [requires(Permission.CHAT_USE)]
    # The gateway comes from ``state``, as in the OpenAI controller (one dependency level).
    # Anthropic's SDKs parse {"type": "error", "error": {...}}, not problem details.
    exception_handlers = ANTHROPIC_EXCEPTION_HANDLERS

    @post("/messages", operation_id="v1Messages", status_code=200, guards=[within_quota])
    async def create(
        self, data: MessagesRequest, state: State, current_user: CurrentUser
    ) -> Response[Any]:
        """Any model alias, in Anthropic's request and response shapes (streamed or not).
        Authenticate with ``x-api-key: lf_…`` (what Anthropic SDKs send) or a Bearer token."""
        started = time.perf_counter()
        gateway = provide_gateway(state)
        messages, params, caller = to_messages(data), to_params(data), caller_of(current_user)
        if not data.stream:
            done = await gateway.complete(data.model, messages, params, caller, started=started)
            return Response(message(done), headers={"Server-Timing": done.meter.server_timing()})
        stream = await gateway.open_stream(data.model, messages, params, caller, started=started)
        return Stream(sse_events(stream), media_type="text/event-stream", headers=SSE_HEADERS)
