"""The preview: whose conversations, which pairs, and what the scrubber masked in them."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser
from handlers.collect.schemas import Pair, PreviewRequest, PreviewResponse, Scrubbed
from handlers.collect.sources import Found, RawPair, chat_pairs, compare_pairs
from runtime.db.models import User
from runtime.errors import Forbidden
from trainer import scrub

TAGS_NOTE = (
    "tags: chat sessions and compare runs have no tags in this version; the filter was not applied"
)


async def user_scope(session: AsyncSession, user: CurrentUser, all_users: bool) -> list[str]:
    """The caller; with ``all_users`` (admins only) also every user who opted in."""
    if not all_users:
        return [user.id]
    if not user.is_admin:
        raise Forbidden(
            "admin_required",
            "Admins only",
            "Only admins may build datasets from other users' conversations.",
        )
    shared = await session.scalars(
        select(User.id).where(User.share_conversations_for_training.is_(True))
    )
    return sorted({user.id, *shared})


def scrubbed_pair(raw: RawPair, options: scrub.Options) -> tuple[Pair, list[scrub.Finding]]:
    findings: list[scrub.Finding] = []
    marks: list[Scrubbed] = []

    def clean(name: str, text: str) -> str:
        masked, found = scrub.scrub(text, options)
        findings.extend(found)
        marks.extend(Scrubbed(field=name, kind=f.kind, text=f.preview) for f in found)
        return masked

    system = clean("system", raw.system) if raw.system else None
    instruction = clean("instruction", raw.instruction)
    output = clean("output", raw.output)
    history = [
        [clean(f"history[{i}][0]", q), clean(f"history[{i}][1]", a)]
        for i, (q, a) in enumerate(raw.history)
    ]
    pair = Pair(
        id=raw.id,
        source="chat" if raw.source == "chat" else "compare",
        source_id=raw.source_id,
        system=system,
        instruction=instruction,
        input="",
        output=output,
        model_alias=raw.model_alias,
        rating=raw.rating,
        created_at=raw.created_at,
        scrubbed=marks,
        model_config_id=raw.model_config_id,
        conversation_id=raw.conversation_id,
        history=history,
    )
    return pair, findings


async def preview(
    session: AsyncSession, user: CurrentUser, request: PreviewRequest
) -> PreviewResponse:
    users = await user_scope(session, user, request.all_users)
    found = Found()
    for source in dict.fromkeys(request.sources):
        part = await (chat_pairs if source == "chat" else compare_pairs)(session, users, request)
        found.pairs += part.pairs
        found.truncated_skipped += part.truncated_skipped
    # Newest first across both sources; the id breaks ties so pages are stable.
    ordered = sorted(found.pairs, key=lambda p: (p.created_at, p.id), reverse=True)
    options = scrub.Options(
        emails=request.scrub.emails, phones=request.scrub.phones, secrets=request.scrub.secrets
    )
    pairs: list[Pair] = []
    counts: Counter[str] = Counter()
    for raw in ordered[: request.limit]:
        pair, findings = scrubbed_pair(raw, options)
        pairs.append(pair)
        counts.update(f.kind for f in findings)
    notes = []
    if request.tags:
        notes.append(TAGS_NOTE)
    if found.truncated_skipped:
        notes.append(
            f"{found.truncated_skipped} compare answer(s) were left out: they were clipped "
            "to fit the event bus and are incomplete"
        )
    return PreviewResponse(
        pairs=pairs,
        total=len(ordered),
        scrub_summary={kind: counts.get(kind, 0) for kind in scrub.KINDS},
        user_count=len(users),
        notes=notes,
    )
