"""client_address (http/clients.py): forwarding headers are believed only from a trusted
peer, walked right to left past trusted proxies; anything malformed means the peer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capgraph.http.clients import UNKNOWN, client_address, normalize_address, trusted_set
from capgraph.http.ratelimit import RateLimit
from capgraph.storage.memory import MemoryStore
from tests.unit.feedback_kit import make_registry

PROXY = "10.0.0.1"
TRUSTED = trusted_set([PROXY, "10.0.0.2", "2001:db8::f"])


def scope(peer: str | None = PROXY, *headers: tuple[str, str]) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 40000) if peer is not None else None,
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]}


def xff(value: str) -> tuple[str, str]:
    return ("X-Forwarded-For", value)


def fwd(value: str) -> tuple[str, str]:
    return ("Forwarded", value)


@pytest.mark.parametrize("headers", [
    [xff("198.51.100.7")],
    [xff("198.51.100.7, 10.0.0.1")],
    [fwd("for=198.51.100.7")],
    [fwd('for="[2001:db8::7]:443"')],
    [xff("198.51.100.7"), fwd("for=203.0.113.9")],
])
def test_an_untrusted_peer_is_the_client_whatever_it_sends(headers: list[tuple[str, str]]
                                                           ) -> None:
    assert client_address(scope("192.0.2.50", *headers), TRUSTED) == "192.0.2.50"
    assert client_address(scope("127.0.0.1", *headers), frozenset()) == "127.0.0.1"


def test_no_trusted_proxies_means_the_peer_even_for_loopback() -> None:
    assert client_address(scope("127.0.0.1", xff("198.51.100.7")), trusted_set([])) == \
        "127.0.0.1"


def test_a_trusted_peer_without_headers_is_the_client() -> None:
    assert client_address(scope(PROXY), TRUSTED) == PROXY


def test_no_peer_is_unknown() -> None:
    assert client_address(scope(None, xff("198.51.100.7")), TRUSTED) == UNKNOWN


@pytest.mark.parametrize(("headers", "client"), [
    ([xff("198.51.100.7")], "198.51.100.7"),
    # The client's own entries sit to the left of what the proxy appended: ignored.
    ([xff("6.6.6.6, 198.51.100.7")], "198.51.100.7"),
    ([xff("garbage, 198.51.100.7")], "198.51.100.7"),
    # Trusted proxies in the chain are skipped; the right-most other hop counts.
    ([xff("6.6.6.6, 198.51.100.7, 10.0.0.2")], "198.51.100.7"),
    ([xff("198.51.100.7,10.0.0.2 ,10.0.0.1")], "198.51.100.7"),
    # Every hop trusted: the left-most.
    ([xff("10.0.0.2, 10.0.0.1")], "10.0.0.2"),
    # Several header lines are one comma-separated list, in order.
    ([xff("6.6.6.6"), xff("198.51.100.7")], "198.51.100.7"),
    # Ports, brackets, IPv6 spellings and IPv4-mapped IPv6 are normalized.
    ([xff("198.51.100.7:5555")], "198.51.100.7"),
    ([xff("[2001:DB8:0::7]:8080")], "2001:db8::7"),
    ([xff("2001:db8::7")], "2001:db8::7"),
    ([xff("::ffff:198.51.100.7")], "198.51.100.7"),
    ([xff("198.51.100.7, 2001:db8:0:0::f")], "198.51.100.7"),
])
def test_a_trusted_peer_forwards_the_right_most_untrusted_x_forwarded_for(
        headers: list[tuple[str, str]], client: str) -> None:
    assert client_address(scope(PROXY, *headers), TRUSTED) == client


@pytest.mark.parametrize(("value", "client"), [
    ("for=198.51.100.7", "198.51.100.7"),
    ("For=198.51.100.7;proto=https;by=10.0.0.1", "198.51.100.7"),
    ('for="198.51.100.7:47011"', "198.51.100.7"),
    ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
    ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
    ("for=6.6.6.6, for=198.51.100.7", "198.51.100.7"),
    ("for=198.51.100.7, for=10.0.0.2;proto=http", "198.51.100.7"),
    ("for=198.51.100.7 , for=10.0.0.2", "198.51.100.7"),
    ("for=198.51.100.7;;proto=https", "198.51.100.7"),
    # A comma or a semicolon inside a quoted value does not split.
    ('for="_x, for=6.6.6.6", for=198.51.100.7', "198.51.100.7"),
    ('proto="a;b";for=198.51.100.7', "198.51.100.7"),
    ('for="\\1\\9\\8.51.100.7"', "198.51.100.7"),  # quoted-pair escapes
])
def test_a_trusted_peer_forwards_the_right_most_untrusted_forwarded_for(value: str,
                                                                       client: str) -> None:
    assert client_address(scope(PROXY, fwd(value)), TRUSTED) == client


@pytest.mark.parametrize("value", [
    "for=unknown",
    "for=_hidden",
    "for=2001:db8::7",  # IPv6 must be quoted and bracketed
    'for="198.51.100.7',  # an unclosed quote
    'for="x", for="198.51.100.7',
    "for=198.51.100.7;for=198.51.100.8",  # two for= in one element
    "proto=https",  # an element that names no client
    "for=198.51.100.7, proto=https",
    "for=198.51.100.7, ",
    "for 198.51.100.7",
    "for==198.51.100.7",
    'for="[fe80::1%eth0]"',
    "",
    "   ",
])
def test_a_malformed_forwarded_header_means_the_peer(value: str) -> None:
    assert client_address(scope(PROXY, fwd(value)), TRUSTED) == PROXY


@pytest.mark.parametrize("value", [
    "unknown", "garbage", "", " , ", "198.51.100.7, ", "198.51.100.7,,10.0.0.2",
    "198.51.100.7 10.0.0.2", "198.51.100.7:99999", "[198.51.100.7]:80x", "300.1.2.3",
    "198.51.100.7/32", "198.51.100.7;x", "\x00",
])
def test_a_malformed_x_forwarded_for_means_the_peer(value: str) -> None:
    assert client_address(scope(PROXY, xff(value)), TRUSTED) == PROXY


def test_the_two_headers_must_agree() -> None:
    both = [xff("198.51.100.7"), fwd('for="198.51.100.7:1"')]
    assert client_address(scope(PROXY, *both), TRUSTED) == "198.51.100.7"
    # A client adds the header its proxy does not write: neither is believed.
    spoofed = [xff("198.51.100.7"), fwd("for=6.6.6.6")]
    assert client_address(scope(PROXY, *spoofed), TRUSTED) == PROXY
    assert client_address(scope(PROXY, xff("198.51.100.7"), fwd("nonsense")), TRUSTED) == PROXY


def test_an_overlong_header_means_the_peer() -> None:
    hops = ", ".join(f"10.{n // 250}.{n % 250}.1" for n in range(1000)) + ", 198.51.100.7"
    assert client_address(scope(PROXY, xff(hops)), TRUSTED) == PROXY
    assert client_address(scope("192.0.2.50", xff(hops)), TRUSTED) == "192.0.2.50"


def test_peers_and_trusted_entries_are_compared_normalized() -> None:
    trusted = trusted_set([" 10.0.0.1 ", "::FFFF:10.0.0.3", "2001:db8:0::f", ""])
    assert trusted == frozenset({"10.0.0.1", "10.0.0.3", "2001:db8::f"})
    for peer in ("::ffff:10.0.0.1", "10.0.0.3", "2001:DB8::F"):
        assert client_address(scope(peer, xff("198.51.100.7")), trusted) == "198.51.100.7"
    assert client_address(scope("::ffff:192.0.2.50"), trusted) == "192.0.2.50"
    # A peer that is no IP address (a Unix socket path) is kept as it is.
    assert client_address(scope("/run/cg.sock", xff("198.51.100.7")), trusted) == \
        "/run/cg.sock"


@pytest.mark.parametrize(("text", "normal"), [
    ("198.51.100.7", "198.51.100.7"), (" 198.51.100.7 ", "198.51.100.7"),
    ("198.51.100.7:80", "198.51.100.7"), ("[::1]", "::1"), ("[::1]:443", "::1"),
    ("0:0::1", "::1"), ("::ffff:127.0.0.1", "127.0.0.1"), ("localhost", None),
    ("::1:80", "::1:80"), ("1.2.3", None), ("[1.2.3.4]", "1.2.3.4"), ("fe80::1%eth0", None),
])
def test_normalize_address(text: str, normal: str | None) -> None:
    assert normalize_address(text) == normal


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_header_from_an_untrusted_peer_changes_nothing_and_nothing_raises(
        a: str, b: str) -> None:
    headers = [xff(a.encode("utf-8", "replace").decode("latin-1")),
               fwd(b.encode("utf-8", "replace").decode("latin-1"))]
    assert client_address(scope("192.0.2.50", *headers), TRUSTED) == "192.0.2.50"
    answer = client_address(scope(PROXY, *headers), TRUSTED)
    assert answer == PROXY or normalize_address(answer) == answer


def test_the_rate_limiter_buckets_by_client_address(tmp_path: Path) -> None:
    store = MemoryStore()
    registry = make_registry(store, tmp_path)

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def status(limiter: RateLimit, peer: str, *headers: tuple[str, str]) -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        request = {**scope(peer, *headers), "method": "GET", "path": "/api/v1/health"}
        asyncio.run(limiter(request, None, send))
        return int(sent[0]["status"])

    spoofing = RateLimit(ok, registry=registry, anonymous=2, keyed=10)
    assert [status(spoofing, "127.0.0.1", xff(f"198.51.100.{n}")) for n in range(3)] == \
        [200, 200, 429]
    proxied = RateLimit(ok, registry=registry, anonymous=2, keyed=10,
                        trusted_proxies=["127.0.0.1"])
    assert [status(proxied, "127.0.0.1", xff(f"198.51.100.{n}")) for n in range(3)] == \
        [200] * 3
    assert [status(proxied, "127.0.0.1", fwd("for=198.51.100.0")) for _ in range(2)] == \
        [200, 429]
    assert "ip:198.51.100.1" in proxied._buckets and "ip:127.0.0.1" not in proxied._buckets
    store.close()
