"""JetStream stream definitions: one stream per domain plus the dead-letter stream."""

from __future__ import annotations

import msgspec

SUBJECT_ROOT = "llmforge"
DEAD_LETTER_SUBJECT_ROOT = "llmforge_dlq"

DAY = 86_400.0
MIB = 1024 * 1024


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the bus provisions; changing a limit here updates the live stream."""

    name: str
    subjects: list[str]
    description: str
    max_age_seconds: float
    max_bytes: int
    # Window in which a re-sent Nats-Msg-Id is dropped as a duplicate.
    duplicate_window_seconds: float = 120.0


def _domain(name: str, domain: str, description: str, days: float, mib: int) -> StreamSpec:
    return StreamSpec(
        name=name,
        subjects=[f"{SUBJECT_ROOT}.{domain}.>"],
        description=description,
        max_age_seconds=days * DAY,
        max_bytes=mib * MIB,
    )


STREAMS: tuple[StreamSpec, ...] = (
    _domain("LLMFORGE_AUTH", "auth", "users, logins, sessions and API keys", 90, 512),
    _domain("LLMFORGE_PROVIDERS", "providers", "providers and model configs", 90, 256),
    _domain("LLMFORGE_LLM", "llm", "every gateway call, for usage accounting", 30, 2048),
    _domain("LLMFORGE_CHAT", "chat", "chat turns", 30, 2048),
    _domain("LLMFORGE_COMPARE", "compare", "model comparison runs", 30, 1024),
    _domain("LLMFORGE_PROMPTS", "prompts", "prompt templates", 90, 256),
    _domain("LLMFORGE_TRAINING", "training", "datasets and fine-tuning jobs", 30, 4096),
    _domain("LLMFORGE_KNOWLEDGE", "knowledge", "knowledge bases and indexing", 30, 1024),
    _domain("LLMFORGE_WEBHOOKS", "webhooks", "webhook endpoints and deliveries", 30, 1024),
    _domain("LLMFORGE_ADMIN", "admin", "administrative changes", 365, 256),
    _domain("LLMFORGE_QUOTAS", "quotas", "quota changes and limit rejections", 90, 256),
    StreamSpec(
        name="LLMFORGE_DLQ",
        subjects=[f"{DEAD_LETTER_SUBJECT_ROOT}.>"],
        description="events a consumer gave up on, with the last error",
        max_age_seconds=30 * DAY,
        max_bytes=1024 * MIB,
    ),
)


def dead_letter_subject(consumer: str, original_subject: str) -> str:
    """``llmforge_dlq.<consumer>.<original subject>``: filterable by consumer and by type."""
    return f"{DEAD_LETTER_SUBJECT_ROOT}.{consumer}.{original_subject}"


def stream_for_subject(subject: str) -> StreamSpec:
    for spec in STREAMS:
        for pattern in spec.subjects:
            if subject_matches(pattern, subject):
                return spec
    raise LookupError(f"no stream holds subject {subject!r}")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match: ``*`` is one token, a trailing ``>`` one or more."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for i, p in enumerate(p_tokens):
        if p == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (p != "*" and p != s_tokens[i]):
            return False
    return len(p_tokens) == len(s_tokens)
