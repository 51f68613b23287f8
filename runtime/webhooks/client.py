"""One webhook HTTP attempt, through the SSRF guard: no redirects, bounded time and body."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass

import httpx

from runtime.webhooks.ssrf import UnsafeTarget, parse_target, resolve

SNIPPET_BYTES = 1024


@dataclass(frozen=True, slots=True)
class AttemptResult:
    succeeded: bool
    latency_ms: float
    status: int | None = None
    snippet: str | None = None
    error: str | None = None


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    # A receiver may answer with an endless body; never read more than we keep.
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept.extend(chunk[: limit - len(kept)])
        if len(kept) >= limit:
            break
    return bytes(kept)


async def _send(
    url: str, body: bytes, headers: dict[str, str], limit_s: float, allow: bool
) -> tuple[int, bytes]:
    target = parse_target(url)
    ip = (await resolve(target, allow_private=allow))[0]
    # Connect to the address that was checked, not to whatever the name resolves to
    # next; the Host header and TLS SNI (and so certificate checks) keep the name.
    request_headers = {**headers, "host": target.url.netloc.decode("ascii")}
    extensions: dict[str, str] = {}
    if target.url.scheme == "https" and not _is_ip(target.host):
        extensions["sni_hostname"] = target.host
    # A client per attempt: connections are keyed by address, and a pooled one could be
    # reused for another host name on the same address with the wrong SNI.
    async with (
        httpx.AsyncClient(
            timeout=httpx.Timeout(limit_s), follow_redirects=False, trust_env=False
        ) as client,
        client.stream(
            "POST",
            target.url.copy_with(host=str(ip)),
            content=body,
            headers=request_headers,
            extensions=extensions,
        ) as response,
    ):
        return response.status_code, await _read_prefix(response, SNIPPET_BYTES)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def post_webhook(
    url: str, body: bytes, headers: dict[str, str], *, limit_s: float, allow_private: bool
) -> AttemptResult:
    """POST once; never raises for anything the receiver or the network does."""
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 2)

    try:
        # The whole attempt is bounded, not each read: a receiver dripping one byte at a
        # time must not hold a sender for longer than the timeout.
        async with asyncio.timeout(limit_s):
            status, raw = await _send(url, body, headers, limit_s, allow_private)
    except UnsafeTarget as exc:
        return AttemptResult(False, elapsed(), error=f"refused: {exc}")
    except TimeoutError:
        return AttemptResult(False, elapsed(), error=f"timed out after {limit_s:g} s")
    except httpx.HTTPError as exc:
        return AttemptResult(False, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    snippet = raw.decode("utf-8", errors="ignore") or None
    if 200 <= status < 300:
        return AttemptResult(True, elapsed(), status, snippet)
    reason = "redirect not followed" if 300 <= status < 400 else "non-2xx answer"
    return AttemptResult(False, elapsed(), status, snippet, f"HTTP {status}: {reason}")
