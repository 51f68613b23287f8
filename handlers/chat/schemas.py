"""Request and response bodies of the chat routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Title = Annotated[str, Meta(min_length=1, max_length=300)]
Prompt = Annotated[str, Meta(max_length=100_000)]
Content = Annotated[str, Meta(min_length=1, max_length=200_000)]
KnowledgeBaseIds = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=20)]
TopK = Annotated[int, Meta(ge=1, le=50)]
Values = dict[Annotated[str, Meta(max_length=100)], Annotated[str, Meta(max_length=100_000)]]


class ChatParameters(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Sampling parameters; absent ones fall back to the session's, then the model's."""

    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    stop: Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=8)] | None = None
    seed: int | None = None
    presence_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning_budget_tokens: Annotated[int, Meta(ge=0)] | None = None


class SessionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model_config_id: str
    title: Title | None = None
    # Either a system prompt, or a template rendered with ``variables`` into one.
    system_prompt: Prompt | None = None
    template_id: str | None = None
    variables: Values = msgspec.field(default_factory=dict)
    parameters: ChatParameters = msgspec.field(default_factory=ChatParameters)
    # Knowledge bases each turn retrieves from; the answer cites their chunks as [n].
    knowledge_base_ids: KnowledgeBaseIds = msgspec.field(default_factory=list)
    knowledge_top_k: TopK | None = None


class SessionUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay; a new system prompt detaches the session from its template."""

    title: Title | UnsetType = UNSET
    model_config_id: str | UnsetType = UNSET
    system_prompt: Prompt | UnsetType | None = UNSET
    template_id: str | UnsetType | None = UNSET
    variables: Values | UnsetType = UNSET
    parameters: ChatParameters | UnsetType = UNSET
    knowledge_base_ids: KnowledgeBaseIds | UnsetType = UNSET
    knowledge_top_k: TopK | UnsetType | None = UNSET


class Session(msgspec.Struct, kw_only=True):
    id: str
    title: str
    # default, user (set by the user) or generated (from the first exchange)
    title_source: str
    model_config_id: str | None
    system_prompt: str | None
    template_id: str | None
    variables: dict[str, str]
    parameters: dict[str, Any]
    knowledge_base_ids: list[str] = msgspec.field(default_factory=list)
    # Chunks retrieved per turn; None: the default.
    knowledge_top_k: int | None = None
    created_at: datetime
    updated_at: datetime


class SessionPage(msgspec.Struct, kw_only=True):
    items: list[Session]
    total: int
    limit: int
    offset: int


class SendMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: Content
    parameters: ChatParameters | None = None


class Regenerate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    parameters: ChatParameters | None = None


class Message(msgspec.Struct, kw_only=True):
    id: str
    session_id: str
    parent_id: str | None
    role: str
    content: str
    reasoning: str | None
    # completed, failed or cancelled (how the answer ended)
    status: str
    meta: dict[str, Any]
    rating: int | None
    rating_note: str | None
    created_at: datetime
    # On the current branch; false for superseded siblings (listed with ?all=true).
    current: bool
    # Position among the message's siblings (regenerated answers, edited questions).
    sibling_index: int
    sibling_count: int
    # False while only the turn's event knows the message (the consumer is behind).
    persisted: bool


class MessageList(msgspec.Struct, kw_only=True):
    items: list[Message]


class RatingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rating: Literal[1, -1]
    note: Annotated[str, Meta(max_length=2000)] | None = None


class StopResult(msgspec.Struct, kw_only=True):
    # False when no generation of the session was running on any replica.
    stopped: bool
    # The turn that answered first (two tabs may stream in one session; all of them stop).
    turn_id: str | None = None


class Export(msgspec.Struct, kw_only=True):
    session: Session
    messages: list[Message]
    exported_at: datetime
