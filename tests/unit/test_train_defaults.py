"""Training defaults follow the dataset's size and token lengths and the base model."""

from __future__ import annotations

import msgspec
import pytest

from handlers.collect.defaults import DatasetFacts, ModelFacts, choose, next_power_of_two
from handlers.collect.schemas import TrainDefaults
from handlers.collect.train import EVALUATION_NOT_STORED, job_request
from handlers.training.schemas import JobCreate
from runtime.errors import BadRequest


def _facts(
    n: int,
    longest: int | None = 300,
    p95: int | None = 250,
    *,
    validation_dataset_id: str | None = None,
    validation_records: int = 0,
) -> DatasetFacts:
    return DatasetFacts(
        train_records=n,
        longest_tokens=longest,
        p95_tokens=p95,
        validation_dataset_id=validation_dataset_id,
        validation_records=validation_records,
    )


def test_small_sets_train_longer_with_a_small_rank_and_big_sets_shorter() -> None:
    tiny = choose(_facts(20), ModelFacts(context=2048)).fields
    big = choose(_facts(50_000), ModelFacts(context=2048)).fields
    assert tiny["num_train_epochs"] > big["num_train_epochs"]
    assert (tiny["lora_rank"], tiny["lora_alpha"]) == (8, 16)
    assert (big["lora_rank"], big["lora_alpha"]) == (32, 64)
    assert tiny["learning_rate"] > big["learning_rate"]
    assert tiny["lora_dropout"] > 0 == big["lora_dropout"]
    effective = {
        name: f["per_device_train_batch_size"] * f["gradient_accumulation_steps"]
        for name, f in (("tiny", tiny), ("big", big))
    }
    assert effective["tiny"] < effective["big"]


def test_the_batch_never_exceeds_the_records_and_logging_gives_a_readable_curve() -> None:
    three = choose(_facts(3), ModelFacts(context=2048))
    f = three.fields
    assert f["per_device_train_batch_size"] * f["gradient_accumulation_steps"] <= 3
    assert three.estimates["steps_per_epoch"] == 1
    assert three.estimates["total_steps"] == 5
    assert (f["logging_steps"], f["warmup_ratio"], f["max_steps"]) == (1, 0.0, None)
    large = choose(_facts(20_000), ModelFacts(context=2048))
    total = large.estimates["total_steps"]
    assert total == 625  # one epoch of ceil(20000 / 32) steps
    assert 40 <= total // large.fields["logging_steps"] <= 60
    assert large.fields["save_steps"] == -(-total // 4)
    assert large.fields["warmup_ratio"] > 0


@pytest.mark.parametrize(
    ("longest", "p95", "context", "expected"),
    [
        (300, 250, 2048, 512),  # 300 * 1.1 + 32 = 362 -> 512
        (40, 30, 2048, 128),  # never below 128
        (1000, 900, 2048, 2048),  # 1132 -> 2048
        (3000, 2900, 2048, 2048),  # 3332 -> 4096, capped by the context
        (5000, 400, 8192, 512),  # an outlier: the 95th percentile decides
        (3000, 2900, None, 4096),  # unknown context: capped at 4096
    ],
)
def test_cutoff_fits_the_longest_record_as_a_power_of_two_within_the_context(
    longest: int, p95: int, context: int | None, expected: int
) -> None:
    chosen = choose(_facts(100, longest, p95), ModelFacts(context=context))
    assert chosen.fields["cutoff_len"] == expected
    assert chosen.explanations["cutoff_len"]
    # Smaller cutoffs leave room for more samples per step.
    assert chosen.fields["per_device_train_batch_size"] == (
        4 if expected <= 512 else 2 if expected <= 1024 else 1
    )


def test_without_token_statistics_the_cutoff_is_2048_within_the_context() -> None:
    chosen = choose(_facts(100, None, None), ModelFacts(context=1024))
    assert chosen.fields["cutoff_len"] == 1024
    assert "no token statistics" in chosen.explanations["cutoff_len"]


def test_a_held_out_split_becomes_the_evaluation_set_and_every_field_is_explained() -> None:
    facts = _facts(90, validation_dataset_id="v" * 32, validation_records=10)
    chosen = choose(facts, ModelFacts(context=2048, template="smollm2"))
    assert chosen.fields["eval_dataset_ids"] == ["v" * 32]
    assert chosen.fields["val_size"] == 0.0
    assert chosen.fields["template"] == "smollm2"
    assert "10 record(s)" in chosen.explanations["eval_dataset_ids"]
    explained = set(chosen.explanations)
    tuned = set(chosen.fields) - {"stage", "finetuning_type", "lr_scheduler_type", "seed"}
    assert tuned <= explained
    plain = choose(_facts(90), ModelFacts())
    assert plain.fields["eval_dataset_ids"] == []
    assert "no held-out split" in plain.explanations["val_size"]
    assert "template" not in plain.fields


def test_defaults_are_a_valid_job_request_and_overrides_are_checked() -> None:
    chosen = choose(_facts(200), ModelFacts(context=2048, template="smollm2"))
    body = msgspec.convert(
        {
            "base_model_id": "m",
            "dataset_ids": ["d"],
            **{k: v for k, v in chosen.fields.items() if v is not None},
            "explanations": chosen.explanations,
        },
        TrainDefaults,
    )
    request, warnings = job_request(body, {"num_train_epochs": 1, "max_steps": 3}, None)
    assert isinstance(request, JobCreate)
    assert (request.num_train_epochs, request.max_steps, request.lora_rank) == (1, 3, 8)
    assert warnings == []
    with pytest.raises(BadRequest) as fixed:
        job_request(body, {"dataset_ids": ["other"]}, None)
    assert fixed.value.code == "override_not_allowed"
    with pytest.raises(BadRequest) as bad:
        job_request(body, {"lora_rank": 0}, None)
    assert bad.value.code == "invalid_overrides"
    evaluated, noted = job_request(body, {}, {"max_examples": 3})
    if "evaluation" in JobCreate.__struct_fields__:
        # Passed through unchanged: the job request's own schema checks it.
        assert noted == []
        assert msgspec.to_builtins(evaluated)["evaluation"]["max_examples"] == 3
        with pytest.raises(BadRequest):
            job_request(body, {}, {"max_examples": "many"})
    else:
        assert noted == [EVALUATION_NOT_STORED]


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (2, 2), (3, 4), (362, 512), (513, 1024)])
def test_next_power_of_two(value: int, expected: int) -> None:
    assert next_power_of_two(value) == expected
