"""Events of the prompts domain: system prompt templates and their versions."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class TemplateData(msgspec.Struct, frozen=True, kw_only=True):
    template_id: str
    owner_id: str | None
    name: str
    version: int
    shared: bool


class TemplateChangedData(TemplateData, frozen=True, kw_only=True):
    changed: list[str]
    # Set when the edit copied an older version forward.
    restored_from: int | None = None


class TemplateCreated(Event, frozen=True, kw_only=True, tag="llmforge.prompts.template.created.v1"):
    SUBJECT: ClassVar[str] = "llmforge.prompts.template.created"
    data: TemplateData


class TemplateUpdated(Event, frozen=True, kw_only=True, tag="llmforge.prompts.template.updated.v1"):
    """A new version of a template was saved (an edit or a restore)."""

    SUBJECT: ClassVar[str] = "llmforge.prompts.template.updated"
    data: TemplateChangedData


class TemplateDeleted(Event, frozen=True, kw_only=True, tag="llmforge.prompts.template.deleted.v1"):
    SUBJECT: ClassVar[str] = "llmforge.prompts.template.deleted"
    data: TemplateData


PROMPT_EVENTS = (TemplateCreated, TemplateUpdated, TemplateDeleted)
