"""Event type filters of webhooks and the SSE feed: NATS-style wildcards on short types.

A filter matches the event type without its ``llmforge.`` prefix and ``.vN`` suffix:
``auth.user.registered`` names one type, ``training.job.*`` one more token,
``auth.>`` one or more tokens, and a bare ``*`` every type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from events.streams import SUBJECT_ROOT, subject_matches

ALL = "*"
MAX_FILTERS = 50
_TOKEN = re.compile(r"^(?:[a-z0-9_]+|\*|>)$")
_VERSION = re.compile(r"\.v\d+$")


class InvalidFilter(ValueError):
    """A filter that can never match anything the platform publishes."""


def short_type(event_type: str) -> str:
    """``llmforge.auth.user.registered.v1`` → ``auth.user.registered``."""
    return _VERSION.sub("", event_type.removeprefix(f"{SUBJECT_ROOT}."))


def normalize_filter(pattern: str) -> str:
    """Trim, lower-case and accept a full type name too; raise InvalidFilter otherwise."""
    value = short_type(pattern.strip().lower())
    if value == ALL:
        return value
    tokens = value.split(".")
    if not value or any(not _TOKEN.match(t) for t in tokens):
        raise InvalidFilter(f"{pattern!r}: use dot-separated words, '*' or a final '>'")
    if ">" in tokens[:-1]:
        raise InvalidFilter(f"{pattern!r}: '>' may only be the last token")
    return value


def normalize_filters(patterns: Iterable[str]) -> list[str]:
    """Normalized, de-duplicated filters in their given order; at least one."""
    result = list(dict.fromkeys(normalize_filter(p) for p in patterns))
    if not result:
        raise InvalidFilter("give at least one event type filter ('*' for every event)")
    if len(result) > MAX_FILTERS:
        raise InvalidFilter(f"at most {MAX_FILTERS} event type filters")
    return result


def matches(patterns: Iterable[str], event_type: str) -> bool:
    short = short_type(event_type)
    return any(p == ALL or subject_matches(p, short) for p in patterns)


class TypeFilter:
    """``matches`` for one fixed list of filters, remembered per event type.

    An SSE feed asks about every event its streams carry, once per open feed, and the
    platform has only so many types: after the first of each, the answer is a dict lookup.
    """

    __slots__ = ("_known", "_patterns")
    # Types only an unknown producer would send could grow the memo without end.
    _MAX_KNOWN = 1024

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(patterns)
        self._known: dict[str, bool] = {}

    def __call__(self, event_type: str) -> bool:
        known = self._known.get(event_type)
        if known is None:
            if len(self._known) >= self._MAX_KNOWN:
                self._known.clear()
            known = self._known[event_type] = matches(self._patterns, event_type)
        return known
