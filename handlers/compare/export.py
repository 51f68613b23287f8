"""A batch's answers as CSV: one row per prompt and model."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.models import CompareResult, CompareRun

COLUMNS = (
    "prompt_index",
    "prompt",
    "model",
    "model_config_id",
    "status",
    "answer",
    "ttft_ms",
    "latency_ms",
    "tokens_per_s",
    "input_tokens",
    "output_tokens",
    "cost",
    "error",
)
# Spreadsheets run a cell starting with these as a formula; model output is untrusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _number(value: float | int | None) -> str:
    return "" if value is None else str(value)


async def results_csv(session: AsyncSession, batch_id: str) -> str:
    query = (
        select(CompareRun.prompt_index, CompareRun.prompt, CompareResult)
        .join(CompareResult, CompareResult.run_id == CompareRun.id)
        .where(CompareRun.batch_id == batch_id, CompareRun.deleted_at.is_(None))
        .order_by(CompareRun.prompt_index, CompareResult.position)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for index, prompt, r in await session.execute(query):
        error = f"{r.error}: {r.error_message}" if r.error else ""
        writer.writerow(
            (
                index,
                safe_text(prompt),
                safe_text(r.alias),
                r.model_config_id,
                r.status,
                safe_text(r.answer),
                _number(r.ttft_ms),
                _number(r.latency_ms),
                _number(r.tokens_per_s),
                r.input_tokens,
                r.output_tokens,
                _number(r.cost),
                safe_text(error),
            )
        )
    return out.getvalue()
