"""Reading the audit log: filters, pages newest first, and a bounded streamed CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.audit.schemas import AuditEntry
from runtime.db.models import AuditLog
from runtime.db.paging import page_of

T = TypeVar("T")

# Larger ranges belong in a database dump, not a spreadsheet; the route says so in headers.
EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE = 1000
CSV_COLUMNS = ("time", "id", "type", "actor", "subject", "source", "data")
# Spreadsheets run a cell starting with these as a formula, and event data holds
# whatever users typed (names, prompts, e-mails): such a cell gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    type_prefix: str | None = None  # e.g. "llmforge.auth."
    actor: str | None = None
    subject: str | None = None  # the event's subject: the resource it is about
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None  # case-insensitive text in the event's data

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.type_prefix:
            found.append(AuditLog.type.startswith(self.type_prefix, autoescape=True))
        if self.actor:
            found.append(AuditLog.actor == self.actor)
        if self.subject:
            found.append(AuditLog.subject == self.subject)
        if self.since:
            found.append(AuditLog.time >= self.since)
        if self.until:
            found.append(AuditLog.time < self.until)
        if self.q:
            # A scan of the JSON text, narrowed first by the indexed filters above. JSON
            # text escapes non-ASCII characters, so q matches ASCII text only.
            text = func.lower(cast(AuditLog.data, Text))
            found.append(text.contains(self.q.lower(), autoescape=True))
        return found


def _newest_first(query: Select[T]) -> Select[T]:
    return query.order_by(AuditLog.time.desc(), AuditLog.id)


async def count_audit(session: AsyncSession, where: AuditFilter) -> int:
    total = await session.scalar(
        select(func.count()).select_from(AuditLog).where(*where.conditions())
    )
    return int(total or 0)


async def list_audit(
    session: AsyncSession, where: AuditFilter, *, limit: int, offset: int
) -> tuple[Sequence[AuditLog], int]:
    query = _newest_first(select(AuditLog).where(*where.conditions()))
    return await page_of(session, query, limit=limit, offset=offset)


def entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        type=row.type,
        subject=row.subject,
        actor=row.actor,
        source=row.source,
        time=row.time,
        data=row.data,
    )


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_line(row: AuditLog) -> list[str]:
    time = row.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    data = msgspec.json.encode(row.data).decode()
    cells = (time, row.id, row.type, row.actor, row.subject, row.source, data)
    return [safe_cell(cell) for cell in cells]


def _encode(lines: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return out.getvalue().encode()


async def export_csv(
    session_factory: async_sessionmaker[AsyncSession],
    where: AuditFilter,
    *,
    max_rows: int = EXPORT_MAX_ROWS,
    page: int = EXPORT_PAGE,
) -> AsyncIterator[bytes]:
    """The header line, then the matching rows newest first, at most ``max_rows``.

    Pages by keyset (time, id) with a short session each, so a slow download holds no
    transaction open and later pages cost the same as the first.
    """
    yield _encode([list(CSV_COLUMNS)])
    sent = 0
    after: tuple[datetime, str] | None = None
    while sent < max_rows:
        query = _newest_first(select(AuditLog).where(*where.conditions()))
        if after is not None:
            time, event_id = after
            query = query.where(
                or_(AuditLog.time < time, and_(AuditLog.time == time, AuditLog.id > event_id))
            )
        async with session_factory() as session:
            rows = (await session.scalars(query.limit(min(page, max_rows - sent)))).all()
        if not rows:
            return
        yield _encode([csv_line(row) for row in rows])
        sent += len(rows)
        after = (rows[-1].time, rows[-1].id)
