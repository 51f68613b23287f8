"""Resume tokens: where a feed stands in each JetStream stream it reads.

A token is ``AUTH:12,WEBHOOKS:40``: per stream (without the ``LLMFORGE_`` prefix), the
last sequence the client has been given or that was skipped on its behalf. Resuming
starts each stream one past its number, so nothing is missed and nothing repeats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PREFIX = "LLMFORGE_"
_PART = re.compile(r"([A-Z][A-Z0-9_]{0,60}):(\d{1,19})")
_MAX_PARTS = 64


class InvalidPosition(ValueError):
    """The Last-Event-ID is not a token this feed wrote."""


def encode_position(positions: Mapping[str, int]) -> str:
    return ",".join(
        f"{name.removeprefix(_PREFIX)}:{seq}" for name, seq in sorted(positions.items())
    )


def decode_position(token: str) -> dict[str, int]:
    parts = [p for p in token.strip().split(",") if p]
    if not parts or len(parts) > _MAX_PARTS:
        raise InvalidPosition("empty or oversized resume token")
    positions: dict[str, int] = {}
    for part in parts:
        match = _PART.fullmatch(part)
        if match is None:
            raise InvalidPosition(f"bad resume token part {part!r}")
        positions[_PREFIX + match.group(1)] = int(match.group(2))
    return positions
