"""Run Alembic migrations from code (the CLI, `up` and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from runtime.db.engine import create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Search indexes live in raw-SQL migrations (FTS5 tables, GIN expression indexes), not
# in the models; autogenerate and the drift check must not see them as strays.
_UNMODELLED_PREFIXES = ("prompt_templates_fts", "ix_prompt_templates_search")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (name or "").startswith(_UNMODELLED_PREFIXES)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def _with_connection(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                config = alembic_config(url)
                config.attributes["connection"] = sync_conn
                getattr(command, action)(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    await _with_connection(url, "upgrade", revision)


async def downgrade(url: str, revision: str) -> None:
    await _with_connection(url, "downgrade", revision)


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: Connection) -> str | None:
                return MigrationContext.configure(sync_conn).get_current_revision()

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
