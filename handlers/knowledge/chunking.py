"""Sections to chunks: token-budgeted, paragraph- and sentence-aware, with overlap.

Sizes are counted with the embedding model's own tokenizer, so a chunk never gets
silently truncated by the model. Text is cut at paragraph, then sentence, then token
boundaries, in that order of preference. Consecutive sections of one position (same
page and heading) are packed together; rows of a table keep their first and last row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.knowledge.parsers import Section

CountTokens = Callable[[list[str]], list[int]]
# text, budget, overlap -> pieces of at most ``budget`` tokens overlapping by ``overlap``
SplitTokens = Callable[[str, int, int], list[str]]

_PARAGRAPHS = re.compile(r"\n\s*\n")
# Western sentence ends before whitespace; CJK full stops (\u3002 \uff01 \uff1f) need none.
_SENTENCES = re.compile("(?<=[.!?;])\\s+|(?<=[\u3002\uff01\uff1f])")


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    text: str
    # What gets embedded: the heading path in front gives short chunks their context.
    embed_text: str
    tokens: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Unit:
    text: str
    sep: str
    tokens: int = 0
    row: int | None = None


def _units(
    text: str, budget: int, count: CountTokens, split: SplitTokens, overlap: int
) -> list[_Unit]:
    """Paragraphs; a paragraph over budget becomes sentences; a sentence over it, pieces."""
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    units: list[_Unit] = []
    for paragraph, tokens in zip(paragraphs, count(paragraphs), strict=True):
        if tokens <= budget:
            units.append(_Unit(paragraph, "\n\n", tokens))
            continue
        sentences = [s.strip() for s in _SENTENCES.split(paragraph) if s and s.strip()]
        sep = "\n\n"
        for sentence, n in zip(sentences, count(sentences), strict=True):
            if n <= budget:
                units.append(_Unit(sentence, sep, n))
            else:
                pieces = split(sentence, budget, overlap)
                units.extend(_Unit(p, " ", t) for p, t in zip(pieces, count(pieces), strict=True))
            sep = " "
    return units


def _meta(section: Section, rows: list[int]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if section.page is not None:
        meta["page"] = section.page
    if section.heading:
        meta["heading"] = section.heading
    if rows:
        meta["row_start"], meta["row_end"] = min(rows), max(rows)
    meta.update(section.extra)
    return meta


def chunk_sections(
    sections: Sequence[Section],
    *,
    size: int,
    overlap: int,
    count: CountTokens,
    split: SplitTokens,
) -> list[Chunk]:
    """Chunks of at most ``size`` tokens (heading included), numbered from 0."""
    chunks: list[Chunk] = []
    heading_tokens = dict(
        zip(
            (h := sorted({s.heading for s in sections if s.heading})),
            count([f"{x}\n" for x in h]) if h else [],
            strict=True,
        )
    )
    current: list[_Unit] = []
    context: Section | None = None

    def emit(section: Section) -> None:
        body = "".join((u.sep if i else "") + u.text for i, u in enumerate(current)).strip()
        if not body:
            return
        rows = [u.row for u in current if u.row is not None]
        embed = f"{section.heading}\n{body}" if section.heading else body
        tokens = sum(u.tokens for u in current) + heading_tokens.get(section.heading or "", 0)
        chunks.append(Chunk(len(chunks), body, embed, tokens, _meta(section, rows)))

    for section in sections:
        # A heading may eat at most half the budget; past that it is cut from the embedding
        # input's accounting and the model truncates it, which beats empty chunks.
        budget = max(size - heading_tokens.get(section.heading or "", 0), size // 2)
        same_place = (
            context is not None
            and context.page == section.page
            and context.heading == section.heading
            and context.extra == section.extra
        )
        if not same_place and current and context is not None:
            emit(context)
            current = []
        context = section
        units = _units(section.text, budget, count, split, overlap)
        for unit in units:
            unit.row = section.row
        for unit in units:
            used = sum(u.tokens for u in current)
            if current and used + unit.tokens > budget:
                emit(section)
                # Carry the tail of the last chunk forward, up to ``overlap`` tokens.
                carry: list[_Unit] = []
                kept = 0
                for previous in reversed(current):
                    if kept + previous.tokens > overlap:
                        break
                    carry.insert(0, previous)
                    kept += previous.tokens
                current = carry if kept + unit.tokens <= budget else []
            current.append(unit)
    if current and context is not None:
        emit(context)
    return chunks


def token_splitter(tokenizer: Any) -> SplitTokens:
    """Cut at token boundaries (via offsets), so pieces map back to the original text."""

    def split(text: str, budget: int, overlap: int) -> list[str]:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        offsets = encoding.offsets
        if not offsets:
            return [text]
        step = max(1, budget - overlap)
        pieces = []
        for start in range(0, len(offsets), step):
            end = min(start + budget, len(offsets))
            pieces.append(text[offsets[start][0] : offsets[end - 1][1]])
            if end == len(offsets):
                break
        return pieces

    return split
