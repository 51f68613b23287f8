"""Database access: engine, session factory, models and migrations."""

from runtime.db.engine import create_engine, create_session_factory, dialect_of

__all__ = ["create_engine", "create_session_factory", "dialect_of"]
