"""The pure rules of claim proofs (proofs/): shared hosts, repository URLs, which addresses
may be fetched from, and how a found claim is matched and described. No network here."""

from __future__ import annotations

import ipaddress

import pytest

from capgraph.proofs import NetworkProofChecker, is_shared_host
from capgraph.proofs.addresses import refusal, resolve
from capgraph.proofs.claims import claim_in_json, claim_in_yaml, match_claim, preview
from capgraph.proofs.hosts import DEFAULT_RAW_TEMPLATES, RepositoryRef, raw_url, repository_ref

TOKEN = "cgc_3f9a1b7c5d2e4f60a8b9c0d1e2f3a4b5"


@pytest.mark.parametrize(("url", "shared"), [
    ("https://github.com/acme/tool", True),
    ("https://GitHub.com./acme/tool", True),
    ("github.com/acme/tool", True),
    ("https://gist.github.com/acme/1", True),
    ("https://raw.githubusercontent.com/acme/tool/HEAD/x", True),
    ("https://gitlab.com/group/sub/project", True),
    ("https://huggingface.co/spaces/acme/demo", True),
    ("https://hf.co/acme/model", True),
    ("https://pypi.org/project/tool/", True),
    ("https://files.pythonhosted.org/packages/x", True),
    ("https://www.npmjs.com/package/tool", True),
    ("https://npmjs.com/package/tool", True),
    ("https://registry.npmjs.org/tool", True),
    ("https://hub.docker.com/r/acme/tool", True),
    ("https://acme.example", False),
    ("https://notgithub.com/acme/tool", False),
    ("https://github.com.evil.example/acme", False),
    ("https://acme.github.io/tool", False),  # a user's own site, not a shared one
    ("", False),
    ("http://[not-an-address", False),
])
def test_is_shared_host(url: str, shared: bool) -> None:
    assert is_shared_host(url) is shared


@pytest.mark.parametrize(("url", "ref"), [
    ("https://github.com/acme/tool", RepositoryRef("github.com", "repository", "acme", "tool")),
    ("https://www.github.com/acme/tool.git", RepositoryRef("github.com", "repository", "acme",
                                                           "tool")),
    ("https://github.com/acme/.github/blob/main/x", RepositoryRef("github.com", "repository",
                                                                  "acme", ".github")),
    ("https://huggingface.co/acme/m-7b", RepositoryRef("huggingface.co", "model", "acme",
                                                       "m-7b")),
    ("https://huggingface.co/spaces/acme/demo", RepositoryRef("huggingface.co", "space",
                                                              "acme", "demo")),
    ("https://hf.co/datasets/acme/corpus", RepositoryRef("huggingface.co", "dataset", "acme",
                                                         "corpus")),
])
def test_repository_urls(url: str, ref: RepositoryRef) -> None:
    assert repository_ref(url) == ref


@pytest.mark.parametrize("url", [
    "https://github.com/acme", "https://github.com/settings/keys", "https://github.com/a/..",
    "https://github.com/acme/to%20ol", "https://huggingface.co/papers/2401.1",
    "https://huggingface.co/datasets/acme", "https://gitlab.com/a/b", "https://acme.example/a/b",
])
def test_urls_that_name_no_repository(url: str) -> None:
    assert isinstance(repository_ref(url), str)


def test_default_raw_urls() -> None:
    github = RepositoryRef("github.com", "repository", "acme", "tool")
    space = RepositoryRef("huggingface.co", "space", "acme", "demo")
    assert raw_url(github, DEFAULT_RAW_TEMPLATES["github.com"]) == (
        "https://raw.githubusercontent.com/acme/tool/HEAD/unfragile.yml")
    assert raw_url(space, DEFAULT_RAW_TEMPLATES["huggingface.co"]) == (
        "https://huggingface.co/spaces/acme/demo/raw/main/unfragile.yml")


