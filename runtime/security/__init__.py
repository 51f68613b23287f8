"""Security primitives: password hashing, tokens, API keys and the login rate limit."""

from runtime.security.api_keys import (
    API_KEY_PREFIX,
    GeneratedKey,
    generate_api_key,
    hash_api_key,
    looks_like_api_key,
)
from runtime.security.passwords import Argon2Params, Passwords, get_passwords
from runtime.security.rate_limit import LoginLimits, LoginRateLimiter, RateLimited
from runtime.security.tokens import (
    AccessClaims,
    TokenError,
    TokenExpired,
    TokenInvalid,
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_family_id,
    new_refresh_token,
)

__all__ = [
    "API_KEY_PREFIX",
    "AccessClaims",
    "Argon2Params",
    "GeneratedKey",
    "LoginLimits",
    "LoginRateLimiter",
    "Passwords",
    "RateLimited",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "decode_access_token",
    "generate_api_key",
    "get_passwords",
    "hash_api_key",
    "hash_refresh_token",
    "issue_access_token",
    "looks_like_api_key",
    "new_family_id",
    "new_refresh_token",
]
