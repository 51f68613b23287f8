"""Reading rated chat answers and voted compare answers as (prompt, answer) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.collect.schemas import PreviewRequest
from handlers.compare.runs import results_of
from runtime.db.models import ChatMessage, ChatSession, CompareRun, CompareVote

# IN lists are sent in slices: SQLite caps bound parameters per statement.
_SLICE = 500
# Ancestors followed for ``history``: a branch longer than this keeps its newest turns.
MAX_HISTORY_TURNS = 50
RATINGS = {"up": (1,), "down": (-1,), "any": (1, -1)}


@dataclass(slots=True)
class RawPair:
    """A pair before scrubbing: the text exactly as stored."""

    id: str
    source: str
    source_id: str
    conversation_id: str
    system: str | None
    instruction: str
    output: str
    model_alias: str | None
    model_config_id: str | None
    rating: int
    created_at: datetime
    history: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class Found:
    pairs: list[RawPair] = field(default_factory=list)
    truncated_skipped: int = 0


def _slices(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _SLICE):
        yield list(ids[start : start + _SLICE])


def _window(column: Any, request: PreviewRequest) -> list[ColumnElement[bool]]:
    conditions = []
    if request.since is not None:
        conditions.append(column >= request.since)
    if request.until is not None:
        conditions.append(column < request.until)
    return conditions


async def _messages(session: AsyncSession, ids: Iterable[str]) -> dict[str, ChatMessage]:
    wanted = sorted(set(ids))
    found: dict[str, ChatMessage] = {}
    for chunk in _slices(wanted):
        rows = await session.scalars(select(ChatMessage).where(ChatMessage.id.in_(chunk)))
        found.update({r.id: r for r in rows})
    return found


async def _histories(
    session: AsyncSession, questions: dict[str, ChatMessage]
) -> dict[str, list[list[str]]]:
    """For each question id: the earlier [question, answer] turns of its branch."""
    turns: dict[str, list[list[str]]] = {q: [] for q in questions}
    # Walk every chain one level per query: answer → its question → …
    cursor = {q: m.parent_id for q, m in questions.items() if m.parent_id}
    for _ in range(MAX_HISTORY_TURNS):
        if not cursor:
            break
        answers = await _messages(session, cursor.values())
        asked = await _messages(session, (a.parent_id for a in answers.values() if a.parent_id))
        following: dict[str, str | None] = {}
        for question_id, answer_id in cursor.items():
            answer = answers.get(answer_id or "")
            question = asked.get(answer.parent_id or "") if answer else None
            if answer is None or question is None or answer.deleted_at or question.deleted_at:
                continue
            turns[question_id].insert(0, [question.content, answer.content])
            following[question_id] = question.parent_id
        cursor = {q: p for q, p in following.items() if p}
    return turns


def _model_matches(model_id: str | None, request: PreviewRequest) -> bool:
    return request.model_config_ids is None or model_id in request.model_config_ids


async def chat_pairs(
    session: AsyncSession, user_ids: Sequence[str], request: PreviewRequest
) -> Found:
    """Rated, completed answers with the question they answer and the session's system."""
    query = (
        select(ChatMessage, ChatSession)
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .where(
            ChatSession.user_id.in_(list(user_ids)),
            ChatMessage.role == "assistant",
            ChatMessage.status == "completed",
            ChatMessage.deleted_at.is_(None),
            ChatMessage.rating.in_(RATINGS[request.rating]),
            *_window(ChatMessage.created_at, request),
        )
        .order_by(ChatMessage.created_at.desc(), ChatMessage.id)
    )
    answers: list[tuple[ChatMessage, ChatSession]] = []
    for answer, chat in await session.execute(query):
        model_id = (answer.meta_info or {}).get("model_config_id") or chat.model_config_id
        if _model_matches(model_id, request) and answer.content.strip():
            answers.append((answer, chat))
    questions = await _messages(session, (a.parent_id for a, _ in answers if a.parent_id))
    histories = await _histories(session, questions) if request.history else {}
    found = Found()
    for answer, chat in answers:
        question = questions.get(answer.parent_id or "")
        if question is None or question.deleted_at is not None or not question.content.strip():
            continue
        meta = answer.meta_info or {}
        found.pairs.append(
            RawPair(
                id=f"chat:{answer.id}",
                source="chat",
                source_id=answer.id,
                conversation_id=chat.id,
                system=chat.system_prompt or None,
                instruction=question.content,
                output=answer.content,
                model_alias=meta.get("model"),
                model_config_id=meta.get("model_config_id") or chat.model_config_id,
                rating=answer.rating or 0,
                created_at=answer.created_at,
                history=histories.get(question.id, []),
            )
        )
    return found


async def compare_pairs(
    session: AsyncSession, user_ids: Sequence[str], request: PreviewRequest
) -> Found:
    """Answers of voted runs: the winner's rates up, the others of the run rate down."""
    query = (
        select(CompareVote, CompareRun)
        .join(CompareRun, CompareRun.id == CompareVote.run_id)
        .where(
            CompareVote.user_id.in_(list(user_ids)),
            CompareVote.winner_model_config_id.is_not(None),
            CompareRun.deleted_at.is_(None),
            *_window(CompareRun.created_at, request),
        )
        .order_by(CompareRun.created_at.desc(), CompareRun.id)
    )
    voted = list(await session.execute(query))
    results: dict[str, list[Any]] = {}
    for chunk in _slices([run.id for _, run in voted]):
        results.update(await results_of(session, chunk))
    wanted = RATINGS[request.rating]
    found = Found()
    for vote, run in voted:
        if not run.prompt.strip():
            continue
        for result in results.get(run.id, []):
            rating = 1 if result.model_config_id == vote.winner_model_config_id else -1
            if rating not in wanted or result.status != "ok" or not result.answer.strip():
                continue
            if not _model_matches(result.model_config_id, request):
                continue
            if result.truncated:
                # Clipped to fit the broker: half an answer must not become a target.
                found.truncated_skipped += 1
                continue
            found.pairs.append(
                RawPair(
                    id=f"compare:{run.id}:{result.model_config_id}",
                    source="compare",
                    source_id=run.id,
                    conversation_id=run.id,
                    system=run.system_prompt or None,
                    instruction=run.prompt,
                    output=result.answer,
                    model_alias=result.alias or None,
                    model_config_id=result.model_config_id,
                    rating=rating,
                    created_at=run.created_at,
                )
            )
    return found
