"""The leaderboard: every user's votes, counted per model in SQL, ranked in Python."""

from __future__ import annotations

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.compare.ratings import Standing, ranked, tally
from handlers.compare.schemas import BatchModelSummary, Leaderboard, LeaderboardEntry
from runtime.db.models import CompareRun, CompareVote, CompareVoteOutcome, ModelConfig


def _counts() -> Select[str, str, int]:
    return (
        select(CompareVoteOutcome.model_config_id, CompareVoteOutcome.outcome, func.count())
        .join(CompareVote, CompareVote.id == CompareVoteOutcome.vote_id)
        .group_by(CompareVoteOutcome.model_config_id, CompareVoteOutcome.outcome)
    )


async def standings(session: AsyncSession, *, batch_id: str | None = None) -> dict[str, Standing]:
    """Per model: wins, losses and ties; over all votes, or the votes on one batch's runs."""
    query = _counts()
    if batch_id is not None:
        query = query.join(CompareRun, CompareRun.id == CompareVote.run_id).where(
            CompareRun.batch_id == batch_id
        )
    return tally((m, o, int(n)) for m, o, n in await session.execute(query))


async def leaderboard(session: AsyncSession, *, limit: int, offset: int) -> Leaderboard:
    table = ranked((await standings(session)).values())
    page = table[offset : offset + limit]
    names = {
        m.id: (m.alias, m.name)
        for m in await session.scalars(
            select(ModelConfig).where(ModelConfig.id.in_([s.model_config_id for s in page]))
        )
    }
    votes = await session.scalar(select(func.count()).select_from(CompareVote))
    items = []
    for rank, s in enumerate(page, start=offset + 1):
        alias, name = names.get(s.model_config_id, (None, None))
        low, high = s.interval
        items.append(
            LeaderboardEntry(
                rank=rank,
                model_config_id=s.model_config_id,
                alias=alias,
                name=name,
                wins=s.wins,
                losses=s.losses,
                ties=s.ties,
                games=s.games,
                win_rate=None if s.win_rate is None else round(s.win_rate, 4),
                ci_low=round(low, 4),
                ci_high=round(high, 4),
            )
        )
    return Leaderboard(
        items=items, total=len(table), limit=limit, offset=offset, votes=int(votes or 0)
    )


def with_votes(summary: BatchModelSummary, standing: Standing | None) -> BatchModelSummary:
    if standing is None:
        return summary
    rate = standing.win_rate
    return msgspec.structs.replace(
        summary,
        wins=standing.wins,
        losses=standing.losses,
        ties=standing.ties,
        win_rate=None if rate is None else round(rate, 4),
    )
