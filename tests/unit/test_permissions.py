"""Permissions, built-in roles, the role cache and the invalidation rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.auth import (
    ApiKeyData,
    ApiKeyRevoked,
    LoginSucceeded,
    LoginSucceededData,
    PasswordReset,
    PasswordResetData,
    RoleData,
    RoleUpdated,
    UserUpdated,
    UserUpdatedData,
)
from handlers.auth.guards import guard_permissions, requires, requires_login
from handlers.auth.invalidation import SUBJECTS, apply
from handlers.auth.permissions import (
    ALL_PERMISSIONS,
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    DESCRIPTIONS,
    ROLE_ADMIN,
    ROLE_USER,
    Permission,
    builtin_permissions,
    parse_permissions,
    sorted_names,
    valid_role_name,
)
from handlers.auth.principal import AuthCaches, CurrentUser
from handlers.auth.roles import RoleCache


def _user(user_id: str = "u1", key_id: str | None = "k1") -> CurrentUser:
    return CurrentUser(
        id=user_id,
        email=f"{user_id}@example.com",
        display_name=None,
        role="user",
        is_active=True,
        created_at=datetime.now(UTC),
        auth_method="api_key",
        api_key_id=key_id,
        permissions=BUILTIN_ROLES[ROLE_USER],
    )


def test_every_permission_has_a_one_line_description() -> None:
    assert set(DESCRIPTIONS) == ALL_PERMISSIONS
    assert all(text and "\n" not in text for text in DESCRIPTIONS.values())
    assert set(BUILTIN_DESCRIPTIONS) == set(BUILTIN_ROLES)


def test_admin_has_every_permission_and_user_the_everyday_ones() -> None:
    assert builtin_permissions(ROLE_ADMIN) == ALL_PERMISSIONS
    user = builtin_permissions(ROLE_USER)
    assert user is not None
    assert Permission.CHAT_USE in user
    assert not {Permission.USERS_MANAGE, Permission.AUDIT_READ, Permission.USAGE_READ} & user
    assert builtin_permissions("auditor") is None


def test_parse_permissions_splits_known_from_unknown() -> None:
    known, unknown = parse_permissions(["chat.use", "nope", "audit.read", "chat.use", "x"])
    assert known == {Permission.CHAT_USE, Permission.AUDIT_READ}
    assert unknown == ["nope", "x"]
    assert sorted_names([Permission.AUDIT_READ, Permission.CHAT_USE]) == ["chat.use", "audit.read"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [("auditor", True), ("ops-team_2", True), ("a", False), ("Auditor", False), ("x" * 33, False)],
)
def test_role_names_are_lower_case_and_fit_the_user_column(name: str, valid: bool) -> None:
    assert valid_role_name(name) is valid


def test_current_user_can_only_what_its_role_grants() -> None:
    user = _user()
    assert user.can(Permission.CHAT_USE)
    assert not user.can(Permission.USERS_MANAGE)


def test_requires_marks_its_guard_for_the_coverage_test() -> None:
    guard = requires(Permission.AUDIT_READ, Permission.USAGE_READ)
    assert guard_permissions(guard) == frozenset({Permission.AUDIT_READ, Permission.USAGE_READ})
    assert guard_permissions(requires_login) is None
    with pytest.raises(ValueError, match="at least one"):
        requires()


def test_role_cache_refuses_a_lookup_older_than_a_clear() -> None:
    cache = RoleCache(ttl=60)
    stale = cache.generation
    cache.clear()
    cache.put("auditor", frozenset({Permission.AUDIT_READ}), generation=stale)
    assert cache.get("auditor") is None
    cache.put("auditor", frozenset({Permission.AUDIT_READ}), generation=cache.generation)
    assert cache.get("auditor") == frozenset({Permission.AUDIT_READ})
    expired = RoleCache(ttl=0)
    expired.put("auditor", frozenset(), generation=expired.generation)
    assert expired.get("auditor") is None


def test_a_role_change_drops_every_cached_api_key_too() -> None:
    caches = AuthCaches()
    caches.roles.put("auditor", frozenset(), generation=caches.roles.generation)
    caches.api_keys.put("h1", _user(), generation=caches.api_keys.generation, expires_at=None)
    apply(
        caches,
        RoleUpdated(subject="r1", data=RoleData(role_id="r1", name="auditor", permissions=[])),
    )
    assert len(caches.roles) == 0
    assert len(caches.api_keys) == 0


def test_user_and_key_events_drop_only_their_entries() -> None:
    caches = AuthCaches()
    for key_hash, user in (("h1", _user("u1", "k1")), ("h2", _user("u2", "k2"))):
        caches.api_keys.put(key_hash, user, generation=caches.api_keys.generation, expires_at=None)
    apply(
        caches,
        ApiKeyRevoked(
            subject="k1", data=ApiKeyData(key_id="k1", user_id="u1", name="n", prefix="lf_x")
        ),
    )
    assert caches.api_keys.get("h1") is None
    assert caches.api_keys.get("h2") is not None
    apply(caches, LoginSucceeded(subject="u2", data=LoginSucceededData(user_id="u2")))
    assert caches.api_keys.get("h2") is not None
    apply(
        caches,
        UserUpdated(
            subject="u2",
            data=UserUpdatedData(user_id="u2", changed=["is_active"], role="user", is_active=False),
        ),
    )
    assert caches.api_keys.get("h2") is None


def test_invalidating_subjects_cover_user_key_password_and_role_changes() -> None:
    assert PasswordReset(
        subject="u1", data=PasswordResetData(user_id="u1", generated=True)
    ).nats_subject in set(SUBJECTS)
    assert "llmforge.auth.role.deleted" in SUBJECTS
    assert "llmforge.auth.login.succeeded" not in SUBJECTS
