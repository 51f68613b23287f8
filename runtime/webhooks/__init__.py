"""Webhook domain logic without HTTP routes: filters, signatures, SSRF guard, retries."""

from runtime.webhooks.client import SNIPPET_BYTES, AttemptResult, post_webhook
from runtime.webhooks.filters import (
    InvalidFilter,
    matches,
    normalize_filter,
    normalize_filters,
    short_type,
)
from runtime.webhooks.signing import SECRET_PREFIX, new_secret, sign, signed_headers
from runtime.webhooks.ssrf import UnsafeTarget, check_url, forbidden_reason, parse_target, resolve

__all__ = [
    "SECRET_PREFIX",
    "SNIPPET_BYTES",
    "AttemptResult",
    "InvalidFilter",
    "UnsafeTarget",
    "check_url",
    "forbidden_reason",
    "matches",
    "new_secret",
    "normalize_filter",
    "normalize_filters",
    "parse_target",
    "post_webhook",
    "resolve",
    "short_type",
    "sign",
    "signed_headers",
]
