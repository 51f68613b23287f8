"""The trainer worker: a durable consumer of ``training.job.*.requested`` running jobs."""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from events import Event
from events.training import JobCancelRequested, JobFailed, JobFailedData, JobRequested
from runtime.bus import Consumer, EventBus
from runtime.db.models import TrainingJob
from runtime.services import Services
from trainer import devices
from trainer.process import cli_path
from trainer.run import RunOptions, TrainingRun
from trainer.swan import SwanLabSettings

log = structlog.get_logger(__name__)

FINISHED = ("succeeded", "failed", "cancelled")
TRAINING_STREAM = "LLMFORGE_TRAINING"


async def watch_cancel(bus: EventBus, job_id: str, cancel: asyncio.Event) -> object:
    """Set ``cancel`` on any cancel request for the job, past or future, from any replica.

    An ordered consumer from the stream's start: a request published before this worker
    took the job (or while it restarted) is seen as well as one published later.
    """

    async def on_msg(msg: Msg) -> None:
        cancel.set()

    subject = JobCancelRequested.SUBJECT.format(subject=job_id)
    return await bus.js.subscribe(
        subject,
        stream=TRAINING_STREAM,
        cb=on_msg,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )


class SlotPool:
    """This worker's training slots: GPUs (one job each) or CPU slots."""

    def __init__(self, names: list[str | None]) -> None:
        self.size = len(names)
        self._free: asyncio.Queue[str | None] = asyncio.Queue()
        for name in names:
            self._free.put_nowait(name)

    async def take(self) -> str | None:
        return await self._free.get()

    def give(self, name: str | None) -> None:
        self._free.put_nowait(name)


def trainer_consumer(services: Services) -> Consumer:
    settings = services.settings.training
    gpus = devices.cuda_gpus()
    slots = SlotPool(devices.slot_names(settings.slots, gpus))
    swanlab = SwanLabSettings(
        mode=settings.swanlab_mode,
        project=settings.swanlab_project,
        api_key=settings.swanlab_api_key,
        host=settings.swanlab_host,
    )

    async def run_job(event: Event) -> None:
        if not isinstance(event, JobRequested):
            return
        async with services.session_factory() as session:
            job = await session.get(TrainingJob, event.data.job_id)
            if job is None or job.status in FINISHED:
                log.info("training_job_skipped", job_id=event.data.job_id)
                return
            attempt = job.attempts + 1
        cancel = asyncio.Event()
        subscription = await watch_cancel(services.bus, event.data.job_id, cancel)
        slot = await slots.take()
        try:
            run = TrainingRun(
                event.data.job_id,
                event.data.owner_id,
                event.data,
                publish=services.bus.publish,
                cancel=cancel,
                attempt=attempt,
                options=RunOptions(
                    cli=cli_path(settings.cli),
                    stop_grace=settings.stop_grace_seconds,
                    device=devices.device_for(gpus),
                    gpu=slot,
                    swanlab=swanlab,
                    cpu_threads=settings.cpu_threads,
                ),
            )
            try:
                outcome: Event = await run.execute()
            except (OSError, ValueError) as exc:
                # Retrying cannot fix a missing program, file or folder: fail the job.
                log.exception("training_job_broken", job_id=event.data.job_id)
                outcome = JobFailed(
                    subject=event.data.job_id,
                    data=JobFailedData(
                        job_id=event.data.job_id, owner_id=event.data.owner_id, error=repr(exc)
                    ),
                )
                await services.bus.publish(outcome)
            log.info("training_job_finished", job_id=event.data.job_id, outcome=outcome.type)
        finally:
            slots.give(slot)
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()  # type: ignore[attr-defined]

    return Consumer(
        name="trainer",
        subjects=[JobRequested.SUBJECT.format(subject="*")],
        handler=run_job,
        concurrency=slots.size,
        # Heartbeats (in_progress) every third of this keep a long run's message alive;
        # a dead worker's job is redelivered after it and resumes from a checkpoint.
        ack_wait=settings.ack_wait_seconds,
        max_deliver=5,
        backoff=(5.0, 30.0, 120.0),
        fetch_batch=1,
        description="runs fine-tuning jobs with llamafactory-cli",
    )
