"""full-text search over prompt templates

SQLite: an FTS5 table kept in step by triggers. PostgreSQL: a GIN expression index over
the same document. Neither is in the SQLAlchemy models (see env.py's include_name).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "name, description, category, body"
_NEW = "new.name, new.description, new.category, new.body"

PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '') || ' ' "
    "|| coalesce(category, '') || ' ' || coalesce(body, ''))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_prompt_templates_search ON prompt_templates USING gin ({PG_DOCUMENT})"
        )
        return
    op.execute(
        f"CREATE VIRTUAL TABLE prompt_templates_fts USING fts5(id UNINDEXED, {_COLUMNS}, "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"INSERT INTO prompt_templates_fts (id, {_COLUMNS}) SELECT id, {_COLUMNS} "
        "FROM prompt_templates"
    )
    op.execute(
        "CREATE TRIGGER prompt_templates_fts_ai AFTER INSERT ON prompt_templates BEGIN "
        f"INSERT INTO prompt_templates_fts (id, {_COLUMNS}) VALUES (new.id, {_NEW}); END"
    )
    op.execute(
        "CREATE TRIGGER prompt_templates_fts_ad AFTER DELETE ON prompt_templates BEGIN "
        "DELETE FROM prompt_templates_fts WHERE id = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER prompt_templates_fts_au AFTER UPDATE ON prompt_templates BEGIN "
        "DELETE FROM prompt_templates_fts WHERE id = old.id; "
        f"INSERT INTO prompt_templates_fts (id, {_COLUMNS}) VALUES (new.id, {_NEW}); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_prompt_templates_search")
        return
    for trigger in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS prompt_templates_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS prompt_templates_fts")
