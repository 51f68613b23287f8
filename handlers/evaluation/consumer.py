"""The evaluator: a durable consumer of finished jobs and re-run requests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from events import Event
from events.evaluation import EvaluationRequested
from events.training import JobCompleted
from handlers.evaluation.runner import Runtime, run_evaluation
from runtime.bus import Consumer
from runtime.db.models import TrainingEvaluation
from runtime.services import Services

SUBJECTS = (
    JobCompleted.SUBJECT.format(subject="*"),
    EvaluationRequested.SUBJECT.format(subject="*"),
)


def evaluator_consumer(
    services: Services,
    *,
    serve_timeout: float = 600.0,
    ack_wait: float = 60.0,
) -> Consumer:
    """One evaluation at a time: on the CPU, both models and the judge share the cores.

    A run takes minutes; the function host heartbeats (``in_progress``) every third of
    ``ack_wait`` while it goes, and a redelivery after a crash resumes it.
    """

    async def handle(event: Event) -> None:
        if services.llm is None:  # a transient start-up state: nak and come back
            raise RuntimeError("the LLM gateway is not running")
        if isinstance(event, EvaluationRequested):
            evaluation_id, run = event.data.evaluation_id, event.data.run
        elif isinstance(event, JobCompleted):
            # The automatic run is run 1; once re-run, a late job event changes nothing.
            async with services.session_factory() as session:
                row = await session.scalar(
                    select(TrainingEvaluation).where(TrainingEvaluation.job_id == event.data.job_id)
                )
            if row is None or row.run != 1:
                return
            evaluation_id, run = row.id, 1
        else:
            return
        runtime = Runtime(
            sessions=services.session_factory,
            bus=services.bus,
            gateway=services.llm,
            data_dir=Path(services.settings.data_dir),
            serve_timeout=serve_timeout,
        )
        await run_evaluation(runtime, evaluation_id, run)

    return Consumer(
        name="training-evaluator",
        subjects=SUBJECTS,
        handler=handle,
        concurrency=1,
        ack_wait=ack_wait,
        max_deliver=8,
        # The job's completion reaches the projection about when it reaches us.
        backoff=(1.0, 2.0, 5.0, 15.0, 60.0),
        fetch_batch=1,
        description="evaluates fine-tuned models against their base on held-out prompts",
    )
