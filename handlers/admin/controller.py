"""Admin routes for users (users.manage); the audit log is in handlers/audit."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.admin import service
from handlers.admin.schemas import (
    PasswordResetRequest,
    PasswordResetResult,
    UserCreate,
    UserPage,
    UserUpdate,
)
from handlers.auth import CurrentUser, Permission, requires
from handlers.auth.controller import user_read
from handlers.auth.deps import provide_passwords
from handlers.auth.schemas import UserRead
from handlers.deps import MAX_OFFSET
from runtime.security import Passwords

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [requires(Permission.USERS_MANAGE)]
    dependencies = {"passwords": Provide(provide_passwords, sync_to_thread=False)}

    @get("/users", operation_id="adminListUsers")
    async def list_users(
        self, db_session: AsyncSession, q: str | None = None, limit: Limit = 50, offset: Offset = 0
    ) -> UserPage:
        """Users by creation time; ``q`` matches e-mail or display name (case-insensitive)."""
        rows, total = await service.list_users(db_session, q=q, limit=limit, offset=offset)
        return UserPage(items=[user_read(u) for u in rows], total=total, limit=limit, offset=offset)

    @post("/users", operation_id="adminCreateUser", status_code=201)
    async def create_user(
        self,
        data: UserCreate,
        db_session: AsyncSession,
        passwords: Passwords,
        current_user: CurrentUser,
    ) -> UserRead:
        """Create an active account (409 when the e-mail is taken, 400 for an unknown role)."""
        user = await service.add_user(db_session, data, passwords=passwords, actor=current_user.id)
        return user_read(user)

    @patch("/users/{user_id:str}", operation_id="adminUpdateUser")
    async def update_user(
        self, user_id: str, data: UserUpdate, db_session: AsyncSession, current_user: CurrentUser
    ) -> UserRead:
        """Change role, state or name; disabling or re-roling cuts tokens and keys at once."""
        user = await service.update_user(db_session, user_id, data, actor=current_user.id)
        return user_read(user)

    @post("/users/{user_id:str}/reset-password", operation_id="adminResetPassword", status_code=200)
    async def reset_password(
        self,
        user_id: str,
        db_session: AsyncSession,
        passwords: Passwords,
        current_user: CurrentUser,
        data: PasswordResetRequest | None = None,
    ) -> Response[PasswordResetResult]:
        """Set a new password, or without one generate a temporary password shown only in
        this answer. Every session, access token and cached API-key resolution ends."""
        temporary = await service.reset_password(
            db_session,
            user_id,
            data.new_password if data else None,
            passwords=passwords,
            actor=current_user.id,
        )
        body = PasswordResetResult(user_id=user_id, temporary_password=temporary)
        return Response(body, headers={"Cache-Control": "no-store"})
