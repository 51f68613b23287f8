"""Counts beyond the gateway: users, training jobs and knowledge bases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from events.auth import LoginSucceeded
from handlers.stats.schemas import KnowledgeStats, TrainingStats, UserCounts
from runtime.db.models import AuditLog, Document, KnowledgeBase, TrainingJob, User
from runtime.db.models.providers import LlmCall

LOGIN_TYPE = str(LoginSucceeded.__struct_config__.tag)
OUTCOMES = ("succeeded", "failed", "cancelled")


async def user_counts(session: AsyncSession, since: datetime, until: datetime) -> UserCounts:
    """Active = distinct users with a gateway call or a login in ``[since, until)``.

    Logins come from the audit log (every login, not only the latest) and, for the audit
    consumer's lag or a trimmed log, from ``users.last_login_at``.
    """
    active_ids = union(
        select(LlmCall.user_id).where(
            LlmCall.time >= since, LlmCall.time < until, LlmCall.user_id.is_not(None)
        ),
        select(AuditLog.subject).where(
            AuditLog.type == LOGIN_TYPE, AuditLog.time >= since, AuditLog.time < until
        ),
        select(User.id).where(User.last_login_at >= since, User.last_login_at < until),
    ).subquery()
    total = await session.scalar(select(func.count()).select_from(User))
    active = await session.scalar(select(func.count()).select_from(active_ids))
    new = await session.scalar(
        select(func.count()).where(User.created_at >= since, User.created_at < until)
    )
    return UserCounts(total=int(total or 0), active=int(active or 0), new=int(new or 0))


async def training_stats(session: AsyncSession, since: datetime, until: datetime) -> TrainingStats:
    by_status = {
        status: int(n)
        for status, n in await session.execute(
            select(TrainingJob.status, func.count())
            .group_by(TrainingJob.status)
            .order_by(TrainingJob.status)
        )
    }
    created = await session.scalar(
        select(func.count()).where(TrainingJob.created_at >= since, TrainingJob.created_at < until)
    )
    ended = (
        TrainingJob.finished_at >= since,
        TrainingJob.finished_at < until,
        TrainingJob.status.in_(OUTCOMES),
    )
    outcomes = {
        status: int(n)
        for status, n in await session.execute(
            select(TrainingJob.status, func.count()).where(*ended).group_by(TrainingJob.status)
        )
    }
    # Interval arithmetic differs on every database; the jobs of a range are few.
    spans = await session.execute(
        select(TrainingJob.started_at, TrainingJob.finished_at).where(
            *ended, TrainingJob.started_at.is_not(None)
        )
    )
    seconds = sum(
        max(0.0, (finished - started).total_seconds())
        for started, finished in spans
        if started is not None and finished is not None
    )
    return TrainingStats(
        jobs_by_status=by_status,
        created=int(created or 0),
        succeeded=outcomes.get("succeeded", 0),
        failed=outcomes.get("failed", 0),
        cancelled=outcomes.get("cancelled", 0),
        training_seconds=round(seconds, 3),
    )


async def knowledge_stats(session: AsyncSession) -> KnowledgeStats:
    bases = await session.scalar(select(func.count()).select_from(KnowledgeBase))
    by_status = {
        status: int(n)
        for status, n in await session.execute(
            select(Document.status, func.count())
            .group_by(Document.status)
            .order_by(Document.status)
        )
    }
    chunks = await session.scalar(
        select(func.coalesce(func.sum(Document.num_chunks), 0)).where(Document.status == "indexed")
    )
    return KnowledgeStats(
        bases=int(bases or 0),
        documents=sum(by_status.values()),
        documents_by_status=by_status,
        chunks=int(chunks or 0),
    )
