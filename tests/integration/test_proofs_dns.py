"""DNS claim proofs (proofs/txt.py, check_dns) against a real DNS server on 127.0.0.1
(tests/proofservers.py's ``LocalDns``)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from capgraph.proofs.checker import NetworkProofChecker
from tests.proofservers import LocalDns

TOKEN = "cgc_3f9a1b7c5d2e4f60a8b9c0d1e2f3a4b5"
OTHER = "cgc_ffffeeee0000111122223333444455556666"


@pytest.fixture
def local_dns() -> Iterator[LocalDns]:
    server = LocalDns()
    yield server
    server.close()


@pytest.fixture
def checker(local_dns: LocalDns) -> NetworkProofChecker:
    return NetworkProofChecker(nameservers=[("127.0.0.1", local_dns.port)], timeout=2.0)


@pytest.mark.parametrize("records", [
    [f'"unfragile-claim={TOKEN}"'],
    ['"v=spf1 -all"', f'"unfragile-claim={OTHER}"', f'"unfragile-claim={TOKEN}"'],
    [f'"unfragile-claim=" "{TOKEN[:10]}" "{TOKEN[10:]}"'],  # one record, several strings
], ids=["alone", "among-others", "split-strings"])
def test_dns_proof_found(local_dns: LocalDns, checker: NetworkProofChecker,
                         records: list[str]) -> None:
    local_dns.records["_unfragile.tools.example.com"] = records
    check = checker.check_dns("https://Tools.Example.com/some/path", TOKEN)
    assert check.found, check.detail
    assert check.looked_up == "_unfragile.tools.example.com"
    assert local_dns.queries == ["_unfragile.tools.example.com"]


@pytest.mark.parametrize(("records", "expected"), [
    ([f'"unfragile-claim={OTHER}"'], "TXT records hold unfragile-claim 'cgc_ffff…', "
                                     "not this token"),
    ([f'"unfragile-claim={TOKEN} "'], "TXT records hold unfragile-claim 'cgc_3f9a…', "
                                      "not this token"),
    ([f'"unfragile-claim: {TOKEN}"', '"v=spf1 -all"'],
     "2 TXT records, none of them unfragile-claim=…"),
    ([], "no TXT record"),
], ids=["other-token", "trailing-space", "not-a-claim", "no-txt"])
def test_dns_proof_not_found(local_dns: LocalDns, checker: NetworkProofChecker,
                             records: list[str], expected: str) -> None:
    local_dns.records["_unfragile.example.com"] = records
    check = checker.check_dns("https://example.com", TOKEN)
    assert (check.found, check.detail) == (False, expected)
    assert OTHER[:9] not in check.detail


def test_a_missing_name_is_no_record(local_dns: LocalDns, checker: NetworkProofChecker) -> None:
    check = checker.check_dns("https://example.com", TOKEN)
    assert (check.found, check.detail) == (False, "no TXT record (the name does not exist)")
    assert local_dns.queries == ["_unfragile.example.com"]


def test_a_silent_server_times_out_in_bounded_time() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never read: queries go unanswered
        checker = NetworkProofChecker(nameservers=[("127.0.0.1", silent.getsockname()[1])],
                                      timeout=0.3)
        start = time.monotonic()
        check = checker.check_dns("https://example.com", TOKEN)
        assert time.monotonic() - start < 1.5
    assert (check.found, check.detail) == (False, "timed out after 0.3 s")


def test_a_server_that_is_down_is_reported_not_raised(local_dns: LocalDns) -> None:
    port = local_dns.port
    local_dns.close()  # nothing listens on the port any more
    checker = NetworkProofChecker(nameservers=[("127.0.0.1", port)], timeout=0.3)
    start = time.monotonic()
    check = checker.check_dns("https://example.com", TOKEN)
    assert time.monotonic() - start < 1.5
    assert not check.found
    assert check.detail.startswith(("timed out after 0.3 s", "no DNS server answered"))


@pytest.mark.parametrize(("url", "expected"), [
    ("https://192.0.2.7/", "the URL's host is an IP address; DNS proofs need a domain name"),
    ("https://[2001:db8::1]/", "the URL's host is an IP address; DNS proofs need a domain name"),
    ("nothing", "not a URL with a host name; nothing was looked up"),
])
def test_urls_without_a_domain_are_not_looked_up(local_dns: LocalDns,
                                                 checker: NetworkProofChecker, url: str,
                                                 expected: str) -> None:
    check = checker.check_dns(url, TOKEN)
    assert (check.found, check.detail) == (False, expected)
    assert local_dns.queries == []
