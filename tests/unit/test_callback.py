"""Callback tokens (core/callback.py): an HMAC bound to a resolveId, a slug and an expiry."""

from __future__ import annotations

import pytest

from capgraph.core.callback import issue_token, verify_token
from capgraph.errors import TokenInvalid

SECRET = b"s" * 32
NOW = 1_800_000_000


def _token(**changes: object) -> str:
    args: dict[str, object] = {"resolve_id": "r_abc", "slug": "docling", "expires": NOW + 60}
    args.update(changes)
    return issue_token(SECRET, **args)  # type: ignore[arg-type]


def test_a_token_verifies_for_its_resolve_and_slug_until_it_expires() -> None:
    token = _token()
    assert token.startswith(f"v1.{NOW + 60}.")
    verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW)
    verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW + 60)


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"resolve_id": "r_abd"}, "does not match"),
    ({"slug": "docling2"}, "does not match"),
    ({"now": NOW + 61}, "expired"),
])
def test_another_resolve_slug_or_time_is_refused(kwargs: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {"resolve_id": "r_abc", "slug": "docling", "now": NOW}
    args.update(kwargs)
    with pytest.raises(TokenInvalid, match=reason):
        verify_token(SECRET, _token(), **args)  # type: ignore[arg-type]


def test_a_token_from_another_secret_is_refused() -> None:
    token = issue_token(b"t" * 32, resolve_id="r_abc", slug="docling", expires=NOW + 60)
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW)


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace(f"v1.{NOW + 60}.", f"v1.{NOW + 6000}."),  # a later expiry
    lambda t: "v2" + t[2:],
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    lambda t: "garbage",
    lambda t: "v1.soon.abc",
    lambda t: "",
])
def test_a_tampered_or_malformed_token_is_refused(mutate: object) -> None:
    token = mutate(_token())  # type: ignore[operator]
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW)


def test_the_error_has_a_stable_code() -> None:
    assert TokenInvalid.code == "token-invalid"
    with pytest.raises(TokenInvalid) as info:
        verify_token(SECRET, "x", resolve_id="r", slug="s", now=0)
    assert "malformed" in info.value.diagnostics()


@pytest.mark.parametrize("respell", [
    lambda t: t.replace(f"v1.{NOW + 60}.", f"v1.+{NOW + 60}."),  # a sign
    lambda t: t.replace(f"v1.{NOW + 60}.", f"v1.000{NOW + 60}."),  # leading zeros
    lambda t: t.replace(f"v1.{NOW + 60}.", f"v1. {NOW + 60}."),  # blanks int() forgives
    lambda t: t.replace(f"v1.{NOW + 60}.", f"v1.{NOW + 60:_}."),  # digit separators
    lambda t: t.replace(f"v1.{NOW + 60}.",  # Arabic-Indic digits, also ints to Python
                        "v1." + str(NOW + 60).translate(str.maketrans("0123456789",
                                                                      "٠١٢٣٤٥٦٧٨٩")) + "."),
    lambda t: t + "=",  # base64 padding
    lambda t: t + "\n",
])
def test_a_token_has_one_spelling(respell: object) -> None:
    """The same expiry and MAC written another way is not the same token: it is refused."""
    token = respell(_token())  # type: ignore[operator]
    assert token != _token()
    with pytest.raises(TokenInvalid, match="malformed"):
        verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW)


@pytest.mark.parametrize("token", [
    "v1.1.\u00e9", f"v1.{NOW + 60}." + "\u00e9" * 43, f"v1.{NOW + 60}." + "A" * 42 + "\u00e9",
    "\udcff", "v1.1." + "\x00" * 43,
])
def test_non_ascii_tokens_are_refused_not_crashed_on(token: str) -> None:
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, token, resolve_id="r_abc", slug="docling", now=NOW)
