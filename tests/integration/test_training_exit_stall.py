"""A trainer that saved everything but never exits is stopped and its run completes.

The CLI here is a stand-in that writes what LLaMA-Factory writes at the end of a run and
then hangs, as a real one did in CI (stuck in interpreter shutdown after SwanLab's finish).
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

from events import Event
from events.training import DatasetFile, JobCompleted, JobSpec, JobStarted
from trainer.process import pid_alive
from trainer.run import FINISHED_MARKER, RunOptions, TrainingRun

HANGING_CLI = f"""#!{sys.executable}
import json, pathlib, sys, time
out = pathlib.Path("output")
out.mkdir(exist_ok=True)
(out / "adapter_model.safetensors").write_bytes(b"")
(out / "trainer_log.jsonl").write_text(json.dumps({{
    "current_steps": 1, "total_steps": 1, "loss": 1.25, "lr": 0.0002, "epoch": 1.0,
    "percentage": 100.0, "elapsed_time": "0:00:01", "remaining_time": "0:00:00",
}}) + "\\n")
(out / "trainer_state.json").write_text("{{}}")
(out / "{FINISHED_MARKER}").write_text("{{}}")
print("***** train metrics *****", flush=True)
time.sleep(600)
"""


async def test_a_finished_trainer_that_hangs_at_exit_is_stopped_and_completes(
    tmp_path: Path,
) -> None:
    cli = tmp_path / "llamafactory-cli"
    cli.write_text(HANGING_CLI)
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"instruction": "1+1", "input": "", "output": "2"}]))
    spec = JobSpec(
        base_model_id="base",
        base_model_path=str(tmp_path / "model"),
        datasets=[
            DatasetFile(
                dataset_id="d1",
                name="sums",
                file_path=str(data),
                info={"file_name": str(data), "formatting": "alpaca"},
            )
        ],
        output_dir=str(tmp_path / "job" / "output"),
        hyperparameters={"template": "smollm2"},
    )
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    run = TrainingRun(
        "job1",
        "owner1",
        spec,
        publish=publish,
        cancel=asyncio.Event(),
        options=RunOptions(cli=str(cli), stop_grace=1.0, exit_grace=0.5),
    )
    outcome = await asyncio.wait_for(run.execute(), 30)
    assert isinstance(outcome, JobCompleted)
    assert outcome.data.steps == 1
    assert outcome.data.final_loss == 1.25
    started = next(e for e in published if isinstance(e, JobStarted))
    assert not pid_alive(started.data.pid)  # stopped, not left behind
    assert published[-1] is outcome
