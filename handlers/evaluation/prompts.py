"""What an evaluation asks both models: the given prompts, or the datasets' validation split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.collect.build import validation_items as held_out
from handlers.collect.schemas import ValidationItem


@dataclass(frozen=True, slots=True)
class PromptItem:
    prompt: str
    system: str | None = None
    # The dataset's own answer: shown to the judge as guidance, and in the report.
    reference: str | None = None
    # Earlier (question, answer) turns of a multi-turn record, sent before the prompt.
    history: list[tuple[str, str]] = field(default_factory=list)


def from_prompts(prompts: Sequence[str], limit: int) -> list[PromptItem]:
    return [PromptItem(prompt=p) for p in prompts[:limit]]


def from_record(item: ValidationItem) -> PromptItem | None:
    """An alpaca record as the model saw it in training: instruction, newline, input."""
    prompt = "\n".join(part for part in (item.instruction, item.input) if part.strip())
    if not prompt.strip():
        return None
    return PromptItem(
        prompt=prompt,
        system=item.system or None,
        reference=item.output or None,
        history=[(turn[0], turn[1]) for turn in item.history if len(turn) == 2],
    )


async def validation_items(
    session: AsyncSession, dataset_ids: Sequence[str], limit: int
) -> list[PromptItem]:
    """The first ``limit`` records of the datasets' validation splits, in dataset order."""
    items = [from_record(i) for i in await held_out(session, dataset_ids, limit)]
    return [i for i in items if i is not None]


async def has_validation(session: AsyncSession, dataset_ids: Sequence[str]) -> bool:
    return bool(await validation_items(session, dataset_ids, 1))
