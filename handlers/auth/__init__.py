"""Auth routes (/api/auth), the current user, permissions and the guards of every route."""

from handlers.auth.controller import ApiKeyController, AuthController
from handlers.auth.deps import AUTH_DEPENDENCIES, authenticate, provide_current_user
from handlers.auth.guards import PUBLIC, requires, requires_login, requires_password_login
from handlers.auth.invalidation import auth_invalidation
from handlers.auth.permissions import ROLE_ADMIN, ROLE_USER, Permission
from handlers.auth.principal import CurrentUser, actor
from handlers.auth.service import AuthService, create_user

AUTH_CONTROLLERS = [AuthController, ApiKeyController]

__all__ = [
    "AUTH_CONTROLLERS",
    "AUTH_DEPENDENCIES",
    "PUBLIC",
    "ROLE_ADMIN",
    "ROLE_USER",
    "AuthService",
    "CurrentUser",
    "Permission",
    "actor",
    "auth_invalidation",
    "authenticate",
    "create_user",
    "provide_current_user",
    "requires",
    "requires_login",
    "requires_password_login",
]
