"""Evaluation routes (/api/training/jobs/{id}/evaluation): read the results, run it again."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.evaluation import service
from handlers.evaluation.schemas import (
    AnswerMetrics,
    Evaluation,
    EvaluationRerun,
    Example,
    Verdicts,
)
from runtime.db.models import TrainingEvaluation, TrainingEvaluationExample


def _example(row: TrainingEvaluationExample) -> Example:
    return Example(
        index=row.index,
        prompt=row.prompt,
        system=row.system,
        reference=row.reference,
        base_output=row.base_output,
        tuned_output=row.tuned_output,
        base=msgspec.convert(row.base_metrics or {}, AnswerMetrics),
        tuned=msgspec.convert(row.tuned_metrics or {}, AnswerMetrics),
        verdicts=msgspec.convert(row.verdicts or {}, Verdicts),
        outcome=row.outcome,
    )


def evaluation_out(
    row: TrainingEvaluation, examples: Sequence[TrainingEvaluationExample] = ()
) -> Evaluation:
    return Evaluation(
        id=row.id,
        job_id=row.job_id,
        status=row.status,
        run=row.run,
        settings=dict(row.settings or {}),
        source=row.source,
        base_model_id=row.base_model_id,
        tuned_model_id=row.tuned_model_id,
        judge_model_id=row.judge_model_id,
        total=row.total,
        done=row.done,
        summary=dict(row.summary or {}),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        examples=[_example(e) for e in examples],
    )


class EvaluationController(Controller):
    path = "/api/training/jobs/{job_id:str}/evaluation"
    tags = ["training"]
    guards = [requires(Permission.TRAINING_RUN)]

    @get("/", operation_id="trainingJobsEvaluation")
    async def get_evaluation(
        self, job_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Evaluation:
        """Status, the summary (win rate ± 95 % Wilson interval, latency, tokens) and
        every example with both answers and the judge's verdicts."""
        row, examples = await service.get(db_session, current_user, job_id)
        return evaluation_out(row, examples)

    @post("/", operation_id="trainingJobsEvaluationRerun", status_code=202)
    async def rerun(
        self,
        job_id: str,
        data: EvaluationRerun,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> Evaluation:
        """Run the evaluation again (absent fields keep their settings); publishes
        ``training.evaluation.requested``."""
        row = await service.rerun(db_session, current_user, job_id, data)
        return evaluation_out(row)
