"""One HTTP attempt against real sockets: checked address, no redirects, bounded reads."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.webhooks import SNIPPET_BYTES, UnsafeTarget, check_url, post_webhook
from tests.fakes.webhook_receiver import Answer, WebhookReceiver, free_port

HEADERS = {"content-type": "application/json", "webhook-id": "e1"}


@pytest.fixture
async def receiver() -> Any:
    async with WebhookReceiver() as fake:
        yield fake


async def test_loopback_is_never_called_while_private_targets_are_off(
    receiver: WebhookReceiver,
) -> None:
    result = await post_webhook(receiver.url, b"{}", HEADERS, limit_s=2, allow_private=False)
    assert not result.succeeded
    assert result.error is not None
    assert "refused" in result.error
    assert receiver.received == []


async def test_names_are_resolved_once_and_checked() -> None:
    for url in ("http://localhost/x", "http://2130706433/x", "http://0x7f.1/x"):
        with pytest.raises(UnsafeTarget):
            await check_url(url, allow_private=False)


async def test_host_header_keeps_the_name_while_the_checked_address_is_dialled(
    receiver: WebhookReceiver,
) -> None:
    url = f"http://localhost:{receiver.port}/hook?x=1"
    result = await post_webhook(url, b"{}", HEADERS, limit_s=2, allow_private=True)
    assert result.succeeded
    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.path == "/hook?x=1"


async def test_redirects_are_reported_not_followed(receiver: WebhookReceiver) -> None:
    async with WebhookReceiver(default=Answer(200)) as target:
        receiver.default = Answer(307, {"location": target.url}, b"")
        result = await post_webhook(receiver.url, b"{}", HEADERS, limit_s=2, allow_private=True)
        assert target.received == []
    assert (result.succeeded, result.status) == (False, 307)


async def test_only_the_first_kibibyte_of_an_answer_is_read(receiver: WebhookReceiver) -> None:
    receiver.default = Answer(200, body=b"x" * 1_000_000)
    result = await post_webhook(receiver.url, b"{}", HEADERS, limit_s=2, allow_private=True)
    assert result.succeeded
    assert result.snippet == "x" * SNIPPET_BYTES


async def test_slow_and_absent_receivers_fail_within_the_time_limit(
    receiver: WebhookReceiver,
) -> None:
    receiver.default = Answer(200, delay=5)
    slow = await post_webhook(receiver.url, b"{}", HEADERS, limit_s=0.3, allow_private=True)
    assert slow.error is not None
    assert "timed out" in slow.error
    assert slow.latency_ms < 4_000  # gave up well before the receiver's 5 s answer
    down = f"http://127.0.0.1:{free_port()}/"
    absent = await post_webhook(down, b"{}", HEADERS, limit_s=2, allow_private=True)
    assert not absent.succeeded
    assert absent.error is not None
    assert "ConnectError" in absent.error
