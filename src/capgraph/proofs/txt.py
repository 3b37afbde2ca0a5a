"""TXT look-ups for DNS claim proofs, with dnspython, bounded by one lifetime.

``nameservers`` points the look-up at chosen servers as (host, port) pairs (tests run a DNS
server on 127.0.0.1 with a random port); None uses the system's resolver configuration.
Nothing here raises for DNS trouble: a ``TxtAnswer`` says what came back or what went wrong.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from capgraph.proofs.addresses import resolve

__all__ = ["TxtAnswer", "lookup_txt"]


@dataclass(frozen=True)
class TxtAnswer:
    """The TXT records found (each record's strings joined), or why there are none."""

    records: tuple[str, ...] = ()
    problem: str = ""


def _servers(nameservers: list[tuple[str, int]], timeout: float
             ) -> list[dns.nameserver.Nameserver]:
    servers: list[dns.nameserver.Nameserver] = []
    for host, port in nameservers:
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            address = str(resolve(host, port, timeout)[0])
        servers.append(dns.nameserver.Do53Nameserver(address, port))
    return servers


def lookup_txt(name: str, *, nameservers: list[tuple[str, int]] | None,
               timeout: float) -> TxtAnswer:
    """The TXT records at ``name`` (an absolute name; no search domains are tried)."""
    try:
        resolver = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            resolver.nameservers = _servers(nameservers, timeout)
    except dns.resolver.NoResolverConfiguration:
        return TxtAnswer(problem="no DNS resolver is configured on the registry's host")
    except (OSError, TimeoutError) as exc:
        return TxtAnswer(problem=f"the DNS server's name does not resolve ({exc})")
    resolver.timeout = timeout
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(dns.name.from_text(name), "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return TxtAnswer(problem="no TXT record (the name does not exist)")
    except dns.resolver.NoAnswer:
        return TxtAnswer(problem="no TXT record")
    except dns.exception.Timeout:
        return TxtAnswer(problem=f"timed out after {timeout:g} s")
    except dns.resolver.NoNameservers as exc:
        return TxtAnswer(problem=f"no DNS server answered ({_first_error(exc)})")
    except dns.exception.DNSException as exc:
        return TxtAnswer(problem=f"the DNS look-up failed ({exc})")
    records = []
    for rdata in answer:
        strings: list[bytes] = list(getattr(rdata, "strings", ()))
        records.append(b"".join(strings).decode("utf-8", "replace"))
    return TxtAnswer(records=tuple(records))


def _first_error(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    for server, _tcp, _port, error, *_ in errors:
        return f"{server}: {error}"
    return "every server failed"
