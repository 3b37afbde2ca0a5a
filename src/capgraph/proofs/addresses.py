"""Which network addresses a claim proof may be fetched from, and name resolution with a bound.

A claim URL is chosen by whoever publishes a manifest, so fetching it must not let them point
the registry at its own network: every address a name resolves to is checked here, and one
refused address refuses the name (a name that answers both a public and a private address is
a rebinding attempt, not an accident).
"""

from __future__ import annotations

import ipaddress
import socket
import threading

__all__ = ["IPAddress", "refusal", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: neither private nor global


def _embedded_v4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped or NAT64 IPv6 address stands for (else the address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a proof may not be fetched from ``address`` ("refused loopback address 127.0.0.1"),
    or None when it may. Multicast, unspecified and reserved addresses are always refused;
    loopback, private, link-local and shared (CGNAT) ones unless ``allow_private``."""
    inner = _embedded_v4(address)
    kind = ""
    if inner.is_multicast:
        kind = "multicast"
    elif inner.is_unspecified:
        kind = "unspecified"
    elif inner.is_loopback:  # before "reserved": IPv6's reserved ::/8 holds ::1
        kind = "" if allow_private else "loopback"
    elif inner.is_reserved:
        kind = "reserved"
    elif not allow_private:
        if inner.is_link_local:
            kind = "link-local"
        elif inner.is_private or (isinstance(inner, ipaddress.IPv4Address) and inner in _SHARED):
            kind = "private"
        elif not inner.is_global:
            kind = "non-public"
    return f"refused {kind} address {address}" if kind else None


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address ``host`` resolves to (the system resolver, as connecting would use), in
    the resolver's order of preference.

    ``getaddrinfo`` has no timeout of its own, so it runs on a daemon thread that is waited for
    at most ``timeout`` seconds (``TimeoutError``); an abandoned look-up ends on its own.
    ``OSError`` when the name does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[IPAddress] = []
    failure: list[OSError] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if address not in found:
                    found.append(address)
        except OSError as exc:
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="proof-resolve", daemon=True).start()
    if not done.wait(max(timeout, 0.0)):
        raise TimeoutError(f"resolving {host} timed out")
    if failure:
        raise failure[0]
    if not found:
        raise OSError(f"{host} has no address")
    return list(found)
