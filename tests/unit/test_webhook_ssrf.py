"""The SSRF guard refuses every non-public address family, however it is written."""

from __future__ import annotations

import ipaddress

import pytest

from runtime.webhooks import UnsafeTarget, check_url, forbidden_reason, parse_target

FORBIDDEN = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2001:db8::1",
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.5:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:80/",
        "http://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "http://[fe80::1]/",
    ],
)
async def test_literal_private_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget) as caught:
        await check_url(url, allow_private=False)
    assert caught.value.code == "webhook_url_forbidden"


async def test_private_targets_pass_when_allowed() -> None:
    target = await check_url("http://127.0.0.1:8080/hook", allow_private=True)
    assert (target.host, target.port) == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    "url", ["ftp://x.example/", "/relative", "http://user:pw@x.example/", "http:///nohost"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget) as caught:
        parse_target(url)
    assert caught.value.code == "webhook_url_invalid"
