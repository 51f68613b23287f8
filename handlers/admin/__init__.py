"""Administration: users, roles and permissions (the audit log routes live in handlers/audit)."""

from handlers.admin.controller import AdminController
from handlers.admin.roles_controller import RoleController

ADMIN_CONTROLLERS = [AdminController, RoleController]

__all__ = ["ADMIN_CONTROLLERS", "AdminController", "RoleController"]
