"""Request and response bodies of the prompt-template routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from handlers.prompts.variables import Variable

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Body = Annotated[str, Meta(min_length=1, max_length=100_000)]
Category = Annotated[str, Meta(min_length=1, max_length=100)]
Tag = Annotated[str, Meta(min_length=1, max_length=50, pattern=r"^[\w .:/+-]+$")]
Tags = Annotated[list[Tag], Meta(max_length=20)]
Variables = Annotated[list[Variable], Meta(max_length=50)]


class TemplateCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    body: Body
    description: Annotated[str, Meta(max_length=2000)] | None = None
    category: Category | None = None
    tags: Tags = msgspec.field(default_factory=list)
    variables: Variables = msgspec.field(default_factory=list)
    # Shared templates are visible to everyone; only admins publish them.
    shared: bool = False


class TemplateUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay as they are; ``null`` clears description and category."""

    name: Name | UnsetType = UNSET
    body: Body | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=2000)] | UnsetType | None = UNSET
    category: Category | UnsetType | None = UNSET
    tags: Tags | UnsetType = UNSET
    variables: Variables | UnsetType = UNSET
    shared: bool | UnsetType = UNSET
    note: Annotated[str, Meta(max_length=500)] | None = None


class Template(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str | None
    name: str
    description: str | None
    category: str | None
    tags: list[str]
    body: str
    variables: list[Variable]
    shared: bool
    version: int
    created_at: datetime
    updated_at: datetime


class TemplatePage(msgspec.Struct, kw_only=True):
    items: list[Template]
    total: int
    limit: int
    offset: int


class TemplateVersion(msgspec.Struct, kw_only=True):
    version: int
    name: str
    description: str | None
    category: str | None
    tags: list[str]
    body: str
    variables: list[Variable]
    shared: bool
    edited_by: str | None
    note: str | None
    created_at: datetime


class VersionList(msgspec.Struct, kw_only=True):
    items: list[TemplateVersion]


class VersionDiff(msgspec.Struct, kw_only=True):
    from_version: int
    to_version: int
    # Fields whose values differ between the two versions.
    changed: list[str]
    # Unified diff of the body ("" when the body is the same).
    body_diff: str


class RenderRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    variables: dict[str, Annotated[str, Meta(max_length=100_000)]] = msgspec.field(
        default_factory=dict
    )


class RenderResult(msgspec.Struct, kw_only=True):
    text: str
    complete: bool
    missing: list[str]
    unknown: list[str]
