"""OpenAI request and response bodies ⇄ the gateway's vocabulary."""

from __future__ import annotations

import array
import base64
import sys
import time

from handlers.openai_api.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    CompletionUsage,
    EmbeddingObject,
    EmbeddingRequest,
    PromptDetails,
    TokenDetails,
)
from runtime.errors import BadRequest
from runtime.llm.gateway import Completed
from runtime.llm.types import Message, Params, Usage

# Our normalized finish reasons that OpenAI clients know; the rest are reported as errors.
OPENAI_FINISH = {"stop", "length", "content_filter", "tool_calls"}


def to_messages(request: ChatCompletionRequest) -> list[Message]:
    return [
        Message(
            # "developer" is OpenAI's newer name for the system role.
            role="system" if m.role == "developer" else m.role,
            content=m.content if m.content is not None else "",
            name=m.name,
        )
        for m in request.messages
    ]


def to_params(request: ChatCompletionRequest) -> Params:
    stop = [request.stop] if isinstance(request.stop, str) else request.stop
    return Params(
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_completion_tokens or request.max_tokens,
        stop=stop,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        reasoning_effort=request.reasoning_effort,
    )


def completion_usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
        completion_tokens_details=TokenDetails(reasoning_tokens=usage.reasoning_tokens),
        prompt_tokens_details=PromptDetails(cached_tokens=usage.cached_input_tokens),
    )


def finish_reason(reason: str | None) -> str:
    return reason if reason in OPENAI_FINISH else "stop"


def chat_completion(done: Completed) -> ChatCompletion:
    result, meter = done.result, done.meter
    message = AssistantMessage(
        role="assistant", content=result.content, reasoning_content=result.reasoning or None
    )
    return ChatCompletion(
        id=f"chatcmpl-{meter.call_id}",
        created=int(time.time()),
        model=meter.model.alias,
        choices=[
            Choice(index=0, message=message, finish_reason=finish_reason(result.finish_reason))
        ],
        usage=completion_usage(result.usage),
    )


def embedding_inputs(request: EmbeddingRequest) -> list[str]:
    if request.dimensions is not None:
        # The adapters cannot shorten vectors; a silently wrong size would be worse.
        raise BadRequest("unsupported_parameter", detail="dimensions is not supported.")
    value = request.input
    if isinstance(value, str):
        return [value]
    if not all(isinstance(v, str) for v in value):
        raise BadRequest("unsupported_input", detail="input must be a string or a list of strings.")
    return [str(v) for v in value]


def embedding_object(index: int, vector: list[float], encoding: str) -> EmbeddingObject:
    if encoding != "base64":
        return EmbeddingObject(index=index, embedding=vector)
    # OpenAI's base64 form: little-endian float32, which the SDKs request by default.
    packed = array.array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return EmbeddingObject(index=index, embedding=base64.b64encode(packed.tobytes()).decode())
