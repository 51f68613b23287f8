"""One evaluation run: both models answer each prompt, the judge compares them, results stored.

Each example is stored in its own transaction once both answers (and verdicts) are in,
so a redelivered run finds what is done and asks only the rest. Every write checks the
run number under a row lock: a re-run requested meanwhile makes an older worker stop at
its next write instead of mixing results.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.evaluation import (
    EvaluationCompleted,
    EvaluationCompletedData,
    EvaluationFailed,
    EvaluationFailedData,
)
from handlers.compare.calls import Answer, run_model
from handlers.compare.schemas import ModelRef
from handlers.compare.store import insert_ignoring_duplicates
from handlers.evaluation import judge, online
from handlers.evaluation.prompts import PromptItem, from_prompts, validation_items
from handlers.evaluation.statistics import side_summary, win_rate
from runtime.bus.connection import EventBus
from runtime.db.models import (
    TrainingEvaluation,
    TrainingEvaluationExample,
    TrainingJob,
    utcnow,
)
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.types import ContentDelta, Delta, Message, Params, ProviderError
from runtime.outbox import emit, publish_committed

log = structlog.get_logger(__name__)

_IDS = uuid.UUID("3b0c8f4e-5d21-4a7b-9c3e-8e2f6a1d0c57")
# The judge explains briefly, then gives its verdict line.
JUDGE_MAX_TOKENS = 512


class JobNotReady(Exception):
    """The job's completion is not projected yet (no adapter model config): retry soon."""


class Stale(Exception):
    """A newer run of this evaluation started: this one stops without writing."""


@dataclass(slots=True)
class Plan:
    evaluation_id: str
    job_id: str
    owner_id: str
    run: int
    base_id: str | None
    tuned_id: str
    judge_id: str | None
    max_tokens: int
    items: list[PromptItem]
    stored: set[int] = field(default_factory=set)
    report_path: str | None = None


@dataclass(frozen=True, slots=True)
class Runtime:
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    gateway: Gateway
    data_dir: Path
    serve_timeout: float


def event_id(*parts: object) -> str:
    """The same id on every delivery, so a repeated announcement is stored once."""
    return uuid.uuid5(_IDS, "/".join(map(str, parts))).hex


async def _current(session: AsyncSession, evaluation_id: str, run: int) -> TrainingEvaluation:
    row = await session.get(TrainingEvaluation, evaluation_id, with_for_update=True)
    if row is None or row.run != run or row.status in ("completed", "failed"):
        raise Stale
    return row


async def begin(rt: Runtime, evaluation_id: str, run: int) -> Plan | None:
    """Mark the run running and list its prompts; None when there is nothing to do."""
    async with rt.sessions() as session, session.begin():
        try:
            row = await _current(session, evaluation_id, run)
        except Stale:
            return None
        job = await session.get(TrainingJob, row.job_id)
        if job is None:
            return None
        if job.status != "succeeded" or not job.result_model_id:
            raise JobNotReady(job.id)
        settings = dict(row.settings or {})
        limit = int(settings.get("max_examples", 20))
        if settings.get("prompts"):
            items, source = from_prompts(settings["prompts"], limit), "prompts"
        else:
            items = await validation_items(session, list(job.dataset_ids or []), limit)
            source = "validation"
        if row.status == "pending":
            row.status, row.started_at = "running", utcnow()
        row.base_model_id = row.base_model_id or job.base_model_id
        row.tuned_model_id = job.result_model_id
        row.judge_model_id = settings.get("judge_model_id")
        row.source, row.total = source, len(items)
        stored = set(
            await session.scalars(
                select(TrainingEvaluationExample.index).where(
                    TrainingEvaluationExample.evaluation_id == row.id
                )
            )
        )
        return Plan(
            evaluation_id=row.id,
            job_id=job.id,
            owner_id=row.owner_id,
            run=run,
            base_id=row.base_model_id,
            tuned_id=job.result_model_id,
            judge_id=row.judge_model_id,
            max_tokens=int(settings.get("max_tokens", 256)),
            items=items,
            stored=stored,
            report_path=job.report_path,
        )


def _messages(item: PromptItem) -> list[Message]:
    messages = [Message(role="system", content=item.system)] if item.system else []
    for question, reply in item.history:
        messages += [
            Message(role="user", content=question),
            Message(role="assistant", content=reply),
        ]
    return [*messages, Message(role="user", content=item.prompt)]


