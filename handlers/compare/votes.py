"""Votes on runs: one per user and run, changeable; each kept as per-model outcomes."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.compare import CompareRunVoted, CompareVoteData
from handlers.auth import CurrentUser
from handlers.compare.ratings import vote_outcomes
from handlers.compare.runs import get_owned
from handlers.compare.schemas import VoteCreate
from handlers.compare.store import insert_ignoring_duplicates
from runtime.db.models import CompareVote, CompareVoteOutcome, new_id, utcnow
from runtime.errors import BadRequest
from runtime.outbox import emit


async def vote_of(session: AsyncSession, user_id: str, run_id: str) -> CompareVote | None:
    return await session.scalar(
        select(CompareVote).where(CompareVote.run_id == run_id, CompareVote.user_id == user_id)
    )


async def cast_vote(
    session: AsyncSession, user: CurrentUser, run_id: str, data: VoteCreate
) -> CompareVote:
    """Record or replace the caller's vote on their run; the winner must have taken part."""
    run = await get_owned(session, user, run_id)
    participants = [m["model_config_id"] for m in run.models]
    winner = data.winner_model_config_id
    try:
        outcomes = vote_outcomes(participants, winner)
    except ValueError as exc:
        raise BadRequest("winner_not_in_run", detail=str(exc)) from exc
    # Two clicks at once may both insert: the unique key keeps one, then both update it.
    await insert_ignoring_duplicates(
        session,
        CompareVote,
        [{"id": new_id(), "run_id": run.id, "user_id": user.id, "created_at": utcnow()}],
        ["run_id", "user_id"],
    )
    vote = await vote_of(session, user.id, run.id)
    assert vote is not None
    vote.winner_model_config_id, vote.note, vote.updated_at = winner, data.note, utcnow()
    await session.execute(delete(CompareVoteOutcome).where(CompareVoteOutcome.vote_id == vote.id))
    session.add_all(
        CompareVoteOutcome(vote_id=vote.id, model_config_id=m, outcome=o)
        for m, o in outcomes.items()
    )
    await session.flush()
    data_out = CompareVoteData(
        run_id=run.id,
        user_id=user.id,
        winner_model_config_id=winner,
        model_config_ids=participants,
    )
    emit(session, CompareRunVoted(subject=run.id, actor=user.id, data=data_out))
    return vote
