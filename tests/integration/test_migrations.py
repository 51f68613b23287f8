"""Migrations upgrade and downgrade on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from runtime.db import create_engine
from runtime.db.migrate import (
    current_revision,
    downgrade,
    head_revision,
    include_name,
    upgrade,
)
from runtime.db.models import Base


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    assert await current_revision(database_url) == head_revision()
    assert set(Base.metadata.tables) <= await _tables(database_url)

    await downgrade(database_url, "base")
    assert await current_revision(database_url) is None
    assert await _tables(database_url) <= {"alembic_version"}

    await upgrade(database_url)
    assert await current_revision(database_url) == head_revision()
    assert set(Base.metadata.tables) <= await _tables(database_url)


async def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = create_engine(database_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], "run: alembic revision --autogenerate (see README)"
