"""The SSRF guard: which addresses a webhook may be sent to, and how a delivery is pinned to the
address that was checked."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from sanacloud.platform.webhooks.addresses import UnsafeURL, check_url, pin, refusal


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    ("10.0.0.1", "a private address"), ("172.16.5.4", "a private address"), ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address"), ("fe80::1", "a link-local address"),
    ("fd00::1", "a unique-local address"), ("fec0::1", "a site-local address"),
    ("224.0.0.251", "a multicast address"), ("ff02::1", "a multicast address"),
    ("0.0.0.0", "the unspecified address"), ("::", "the unspecified address"),
    ("100.64.0.1", "not a public address (a shared, documentation or benchmarking range)"),
    ("::ffff:127.0.0.1", "a loopback address inside an IPv6 address"),
    ("::ffff:169.254.169.254", "a link-local address inside an IPv6 address"),
    ("2002:a00:1::", "a private address inside an IPv6 address"),  # 6to4 of 10.0.0.1
    ("64:ff9b::7f00:1", "a loopback address inside an IPv6 address"),  # NAT64 of 127.0.0.1
])
def test_non_public_addresses_are_refused_by_name(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_only_http_urls_with_a_host() -> None:
    for url, why in [("ftp://8.8.8.8/", "only http:// and https://"), ("javascript:alert(1)", "only http"),
                     ("http://", "no host"), ("https://8.8.8.8/" + "x" * 2048, "longer than 2048")]:
        with pytest.raises(UnsafeURL, match=why):
            check_url(url, allow_private=True)
    assert check_url("https://127.0.0.1:9/x", allow_private=True) == "https://127.0.0.1:9/x"


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """DNS, as the guard sees it: every name resolves to `addresses`."""
    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_delivery_connects_to_the_address_it_checked_keeping_the_hosts_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resolving_to(monkeypatch, "8.8.8.8", "2606:4700:4700::1111")
    target = pin("https://hooks.example.com:8443/hook?x=1", allow_private=False)
    assert (str(target.url), target.headers, target.extensions) == (
        "https://8.8.8.8:8443/hook?x=1", {"Host": "hooks.example.com:8443"}, {"sni_hostname": "hooks.example.com"})
    plain = pin("http://hooks.example.com/hook", allow_private=False)
    assert (str(plain.url), plain.headers, plain.extensions) == ("http://8.8.8.8/hook", {"Host": "hooks.example.com"},
                                                                 {})


def test_a_host_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: a name that resolves to a public and a private address is refused, whichever comes first."""
    resolving_to(monkeypatch, "8.8.8.8", "10.0.0.7")
    with pytest.raises(UnsafeURL, match=r"hooks.example.com \(10.0.0.7\) is a private address"):
        pin("https://hooks.example.com/hook", allow_private=False)
    with pytest.raises(UnsafeURL, match="SANACLOUD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"):
        check_url("https://hooks.example.com/hook", allow_private=False)
    assert str(pin("https://hooks.example.com/hook", allow_private=True).url) == "https://hooks.example.com/hook"


def test_a_host_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(UnsafeURL, match=r"hooks\.example\.com does not resolve"):
        check_url("https://hooks.example.com/hook", allow_private=False)
