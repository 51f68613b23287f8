"""Permissions, the built-in roles, and how a role name becomes a set of permissions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    """What a role may do; each route family is guarded by exactly one of these."""

    CHAT_USE = "chat.use"  # chat, compare, prompt rendering, the /v1 surface
    PROMPTS_MANAGE = "prompts.manage"
    PROVIDERS_MANAGE = "providers.manage"  # providers and model configs
    DATASETS_MANAGE = "datasets.manage"
    TRAINING_RUN = "training.run"  # jobs, exports, serving trained models
    KNOWLEDGE_MANAGE = "knowledge.manage"  # knowledge bases, documents, search, Dify retrieval
    WEBHOOKS_MANAGE = "webhooks.manage"
    EVENTS_READ = "events.read"  # the SSE event feed (still filtered by visibility)
    USERS_MANAGE = "users.manage"  # users and custom roles
    QUOTAS_MANAGE = "quotas.manage"
    USAGE_READ = "usage.read"  # the statistics dashboard
    AUDIT_READ = "audit.read"


# Shown by GET /api/admin/permissions; a unit test keeps it complete.
DESCRIPTIONS: dict[Permission, str] = {
    Permission.CHAT_USE: "Chat, compare models, read and render prompts, call the /v1 API.",
    Permission.PROMPTS_MANAGE: "Create, edit, restore and delete prompt templates.",
    Permission.PROVIDERS_MANAGE: "Manage LLM providers and model configurations.",
    Permission.DATASETS_MANAGE: "Upload, preview and delete training datasets.",
    Permission.TRAINING_RUN: "Run fine-tuning jobs, export and serve trained models.",
    Permission.KNOWLEDGE_MANAGE: "Manage knowledge bases and documents, search, Dify retrieval.",
    Permission.WEBHOOKS_MANAGE: "Manage webhook endpoints and their deliveries.",
    Permission.EVENTS_READ: "Follow the live event feed (only events the caller may see).",
    Permission.USERS_MANAGE: "Create, disable and re-role users; reset passwords; manage roles.",
    Permission.QUOTAS_MANAGE: "Set usage quotas.",
    Permission.USAGE_READ: "Read usage summaries and statistics of every user.",
    Permission.AUDIT_READ: "Read the audit log.",
}

ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)

ROLE_ADMIN = "admin"
ROLE_USER = "user"

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    ROLE_ADMIN: ALL_PERMISSIONS,
    ROLE_USER: frozenset(
        {
            Permission.CHAT_USE,
            Permission.PROMPTS_MANAGE,
            Permission.DATASETS_MANAGE,
            Permission.TRAINING_RUN,
            Permission.KNOWLEDGE_MANAGE,
            Permission.WEBHOOKS_MANAGE,
            Permission.EVENTS_READ,
        }
    ),
}

BUILTIN_DESCRIPTIONS: dict[str, str] = {
    ROLE_ADMIN: "Every permission.",
    ROLE_USER: "Everyday work: chat, prompts, datasets, training, knowledge, webhooks, events.",
}

# users.role is a String(32); lower-case so names never differ only by case.
ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"
_ROLE_NAME = re.compile(ROLE_NAME_PATTERN)


def builtin_permissions(role: str) -> frozenset[Permission] | None:
    """The permissions of a built-in role, or None for a custom role name."""
    return BUILTIN_ROLES.get(role)


def is_builtin(role: str) -> bool:
    return role in BUILTIN_ROLES


def valid_role_name(name: str) -> bool:
    return _ROLE_NAME.match(name) is not None


def parse_permissions(values: Iterable[str]) -> tuple[frozenset[Permission], list[str]]:
    """Known permissions and the unknown names, in the order given."""
    known: set[Permission] = set()
    unknown: list[str] = []
    for value in values:
        try:
            known.add(Permission(value))
        except ValueError:
            unknown.append(value)
    return frozenset(known), unknown


def sorted_names(permissions: Iterable[Permission]) -> list[str]:
    """A stable order for storage and answers: the enum's declaration order."""
    chosen = set(permissions)
    return [p.value for p in Permission if p in chosen]
