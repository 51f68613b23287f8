"""The trainer pipeline without a trainer: configs, progress parsing, reports, SwanLab, slots."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from events.training import DatasetFile, JobSpec
from trainer import config, devices, process, sidecar
from trainer.progress import (
    ConsoleLines,
    LogTail,
    checkpoints,
    clean_console_line,
    parse_console_metrics,
    parse_log_line,
    seconds,
)
from trainer.report import write_report
from trainer.serving import ServeSpec, api_config, log_tail
from trainer.swan import SwanLabSettings, run_dirs, swanlab_for


def _spec(tmp_path: Path, **hp: object) -> JobSpec:
    ds = DatasetFile(
        dataset_id="d1",
        name="math",
        file_path="/d.json",
        info={"file_name": "/d.json"},
        num_records=3,
        stats={"turns": 3},
    )
    return JobSpec(
        base_model_id="m1",
        base_model_path="/models/base",
        datasets=[ds],
        output_dir=str(tmp_path / "job" / "output"),
        hyperparameters={
            "finetuning_type": "lora",
            "lora_rank": 8,
            "template": "smollm2",
            "learning_rate": 2e-4,
            **hp,
        },
    )


def test_lora_config_on_the_cpu_with_swanlab_and_its_dataset_info(tmp_path: Path) -> None:
    spec = _spec(tmp_path, max_steps=5)
    swan = swanlab_for(SwanLabSettings(), tmp_path / "job", "job1")
    assert swan is not None
    cfg = config.build(spec, device=config.Device(), swanlab=swan.config)
    assert cfg["finetuning_type"] == "lora"
    assert cfg["lora_rank"] == 8
    assert cfg["use_cpu"] is True
    assert cfg["bf16"] is False
    assert cfg["dataset"] == "ds_d1"
    assert cfg["overwrite_output_dir"] is True
    assert cfg["use_swanlab"] is True
    assert cfg["swanlab_mode"] == "offline"
    info = json.loads((tmp_path / "job" / "data" / "dataset_info.json").read_text())
    assert info == {"ds_d1": {"file_name": "/d.json"}}
    assert yaml.safe_load(config.to_yaml(cfg)) == cfg
    assert swan.env(resuming=True) == {"SWANLAB_RUN_ID": "job1", "SWANLAB_RESUME": "allow"}


def test_qlora_full_eval_gpu_and_resume(tmp_path: Path) -> None:
    q = config.build(
        _spec(tmp_path, finetuning_type="qlora", val_size=0.1),
        device=config.Device("cuda", bf16=True),
        swanlab=None,
        resume_from="/c",
    )
    assert q["finetuning_type"] == "lora"
    assert q["quantization_bit"] == 4
    assert q["bf16"] is True
    assert "use_cpu" not in q
    assert q["val_size"] == 0.1
    assert q["eval_strategy"] == "steps"
    assert q["resume_from_checkpoint"] == "/c"
    assert q["overwrite_output_dir"] is False
    full = config.build(
        _spec(tmp_path, finetuning_type="full"), device=config.Device("cuda"), swanlab=None
    )
    assert "lora_rank" not in full
    assert full["fp16"] is True


def test_cloud_swanlab_keeps_the_key_out_of_the_config(tmp_path: Path) -> None:
    swan = swanlab_for(SwanLabSettings(api_key="sk-1", host="https://swan.example"), tmp_path, "j2")
    assert swan is not None
    assert swan.config.mode == "cloud"
    env = swan.env(resuming=False)
    assert env["SWANLAB_API_KEY"] == "sk-1"
    assert env["SWANLAB_API_HOST"] == "https://swan.example/api"
    assert swanlab_for(None, tmp_path, "j") is None
    (tmp_path / "swanlab" / "run-1-j2").mkdir(parents=True)
    assert [p.name for p in run_dirs(tmp_path)] == ["run-1-j2"]


def test_known_templates_come_from_the_installed_llamafactory() -> None:
    names = config.known_templates()
    assert not names or {"smollm2", "qwen", "llama3"} <= names


def test_trainer_log_and_console_lines_parse() -> None:
    step = parse_log_line(
        json.dumps(
            {
                "current_steps": 3,
                "total_steps": 10,
                "loss": 0.5,
                "lr": 1e-4,
                "epoch": 0.3,
                "percentage": 30.0,
                "elapsed_time": "0:00:05",
                "remaining_time": "1 day, 0:00:01",
                "throughput": 120.5,
            }
        )
    )
    assert step is not None
    assert step.loss == 0.5
    assert step.learning_rate == 1e-4
    assert step.elapsed_seconds == 5
    assert step.remaining_seconds == 86401
    assert step.throughput == 120.5
    assert parse_log_line("not json") is None
    assert parse_log_line('{"x": 1}') is None
    assert seconds(None) is None
    assert seconds("soon") is None
    metrics = parse_console_metrics("{'loss': '0.8727', 'grad_norm': '2.561', 'epoch': 'x'}")
    assert metrics == {"loss": 0.8727, "grad_norm": 2.561}
    assert parse_console_metrics("{'loss': broken, 'grad_norm'}") is None
    assert parse_console_metrics("plain text") is None
    assert clean_console_line(" 10%|#  | 1/10\r 20%|## | 2/10\n") == " 20%|## | 2/10"
    assert clean_console_line("\r\n") == ""
    assert clean_console_line("a\u2028b\x85c") == "a b c"


def test_log_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    tail = LogTail(path)
    assert tail.read() == []
    path.write_text('{"a": 1}\n{"b"')
    assert tail.read() == ['{"a": 1}']
    with path.open("a") as f:
        f.write(": 2}\n")
    assert tail.read() == ['{"b": 2}']
    path.write_text("")  # truncated: starts over
    assert tail.read() == []


def test_only_complete_checkpoints_count(tmp_path: Path) -> None:
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "other").mkdir()
    assert [s for s, _ in checkpoints(tmp_path)] == [2, 4]
    assert checkpoints(tmp_path / "missing") == []


def test_report_has_curves_hyperparameters_and_checkpoints(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    steps = [
        s
        for s in (
            parse_log_line(
                json.dumps(
                    {
                        "current_steps": i,
                        "total_steps": 4,
                        "loss": 1.0 / i,
                        "lr": 1e-4 * (5 - i),
                        "epoch": i / 4,
                    }
                )
            )
            for i in range(1, 5)
        )
        if s
    ]
    html = write_report("job1", spec, steps, 12.5, tmp_path / "report")
    text = html.read_text()
    assert "data:image/png;base64," in text
    assert "lora_rank" in text
    md = (tmp_path / "report" / "report.md").read_text()
    assert "![loss](loss.png)" in md
    assert "final loss: 0.25" in md
    info = json.loads((tmp_path / "report" / "report.json").read_text())
    assert info["best_loss"] == 0.25
    assert info["steps"] == 4
    empty = write_report("job2", spec, [], 1.0, tmp_path / "empty")
    assert "none kept" in empty.read_text()


def test_child_environment_and_process_helpers(tmp_path: Path, monkeypatch: object) -> None:
    env = process.child_env({"X": "1"})
    assert env["X"] == "1"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert str(process.SHIMS) in env.get("PYTHONPATH", str(process.SHIMS))
    assert process.cli_path("/bin/lf") == "/bin/lf"
    assert process.cli_path().endswith("llamafactory-cli")
    assert not process.signal_group(2**22 + 12345, 0)
    assert process.pid_alive(1) is True
    assert process.thread_env(0) == {}
    assert process.thread_env(1) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_slots_devices_and_sidecars(tmp_path: Path) -> None:
    gpus = (devices.Gpu("0", 8.0), devices.Gpu("1", 7.5))
    assert devices.slot_names(0, ()) == [None]
    assert devices.slot_names(2, ()) == [None, None]
    assert devices.slot_names(0, gpus) == ["0", "1"]
    assert devices.slot_names(1, gpus) == ["0"]
    assert devices.device_for(gpus) == config.Device("cuda", bf16=False)
    assert devices.device_for(()) == config.Device("cpu", bf16=False)
    assert sidecar.read(tmp_path) == {}
    sidecar.write(tmp_path, template="t")
    sidecar.write(tmp_path, kind="local")
    assert sidecar.read(tmp_path) == {"template": "t", "kind": "local"}


def test_serving_config_and_log_tail(tmp_path: Path) -> None:
    spec = ServeSpec("/base", "/adapter", "smollm2", "lora", "ft-1", tmp_path / "s.log")
    assert api_config(spec)["adapter_name_or_path"] == "/adapter"
    base_only = ServeSpec("/base", None, "smollm2", "lora", "m", tmp_path / "s.log")
    assert "adapter_name_or_path" not in api_config(base_only)
    assert log_tail(tmp_path / "s.log", 5) == []
    (tmp_path / "s.log").write_text("a\nb\r c\n\nd\n")
    assert log_tail(tmp_path / "s.log", 2) == [" c", "d"]


def test_console_lines_have_no_length_limit_and_keep_the_last_redraw() -> None:
    lines = ConsoleLines(keep=100)
    assert lines.feed(b"a\nb") == ["a"]
    assert lines.feed(b"\r" + b"x" * 200_000) == []
    assert lines.feed(b"\rdone\n") == ["x" * 100 + "\rdone"]
    assert lines.feed(b"tail") == []
    assert lines.close() == ["tail"]
    assert lines.close() == []
