"""The SSRF guard: which URLs and addresses a webhook may reach.

Private, loopback, link-local, multicast, reserved and unspecified addresses are refused,
in IPv4 and IPv6, including IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``,
compatible ``::a.b.c.d``, 6to4, Teredo, NAT64). A name is resolved once; the sender then
connects to exactly the address that was checked, so DNS cannot change its answer between
the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_MAX_URL = 2000


class UnsafeTarget(ValueError):
    """The URL may not be called; ``code`` is the problem code the API answers with."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True, slots=True)
class Target:
    url: httpx.URL
    host: str
    port: int


def parse_target(url: str) -> Target:
    """Syntax only: http(s), a host, no credentials in the URL."""
    if len(url) > _MAX_URL:
        raise UnsafeTarget("webhook_url_invalid", f"URLs are limited to {_MAX_URL} characters.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeTarget("webhook_url_invalid", f"Not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeTarget("webhook_url_invalid", "Use an absolute http:// or https:// URL.")
    if parsed.userinfo:
        raise UnsafeTarget(
            "webhook_url_invalid", "Credentials in the URL are not allowed; verify signatures."
        )
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(url=parsed, host=parsed.host, port=port)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip.packed[:12] == bytes(12):
        return ipaddress.IPv4Address(ip.packed[12:])
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why this address may not be called, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_loopback or ip.is_unspecified:
            return "loopback" if ip.is_loopback else "unspecified"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return forbidden_reason(embedded)
        if ip.is_site_local:
            return "private"
    for reason, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if hit:
            return reason
    return None if ip.is_global else "not globally routable"


async def resolve(target: Target, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to; every one is checked, and one bad answer refuses all."""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(target.host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeTarget(
                "webhook_url_unresolvable", f"{target.host} does not resolve: {exc}"
            ) from exc
        unique = dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos)
        addresses = list(unique)
    if not addresses:
        raise UnsafeTarget("webhook_url_unresolvable", f"{target.host} has no address.")
    if not allow_private:
        for ip in addresses:
            reason = forbidden_reason(ip)
            if reason is not None:
                raise UnsafeTarget(
                    "webhook_url_forbidden",
                    f"{target.host} resolves to {ip} ({reason}); webhooks may only call "
                    "public addresses.",
                )
    return addresses


async def check_url(url: str, *, allow_private: bool) -> Target:
    """Validate a URL as the API stores it: syntax, then every address it resolves to."""
    target = parse_target(url)
    await resolve(target, allow_private=allow_private)
    return target
