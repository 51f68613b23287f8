"""Custom roles over real HTTP: CRUD, validation, events, and permissions applied at once."""

from __future__ import annotations

import httpx

from handlers.auth import Permission
from handlers.auth.deps import caches_of
from handlers.auth.permissions import DESCRIPTIONS
from runtime.platform import Platform, Roles
from tests.fixtures.app import PlatformFactory
from tests.integration.permission_support import (
    admin_session,
    api_key,
    eventually,
    login,
    make_user,
    problem_code,
    subject_counts,
)


async def _role(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, permissions: list[str]
) -> None:
    created = await client.post(
        "/api/admin/roles", headers=admin, json={"name": name, "permissions": permissions}
    )
    assert created.status_code == 201, created.text


async def _grant(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, permissions: list[str]
) -> None:
    changed = await client.patch(
        f"/api/admin/roles/{name}", headers=admin, json={"permissions": permissions}
    )
    assert changed.status_code == 200, changed.text


async def _assign(
    client: httpx.AsyncClient, admin: dict[str, str], user_id: str, role: str
) -> None:
    changed = await client.patch(f"/api/admin/users/{user_id}", headers=admin, json={"role": role})
    assert changed.status_code == 200, changed.text


async def test_builtin_roles_are_listed_read_only(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    roles = (await client.get("/api/admin/roles", headers=admin)).json()["items"]
    assert [(r["name"], r["builtin"]) for r in roles] == [("admin", True), ("user", True)]
    assert roles[0]["permissions"] == [p.value for p in Permission]
    one = (await client.get("/api/admin/roles/user", headers=admin)).json()
    assert one["builtin"] is True
    assert "chat.use" in one["permissions"]
    assert "users.manage" not in one["permissions"]

    for method, body in (("PATCH", {"description": "x"}), ("DELETE", None)):
        refused = await client.request(method, "/api/admin/roles/admin", headers=admin, json=body)
        assert (refused.status_code, refused.json()["code"]) == (409, "builtin_role"), method
    taken = await client.post(
        "/api/admin/roles", headers=admin, json={"name": "user", "permissions": []}
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "role_exists")


async def test_permission_catalogue_lists_every_permission(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    items = (await client.get("/api/admin/permissions", headers=admin)).json()["items"]
    assert {i["name"]: i["description"] for i in items} == {
        p.value: DESCRIPTIONS[p] for p in Permission
    }


async def test_custom_role_lifecycle_validates_and_emits_events(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    created = await client.post(
        "/api/admin/roles",
        headers=admin,
        json={"name": "auditor", "description": "Reads", "permissions": ["audit.read", "chat.use"]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["permissions"] == ["chat.use", "audit.read"]  # the enum's order
    assert (body["builtin"], body["description"]) == (False, "Reads")
    assert body["created_at"] is not None

    duplicate = await client.post(
        "/api/admin/roles", headers=admin, json={"name": "auditor", "permissions": []}
    )
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "role_exists")
    unknown = await client.post(
        "/api/admin/roles",
        headers=admin,
        json={"name": "ghosts", "permissions": ["chat.use", "time.travel"]},
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_permission")
    assert "time.travel" in unknown.json()["detail"]
    assert (await client.get("/api/admin/roles/ghosts", headers=admin)).status_code == 404
    bad_name = await client.post(
        "/api/admin/roles", headers=admin, json={"name": "Not A Name", "permissions": []}
    )
    assert bad_name.status_code == 400

    patched = await client.patch(
        "/api/admin/roles/auditor",
        headers=admin,
        json={"permissions": ["usage.read"], "description": "Usage"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["permissions"], patched.json()["description"]) == (
        ["usage.read"],
        "Usage",
    )
    bad_patch = await client.patch(
        "/api/admin/roles/auditor", headers=admin, json={"permissions": ["nope"]}
    )
    assert (bad_patch.status_code, bad_patch.json()["code"]) == (422, "unknown_permission")
    kept = (await client.get("/api/admin/roles/auditor", headers=admin)).json()
    assert kept["permissions"] == ["usage.read"]
    listed = (await client.get("/api/admin/roles", headers=admin)).json()["items"]
    assert [r["name"] for r in listed] == ["admin", "user", "auditor"]

    assert (await client.delete("/api/admin/roles/auditor", headers=admin)).status_code == 204
    missing = await client.delete("/api/admin/roles/auditor", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "role_not_found")

    async def all_events() -> dict[str, int]:
        counts = await subject_counts(platform)
        wanted = ("created", "updated", "deleted")
        found = {verb: counts.get(f"llmforge.auth.role.{verb}", 0) for verb in wanted}
        return found if all(found.values()) else {}

    assert await eventually(all_events) == {"created": 1, "updated": 1, "deleted": 1}


async def test_a_role_still_assigned_cannot_be_deleted(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    await _role(client, admin, "auditor", ["audit.read"])
    member = await make_user(platform, "member@example.com")
    await _assign(client, admin, member, "auditor")
    refused = await client.delete("/api/admin/roles/auditor", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "role_in_use")
    await _assign(client, admin, member, "user")
    assert (await client.delete("/api/admin/roles/auditor", headers=admin)).status_code == 204


async def test_only_existing_roles_can_be_assigned(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    member = await make_user(platform, "member@example.com")
    refused = await client.patch(
        f"/api/admin/users/{member}", headers=admin, json={"role": "ghost"}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_role")
    created = await client.post(
        "/api/admin/users",
        headers=admin,
        json={"email": "new@example.com", "password": "long enough pw", "role": "ghost"},
    )
    assert (created.status_code, created.json()["code"]) == (400, "invalid_role")


async def test_role_changes_apply_at_once_to_tokens_and_cached_api_keys(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    await _role(client, admin, "auditor", ["usage.read"])
    member = await make_user(platform, "member@example.com")
    await _assign(client, admin, member, "auditor")
    jwt = await login(client, "member@example.com")
    key = await api_key(client, jwt)

    for headers in (jwt, key):
        assert (await client.get("/api/usage/summary", headers=headers)).status_code == 200
        denied = await client.get("/api/chat/sessions", headers=headers)
        assert (denied.status_code, problem_code(denied)) == (403, "permission_required")
        assert "chat.use" in denied.json()["detail"]
    assert platform.app is not None
    # The member's key and access token are both resolved from the cache now.
    cached = [u.email for u in caches_of(platform.app.state).api_keys.users()]
    assert cached.count("member@example.com") == 2

    await _grant(client, admin, "auditor", ["chat.use"])
    for headers in (jwt, key):
        assert (await client.get("/api/chat/sessions", headers=headers)).status_code == 200
        denied = await client.get("/api/usage/summary", headers=headers)
        assert (denied.status_code, problem_code(denied)) == (403, "permission_required")


async def test_a_role_change_reaches_the_other_replica(
    platform_factory: PlatformFactory,
) -> None:
    replica_a = await platform_factory()
    replica_b = await platform_factory(roles=Roles(http=True, consumers=False))
    assert replica_b.app is not None
    # Without the broadcast, B would keep the old permissions for this long.
    caches = caches_of(replica_b.app.state)
    caches.api_keys.ttl = caches.roles.ttl = 300.0
    async with (
        httpx.AsyncClient(base_url=replica_a.url) as a,
        httpx.AsyncClient(base_url=replica_b.url) as b,
    ):
        admin = await admin_session(replica_a, a)
        await _role(a, admin, "auditor", ["usage.read"])
        member = await make_user(replica_a, "member@example.com")
        await _assign(a, admin, member, "auditor")
        jwt = await login(b, "member@example.com")
        key = await api_key(b, jwt)
        for headers in (jwt, key):
            assert (await b.get("/api/usage/summary", headers=headers)).status_code == 200

        await _grant(a, admin, "auditor", ["chat.use"])

        async def revoked_on_b() -> bool:
            statuses = {
                (await b.get("/api/usage/summary", headers=h)).status_code for h in (jwt, key)
            }
            return statuses == {403}

        await eventually(revoked_on_b, timeout=5.0)
        assert (await b.get("/api/chat/sessions", headers=key)).status_code == 200
