"""Signatures verify with the Standard Webhooks reference library, and only with the secret."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from runtime.webhooks import new_secret, sign, signed_headers


def test_reference_library_verifies_our_headers() -> None:
    secret = new_secret()
    body = b'{"id":"e1","type":"llmforge.auth.user.registered.v1","data":{}}'
    headers = signed_headers(secret, "e1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {
        "id": "e1",
        "type": "llmforge.auth.user.registered.v1",
        "data": {},
    }
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")


def test_signature_matches_the_reference_signer_byte_for_byte() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    reference = Webhook(secret)
    at = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert sign(secret, "msg_1", 1_700_000_000, b"{}") == reference.sign("msg_1", at, b"{}")


def test_a_changed_body_or_another_secret_fails_verification() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "e1", int(time.time()), b"{}")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"x":1}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(b"{}", headers)


def test_secrets_are_whsec_with_32_random_bytes() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_")
    assert one != two
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32
