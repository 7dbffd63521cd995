"""The SSRF guard: a webhook URL is http(s) and its host resolves only to public addresses.

Checked when a webhook is registered or changed (`check_url`), and again before each delivery
(`pin`), since DNS may have changed meanwhile; the delivery then connects to the address it
checked (the Host header and TLS name stay the URL's host), so a second lookup cannot move it.
SANACLOUD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES turns the address checks off (tests, closed networks).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_CHARS = 2048
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALLOW_SETTING = "SANACLOUD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"


class UnsafeURL(ValueError):
    """A URL a webhook may not be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL to connect to, and what keeps the original host's name."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def parse(url: str) -> httpx.URL:
    if len(url) > MAX_URL_CHARS:
        raise UnsafeURL(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeURL(f"not a valid URL: {error}") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURL(f"only http:// and https:// URLs are allowed, not {parsed.scheme or 'none'}://")
    if not parsed.host:
        raise UnsafeURL("the URL has no host")
    return parsed


def check_url(url: str, *, allow_private: bool) -> str:
    """`url` as it will be called, else UnsafeURL saying why not."""
    parsed = parse(url)
    if not allow_private:
        public_addresses(parsed)
    return str(parsed)


def pin(url: str, *, allow_private: bool) -> Target:
    """Where to send a delivery for `url` now: the first address its host resolves to, all of them checked."""
    parsed = parse(url)
    if allow_private:
        return Target(parsed)
    address = public_addresses(parsed)[0]
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return Target(parsed.copy_with(host=str(address)), {"Host": parsed.netloc.decode("ascii")}, extensions)


def public_addresses(parsed: httpx.URL) -> list[IPAddress]:
    """Every address the URL's host resolves to, when all are public; else UnsafeURL naming the first that is not."""
    addresses = resolve(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    for address in addresses:
        why = refusal(address)
        if why is not None:
            shown = parsed.host if parsed.host == str(address) else f"{parsed.host} ({address})"
            raise UnsafeURL(f"the URL's host {shown} is {why}; webhooks are sent only to public internet addresses "
                            f"(an operator can allow others with {ALLOW_SETTING})")
    return addresses


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeURL(f"the URL's host {host} does not resolve ({error}); check its spelling") from None
    found: list[IPAddress] = []
    for *_rest, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # fe80::1%eth0: drop the zone
        if address not in found:
            found.append(address)
    if not found:
        raise UnsafeURL(f"the URL's host {host} resolves to no address")
    return found


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not be sent to `address` (e.g. "a loopback address"), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            why = refusal(embedded)
            return f"{why} inside an IPv6 address" if why else None
        if address in UNIQUE_LOCAL:
            return "a unique-local address"
        if address.is_site_local:
            return "a site-local address"
    for why, flagged in (("the unspecified address", address.is_unspecified),
                         ("a loopback address", address.is_loopback), ("a link-local address", address.is_link_local),
                         ("a multicast address", address.is_multicast), ("a private address", address.is_private),
                         ("a reserved address", address.is_reserved)):
        if flagged:
            return why
    return None if address.is_global else "not a public address (a shared, documentation or benchmarking range)"
