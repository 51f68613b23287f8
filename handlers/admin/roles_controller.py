"""Admin routes for roles and the permission catalogue (users.manage)."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar import delete as delete_route
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.admin import roles
from handlers.admin.schemas import (
    PermissionList,
    PermissionRead,
    RoleCreate,
    RoleList,
    RoleRead,
    RoleUpdate,
)
from handlers.auth import CurrentUser, Permission, requires
from handlers.auth.permissions import DESCRIPTIONS

_PERMISSIONS = PermissionList(
    items=[PermissionRead(name=p.value, description=DESCRIPTIONS[p]) for p in Permission]
)


class RoleController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [requires(Permission.USERS_MANAGE)]

    @get("/permissions", operation_id="adminListPermissions")
    async def list_permissions(self) -> PermissionList:
        """Every permission a role can grant, with what it allows."""
        return _PERMISSIONS

    @get("/roles", operation_id="adminListRoles")
    async def list_roles(self, db_session: AsyncSession) -> RoleList:
        """Built-in roles (``builtin: true``, read-only) and custom roles."""
        return RoleList(items=await roles.list_roles(db_session))

    @post("/roles", operation_id="adminCreateRole", status_code=201)
    async def create_role(
        self, data: RoleCreate, db_session: AsyncSession, current_user: CurrentUser
    ) -> RoleRead:
        """409 when the name is taken (built-in names included), 422 for unknown permissions."""
        return roles.role_read(await roles.create_role(db_session, data, actor=current_user.id))

    @get("/roles/{name:str}", operation_id="adminGetRole")
    async def get_role(self, name: str, db_session: AsyncSession) -> RoleRead:
        return await roles.get_role(db_session, name)

    @patch("/roles/{name:str}", operation_id="adminUpdateRole")
    async def update_role(
        self, name: str, data: RoleUpdate, db_session: AsyncSession, current_user: CurrentUser
    ) -> RoleRead:
        """Takes effect at once for every holder, on every replica; 409 for built-in roles."""
        row = await roles.update_role(db_session, name, data, actor=current_user.id)
        return roles.role_read(row)

    @delete_route("/roles/{name:str}", operation_id="adminDeleteRole", status_code=204)
    async def delete_role(
        self, name: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        """409 for built-in roles and for roles still assigned to a user."""
        await roles.delete_role(db_session, name, actor=current_user.id)
