"""Anthropic Messages bodies ⇄ the gateway's vocabulary."""

from __future__ import annotations

from typing import Any

from handlers.anthropic_api.schemas import (
    Base64Source,
    ImageBlockIn,
    MessageIn,
    MessageOut,
    MessagesRequest,
    MessageUsage,
    StopReason,
    TextBlock,
    TextBlockIn,
    ThinkingBlock,
    ThinkingEnabled,
)
from runtime.errors import BadRequest
from runtime.llm.gateway import Completed
from runtime.llm.types import Message, Params, Usage

# Our normalized finish reasons → Anthropic's stop reasons. A stop sequence and the model
# ending its turn both arrive as "stop" from most upstreams: reported as end_turn.
_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(reason: str | None) -> StopReason:
    return _STOP_REASONS.get(reason or "stop", "end_turn")


def _part(block: TextBlockIn | ImageBlockIn) -> dict[str, Any]:
    """One block as the OpenAI-style content part every adapter understands."""
    if isinstance(block, TextBlockIn):
        return {"type": "text", "text": block.text}
    source = block.source
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
    else:
        url = source.url
    return {"type": "image_url", "image_url": {"url": url}}


def _content(message: MessageIn) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    # Thinking a client sends back belongs to the model that wrote it: not forwarded.
    parts = [_part(b) for b in message.content if isinstance(b, TextBlockIn | ImageBlockIn)]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def to_messages(request: MessagesRequest) -> list[Message]:
    messages: list[Message] = []
    system = request.system
    if isinstance(system, list):
        system = "\n\n".join(block.text for block in system)
    if system:
        messages.append(Message(role="system", content=system))
    messages += [Message(role=m.role, content=_content(m)) for m in request.messages]
    return messages


def to_params(request: MessagesRequest) -> Params:
    if request.tools:
        # Silently dropping them would leave the client waiting for tool_use blocks.
        raise BadRequest("unsupported_parameter", detail="tools: tool use is not supported.")
    thinking = request.thinking
    return Params(
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
        stop=request.stop_sequences,
        reasoning_budget_tokens=(
            thinking.budget_tokens if isinstance(thinking, ThinkingEnabled) else None
        ),
        # Not a common parameter: passed through to upstreams that take it by this name
        # (Anthropic, vLLM, llama.cpp, Ollama).
        extra={"top_k": request.top_k} if request.top_k is not None else None,
    )


def message_usage(usage: Usage) -> MessageUsage:
    return MessageUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_input_tokens=usage.cached_input_tokens or None,
    )


def message(done: Completed) -> MessageOut:
    result, meter = done.result, done.meter
    content: list[ThinkingBlock | TextBlock] = []
    if result.reasoning:
        content.append(ThinkingBlock(thinking=result.reasoning))
    content.append(TextBlock(text=result.content))
    return MessageOut(
        id=f"msg_{meter.call_id}",
        model=meter.model.alias,
        content=content,
        stop_reason=stop_reason(result.finish_reason),
        usage=message_usage(result.usage),
    )
