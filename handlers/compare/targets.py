"""What a comparison asks for: the models (checked to be servable), messages, parameters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.compare.schemas import CompareParameters, ModelRef
from handlers.models.service import servable
from runtime.db.models import ModelConfig
from runtime.errors import BadRequest
from runtime.llm.types import Message, Params


async def resolve_models(session: AsyncSession, ids: Sequence[str]) -> list[ModelRef]:
    """The models in the requested order; 400 for duplicates or ids nobody can call.

    Checked before anything streams, so a typo is a clear 400 and not one ``error``
    event among the others.
    """
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise BadRequest(
            "duplicate_models",
            detail=f"Each model may appear once: {', '.join(dupes)}.",
            errors=[{"model_config_id": i} for i in dupes],
        )
    rows = await session.scalars(servable().where(ModelConfig.id.in_(list(ids))))
    found = {m.id: m for m in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise BadRequest(
            "unknown_models",
            detail=f"No enabled model config: {', '.join(missing)}.",
            errors=[{"model_config_id": i} for i in missing],
        )
    return [ModelRef(model_config_id=i, alias=found[i].alias, name=found[i].name) for i in ids]


def to_messages(prompt: str, system_prompt: str | None) -> list[Message]:
    messages = [Message(role="system", content=system_prompt)] if system_prompt else []
    return [*messages, Message(role="user", content=prompt)]


def to_params(parameters: CompareParameters | None) -> Params:
    if parameters is None:
        return Params()
    return msgspec.convert(msgspec.to_builtins(parameters), Params)


def stored_parameters(parameters: CompareParameters | None) -> dict[str, Any]:
    """The parameters as the run record keeps them: only what was set."""
    if parameters is None:
        return {}
    raw: dict[str, Any] = msgspec.to_builtins(parameters)
    return {k: v for k, v in raw.items() if v is not None}


def params_of(stored: dict[str, Any]) -> Params:
    return msgspec.convert(stored, Params)
