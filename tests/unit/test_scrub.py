"""The scrubber masks e-mails, phones and secrets, and leaves ordinary numbers and words alone."""

from __future__ import annotations

import pytest

from trainer.scrub import Options, find, scrub, summary

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
LF_KEY = "lf_" + "Zq3" * 14
GH_TOKEN = "ghp_" + "a1B2c3D4e5" * 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call +1 (555) 123-4567 today", "Call [PHONE] today"),
        ("Call 555-123-4567.", "Call [PHONE]."),
        ("(555) 123-4567", "[PHONE]"),
        ("London: +44 20 7946 0958", "London: [PHONE]"),
        ("office 020 7946 0958, ext 12", "office [PHONE], ext 12"),
        ("Paris 01 23 45 67 89", "Paris [PHONE]"),
        ("Berlin +49 30 12345678", "Berlin [PHONE]"),
        ("dots 555.123.4567", "dots [PHONE]"),
        ("mobile +33612345678", "mobile [PHONE]"),
        ("toll free 1-800-555-0199", "toll free [PHONE]"),
    ],
)
def test_phone_numbers_in_common_formats_are_masked(text: str, expected: str) -> None:
    assert scrub(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Released on 2024-01-15 at 10:30.",
        "2024-01-15 10:30:00",
        "due 15/01/2024 or 01.02.2024",
        "ISO 8601: 2024-01-15T10:30:00Z",
        "upgrade to version 1.2.3 or v10.0.19041.1234",
        "the server at 192.168.100.200 port 8080",
        "a population of 1,234,567 people",
        "1 234 567 890 euros",
        "order 1234567890 and timestamp 1700000000",
        "ISBN 978-3-16-148410-0",
        "from 2019-2023 and 2019 - 2023",
        "pi is 3.14159 and e is 2.71828",
        "prices 12.50 13.75 14.25 15.00",
        "scores 10 20 30 40 50",
        "card 4111 1111 1111 1111",
        "$1,299.99 for 2 items",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "max_tokens=4096, temperature=0.7",
        "react@18.2.0 and @decorator",
        "the token: is what you log in with",
        "my password is long and secret sauce is tasty",
        "sk-learn-style-pipelines-are-great and a risk-assessment-framework-for-teams",
        "Chapter 12-14, pages 100-200, 5 - 10 people",
        "RFC 9457 and HTTP 429",
    ],
)
def test_ordinary_numbers_dates_versions_and_words_are_left_alone(text: str) -> None:
    assert scrub(text) == (text, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-proj-abc123DEF456ghi789JKL012mno here", "key [SECRET] here"),
        ("sk-ant-api03-AbCdEf0123456789xyzXYZ", "[SECRET]"),
        (f"use {LF_KEY}", "use [SECRET]"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "[SECRET]"),
        ("AIzaSyD-1234567890abcdefghijklmnopqrstu", "[SECRET]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [SECRET]"),
        (GH_TOKEN, "[SECRET]"),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [SECRET]"),
        (f"jwt={JWT}", "jwt=[SECRET]"),
        ("api_key=9f86d081884c7d659a2feaa0c55ad015", "api_key=[SECRET]"),
        ('"client_secret": "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="', None),
        ("token: 'c2VjcmV0LXRva2VuLTEyMzQ1Njc4OQ=='", "token: '[SECRET]'"),
        ("password=hunter2!", "password=[SECRET]"),
        ("postgres://app:s3cretpw@db:5432/x", "postgres://app:[SECRET]@db:5432/x"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "[SECRET]",
        ),
    ],
)
def test_keys_tokens_and_passwords_are_masked(text: str, expected: str | None) -> None:
    masked, findings = scrub(text)
    assert findings
    assert all(f.kind == "secret" for f in findings)
    if expected is not None:
        assert masked == expected
    assert "[SECRET]" in masked


def test_emails_are_masked_with_a_short_preview_and_trailing_dots_kept() -> None:
    text = "Write to ada@example.com or first.last+tag@sub.example.co.uk."
    masked, findings = scrub(text)
    assert masked == "Write to [EMAIL] or [EMAIL]."
    assert [f.preview for f in findings] == ["ad…@example.com", "fi…@sub.example.co.uk"]


def test_previews_never_hold_the_secret_and_overlaps_prefer_the_secret() -> None:
    text = f"reach me at ada@example.com, +1 555 123 4567, key {LF_KEY}"
    masked, findings = scrub(text)
    assert masked == "reach me at [EMAIL], [PHONE], key [SECRET]"
    previews = {f.kind: f.preview for f in findings}
    assert previews["secret"] == f"lf_…({len(LF_KEY)} chars)"
    assert previews["phone"] == "+15…67"
    assert LF_KEY[5:15] not in str(findings)
    # An address inside a URL credential is part of the secret, not a separate e-mail.
    url = "https://bob:pa55word@example.com/x"
    assert [f.kind for f in find(url)] == ["secret"]
    assert summary(findings) == {"email": 1, "phone": 1, "secret": 1}


def test_each_kind_can_be_switched_off() -> None:
    text = f"ada@example.com +1 555 123 4567 {LF_KEY}"
    only_secrets = scrub(text, Options(emails=False, phones=False))
    assert only_secrets[0] == "ada@example.com +1 555 123 4567 [SECRET]"
    nothing = scrub(text, Options(emails=False, phones=False, secrets=False))
    assert nothing == (text, [])
