"""The OpenAI-compatible surface (/v1): models, chat completions, embeddings."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.models.aliases import servable_aliases
from handlers.models.service import servable_configs
from handlers.openai_api.convert import (
    chat_completion,
    embedding_inputs,
    embedding_object,
    to_messages,
    to_params,
)
from handlers.openai_api.errors import OPENAI_EXCEPTION_HANDLERS
from handlers.openai_api.framing import ChunkFramer, sse_chunks
from handlers.openai_api.schemas import (
    ChatCompletionRequest,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
    ModelListOut,
    ModelObject,
)
from handlers.providers.deps import provide_gateway
from handlers.quotas import within_quota
from runtime.llm.metering import Caller

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def caller_of(user: CurrentUser) -> Caller:
    return Caller(user_id=user.id, api_key_id=user.api_key_id, origin="v1")


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai-compatible"]
    guards = [requires(Permission.CHAT_USE)]
    # The gateway comes from ``state`` (a reserved argument, no dependency): Litestar
    # resolves two dependencies of one level in an anyio task group, on every request.
    # OpenAI SDKs parse {"error": {...}}, not problem details.
    exception_handlers = OPENAI_EXCEPTION_HANDLERS

    @get("/models", operation_id="v1ListModels")
    async def list_models(self, db_session: AsyncSession) -> ModelListOut:
        rows = await servable_configs(db_session)
        data = [
            ModelObject(id=m.alias, created=int(m.created_at.timestamp()), owned_by="llmforge")
            for m in rows
        ]
        # Stable aliases answer too (from their promoted target), so clients can list them.
        data += [
            ModelObject(id=a.alias, created=int(a.created_at.timestamp()), owned_by="llmforge")
            for a in await servable_aliases(db_session)
        ]
        return ModelListOut(data=data)

    @post(
        "/chat/completions",
        operation_id="v1ChatCompletions",
        status_code=200,
        guards=[within_quota],
    )
    async def chat_completions(
        self, data: ChatCompletionRequest, state: State, current_user: CurrentUser
    ) -> Response[Any]:
        started = time.perf_counter()
        gateway = provide_gateway(state)
        messages, params, caller = to_messages(data), to_params(data), caller_of(current_user)
        if not data.stream:
            done = await gateway.complete(data.model, messages, params, caller, started=started)
            body = chat_completion(done)
            return Response(body, headers={"Server-Timing": done.meter.server_timing()})
        stream = await gateway.open_stream(data.model, messages, params, caller, started=started)
        include_usage = bool(data.stream_options and data.stream_options.include_usage)
        framer = ChunkFramer(
            f"chatcmpl-{stream.call_id}",
            int(time.time()),
            stream.model.alias,
            include_usage=include_usage,
        )
        return Stream(
            sse_chunks(stream, framer, include_usage=include_usage),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    @post("/embeddings", operation_id="v1Embeddings", status_code=200, guards=[within_quota])
    async def embeddings(
        self, data: EmbeddingRequest, state: State, current_user: CurrentUser
    ) -> Response[EmbeddingList]:
        started = time.perf_counter()
        gateway = provide_gateway(state)
        inputs = embedding_inputs(data)
        done = await gateway.embed(data.model, inputs, caller_of(current_user), started=started)
        body = EmbeddingList(
            data=[embedding_object(i, v, data.encoding_format) for i, v in enumerate(done.vectors)],
            model=done.meter.model.alias,
            usage=EmbeddingUsage(
                prompt_tokens=done.usage.input_tokens, total_tokens=done.usage.input_tokens
            ),
        )
        return Response(body, headers={"Server-Timing": done.meter.server_timing()})
