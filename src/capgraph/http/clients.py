"""Which address a request comes from: the TCP peer, unless the peer is a trusted proxy.

``X-Forwarded-For`` and ``Forwarded`` (RFC 7239 ``for=``) are written by whoever sends the
request, so they are believed only when the peer is one of ``Settings.trusted_proxies``. Then
the chain is walked from the right (the hop the trusted peer added last) to the left, past
every hop that is itself a trusted proxy: the first other hop is the client. Everything to the
left of it was written by the client and is ignored. A hop that is not an IP address
(``unknown``, an obfuscated identifier, garbage), a header that does not parse or is over 8 KiB,
or the two headers naming different clients: the peer counts. The rate limiter and the feedback
cap (and any log line that names a client) ask ``client_address``, so they cannot disagree
about who a client is. uvicorn's own proxy-headers handling is off (``capgraph serve``), so the
scope's ``client`` is always the TCP peer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["UNKNOWN", "client_address", "normalize_address", "trusted_set"]

UNKNOWN = "unknown"  # no peer in the scope (a Unix socket, a test without a client)
_MAX_HEADER = 8192  # longer forwarding headers are not parsed: the peer counts

# RFC 7230 token and quoted-string; RFC 7239 forwarded-pair = token "=" value.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PAIR = re.compile(rf"[ \t]*({_TOKEN})=({_TOKEN}|{_QUOTED})[ \t]*")
_V4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})")
_V6_BRACKETS = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?")


def normalize_address(text: str) -> str | None:
    """``text`` as a canonical IP address (IPv4-mapped IPv6 as IPv4; a port or the brackets
    of ``[v6]:port`` dropped), or None when it is not one."""
    text = text.strip()
    match = _V6_BRACKETS.fullmatch(text) or _V4_PORT.fullmatch(text)
    if match:
        text, port = match.groups()
        if port is not None and int(port) > 65535:
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address.scope_id is not None:  # a zone id names an interface, not a client
            return None
    return str(address)


@lru_cache(maxsize=16)
def _trusted(addresses: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize_address(a) or a.strip() for a in addresses if a.strip())


def trusted_set(addresses: Iterable[str]) -> frozenset[str]:
    """The trusted proxies as ``client_address`` compares them (``trusted_proxy_addresses``
    of Settings, normalized)."""
    return _trusted(tuple(addresses))


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """All lines of a header joined with commas (RFC 9110 5.3), or None when absent."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    if not values:
        return None
    return ",".join(v.decode("latin-1") for v in values)


def _split(text: str, separator: str) -> list[str] | None:
    """``text`` split at ``separator`` outside quoted strings (``Forwarded`` elements at
    commas, their pairs at semicolons). None when a quoted string is not closed."""
    parts: list[str] = []
    start, quoted, escaped = 0, False, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == separator:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        return None
    parts.append(text[start:])
    return parts


def _forwarded_for(element: str) -> str | None:
    """The ``for=`` value of one ``Forwarded`` element; None when it has none, has two, or
    does not parse (``token=value`` pairs separated by ``;``)."""
    pairs = _split(element, ";")
    if pairs is None:
        return None
    found: str | None = None
    for pair in pairs:
        if not pair.strip(" \t"):
            continue  # an empty pair is allowed: "for=a;;proto=https"
        match = _PAIR.fullmatch(pair)
        if match is None:
            return None
        name, value = match.groups()
        if name.lower() == "for":
            if found is not None:
                return None
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found = value
    return found


def _hops_x_forwarded_for(header: str) -> list[str | None]:
    return [normalize_address(hop) for hop in header.split(",")]


def _hops_forwarded(header: str) -> list[str | None] | None:
    elements = _split(header, ",")
    if elements is None:
        return None
    hops: list[str | None] = []
    for element in elements:
        value = _forwarded_for(element)
        hops.append(normalize_address(value) if value is not None else None)
    return hops


def _walk(hops: list[str | None] | None, trusted: frozenset[str]) -> str | None:
    """The right-most hop that is not a trusted proxy; None when that hop is not an address
    (or the header did not parse). When every hop is a trusted proxy, the left-most."""
    if not hops:
        return None
    for hop in reversed(hops):
        if hop is None:
            return None
        if hop not in trusted:
            return hop
    return hops[0]


def client_address(scope: Mapping[str, Any], trusted: frozenset[str]) -> str:
    """The address that counts as the client of an ASGI request (see the module docstring).

    ``trusted`` is ``trusted_set(settings.trusted_proxy_addresses)``; empty: the peer always.
    """
    peer = scope.get("client")
    if not peer:
        return UNKNOWN
    host = str(peer[0])
    address = normalize_address(host) or host
    if not trusted or address not in trusted:
        return address
    forwarded = _header(scope, b"forwarded")
    x_forwarded = _header(scope, b"x-forwarded-for")
    candidates: set[str | None] = set()
    for header, hops in ((forwarded, _hops_forwarded), (x_forwarded, _hops_x_forwarded_for)):
        if header is None:
            continue
        if len(header) > _MAX_HEADER:
            return address
        candidates.add(_walk(hops(header), trusted))
    if len(candidates) != 1:
        return address  # no header, or the two name different clients
    (client,) = candidates
    return client if client is not None else address
