"""Auth routes (/api/auth), the current-user dependency and the guards of every route."""

from handlers.auth.controller import ApiKeyController, AuthController
from handlers.auth.deps import AUTH_DEPENDENCIES, authenticate, provide_current_user
from handlers.auth.guards import requires_admin, requires_login, requires_password_login
from handlers.auth.principal import ROLE_ADMIN, ROLE_USER, CurrentUser, actor
from handlers.auth.service import AuthService, create_user

AUTH_CONTROLLERS = [AuthController, ApiKeyController]

__all__ = [
    "AUTH_CONTROLLERS",
    "AUTH_DEPENDENCIES",
    "ROLE_ADMIN",
    "ROLE_USER",
    "AuthService",
    "CurrentUser",
    "actor",
    "authenticate",
    "create_user",
    "provide_current_user",
    "requires_admin",
    "requires_login",
    "requires_password_login",
]
