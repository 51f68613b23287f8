"""Which durable consumers a subject pattern needs: one per stream it overlaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from events.streams import StreamSpec


@dataclass(frozen=True, slots=True)
class Binding:
    """One durable on one stream; ``filters`` is empty when it reads the whole stream."""

    stream: str
    filters: tuple[str, ...]


def intersect_subjects(a: str, b: str) -> str | None:
    """The subjects both NATS patterns match, as one pattern; None when disjoint."""
    a_tokens, b_tokens = a.split("."), b.split(".")
    out: list[str] = []
    for i in range(max(len(a_tokens), len(b_tokens)) + 1):
        a_tok = a_tokens[i] if i < len(a_tokens) else None
        b_tok = b_tokens[i] if i < len(b_tokens) else None
        if a_tok is None and b_tok is None:
            return ".".join(out)
        # ``>`` matches one or more tokens, so the other side's remaining tokens win.
        if a_tok == ">":
            rest = b_tokens[i:]
            return ".".join(out + rest) if rest else None
        if b_tok == ">":
            rest = a_tokens[i:]
            return ".".join(out + rest) if rest else None
        if a_tok is None or b_tok is None:
            return None
        if a_tok == "*":
            out.append(b_tok)
        elif b_tok in ("*", a_tok):
            out.append(a_tok)
        else:
            return None
    return None  # pragma: no cover - the loop always returns


def _covers(broad: str, narrow: str) -> bool:
    return intersect_subjects(broad, narrow) == narrow


def plan_bindings(patterns: Sequence[str], streams: Sequence[StreamSpec]) -> list[Binding]:
    """One binding per stream whose subjects overlap ``patterns``.

    A filter is set only where it is narrower than the stream, because a consumer's
    filter must lie inside its stream and a full-stream filter is pure overhead.
    """
    bindings: list[Binding] = []
    for spec in streams:
        pieces = [
            piece
            for subject in spec.subjects
            for pattern in patterns
            if (piece := intersect_subjects(pattern, subject)) is not None
        ]
        if not pieces:
            continue
        if all(any(_covers(p, s) for p in pieces) for s in spec.subjects):
            bindings.append(Binding(spec.name, ()))
            continue
        # JetStream refuses overlapping filters, so drop any covered by another one.
        kept: list[str] = []
        for piece in dict.fromkeys(pieces):
            if any(other != piece and _covers(other, piece) for other in pieces):
                continue
            for other in kept:
                if intersect_subjects(other, piece) is not None:
                    raise ValueError(
                        f"subjects {other!r} and {piece!r} overlap on stream {spec.name}; "
                        "JetStream cannot filter on both: use one broader pattern"
                    )
            kept.append(piece)
        bindings.append(Binding(spec.name, tuple(kept)))
    if not bindings:
        raise ValueError(f"no stream holds any of the subjects {list(patterns)!r}")
    return bindings
