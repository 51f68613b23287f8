"""The audit trail: the consumer recording every event, and the routes reading it."""

from handlers.audit.consumer import (
    AUDIT_SUBJECTS,
    audit_consumer,
    audit_row,
    insert_ignoring_duplicates,
    write_audit_rows,
)
from handlers.audit.controller import AuditController

__all__ = [
    "AUDIT_SUBJECTS",
    "AuditController",
    "audit_consumer",
    "audit_row",
    "insert_ignoring_duplicates",
    "write_audit_rows",
]
