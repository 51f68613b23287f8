"""The CloudEvents 1.0 envelope every llmforge event travels in."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import ClassVar

import msgspec

SPEC_VERSION = "1.0"
SOURCE = "llmforge"
SYSTEM_ACTOR = "system"


def new_event_id() -> str:
    # uuid7 would sort by time, but the stdlib only has it from 3.14; 128 random bits are
    # enough because ordering comes from the JetStream sequence, not from the id. The shape
    # of uuid4().hex (32 hex digits) at a fifth of its cost: every gateway call makes one.
    return os.urandom(16).hex()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event: CloudEvents attributes, with ``type`` as the union tag.

    Subclasses set ``tag`` to ``llmforge.<domain>.<entity>.<verb>.v1`` and declare
    ``SUBJECT``: the NATS subject, where ``{subject}`` stands for the entity id token.
    The JSON form is CloudEvents' structured mode, so outside subscribers can read it
    with any CloudEvents SDK.
    """

    SUBJECT: ClassVar[str]

    id: str = msgspec.field(default_factory=new_event_id)
    source: str = SOURCE
    specversion: str = SPEC_VERSION
    subject: str
    time: datetime = msgspec.field(default_factory=utcnow)
    actor: str = SYSTEM_ACTOR
    datacontenttype: str = "application/json"

    @property
    def type(self) -> str:
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag

    @property
    def nats_subject(self) -> str:
        return self.SUBJECT.format(subject=self.subject)
