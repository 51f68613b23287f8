"""Events of the chat domain: sessions, turns (one question and its answer) and messages.

Turn events carry everything a turn produced (both messages with their ids, reasoning,
usage, timings), because the handler that streamed the turn writes nothing: the ``chat``
consumer persists the turn from the event alone, and the next request of the session can
rebuild the history from it before that has happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from events.envelope import Event

TurnKind = Literal["send", "regenerate", "edit"]


class SessionData(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    title: str
    model_config_id: str | None = None
    template_id: str | None = None


class SessionChangedData(SessionData, frozen=True, kw_only=True):
    # Names of the fields that changed: title, model_config_id, system_prompt, …
    changed: list[str] = msgspec.field(default_factory=list)


class SessionRenamedData(SessionData, frozen=True, kw_only=True):
    previous_title: str
    # True when the title was written from the first exchange, not by the user.
    generated: bool = True


class SessionCreated(Event, frozen=True, kw_only=True, tag="llmforge.chat.session.created.v1"):
    SUBJECT: ClassVar[str] = "llmforge.chat.session.created"
    data: SessionData


class SessionUpdated(Event, frozen=True, kw_only=True, tag="llmforge.chat.session.updated.v1"):
    """The user changed a session's title, model, system prompt or parameters."""

    SUBJECT: ClassVar[str] = "llmforge.chat.session.updated"
    data: SessionChangedData


class SessionRenamed(Event, frozen=True, kw_only=True, tag="llmforge.chat.session.renamed.v1"):
    """A session got its title from its first exchange (or a fallback from the question)."""

    SUBJECT: ClassVar[str] = "llmforge.chat.session.renamed"
    data: SessionRenamedData


class SessionDeleted(Event, frozen=True, kw_only=True, tag="llmforge.chat.session.deleted.v1"):
    """A session was deleted, and with it its messages."""

    SUBJECT: ClassVar[str] = "llmforge.chat.session.deleted"
    data: SessionData


class TurnCitation(msgspec.Struct, frozen=True, kw_only=True):
    """A knowledge-base chunk given to the model as source ``[index]``."""

    index: int
    document_id: str
    knowledge_base_id: str = ""
    filename: str = ""
    chunk_index: int = 0
    score: float = 0.0
    text: str = ""


class TurnData(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    turn_id: str
    # send: a new question; regenerate: a new answer to an existing question (a sibling
    # of the earlier answers); edit: a new version of a question, with its answer.
    kind: TurnKind = "send"
    # The question: new for send and edit, the one answered again for regenerate.
    user_message_id: str
    # The answer before the question on its branch; None for a session's first question.
    parent_id: str | None = None
    question: str
    # The answer (its parent is the question), as far as it got.
    assistant_message_id: str
    answer: str = ""
    reasoning: str = ""
    # The answer or reasoning was cut to keep the event within the broker's payload limit.
    truncated: bool = False
    # When the question was asked and the answer was started (siblings are ordered by
    # them); the handler always sets both, readers fall back to the event's time.
    asked_at: datetime | None = None
    answered_at: datetime | None = None
    model_config_id: str
    model_alias: str | None = None
    upstream_model: str | None = None
    call_id: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0
    # Milliseconds from the request: to the first reasoning or content delta, and in all.
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    cost: float | None = None
    # The knowledge-base chunks retrieved for the question (empty without knowledge bases).
    citations: list[TurnCitation] = msgspec.field(default_factory=list)


class TurnFailedData(TurnData, frozen=True, kw_only=True):
    # The gateway's error kind (auth, rate_limited, timeout, upstream, …) and its message.
    error: str
    error_message: str


class TurnCancelledData(TurnData, frozen=True, kw_only=True):
    # stopped: POST …/stop from any replica; client_disconnected: the client hung up.
    reason: Literal["stopped", "client_disconnected"] = "stopped"


class TurnCompleted(Event, frozen=True, kw_only=True, tag="llmforge.chat.turn.completed.v1"):
    """A chat turn ended with the model's whole answer. Subject: the session id."""

    SUBJECT: ClassVar[str] = "llmforge.chat.turn.{subject}.completed"
    data: TurnData


class TurnFailed(Event, frozen=True, kw_only=True, tag="llmforge.chat.turn.failed.v1"):
    """The provider failed before or during the answer; carries the partial answer."""

    SUBJECT: ClassVar[str] = "llmforge.chat.turn.{subject}.failed"
    data: TurnFailedData


class TurnCancelled(Event, frozen=True, kw_only=True, tag="llmforge.chat.turn.cancelled.v1"):
    """The answer was stopped or its client went away; carries what had arrived."""

    SUBJECT: ClassVar[str] = "llmforge.chat.turn.{subject}.cancelled"
    data: TurnCancelledData


TurnEvent = TurnCompleted | TurnFailed | TurnCancelled


class MessageDeletedData(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    # The message and every later message of its branch.
    message_ids: list[str]


class MessageRatedData(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    message_id: str
    rating: int  # 1 (good) or -1 (bad)
    note: str | None = None


class MessageDeleted(Event, frozen=True, kw_only=True, tag="llmforge.chat.message.deleted.v1"):
    SUBJECT: ClassVar[str] = "llmforge.chat.message.deleted"
    data: MessageDeletedData


class MessageRated(Event, frozen=True, kw_only=True, tag="llmforge.chat.message.rated.v1"):
    SUBJECT: ClassVar[str] = "llmforge.chat.message.rated"
    data: MessageRatedData


# The subject filter of one session's turn events (the history reader looks them up).
def turn_subjects(session_id: str) -> str:
    return f"llmforge.chat.turn.{session_id}.*"


CHAT_EVENTS = (
    SessionCreated,
    SessionUpdated,
    SessionRenamed,
    SessionDeleted,
    TurnCompleted,
    TurnFailed,
    TurnCancelled,
    MessageDeleted,
    MessageRated,
)
