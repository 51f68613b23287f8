"""How a streamed turn ended, as its event; and publishing that event without losing it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from events.chat import (
    TurnCancelled,
    TurnCancelledData,
    TurnCitation,
    TurnCompleted,
    TurnData,
    TurnEvent,
    TurnFailed,
    TurnFailedData,
)
from handlers.chat.turns import TurnPlan
from runtime.llm.metering import call_cost
from runtime.llm.stream import ChatStream
from runtime.llm.types import Usage
from runtime.outbox import emit
from runtime.services import Services

log = structlog.get_logger(__name__)

Outcome = Literal["completed", "failed", "cancelled"]
# The texts of one turn event stay under NATS's default 1 MiB max_payload, with room for
# the rest of the envelope; a longer answer is cut (reasoning first) and marked truncated.
MAX_TEXT_BYTES = 900_000
CancelReason = Literal["stopped", "client_disconnected"]


@dataclass(slots=True)
class Answer:
    """What the client has been sent so far, and how the upstream call is going."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    error: tuple[str, str] | None = None  # (kind, message)
    stream: ChatStream | None = None
    # The knowledge-base sources the model was given (none without knowledge bases).
    citations: list[TurnCitation] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        return self.stream.meter.usage if self.stream is not None else Usage()


def _cut(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[: max(0, limit)].decode(errors="ignore")


def fit_texts(question: str, content: str, reasoning: str) -> tuple[str, str, bool]:
    """(answer, reasoning, truncated) within ``MAX_TEXT_BYTES`` with the question."""
    room = MAX_TEXT_BYTES - len(question.encode())
    size = len(content.encode()) + len(reasoning.encode())
    if size <= room:
        return content, reasoning, False
    reasoning = _cut(reasoning, room - len(content.encode()))
    return _cut(content, room - len(reasoning.encode())), reasoning, True


def _common(plan: TurnPlan, answer: Answer, finish_reason: str | None) -> dict[str, Any]:
    meter = answer.stream.meter if answer.stream is not None else None
    usage = answer.usage
    text, reasoning, truncated = fit_texts(
        plan.question.content, "".join(answer.content), "".join(answer.reasoning)
    )
    ttft = None
    if meter is not None and meter.first_token_at is not None:
        ttft = round((meter.first_token_at - plan.started) * 1000, 3)
    return {
        "session_id": plan.session_id,
        "user_id": plan.user_id,
        "turn_id": plan.turn_id,
        "kind": plan.kind,
        "user_message_id": plan.question.message_id,
        "parent_id": plan.question.parent_id,
        "question": plan.question.content,
        "asked_at": plan.question.created_at,
        "assistant_message_id": plan.assistant_id,
        "answer": text,
        "reasoning": reasoning,
        "truncated": truncated,
        "answered_at": plan.assistant_created_at,
        "model_config_id": plan.model_config_id,
        "model_alias": meter.model.alias if meter else None,
        "upstream_model": meter.model.upstream_model if meter else None,
        "call_id": meter.call_id if meter else None,
        "finish_reason": finish_reason,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "ttft_ms": ttft,
        "latency_ms": round((time.perf_counter() - plan.started) * 1000, 3),
        "cost": call_cost(meter.model, usage) if meter else None,
        "citations": list(answer.citations),
    }


def turn_event(
    plan: TurnPlan, answer: Answer, outcome: Outcome, reason: CancelReason = "stopped"
) -> TurnEvent:
    subject, actor = plan.session_id, plan.user_id
    if outcome == "cancelled":
        data = TurnCancelledData(**_common(plan, answer, "cancelled"), reason=reason)
        return TurnCancelled(subject=subject, actor=actor, data=data)
    if outcome == "failed":
        kind, message = answer.error or ("upstream", "the answer ended without finishing")
        failed = TurnFailedData(**_common(plan, answer, "error"), error=kind, error_message=message)
        return TurnFailed(subject=subject, actor=actor, data=failed)
    done = TurnData(**_common(plan, answer, answer.finish_reason or "stop"))
    return TurnCompleted(subject=subject, actor=actor, data=done)


async def publish_turn(services: Services, event: TurnEvent) -> None:
    """Publish and wait for the ack; if NATS fails, an outbox row sends it later.

    Awaited before ``done`` reaches the client, so a follow-up request on any replica
    finds the turn on JetStream even before the consumer has written it.
    """
    try:
        await services.bus.publish(event)
        return
    except Exception as exc:
        log.warning("chat_turn_publish_failed", event_id=event.id, error=str(exc))
    try:
        async with services.session_factory() as session:
            emit(session, event)
            await session.commit()
    except Exception:
        log.exception("chat_turn_event_lost", event_id=event.id, turn_id=event.data.turn_id)
