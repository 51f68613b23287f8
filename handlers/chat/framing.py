"""The SSE messages of one turn: named events with ids ``<turn id>:<seq>``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.response import ServerSentEventMessage

from events.chat import TurnCancelled, TurnEvent, TurnFailed
from handlers.chat.turns import TurnPlan

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_encode = msgspec.json.encode


class TurnFramer:
    """Numbers the events of one turn, so a client can tell where it left off."""

    def __init__(self, plan: TurnPlan) -> None:
        self.plan = plan
        self._seq = 0

    def event(self, name: str, data: dict[str, Any] | list[Any]) -> ServerSentEventMessage:
        message = ServerSentEventMessage(
            event=name, id=f"{self.plan.turn_id}:{self._seq}", data=_encode(data).decode()
        )
        self._seq += 1
        return message

    def text(self, name: str, text: str) -> ServerSentEventMessage:
        return self.event(name, {"text": text})

    def start(self) -> ServerSentEventMessage:
        p = self.plan
        return self.event(
            "start",
            {
                "turn_id": p.turn_id,
                "session_id": p.session_id,
                "kind": p.kind,
                "user_message_id": p.question.message_id,
                "assistant_message_id": p.assistant_id,
                "parent_id": p.question.parent_id,
                # Earlier turns left out of the history to fit the model's context window.
                "dropped_turns": p.dropped_turns,
            },
        )

    def citations(self, citations: list[dict[str, Any]]) -> ServerSentEventMessage:
        """The knowledge-base sources of the turn, numbered as the model was told to cite them."""
        return self.event("citations", citations)

    def closing(self, event: TurnEvent) -> list[ServerSentEventMessage]:
        """``usage``, then ``error`` for a failed turn or ``done`` for the others."""
        d = event.data
        usage = {
            "input_tokens": d.input_tokens,
            "output_tokens": d.output_tokens,
            "reasoning_tokens": d.reasoning_tokens,
            "cached_input_tokens": d.cached_input_tokens,
        }
        ids = {
            "turn_id": d.turn_id,
            "user_message_id": d.user_message_id,
            "assistant_message_id": d.assistant_message_id,
        }
        if isinstance(event, TurnFailed):
            kind = event.data.error
            code = kind if kind in ("model_not_found", "internal") else f"upstream_{kind}"
            error = {"code": code, "message": event.data.error_message, **ids}
            return [self.event("usage", usage), self.event("error", error)]
        done = {
            **ids,
            "status": "cancelled" if isinstance(event, TurnCancelled) else "completed",
            "finish_reason": d.finish_reason,
            "model": d.model_alias,
            "ttft_ms": d.ttft_ms,
            "latency_ms": d.latency_ms,
            "cost": d.cost,
        }
        return [self.event("usage", usage), self.event("done", done)]
