"""Webhook deliveries end to end: real receivers on loopback, real NATS, both databases."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from events import encode_event
from runtime.bus import EventBus
from runtime.platform import Platform
from tests.fakes.webhook_receiver import Answer, WebhookReceiver
from tests.fixtures.nats import eventually, user_registered
from tests.integration import test_webhooks_api as api
from tests.integration.test_webhooks_api import create_webhook, login

# Fixtures shared by name with the API tests: a platform that may call loopback.
private_platform = api.private_platform
http = api.http


@pytest.fixture
async def receiver() -> Any:
    async with WebhookReceiver() as fake:
        yield fake


async def deliveries(http: httpx.AsyncClient, headers: dict[str, str], hook: str) -> list[Any]:
    page = (await http.get(f"/api/webhooks/{hook}/deliveries", headers=headers)).json()
    items: list[Any] = page["items"]
    return items


async def settled(bus: EventBus, stream: str, durable: str) -> bool:
    """The durable has taken every message of its filter and holds nothing unacked
    (a retry waiting on its nak delay counts as unacked)."""
    info = await bus.js.consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_failing_receiver_gets_the_event_once_more_signed_per_the_spec(
    private_platform: Platform, http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    _, headers = await login(private_platform, http, "root@example.com", "admin")
    hook = await create_webhook(http, headers, receiver.url, event_types=["auth.user.*"])
    receiver.answer(500, 503)
    event = user_registered("u-42")
    bus = private_platform.services.bus
    await bus.publish(event)

    got = await receiver.wait_for(3)
    verifier = Verifier(hook["secret"])
    for request in got:
        payload = verifier.verify(request.body, request.headers)
        assert payload["id"] == event.id
        assert payload["type"] == event.type
        assert request.headers["webhook-id"] == event.id
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("llmforge-webhooks/")
    assert json.loads(got[0].body) == json.loads(encode_event(event))

    async def recorded() -> list[Any]:
        items = await deliveries(http, headers, hook["id"])
        return items if items and items[0]["status"] == "succeeded" else []

    [delivery] = await eventually(recorded, within=10)
    assert [a["succeeded"] for a in delivery["attempts"]] == [False, False, True]
    assert [a["response_status"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["attempts"][0]["response_snippet"] == "scripted"
    assert all(a["latency_ms"] is not None for a in delivery["attempts"])

    # The same event and the same work message arriving again change nothing.
    await bus.publish_raw(event.nats_subject, encode_event(event), msg_id="again-1")
    await bus.publish_raw(
        f"llmforge.webhooks.delivery.{delivery['id']}.requested",
        json.dumps(
            {
                "type": "llmforge.webhooks.delivery.requested.v1",
                "subject": delivery["id"],
                "data": {
                    "delivery_id": delivery["id"],
                    "webhook_id": hook["id"],
                    "owner_id": hook["owner_id"],
                    "event_id": event.id,
                    "event_type": event.type,
                },
            }
        ).encode(),
        msg_id="again-2",
    )
    await eventually(lambda: settled(bus, "LLMFORGE_AUTH", "llmforge-webhooks"))
    await eventually(lambda: settled(bus, "LLMFORGE_WEBHOOKS", "llmforge-webhooks-sender"))
    assert len(receiver.received) == 3
    assert len(await deliveries(http, headers, hook["id"])) == 1


async def test_redirects_are_not_followed_and_a_failing_endpoint_is_disabled(
    private_platform: Platform, http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    _, headers = await login(private_platform, http, "root@example.com", "admin")
    async with WebhookReceiver() as hostile:
        hostile.default = Answer(302, {"location": receiver.url}, b"")
        hook = await create_webhook(
            http, headers, hostile.url, event_types=["auth.user.registered"]
        )
        bus = private_platform.services.bus
        await bus.publish(user_registered("u-1"))
        await bus.publish(user_registered("u-2"))

        async def disabled() -> dict[str, Any] | None:
            read = (await http.get(f"/api/webhooks/{hook['id']}", headers=headers)).json()
            return read if not read["enabled"] else None

        read = await eventually(disabled, within=15)
        assert read["consecutive_failures"] == 2
        assert "failed every attempt" in read["disabled_reason"]
        # Two deliveries, three attempts each (the schedule has two retries).
        assert len(hostile.received) == 6
    assert receiver.received == []
    items = await deliveries(http, headers, hook["id"])
    assert {d["status"] for d in items} == {"failed"}
    assert all(a["response_status"] == 302 for d in items for a in d["attempts"])
    assert "redirect not followed" in items[0]["attempts"][0]["error"]

    last = await bus.js.get_last_msg("LLMFORGE_WEBHOOKS", "llmforge.webhooks.endpoint.disabled")
    assert last.data is not None
    disabled_event = json.loads(last.data)
    assert disabled_event["data"]["webhook_id"] == hook["id"]
    assert disabled_event["data"]["consecutive_failures"] == 2

    # Further events skip it; switching it back on clears the count.
    enabled = await http.patch(
        f"/api/webhooks/{hook['id']}", headers=headers, json={"enabled": True}
    )
    assert enabled.json()["consecutive_failures"] == 0
    assert enabled.json()["disabled_reason"] is None


async def test_ping_and_redelivery_reach_the_endpoint_with_the_same_webhook_id(
    private_platform: Platform, http: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    _, headers = await login(private_platform, http, "ann@example.com")
    # The ping ignores filters: this endpoint subscribed to nothing it would ever see.
    hook = await create_webhook(http, headers, receiver.url, event_types=["training.job.*"])
    sent = await http.post(f"/api/webhooks/{hook['id']}/test", headers=headers)
    assert sent.status_code == 202
    [ping] = await receiver.wait_for(1)
    assert ping.json["type"] == "llmforge.webhooks.endpoint.test.v1"
    assert ping.headers["webhook-id"] == sent.json()["event_id"]

    delivery_id = sent.json()["delivery_id"]

    async def succeeded() -> bool:
        items = await deliveries(http, headers, hook["id"])
        return bool(items) and items[0]["status"] == "succeeded"

    await eventually(succeeded)
    url = f"/api/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver"
    again = await http.post(url, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["generation"] == 1
    _, second = await receiver.wait_for(2)
    assert second.headers["webhook-id"] == ping.headers["webhook-id"]
    await eventually(succeeded)
    [delivery] = await deliveries(http, headers, hook["id"])
    assert [a["generation"] for a in delivery["attempts"]] == [0, 1]
    missing = await http.post(
        f"/api/webhooks/{hook['id']}/deliveries/nope/redeliver", headers=headers
    )
    assert missing.status_code == 404
