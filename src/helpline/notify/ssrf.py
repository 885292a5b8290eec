"""Where a webhook may go: no server-side request forgery through an admin-given URL.

A URL must be http(s) with a host, and every address the host resolves to must be public:
not loopback, private, link-local (cloud metadata lives at 169.254.169.254), multicast,
reserved or unspecified. `HELPLINE_WEBHOOK_ALLOW_PRIVATE=on` lifts the address rule (an
on-premises CRM, the tests' receivers on loopback).

The check runs when an admin saves the URL (a clear 422) and again before every delivery,
which then connects to the very address it checked (`Target.address`), so a DNS answer that
changes in between (rebinding) cannot reach an internal service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """Why a URL is refused, in words an admin can act on."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (a name or an address)
    port: int
    # The checked address to connect to; None when private addresses are allowed (the
    # client resolves the name itself then).
    address: IPAddress | None


def forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"The URL cannot be read: {exc}.") from exc
    if parts.scheme not in {"http", "https"}:
        raise UnsafeUrl("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {host} does not resolve.") from exc
    # Scope ids ("fe80::1%eth0") are dropped: the address class is what matters here.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check(url: str, *, allow_private: bool) -> Target:
    """The target to connect to, or UnsafeUrl when the URL may not be called."""
    scheme, host, port = parse(url)
    if allow_private:
        return Target(url, scheme, host, port, None)
    addresses = await resolve(host, port)
    if not addresses:
        raise UnsafeUrl(f"The host {host} does not resolve.")
    for address in addresses:
        if forbidden(address):
            raise UnsafeUrl(
                f"The host {host} resolves to {address}, a loopback, private or link-local "
                "address (set HELPLINE_WEBHOOK_ALLOW_PRIVATE=on to allow it)."
            )
    return Target(url, scheme, host, port, addresses[0])