async def answer(
    gateway: Gateway, ref: ModelRef, item: PromptItem, max_tokens: int, caller: Caller
) -> tuple[str, dict[str, Any]]:
    """One model's streamed answer with its latency, time to first token and tokens."""
    chunks = 0

    async def count(_: Answer, delta: Delta) -> None:
        nonlocal chunks
        if isinstance(delta, ContentDelta) and delta.text:
            chunks += 1

    params = Params(max_tokens=max_tokens, temperature=0.0)
    result = await run_model(gateway, Answer(model=ref), _messages(item), params, caller, count)
    m = result.metrics()
    metrics: dict[str, Any] = {
        "status": result.status,
        "latency_ms": m.latency_ms,
        "ttft_ms": m.ttft_ms,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
    }
    if result.status != "ok":
        metrics["error"] = result.error_message or result.error
    if not m.output_tokens and chunks:
        # Some servers (llamafactory-cli api) report no usage when streaming.
        metrics["output_tokens"], metrics["tokens_estimated"] = chunks, True
    return "".join(result.content), metrics


async def _verdict(
    gateway: Gateway, judge_id: str, prompt: str, caller: Caller
) -> tuple[judge.Verdict | None, str | None]:
    messages = [
        Message(role="system", content=judge.JUDGE_SYSTEM),
        Message(role="user", content=prompt),
    ]
    params = Params(max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
    try:
        done = await gateway.complete(judge_id, messages, params, caller)
    except ProviderError as exc:
        return None, f"judge failed: {exc.kind}: {exc.message}"
    except LookupError:
        return None, "the judge model is not available"
    verdict = judge.parse_verdict(done.result.content)
    return verdict, None if verdict else f"unreadable verdict: {done.result.content[-200:]!r}"


async def compare(
    gateway: Gateway, judge_id: str, item: PromptItem, base: str, tuned: str, caller: Caller
) -> tuple[dict[str, Any], judge.Outcome | None]:
    """Both orders, base first then tuned first, and the outcome they agree on."""
    kwargs = {"system": item.system, "reference": item.reference}
    first, err1 = await _verdict(
        gateway, judge_id, judge.judge_prompt(item.prompt, base, tuned, **kwargs), caller
    )
    second, err2 = await _verdict(
        gateway, judge_id, judge.judge_prompt(item.prompt, tuned, base, **kwargs), caller
    )
    verdicts: dict[str, Any] = {"base_first": first, "tuned_first": second}
    if err1 or err2:
        verdicts["error"] = err1 or err2
    return verdicts, judge.combine(first, second)


async def store(rt: Runtime, plan: Plan, index: int, row: dict[str, Any]) -> None:
    async with rt.sessions() as session, session.begin():
        evaluation = await _current(session, plan.evaluation_id, plan.run)
        await insert_ignoring_duplicates(
            session, TrainingEvaluationExample, [row], ["evaluation_id", "index"]
        )
        evaluation.done = len(plan.stored) + 1
    plan.stored.add(index)


async def run_examples(rt: Runtime, plan: Plan, refs: dict[str, ModelRef]) -> None:
    assert plan.base_id is not None
    caller = Caller(user_id=plan.owner_id, origin="evaluation")
    for index, item in enumerate(plan.items):
        if index in plan.stored:
            continue
        base_text, base_metrics = await answer(
            rt.gateway, refs[plan.base_id], item, plan.max_tokens, caller
        )
        tuned_text, tuned_metrics = await answer(
            rt.gateway, refs[plan.tuned_id], item, plan.max_tokens, caller
        )
        verdicts: dict[str, Any] = {}
        outcome = None
        both_ok = base_metrics["status"] == tuned_metrics["status"] == "ok"
        if plan.judge_id is not None and both_ok:
            verdicts, outcome = await compare(
                rt.gateway, plan.judge_id, item, base_text, tuned_text, caller
            )
        row = {
            "evaluation_id": plan.evaluation_id,
            "index": index,
            "prompt": item.prompt,
            "system": item.system,
            "reference": item.reference,
            "base_output": base_text,
            "tuned_output": tuned_text,
            "base_metrics": base_metrics,
            "tuned_metrics": tuned_metrics,
            "verdicts": verdicts,
            "outcome": outcome,
            "created_at": utcnow(),
        }
        await store(rt, plan, index, row)


def summarize(rows: list[TrainingEvaluationExample], judged: bool) -> dict[str, Any]:
    record = win_rate(r.outcome for r in rows)
    summary: dict[str, Any] = {
        "examples": len(rows),
        "judge": judged,
        "base": side_summary(r.base_metrics for r in rows),
        "tuned": side_summary(r.tuned_metrics for r in rows),
    }
    if judged:
        summary.update(
            judged=record.judged,
            wins=record.wins,
            losses=record.losses,
            ties=record.ties,
            unjudged=record.unjudged,
            win_rate=record.rate,
            ci_low=record.ci_low,
            ci_high=record.ci_high,
            confidence=0.95,
            interval="wilson",
        )
    return summary


async def finish(rt: Runtime, plan: Plan) -> dict[str, Any] | None:
    """Completed: the summary, the event and the stop requests, in one transaction."""
    async with rt.sessions() as session:
        async with session.begin():
            try:
                evaluation = await _current(session, plan.evaluation_id, plan.run)
            except Stale:
                return None
            rows = list(
                await session.scalars(
                    select(TrainingEvaluationExample)
                    .where(TrainingEvaluationExample.evaluation_id == plan.evaluation_id)
                    .order_by(TrainingEvaluationExample.index)
                )
            )
            summary = summarize(rows, plan.judge_id is not None)
            evaluation.status, evaluation.finished_at = "completed", utcnow()
            evaluation.summary, evaluation.done, evaluation.error = summary, len(rows), None
            data = EvaluationCompletedData(
                job_id=plan.job_id,
                owner_id=plan.owner_id,
                evaluation_id=plan.evaluation_id,
                run=plan.run,
                base_model_id=plan.base_id or "",
                tuned_model_id=plan.tuned_id,
                judge_model_id=plan.judge_id,
                examples=len(rows),
                judged=summary.get("judged", 0),
                wins=summary.get("wins", 0),
                losses=summary.get("losses", 0),
                ties=summary.get("ties", 0),
                win_rate=summary.get("win_rate"),
                ci_low=summary.get("ci_low"),
                ci_high=summary.get("ci_high"),
            )
            emit(
                session,
                EvaluationCompleted(
                    id=event_id(plan.evaluation_id, plan.run, "completed"),
                    subject=plan.job_id,
                    data=data,
                ),
            )
            await online.stop_started(session, evaluation)
            report = {
                "summary": summary,
                "run": plan.run,
                "base_model_id": plan.base_id,
                "tuned_model_id": plan.tuned_id,
                "judge_model_id": plan.judge_id,
                "examples": [_report_example(r) for r in rows],
            }
        await publish_committed(session, rt.bus)
    return report


def _report_example(row: TrainingEvaluationExample) -> dict[str, Any]:
    return {
        "index": row.index,
        "prompt": row.prompt,
        "reference": row.reference,
        "base_output": row.base_output,
        "tuned_output": row.tuned_output,
        "base": row.base_metrics,
        "tuned": row.tuned_metrics,
        "outcome": row.outcome,
    }


async def fail(rt: Runtime, evaluation_id: str, run: int, error: str) -> None:
    async with rt.sessions() as session:
        async with session.begin():
            try:
                evaluation = await _current(session, evaluation_id, run)
            except Stale:
                return
            evaluation.status, evaluation.finished_at = "failed", utcnow()
            evaluation.error = error[:4000]
            data = EvaluationFailedData(
                job_id=evaluation.job_id,
                owner_id=evaluation.owner_id,
                evaluation_id=evaluation.id,
                run=run,
                error=evaluation.error,
            )
            emit(
                session,
                EvaluationFailed(
                    id=event_id(evaluation_id, run, "failed"), subject=evaluation.job_id, data=data
                ),
            )
            await online.stop_started(session, evaluation)
        await publish_committed(session, rt.bus)


async def write_report(report_path: str | None, evaluation: dict[str, Any]) -> None:
    """Add the Evaluation section to the job's report files (best effort: a log line)."""
    if not report_path:
        return
    from trainer.report import add_evaluation

    try:
        await asyncio.to_thread(add_evaluation, Path(report_path).parent, evaluation)
    except (OSError, ValueError, KeyError):
        log.exception("evaluation_report_not_written", report_path=report_path)


async def run_evaluation(rt: Runtime, evaluation_id: str, run: int) -> None:
    """The whole run; its own failures end as ``evaluation.failed``, never as a retry.

    ``JobNotReady`` and cancellation (the worker stopping) propagate: the message comes
    back and the next delivery resumes from the stored examples.
    """
    plan = await begin(rt, evaluation_id, run)
    if plan is None:
        return
    try:
        if not plan.items:
            raise online.EvaluationError(
                "no prompts: the datasets have no validation split and none were given"
            )
        if plan.base_id is None:
            raise online.EvaluationError("the job's base model config is gone")
        models = [plan.base_id, plan.tuned_id]
        if plan.judge_id is not None:
            models.append(plan.judge_id)
        await online.request_serving(
            rt.sessions,
            rt.bus,
            plan.evaluation_id,
            models,
            owner_id=plan.owner_id,
            data_dir=rt.data_dir,
        )
        refs = await online.wait_servable(rt.sessions, models, within=rt.serve_timeout)
        for config_id in models:
            rt.gateway.resolver.forget(config_id)  # a cached entry may name a stopped server
        await run_examples(rt, plan, refs)
        report = await finish(rt, plan)
    except Stale:
        log.info("evaluation_superseded", evaluation_id=evaluation_id, run=run)
        return
    except Exception as exc:
        log.exception("evaluation_failed", evaluation_id=evaluation_id, run=run)
        message = str(exc) if isinstance(exc, online.EvaluationError) else repr(exc)
        await fail(rt, evaluation_id, run, message)
        return
    if report is not None:
        await write_report(plan.report_path, report)
