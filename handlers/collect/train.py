"""One action to train: defaults for a dataset and base model, then the usual job creation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser
from handlers.collect.build import split_of
from handlers.collect.defaults import DatasetFacts, ModelFacts, choose
from handlers.collect.schemas import TrainDefaults, TrainRequest
from handlers.datasets import service as datasets
from handlers.training import checks
from handlers.training import service as jobs
from handlers.training.schemas import JobCreate
from runtime.db.models import Dataset, ModelConfig, TrainingJob
from runtime.errors import BadRequest
from trainer import sidecar, store
from trainer import stats as dataset_stats

# Without a tokenizer, a token is taken as about this many characters (on the short side,
# so the cutoff errs long rather than truncating).
CHARS_PER_TOKEN = 3
FIXED = ("base_model_id", "dataset_ids")
EVALUATION_NOT_STORED = (
    "evaluation was accepted but not stored: training jobs take no evaluation settings yet"
)


def _model_facts(model: ModelConfig, path: str) -> ModelFacts:
    context = model.context_window
    if not context:
        try:
            config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        value = config.get("max_position_embeddings") if isinstance(config, dict) else None
        context = value if isinstance(value, int) and value > 0 else None
    template = sidecar.read(path).get("template")
    return ModelFacts(context=context, template=template if isinstance(template, str) else None)


def _token_stats(row: Dataset, model_path: str) -> tuple[dict[str, Any] | None, str]:
    """The dataset's token lengths: stored, else counted now with the base model's tokenizer,
    else estimated from the character lengths."""
    tokens = (row.stats or {}).get("tokens")
    if isinstance(tokens, dict):
        return tokens, "tokenizer"
    tokenizer = dataset_stats.load_tokenizer(model_path)
    if tokenizer is not None:
        fmt, found = store.load(Path(row.file_path))
        counted = dataset_stats.compute(fmt, found, tokenizer).get("tokens")
        if isinstance(counted, dict):
            return counted, "tokenizer"
    chars = (row.stats or {}).get("total_chars")
    if isinstance(chars, dict) and chars.get("max"):
        return {k: float(v) / CHARS_PER_TOKEN for k, v in chars.items()}, "estimate"
    return None, "estimate"


def _dataset_facts(row: Dataset, model_path: str) -> DatasetFacts:
    tokens, source = _token_stats(row, model_path)
    split = split_of(row) or {}
    held = split.get("validation_dataset_id") if split.get("role") == "train" else None
    return DatasetFacts(
        train_records=row.num_records,
        longest_tokens=int(tokens["max"] + 0.999) if tokens else None,
        p95_tokens=int(tokens["p95"] + 0.999) if tokens else None,
        tokens_source=source,
        validation_dataset_id=held if isinstance(held, str) else None,
        validation_records=int(split.get("validation_records") or 0) if held else 0,
    )


async def defaults(
    session: AsyncSession, user: CurrentUser, dataset_id: str, base_model_id: str
) -> TrainDefaults:
    row = await datasets.get(session, user, dataset_id)
    model = await session.get(ModelConfig, base_model_id)
    path = checks.base_model_path(model, base_model_id)
    assert model is not None  # base_model_path refuses a missing one
    facts = await asyncio.to_thread(_dataset_facts, row, path)
    if facts.validation_dataset_id and not await session.get(Dataset, facts.validation_dataset_id):
        # The held-out split was deleted: train without it rather than fail the job.
        facts = dataclasses.replace(facts, validation_dataset_id=None, validation_records=0)
    chosen = choose(facts, _model_facts(model, path))
    return msgspec.convert(
        {
            "base_model_id": base_model_id,
            "dataset_ids": [row.id],
            **{k: v for k, v in chosen.fields.items() if v is not None},
            "explanations": chosen.explanations,
            "estimates": chosen.estimates,
        },
        TrainDefaults,
    )


def job_request(
    base: TrainDefaults, overrides: dict[str, Any], evaluation: dict[str, Any] | None
) -> tuple[JobCreate, list[str]]:
    """The defaults with the caller's overrides, as a job request (400 when they do not fit)."""
    fixed = sorted(set(FIXED) & overrides.keys())
    if fixed:
        raise BadRequest(
            "override_not_allowed",
            detail=f"{', '.join(fixed)} come from the route and the body, not overrides.",
        )
    spec = {
        k: v
        for k, v in msgspec.structs.asdict(base).items()
        if k in JobCreate.__struct_fields__ and v is not None
    }
    spec.update(overrides)
    warnings = []
    if evaluation is not None:
        # The evaluation settings belong to the job when the job request has them.
        if "evaluation" in JobCreate.__struct_fields__:
            spec["evaluation"] = evaluation
        else:
            warnings.append(EVALUATION_NOT_STORED)
    try:
        return msgspec.convert(spec, JobCreate), warnings
    except msgspec.ValidationError as exc:
        raise BadRequest(
            "invalid_overrides",
            detail=str(exc),
            errors=[{"field": "overrides", "message": str(exc)}],
        ) from exc


async def train(
    session: AsyncSession, user: CurrentUser, dataset_id: str, body: TrainRequest, data_dir: Path
) -> tuple[TrainingJob, list[str]]:
    base = await defaults(session, user, dataset_id, body.base_model_id)
    request, warnings = job_request(base, body.overrides, body.evaluation)
    job, job_warnings = await jobs.create(session, user, request, data_dir)
    return job, warnings + job_warnings
