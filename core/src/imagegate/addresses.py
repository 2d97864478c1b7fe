"""Which addresses an image download may reach: public ones, and the provider's own network.

An image link comes from a provider's answer, so a hostile or compromised upstream (or a
redirect it sends) must not turn the gateway into a proxy to the machine and network it
runs on: loopback services, the LAN, a cloud's metadata endpoint. A host is resolved and
every address it has must be public, unless the provider's configured base URL is itself
on that kind of address (an emulator on 127.0.0.1, a self-hosted Space on the LAN): then
that kind is allowed too. Metadata endpoints never are.

What is left: the HTTP client resolves the name again when it connects, so a name whose
owner changes its answer within the cache time (DNS rebinding) can still slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

__all__ = [
    "Refused",
    "Unresolved",
    "allowed_kinds",
    "allowed_kinds_blocking",
    "check",
    "check_blocking",
]

PUBLIC, LOOPBACK, PRIVATE, LINK_LOCAL, METADATA, RESERVED = (
    "public",
    "loopback",
    "private",
    "link-local",
    "metadata",
    "reserved",
)
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, frozenset[str]]] = {}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The link may not be fetched; `reason` is for the machine's owner, not for callers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unresolved(Exception):
    """The link's host has no address (DNS failed): a network problem, not a refusal."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


def kind(address: Address) -> str:
    """What sort of address this is, looking through IPv6 wrappers of an IPv4 address."""
    if address in _METADATA:
        return METADATA
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is not None:
            return kind(inner)
    if address.is_loopback or address.is_unspecified:
        return LOOPBACK  # 0.0.0.0 reaches this machine too
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_multicast or (address.is_reserved and not address.is_private):
        return RESERVED
    return PUBLIC if address.is_global else PRIVATE


def _literal(host: str) -> frozenset[str] | None:
    try:
        return frozenset({kind(ipaddress.ip_address(host.strip("[]")))})
    except ValueError:
        return None


def _cached(host: str) -> frozenset[str] | None:
    found = _literal(host)
    if found is not None:
        return found
    entry = _cache.get(host.lower())
    if entry is not None and entry[0] > time.monotonic():
        return entry[1]
    return None


def _remember(host: str, infos: list) -> frozenset[str]:
    kinds = frozenset(kind(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos)
    if len(_cache) > 1024:
        _cache.clear()
    _cache[host.lower()] = (time.monotonic() + _CACHE_SECONDS, kinds)
    return kinds


async def _kinds(host: str, port: int) -> frozenset[str]:
    found = _cached(host)
    if found is None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise Unresolved(host) from None
        found = _remember(host, infos)
    return found


def _kinds_blocking(host: str, port: int) -> frozenset[str]:
    found = _cached(host)
    if found is None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise Unresolved(host) from None
        found = _remember(host, infos)
    return found


def _target(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Refused("the link is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Refused(f"the link is not http(s): {parts.scheme or 'no scheme'}")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise Refused("the link has an invalid port") from None
    if not parts.hostname:
        raise Refused("the link has no host")
    return parts.hostname, port


def _judge(host: str, kinds: frozenset[str], allowed: frozenset[str]) -> None:
    refused = kinds - allowed
    if refused:
        raise Refused(f"{host} is a {'/'.join(sorted(refused))} address")


def _allowed(kinds: frozenset[str]) -> frozenset[str]:
    return frozenset({PUBLIC, *kinds} - {METADATA})


async def allowed_kinds(base_url: str | None) -> frozenset[str]:
    """Public addresses, plus the kind the provider's base URL is on."""
    if not base_url:
        return frozenset({PUBLIC})
    try:
        return _allowed(await _kinds(*_target(base_url)))
    except (Refused, Unresolved):
        return frozenset({PUBLIC})


def allowed_kinds_blocking(base_url: str | None) -> frozenset[str]:
    if not base_url:
        return frozenset({PUBLIC})
    try:
        return _allowed(_kinds_blocking(*_target(base_url)))
    except (Refused, Unresolved):
        return frozenset({PUBLIC})


async def check(url: str, allowed: frozenset[str]) -> None:
    """Refused unless `url` is http(s) and every address of its host is allowed;
    Unresolved when its host has no address."""
    host, port = _target(url)
    _judge(host, await _kinds(host, port), allowed)


def check_blocking(url: str, allowed: frozenset[str]) -> None:
    host, port = _target(url)
    _judge(host, _kinds_blocking(host, port), allowed)