@pytest.mark.parametrize(("address", "strict", "relaxed"), [
    ("93.184.216.34", None, None),
    ("2606:2800:220:1::1", None, None),
    ("10.0.0.1", "refused private address 10.0.0.1", None),
    ("192.168.1.5", "refused private address 192.168.1.5", None),
    ("100.64.0.1", "refused private address 100.64.0.1", None),
    ("fd00::1", "refused private address fd00::1", None),
    ("127.0.0.1", "refused loopback address 127.0.0.1", None),
    ("::1", "refused loopback address ::1", None),
    ("::ffff:127.0.0.1", "refused loopback address {}", None),
    ("64:ff9b::a00:1", "refused private address 64:ff9b::a00:1", None),
    ("169.254.169.254", "refused link-local address 169.254.169.254", None),
    ("fe80::1", "refused link-local address fe80::1", None),
    ("224.0.0.1", "refused multicast address 224.0.0.1", "refused multicast address 224.0.0.1"),
    ("0.0.0.0", "refused unspecified address 0.0.0.0", "refused unspecified address 0.0.0.0"),
    ("::", "refused unspecified address ::", "refused unspecified address ::"),
    ("240.0.0.1", "refused reserved address 240.0.0.1", "refused reserved address 240.0.0.1"),
])
def test_which_addresses_are_refused(address: str, strict: str | None, relaxed: str | None
                                     ) -> None:
    ip = ipaddress.ip_address(address)
    strict = strict.format(ip) if strict else None  # how ::ffff:… prints varies by Python
    assert refusal(ip, allow_private=False) == strict
    assert refusal(ip, allow_private=True) == relaxed


def test_resolving_an_address_literal_needs_no_look_up() -> None:
    assert resolve("10.0.0.1", 443, 0.0) == [ipaddress.ip_address("10.0.0.1")]


def test_previews_show_at_most_8_characters() -> None:
    assert preview("abc") == "'abc'"
    assert preview("abcdefgh") == "'abcdefgh'"
    assert preview("abcdefghi") == "'abcdefgh…'"
    assert preview("ab\ncd") == "'ab?cd'"


@pytest.mark.parametrize(("value", "found"), [
    (TOKEN, True), ([TOKEN], True), (["x", TOKEN], True), (TOKEN.upper(), False),
    ([], False), ([1, 2], False), ({"token": TOKEN}, False), (None, False), (True, False),
])
def test_match_claim(value: object, found: bool) -> None:
    assert match_claim(value, TOKEN, where="it")[0] is found


def test_a_list_names_at_most_3_values() -> None:
    _, detail = match_claim([f"value-{n}-long" for n in range(5)], TOKEN, where="it")
    assert detail == ("it lists unfragile-claim 'value-0-…', 'value-1-…', 'value-2-…' and 2 more,"
                      " none of them this token")


def test_json_and_yaml_documents() -> None:
    assert claim_in_json(b'{"unfragile-claim": "%s"}' % TOKEN.encode(), TOKEN, where="f")[0]
    assert claim_in_json(b"\xff\xfe", TOKEN, where="f") == (False, "f is not JSON")
    assert claim_in_json(b"[" * 100_000, TOKEN, where="f") == (False, "f is not JSON")
    assert claim_in_yaml(f"unfragile-claim: {TOKEN}\n".encode(), TOKEN, where="f")[0]
    assert claim_in_yaml(b"", TOKEN, where="f") == (False, "f is YAML but not a mapping")
    bomb = b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nunfragile-claim: *c\n"
    assert claim_in_yaml(bomb, TOKEN, where="f")[0] is False


@pytest.mark.parametrize("arguments", [
    {"timeout": 0}, {"max_bytes": 0}, {"repository_raw": {"gitlab.com": "https://x/{repo}"}},
    {"repository_raw": {"github.com": "https://x/{project}"}},
])
def test_bad_settings_are_refused_at_construction(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        NetworkProofChecker(**arguments)  # type: ignore[arg-type]
