"""HTTP routes of /api/auth: parse, call AuthService, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.params import Parameter

from handlers.auth.deps import provide_auth_service
from handlers.auth.guards import requires_login, requires_password_login
from handlers.auth.principal import CurrentUser
from handlers.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    LoginRequest,
    MeRead,
    MeUpdate,
    PasswordChangeRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserRead,
)
from handlers.auth.service import AuthService, IssuedTokens
from handlers.deps import MAX_OFFSET
from runtime.db.models import ApiKey, User
from runtime.settings import SecuritySettings, Settings

REFRESH_COOKIE = "llmforge_refresh"
# Only the auth routes ever receive the refresh token, not every API call.
REFRESH_COOKIE_PATH = "/api/auth"

RefreshCookie = Annotated[
    str | None,
    Parameter(cookie=REFRESH_COOKIE, required=False, description="refresh token (browsers)"),
]


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]
    dependencies = {"auth": Provide(provide_auth_service, sync_to_thread=False)}

    @post("/register", operation_id="authRegister", status_code=201, opt={"public": True})
    async def register(self, data: RegisterRequest, auth: AuthService) -> UserRead:
        """Create an account (403 when registration is closed, 409 when the e-mail is taken)."""
        return user_read(await auth.register(data.email, data.password))

    @post("/login", operation_id="authLogin", status_code=200, opt={"public": True})
    async def login(
        self,
        data: LoginRequest,
        auth: AuthService,
        request: Request[Any, Any, Any],
        settings: Settings,
    ) -> Response[TokenResponse]:
        """Exchange credentials for an access token; the refresh token comes as the
        ``llmforge_refresh`` cookie and, for non-browser clients, in ``refresh_token``."""
        tokens = await auth.login(
            data.email, data.password, client_ip=client_ip(request), user_agent=user_agent(request)
        )
        return token_response(tokens, settings.security)

    @post("/refresh", operation_id="authRefresh", status_code=200, opt={"public": True})
    async def refresh(
        self,
        auth: AuthService,
        request: Request[Any, Any, Any],
        settings: Settings,
        refresh_cookie: RefreshCookie = None,
        data: RefreshRequest | None = None,
    ) -> Response[TokenResponse]:
        """Rotate the refresh token: ``{"refresh_token": …}`` if sent, else the cookie
        (the body may then be empty). Presenting an already-rotated token ends the session."""
        token = (data.refresh_token if data else None) or refresh_cookie
        tokens = await auth.refresh(
            token, client_ip=client_ip(request), user_agent=user_agent(request)
        )
        return token_response(tokens, settings.security)

    @post("/logout", operation_id="authLogout", status_code=204, opt={"public": True})
    async def logout(
        self,
        auth: AuthService,
        settings: Settings,
        refresh_cookie: RefreshCookie = None,
        data: RefreshRequest | None = None,
    ) -> Response[None]:
        """End the session of the presented refresh token and clear the cookie."""
        await auth.logout((data.refresh_token if data else None) or refresh_cookie)
        return Response(None, status_code=204, cookies=[clear_refresh_cookie(settings.security)])

    @get("/me", operation_id="authMe", guards=[requires_login])
    async def me(self, current_user: CurrentUser, auth: AuthService) -> MeRead:
        return me_read(current_user, await auth.shares_conversations(current_user.id))

    @patch("/me", operation_id="authUpdateMe", guards=[requires_login])
    async def update_me(
        self, data: MeUpdate, current_user: CurrentUser, auth: AuthService
    ) -> MeRead:
        """The caller's own settings (``share_conversations_for_training``)."""
        user = await auth.update_settings(current_user.id, data.share_conversations_for_training)
        return me_read(current_user, user.share_conversations_for_training)

    @post(
        "/password",
        operation_id="authChangePassword",
        status_code=204,
        guards=[requires_password_login],
    )
    async def change_password(
        self,
        data: PasswordChangeRequest,
        auth: AuthService,
        current_user: CurrentUser,
        request: Request[Any, Any, Any],
        settings: Settings,
    ) -> Response[None]:
        """Change the password; every session and access token of the user ends."""
        await auth.change_password(
            current_user.id,
            data.current_password,
            data.new_password,
            client_ip=client_ip(request),
        )
        return Response(None, status_code=204, cookies=[clear_refresh_cookie(settings.security)])


class ApiKeyController(Controller):
    path = "/api/auth/api-keys"
    tags = ["auth"]
    guards = [requires_login]
    dependencies = {"auth": Provide(provide_auth_service, sync_to_thread=False)}

    @get("/", operation_id="authListApiKeys")
    async def list_keys(
        self,
        auth: AuthService,
        current_user: CurrentUser,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> ApiKeyPage:
        rows, total = await auth.list_api_keys(current_user.id, limit=limit, offset=offset)
        return ApiKeyPage(
            items=[api_key_read(r) for r in rows], total=total, limit=limit, offset=offset
        )

    @post("/", operation_id="authCreateApiKey", status_code=201, guards=[requires_password_login])
    async def create_key(
        self, data: ApiKeyCreate, auth: AuthService, current_user: CurrentUser
    ) -> ApiKeyCreated:
        """Create a personal API key; the ``key`` is in this answer only."""
        new = await auth.create_api_key(current_user.id, data.name, data.expires_in_days)
        return ApiKeyCreated(
            id=new.row.id,
            key=new.key,
            prefix=new.row.prefix,
            name=new.row.name,
            created_at=new.row.created_at,
            expires_at=new.row.expires_at,
        )

    @delete(
        "/{key_id:str}",
        operation_id="authRevokeApiKey",
        status_code=204,
        guards=[requires_password_login],
    )
    async def revoke_key(self, key_id: str, auth: AuthService, current_user: CurrentUser) -> None:
        await auth.revoke_api_key(current_user.id, key_id)


def me_read(current_user: CurrentUser, shares_conversations: bool) -> MeRead:
    return MeRead(
        id=current_user.id,
        email=current_user.email,
        display_name=current_user.display_name,
        role=current_user.role,
        is_active=current_user.is_active,
        created_at=current_user.created_at,
        permissions=sorted(current_user.permissions),
        auth_method=current_user.auth_method,
        share_conversations_for_training=shares_conversations,
    )


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
    )


def api_key_read(row: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def token_response(tokens: IssuedTokens, security: SecuritySettings) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        user=user_read(tokens.user),
    )
    cookie = _refresh_cookie(tokens.refresh_token, tokens.refresh_expires_in, security)
    # Tokens must never sit in a shared or browser cache.
    headers = {"Cache-Control": "no-store"}
    return Response(body, status_code=200, cookies=[cookie], headers=headers)


def clear_refresh_cookie(security: SecuritySettings) -> Cookie:
    return _refresh_cookie("", 0, security)


def _refresh_cookie(value: str, max_age: int, security: SecuritySettings) -> Cookie:
    return Cookie(
        key=REFRESH_COOKIE,
        value=value,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=security.cookie_secure,
        samesite=security.cookie_samesite,
    )


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("user-agent")
