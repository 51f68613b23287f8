"""Administration: users and the audit log."""

from handlers.admin.controller import AdminController

__all__ = ["AdminController"]
