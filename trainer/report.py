"""Training reports: Markdown and a self-contained HTML page with loss and LR curves."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from events.training import JobSpec
from trainer.progress import Step, checkpoints


def _plot(path: Path, title: str, series: dict[str, tuple[list[int], list[float]]]) -> bool:
    points = {name: xy for name, xy in series.items() if xy[0]}
    if not points:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    for name, (xs, ys) in points.items():
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(points) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _series(steps: Sequence[Step], attr: str) -> tuple[list[int], list[float]]:
    latest: dict[int, float] = {}
    for s in steps:
        value = getattr(s, attr)
        if value is not None:
            latest[s.step] = value  # a resumed run logs some steps again: keep the last
    xs = sorted(latest)
    return xs, [latest[x] for x in xs]


def summary(job_id: str, spec: JobSpec, steps: Sequence[Step], duration: float) -> dict[str, Any]:
    losses = [s.loss for s in steps if s.loss is not None]
    evals = [s.eval_loss for s in steps if s.eval_loss is not None]
    return {
        "job_id": job_id,
        "base_model": spec.base_model_path,
        "hyperparameters": dict(sorted(spec.hyperparameters.items())),
        "datasets": [
            {"name": d.name, "records": d.num_records, "stats": d.stats} for d in spec.datasets
        ],
        "duration_seconds": round(duration, 1),
        "steps": max((s.step for s in steps), default=0),
        "final_loss": losses[-1] if losses else None,
        "best_loss": min(losses) if losses else None,
        "best_eval_loss": min(evals) if evals else None,
        "checkpoints": [str(p) for _, p in checkpoints(Path(spec.output_dir))],
        "adapter_path": spec.output_dir,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def markdown(info: dict[str, Any], images: Sequence[str]) -> str:
    lines = [f"# Training report — job {info['job_id']}", ""]
    lines += [
        f"- base model: `{info['base_model']}`",
        f"- duration: {info['duration_seconds']} s, {info['steps']} steps",
        f"- final loss: {_fmt(info['final_loss'])}, best loss: {_fmt(info['best_loss'])}",
    ]
    if info["best_eval_loss"] is not None:
        lines.append(f"- best eval loss: {_fmt(info['best_eval_loss'])}")
    lines += [
        f"- adapter: `{info['adapter_path']}`",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in info["hyperparameters"].items()]
    lines += [
        "",
        "## Datasets",
        "",
        "| name | records | turns | duplicates | tokens p95 |",
        "|---|---|---|---|---|",
    ]
    for d in info["datasets"]:
        stats = d["stats"]
        tokens = stats.get("tokens", {}).get("p95", "-")
        lines.append(
            f"| {d['name']} | {d['records']} | {stats.get('turns', '-')} | "
            f"{stats.get('duplicates', '-')} | {tokens} |"
        )
    lines += ["", "## Curves", ""]
    lines += [f"![{Path(name).stem}]({name})" for name in images]
    lines += ["", "## Checkpoints", ""]
    lines += [f"- `{c}`" for c in info["checkpoints"]] or ["- none kept"]
    if info.get("evaluation"):
        lines += ["", *evaluation_markdown(info["evaluation"])]
    return "\n".join(lines) + "\n"


def to_html(info: dict[str, Any], folder: Path, images: Sequence[str]) -> str:
    def rows(pairs: Sequence[tuple[str, Any]]) -> str:
        return "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
            for k, v in pairs
        )

    facts = [
        ("base model", info["base_model"]),
        ("duration (s)", info["duration_seconds"]),
        ("steps", info["steps"]),
        ("final loss", info["final_loss"]),
        ("best loss", info["best_loss"]),
        ("best eval loss", info["best_eval_loss"]),
        ("adapter", info["adapter_path"]),
    ]
    # Images inline, so the page is one file a browser or mail client can show as is.
    pictures = "".join(
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode((folder / name).read_bytes()).decode()}">'
        for name in images
    )
    datasets = "".join(
        f"<tr><td>{html.escape(d['name'])}</td><td>{d['records']}</td>"
        f"<td>{d['stats'].get('turns', '')}</td><td>{d['stats'].get('duplicates', '')}</td></tr>"
        for d in info["datasets"]
    )
    ckpts = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in info["checkpoints"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Training report {html.escape(info['job_id'])}</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>Training report — job {html.escape(info['job_id'])}</h1>"
        f"<table>{rows(facts)}</table><h2>Curves</h2>{pictures}"
        f"<h2>Hyperparameters</h2><table>{rows(list(info['hyperparameters'].items()))}</table>"
        "<h2>Datasets</h2><table><tr><th>name</th><th>records</th><th>turns</th>"
        f"<th>duplicates</th></tr>{datasets}</table>"
        f"<h2>Checkpoints</h2><ul>{ckpts or '<li>none kept</li>'}</ul>"
        f"{evaluation_html(info['evaluation']) if info.get('evaluation') else ''}"
        "</body></html>\n"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _clip(text: str | None, limit: int = 300) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _win_rate(summary: dict[str, Any]) -> str:
    if not summary.get("judge"):
        return "no judge: outputs, latency and tokens only"
    return (
        f"{_pct(summary.get('win_rate'))} (95 % Wilson interval {_pct(summary.get('ci_low'))}"
        f" to {_pct(summary.get('ci_high'))}) over {summary.get('judged', 0)} judged: "
        f"{summary.get('wins', 0)} wins, {summary.get('losses', 0)} losses, "
        f"{summary.get('ties', 0)} ties (a tie counts half), "
        f"{summary.get('unjudged', 0)} unjudged"
    )


_SIDE_ROWS = (
    ("mean latency (ms)", "mean_latency_ms"),
    ("mean time to first token (ms)", "mean_ttft_ms"),
    ("mean output tokens", "mean_output_tokens"),
    ("total output tokens", "total_output_tokens"),
    ("errors", "errors"),
)


def _cell(text: str | None) -> str:
    """Markdown table cell: one line, pipes escaped."""
    return _clip(text).replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def evaluation_markdown(ev: dict[str, Any]) -> list[str]:
    """The Evaluation section: base vs fine-tuned, win rate ± CI, speed, per-example diffs."""
    summary = ev.get("summary", {})
    base, tuned = summary.get("base", {}), summary.get("tuned", {})
    lines = [
        "## Evaluation",
        "",
        f"- base model `{ev.get('base_model_id')}` vs fine-tuned `{ev.get('tuned_model_id')}`,"
        f" {summary.get('examples', 0)} examples (run {ev.get('run', 1)})",
        f"- judge: `{ev.get('judge_model_id')}`, each example judged in both orders"
        if ev.get("judge_model_id")
        else "- judge: none",
        f"- fine-tuned win rate: {_win_rate(summary)}",
        "",
        "| | base | fine-tuned |",
        "|---|---|---|",
    ]
    lines += [
        f"| {label} | {_fmt(base.get(k, '-'))} | {_fmt(tuned.get(k, '-'))} |"
        for label, k in _SIDE_ROWS
    ]
    lines += [
        "",
        "### Examples",
        "",
        "| # | prompt | base | fine-tuned | outcome |",
        "|---|---|---|---|---|",
    ]
    for e in ev.get("examples", []):
        lines.append(
            f"| {e['index']} | {_cell(e['prompt'])} | {_cell(e['base_output'])} | "
            f"{_cell(e['tuned_output'])} | {e.get('outcome') or '-'} |"
        )
    return lines


def evaluation_html(ev: dict[str, Any]) -> str:
    summary = ev.get("summary", {})
    base, tuned = summary.get("base", {}), summary.get("tuned", {})
    esc = html.escape
    side = "".join(
        f"<tr><th>{esc(label)}</th><td>{esc(_fmt(base.get(k, '-')))}</td>"
        f"<td>{esc(_fmt(tuned.get(k, '-')))}</td></tr>"
        for label, k in _SIDE_ROWS
    )
    examples = "".join(
        f"<tr><td>{e['index']}</td><td>{esc(_clip(e['prompt']))}</td>"
        f"<td>{esc(_clip(e['base_output']))}</td><td>{esc(_clip(e['tuned_output']))}</td>"
        f"<td>{esc(e.get('outcome') or '-')}</td></tr>"
        for e in ev.get("examples", [])
    )
    judge = ev.get("judge_model_id")
    return (
        "<h2>Evaluation</h2>"
        f"<p>Base model <code>{esc(str(ev.get('base_model_id')))}</code> vs fine-tuned "
        f"<code>{esc(str(ev.get('tuned_model_id')))}</code>, "
        f"{summary.get('examples', 0)} examples; judge: "
        f"{f'<code>{esc(judge)}</code> (both orders)' if judge else 'none'}.</p>"
        f"<p>Fine-tuned win rate: {esc(_win_rate(summary))}</p>"
        f"<table><tr><th></th><th>base</th><th>fine-tuned</th></tr>{side}</table>"
        "<h3>Examples</h3><table><tr><th>#</th><th>prompt</th><th>base</th>"
        f"<th>fine-tuned</th><th>outcome</th></tr>{examples}</table>"
    )


def add_evaluation(folder: Path, evaluation: dict[str, Any]) -> None:
    """Rewrite a written report with its Evaluation section (replacing an earlier one)."""
    info = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    info["evaluation"] = evaluation
    images = [name for name in ("loss.png", "lr.png") if (folder / name).is_file()]
    (folder / "report.md").write_text(markdown(info, images), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    (folder / "report.html").write_text(to_html(info, folder, images), encoding="utf-8")


def write_report(
    job_id: str, spec: JobSpec, steps: Sequence[Step], duration: float, folder: Path
) -> Path:
    """Write report.md, report.html, report.json and the curve images; the HTML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    info = summary(job_id, spec, steps, duration)
    images = []
    loss = {"train loss": _series(steps, "loss"), "eval loss": _series(steps, "eval_loss")}
    if _plot(folder / "loss.png", "loss", loss):
        images.append("loss.png")
    if _plot(folder / "lr.png", "learning rate", {"lr": _series(steps, "learning_rate")}):
        images.append("lr.png")
    (folder / "report.md").write_text(markdown(info, images), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    target = folder / "report.html"
    target.write_text(to_html(info, folder, images), encoding="utf-8")
    return target
