"""One attempt at a training job: config, ``llamafactory-cli train``, progress, outcome.

The run publishes what happens through ``publish`` and returns the terminal event. It
is safe to start again for the same job (a redelivered message): a finished job only
re-announces its recorded outcome, a live trainer left by a dead worker on this host is
stopped first, and an interrupted one resumes from its last complete checkpoint.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import msgspec
import structlog

from events import Event, decode_event, encode_event
from events.training import (
    JobCancelled,
    JobCancelledData,
    JobCheckpoint,
    JobCheckpointData,
    JobCompleted,
    JobCompletedData,
    JobFailed,
    JobFailedData,
    JobLog,
    JobLogData,
    JobProgress,
    JobProgressData,
    JobSpec,
    JobStarted,
    JobStartedData,
)
from trainer import config as lf_config
from trainer import process, sidecar
from trainer.progress import (
    TRAINER_LOG,
    ConsoleLines,
    LogTail,
    Step,
    checkpoints,
    clean_console_line,
    parse_console_metrics,
    parse_log_line,
)
from trainer.swan import SwanLabSettings, swanlab_for

log = structlog.get_logger(__name__)

Publish = Callable[[Event], Awaitable[object]]
OUTCOME = "outcome.json"
LOCK = "run.lock"
# Poll period of trainer_log.jsonl and the checkpoints: bounds the progress event delay.
POLL_SECONDS = 0.1
LOG_BATCH_LINES = 50
LOG_BATCH_SECONDS = 1.0
# LLaMA-Factory writes all_results.json after the adapter, the trainer state and the
# metrics: the run's work is saved. A trainer still alive long after that is stuck in
# interpreter shutdown (a tracker's or a data loader's thread that never ends; seen in CI
# beside other load), so it is stopped and the run counts as done.
FINISHED_MARKER = "all_results.json"


@dataclass(frozen=True, slots=True)
class RunOptions:
    cli: str
    stop_grace: float = 5.0
    device: lf_config.Device = field(default_factory=lf_config.Device)
    gpu: str | None = None  # CUDA_VISIBLE_DEVICES for this run
    swanlab: SwanLabSettings | None = None
    cpu_threads: int = 0  # 0: torch's default
    exit_grace: float = 30.0  # seconds a finished trainer gets to exit (FINISHED_MARKER)


def job_dir_of(spec: JobSpec) -> Path:
    return Path(spec.output_dir).parent


class TrainingRun:
    def __init__(
        self,
        job_id: str,
        owner_id: str,
        spec: JobSpec,
        *,
        publish: Publish,
        cancel: asyncio.Event,
        options: RunOptions,
        attempt: int = 1,
    ) -> None:
        self.job_id = job_id
        self.owner_id = owner_id
        self.spec = spec
        self.dir = job_dir_of(spec)
        self.output_dir = Path(spec.output_dir)
        self._publish = publish
        self._cancel = cancel
        self._options = options
        self._attempt = attempt
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._pending_lines: list[str] = []
        self._last_flush = time.monotonic()
        self._grad_norms: list[float] = []
        self._steps_seen = 0
        self._checkpoints_seen: set[int] = set()
        self.started_at = time.monotonic()

    # -- the whole attempt -------------------------------------------------------------

    async def execute(self) -> Event:
        self.dir.mkdir(parents=True, exist_ok=True)
        recorded = self._recorded_outcome()
        if recorded is not None:
            await self._publish(recorded)
            return recorded
        await asyncio.to_thread(self._stop_leftover)
        resume = self._resume_point()
        swan = swanlab_for(self._options.swanlab, self.dir, self.job_id)
        cfg = lf_config.build(
            self.spec,
            device=self._options.device,
            swanlab=swan.config if swan else None,
            resume_from=str(resume) if resume else None,
        )
        config_path = self.dir / "train.yaml"
        config_path.write_text(lf_config.to_yaml(cfg), encoding="utf-8")
        extra_env = swan.env(resuming=resume is not None) if swan else {}
        extra_env.update(process.thread_env(self._options.cpu_threads))
        if self._options.gpu is not None:
            extra_env["CUDA_VISIBLE_DEVICES"] = self._options.gpu
        tail = LogTail(self.output_dir / TRAINER_LOG)
        if resume is not None:
            # Steps logged before the crash are already published; read only new ones.
            tail.offset = _size(tail.path)
            self._checkpoints_seen = {step for step, _ in checkpoints(self.output_dir)}
        child = await process.spawn(
            [self._options.cli, "train", str(config_path)],
            cwd=self.dir,
            env=process.child_env(extra_env),
        )
        self._write_lock(child.pid)
        await self._safe_publish(
            JobStarted(
                subject=self.job_id,
                data=JobStartedData(
                    job_id=self.job_id,
                    owner_id=self.owner_id,
                    attempt=self._attempt,
                    resumed_from_checkpoint=str(resume) if resume else None,
                    swanlab_run_id=swan.run_id if swan else None,
                    host=socket.gethostname(),
                    pid=child.pid,
                ),
            ),
            required=True,
        )
        try:
            outcome = await self._supervise(child, tail)
        except BaseException:
            # Worker shutting down or crashing: leave no trainer behind; the message is
            # handed back and the next attempt resumes from the last checkpoint.
            with contextlib.suppress(Exception):
                await asyncio.shield(process.stop_group(child, self._options.stop_grace))
            self._clear_lock()
            raise
        self._record_outcome(outcome)
        self._clear_lock()
        await self._safe_publish(outcome, required=True)
        return outcome

    async def _supervise(self, child: asyncio.subprocess.Process, tail: LogTail) -> Event:
        log_file = (self.dir / "train.log").open("a", encoding="utf-8")
        reader = asyncio.create_task(self._read_console(child, log_file))
        cancelled = asyncio.create_task(self._cancel.wait())
        exited = asyncio.create_task(child.wait())
        finished_at: float | None = None
        try:
            while True:
                done, _ = await asyncio.wait(
                    {cancelled, exited}, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                await self._poll(tail)
                if not done:
                    if finished_at is None:
                        if (self.output_dir / FINISHED_MARKER).is_file():
                            finished_at = time.monotonic()
                    elif time.monotonic() - finished_at > self._options.exit_grace:
                        log.warning(
                            "trainer_exit_stalled",
                            job_id=self.job_id,
                            pid=child.pid,
                            alive=process.pid_alive(child.pid),
                            seconds=round(time.monotonic() - finished_at, 1),
                        )
                        # Bounded: should the exit itself have gone unnoticed, waiting
                        # for it again would hang just the same.
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(2 * self._options.stop_grace + 5):
                                await process.stop_group(child, self._options.stop_grace)
                        await _finish(reader)
                        await self._poll(tail, final=True)
                        return await self._completed()
                if cancelled in done:
                    await process.stop_group(child, self._options.stop_grace)
                    await _finish(reader)
                    await self._poll(tail, final=True)
                    return JobCancelled(
                        subject=self.job_id,
                        data=JobCancelledData(job_id=self.job_id, owner_id=self.owner_id),
                    )
                if exited in done:
                    await _finish(reader)
                    await self._poll(tail, final=True)
                    return await self._exited(child.returncode)
        finally:
            for task in (reader, cancelled, exited):
                task.cancel()
            log_file.close()

    async def _exited(self, code: int | None) -> Event:
        if code == 0 and (self.output_dir / "trainer_state.json").is_file():
            return await self._completed()
        lines = list(self._tail)
        errors = [line for line in lines if "Error" in line or "error:" in line]
        error = errors[-1] if errors else f"llamafactory-cli exited with code {code}"
        return JobFailed(
            subject=self.job_id,
            data=JobFailedData(
                job_id=self.job_id,
                owner_id=self.owner_id,
                error=error[:2000],
                log_tail=lines,
                exit_code=code,
            ),
        )

    async def _completed(self) -> Event:
        from trainer.report import write_report

        steps = [s for s in map(parse_log_line, _lines(self.output_dir / TRAINER_LOG)) if s]
        losses = [s.loss for s in steps if s.loss is not None]
        duration = time.monotonic() - self.started_at
        report = await asyncio.to_thread(
            write_report, self.job_id, self.spec, steps, duration, self.dir / "report"
        )
        hp = self.spec.hyperparameters
        swan = swanlab_for(self._options.swanlab, self.dir, self.job_id)
        # What serving needs to load the adapter, beside it (the worker knows the paths).
        sidecar.write(
            self.output_dir,
            kind="adapter",
            job_id=self.job_id,
            base_model_id=self.spec.base_model_id,
            base_model_path=self.spec.base_model_path,
            template=str(hp.get("template", "")),
            finetuning_type=str(hp.get("finetuning_type", "lora")),
        )
        return JobCompleted(
            subject=self.job_id,
            data=JobCompletedData(
                job_id=self.job_id,
                owner_id=self.owner_id,
                adapter_path=str(self.output_dir),
                base_model_id=self.spec.base_model_id,
                finetuning_type=str(hp.get("finetuning_type", "lora")),
                template=str(hp.get("template", "")),
                duration_seconds=round(duration, 3),
                final_loss=losses[-1] if losses else None,
                best_loss=min(losses) if losses else None,
                steps=max((s.step for s in steps), default=0),
                report_path=str(report),
                swanlab_run_id=swan.run_id if swan else None,
            ),
        )

    # -- output of the trainer ------------------------------------------------------

    async def _read_console(self, child: asyncio.subprocess.Process, sink: TextIO) -> None:
        assert child.stdout is not None
        splitter = ConsoleLines()
        while True:
            chunk = await child.stdout.read(1 << 16)
            texts = splitter.feed(chunk) if chunk else splitter.close()
            for text in texts:
                sink.write(text + "\n")
                line = clean_console_line(text)
                if not line:
                    continue
                metrics = parse_console_metrics(line)
                if metrics is not None and "loss" in metrics and "grad_norm" in metrics:
                    self._grad_norms.append(metrics["grad_norm"])
                self._tail.append(line)
                self._pending_lines.append(line)
            if not chunk:
                return

    async def _poll(self, tail: LogTail, *, final: bool = False) -> None:
        for line in tail.read():
            step = parse_log_line(line)
            if step is not None:
                await self._progress(step)
        for step_number, path in checkpoints(self.output_dir):
            if step_number not in self._checkpoints_seen:
                self._checkpoints_seen.add(step_number)
                await self._safe_publish(
                    JobCheckpoint(
                        subject=self.job_id,
                        data=JobCheckpointData(
                            job_id=self.job_id,
                            owner_id=self.owner_id,
                            step=step_number,
                            path=str(path),
                        ),
                    )
                )
        due = time.monotonic() - self._last_flush >= LOG_BATCH_SECONDS
        if self._pending_lines and (final or due or len(self._pending_lines) >= LOG_BATCH_LINES):
            lines, self._pending_lines = self._pending_lines, []
            self._last_flush = time.monotonic()
            for start in range(0, len(lines), LOG_BATCH_LINES * 4):
                await self._safe_publish(
                    JobLog(
                        subject=self.job_id,
                        data=JobLogData(
                            job_id=self.job_id,
                            owner_id=self.owner_id,
                            lines=[x[:2000] for x in lines[start : start + LOG_BATCH_LINES * 4]],
                        ),
                    )
                )

    async def _progress(self, step: Step) -> None:
        grad_norm = None
        if step.loss is not None:
            if self._steps_seen < len(self._grad_norms):
                grad_norm = self._grad_norms[self._steps_seen]
            self._steps_seen += 1
        data = JobProgressData(
            job_id=self.job_id,
            owner_id=self.owner_id,
            step=step.step,
            total_steps=step.total_steps,
            epoch=step.epoch,
            loss=step.loss,
            eval_loss=step.eval_loss,
            learning_rate=step.learning_rate,
            grad_norm=grad_norm,
            throughput=step.throughput,
            elapsed_seconds=step.elapsed_seconds,
            remaining_seconds=step.remaining_seconds,
            percentage=step.percentage,
        )
        await self._safe_publish(JobProgress(subject=self.job_id, data=data))

    async def _safe_publish(self, event: Event, *, required: bool = False) -> None:
        """Progress and logs are best effort; start and outcome are retried until sent."""
        delay = 0.5
        while True:
            try:
                await self._publish(event)
                return
            except Exception as exc:
                if not required:
                    log.warning("training_event_dropped", type=event.type, error=repr(exc))
                    return
                log.warning("training_event_retry", type=event.type, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- idempotency across attempts ---------------------------------------------------

    def _recorded_outcome(self) -> Event | None:
        path = self.dir / OUTCOME
        if not path.is_file():
            return None
        try:
            return decode_event(path.read_bytes())
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    def _record_outcome(self, event: Event) -> None:
        tmp = self.dir / (OUTCOME + ".tmp")
        tmp.write_bytes(encode_event(event))
        os.replace(tmp, self.dir / OUTCOME)

    def _resume_point(self) -> Path | None:
        found = checkpoints(self.output_dir)
        return found[-1][1] if found else None

    def _write_lock(self, pid: int) -> None:
        body = {"host": socket.gethostname(), "pid": pid}
        (self.dir / LOCK).write_text(json.dumps(body), encoding="utf-8")

    def _clear_lock(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / LOCK).unlink()

    def _stop_leftover(self) -> None:
        """A trainer of an earlier attempt still alive on this host: end its group first."""
        try:
            body = json.loads((self.dir / LOCK).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return
        pid = body.get("pid")
        if body.get("host") != socket.gethostname() or not isinstance(pid, int):
            return
        if process.pid_alive(pid):
            log.warning("stopping_leftover_trainer", job_id=self.job_id, pid=pid)
            process.kill_group_and_wait(pid, self._options.stop_grace)
        self._clear_lock()


async def _finish(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        async with asyncio.timeout(5):
            await task


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
