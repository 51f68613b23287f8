"""The audit trail: a batch consumer that records every event in audit_log."""

from handlers.audit.consumer import (
    AUDIT_SUBJECTS,
    audit_consumer,
    audit_row,
    insert_ignoring_duplicates,
    write_audit_rows,
)

__all__ = [
    "AUDIT_SUBJECTS",
    "audit_consumer",
    "audit_row",
    "insert_ignoring_duplicates",
    "write_audit_rows",
]
