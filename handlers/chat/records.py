"""What a turn event becomes as chat_messages rows: one mapping for the consumer and readers."""

from __future__ import annotations

from typing import Any

import msgspec

from events.chat import TurnCancelled, TurnCompleted, TurnEvent, TurnFailed

STATUS_OF: dict[type[TurnEvent], str] = {
    TurnCompleted: "completed",
    TurnFailed: "failed",
    TurnCancelled: "cancelled",
}


def meta_info(event: TurnEvent) -> dict[str, Any]:
    """The answer's metadata: model, tokens, timings, cost and how it ended."""
    d = event.data
    meta: dict[str, Any] = {
        "kind": d.kind,
        "model": d.model_alias,
        "model_config_id": d.model_config_id,
        "upstream_model": d.upstream_model,
        "call_id": d.call_id,
        "finish_reason": d.finish_reason,
        "input_tokens": d.input_tokens,
        "output_tokens": d.output_tokens,
        "reasoning_tokens": d.reasoning_tokens,
        "cached_input_tokens": d.cached_input_tokens,
        "ttft_ms": d.ttft_ms,
        "latency_ms": d.latency_ms,
        "cost": d.cost,
        "truncated": d.truncated,
    }
    if d.citations:
        meta["citations"] = msgspec.to_builtins(d.citations)
    if isinstance(event, TurnFailed):
        meta["error"] = event.data.error
        meta["error_message"] = event.data.error_message
    elif isinstance(event, TurnCancelled):
        meta["cancel_reason"] = event.data.reason
    return meta


def turn_rows(event: TurnEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """The question's row and the answer's row, as column values."""
    d = event.data
    asked = d.asked_at or event.time
    answered = d.answered_at or event.time
    common = {"session_id": d.session_id, "turn_id": d.turn_id, "source_event_id": event.id}
    user_row = {
        **common,
        "id": d.user_message_id,
        "parent_id": d.parent_id,
        "role": "user",
        "content": d.question,
        "thinking_content": None,
        "status": "completed",
        "meta_info": {"kind": d.kind},
        "created_at": asked,
        "updated_at": asked,
    }
    answer_row = {
        **common,
        "id": d.assistant_message_id,
        "parent_id": d.user_message_id,
        "role": "assistant",
        "content": d.answer,
        "thinking_content": d.reasoning or None,
        "status": STATUS_OF[type(event)],
        "meta_info": meta_info(event),
        "created_at": answered,
        "updated_at": answered,
    }
    return user_row, answer_row
