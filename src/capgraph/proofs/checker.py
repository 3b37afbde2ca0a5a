"""``NetworkProofChecker``: the ``ProofChecker`` port over the real network.

Three places a builder may put a claim token:

- ``check_http``: ``{scheme://host[:port] of url}/.well-known/unfragile.json``, a JSON object
  whose ``unfragile-claim`` is the token or a list holding it;
- ``check_dns``: a TXT record at ``_unfragile.{host of url}`` that is exactly
  ``unfragile-claim={token}`` (a record's strings joined);
- ``check_repository``: for an artifact on GitHub or Hugging Face, the repository's own
  ``unfragile.yml`` at its default branch, read through a raw-file URL, whose top-level
  ``unfragile-claim`` is the token or a list holding it.

Every HTTP fetch follows ``fetch.py``'s rules (https only, same-host redirects, one deadline,
a byte cap, checked and pinned addresses). No method raises for network trouble: the
``ProofCheck`` says what was looked up and what was found there or what went wrong.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Mapping

import httpx

from capgraph.ports import ProofCheck
from capgraph.proofs.claims import CLAIM_KEY, claim_in_json, claim_in_yaml, preview
from capgraph.proofs.fetch import Fetched, fetch
from capgraph.proofs.hosts import DEFAULT_RAW_TEMPLATES, RepositoryRef, raw_url, repository_ref
from capgraph.proofs.txt import lookup_txt

__all__ = ["WELL_KNOWN_PATH", "NetworkProofChecker"]

WELL_KNOWN_PATH = "/.well-known/unfragile.json"
_TXT_PREFIX = f"{CLAIM_KEY}="
_SAMPLE = RepositoryRef("github.com", "repository", "owner", "repo")


def _url(url: str) -> httpx.URL | None:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return parsed if parsed.host else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class NetworkProofChecker:
    """Looks for claim tokens over the network; see the module docstring.

    ``allow_private`` (``CAPGRAPH_CLAIM_ALLOW_PRIVATE_NETWORKS``, tests only) lets fetches reach
    loopback and private addresses and use plain http. ``nameservers`` are the DNS servers TXT
    look-ups ask, as (host, port); None: the system's. ``timeout`` bounds each check as a
    whole, ``max_bytes`` each fetched body. ``repository_raw`` maps "github.com" or
    "huggingface.co" to a raw-URL template replacing the default one (``hosts.py``)."""

    def __init__(self, *, allow_private: bool = False,
                 nameservers: list[tuple[str, int]] | None = None, timeout: float = 5.0,
                 max_bytes: int = 65_536,
                 repository_raw: Mapping[str, str] | None = None) -> None:
        if timeout <= 0 or max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        templates = {**DEFAULT_RAW_TEMPLATES, **(repository_raw or {})}
        for host, template in templates.items():
            if host not in DEFAULT_RAW_TEMPLATES:
                raise ValueError(f"repository_raw: {host!r} is not github.com or huggingface.co")
            try:
                raw_url(_SAMPLE, template)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"repository_raw: bad template for {host}: {exc}") from exc
        self._allow_private = allow_private
        self._nameservers = list(nameservers) if nameservers else None
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._templates = templates
        self._ssl: ssl.SSLContext | None = None

    def _fetch(self, url: str) -> Fetched:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return fetch(url, allow_private=self._allow_private, timeout=self._timeout,
                     max_bytes=self._max_bytes, ssl_context=self._ssl)

    def check_http(self, url: str, token: str) -> ProofCheck:
        """``GET {origin of url}/.well-known/unfragile.json``: a JSON object whose
        ``"unfragile-claim"`` is the token or a list holding it."""
        parsed = _url(url)
        if parsed is None:
            return ProofCheck(False, url, "not a URL with a host name; nothing was fetched")
        target = str(parsed.copy_with(raw_path=WELL_KNOWN_PATH.encode(), userinfo=b"",
                                      fragment=None))
        fetched = self._fetch(target)
        if fetched.body is None:
            return ProofCheck(False, target, fetched.trail() + fetched.problem)
        found, detail = claim_in_json(fetched.body, token, where="the file")
        return ProofCheck(found, target, fetched.trail() + detail)

    def check_dns(self, url: str, token: str) -> ProofCheck:
        """A TXT record at ``_unfragile.{host of url}`` holding ``unfragile-claim={token}``."""
        parsed = _url(url)
        if parsed is None:
            return ProofCheck(False, url, "not a URL with a host name; nothing was looked up")
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if _is_ip(host):
            return ProofCheck(False, host,
                              "the URL's host is an IP address; DNS proofs need a domain name")
        name = f"_unfragile.{host}"
        answer = lookup_txt(name, nameservers=self._nameservers, timeout=self._timeout)
        if answer.problem:
            return ProofCheck(False, name, answer.problem)
        expected = _TXT_PREFIX + token
        if expected in answer.records:
            return ProofCheck(True, name, f"a TXT record holds {CLAIM_KEY} with this token")
        claims = [record[len(_TXT_PREFIX):] for record in answer.records
                  if record.startswith(_TXT_PREFIX)]
        if claims:
            shown = ", ".join(preview(claim) for claim in claims[:3])
            return ProofCheck(False, name, f"TXT records hold {CLAIM_KEY} {shown}, "
                                           "not this token")
        count = len(answer.records)
        return ProofCheck(False, name, f"{count} TXT record{'s' if count != 1 else ''}, "
                                       f"none of them {_TXT_PREFIX}…")

    def check_repository(self, url: str, token: str) -> ProofCheck:
        """For an artifact on a shared host (GitHub, Hugging Face): the repository's own
        ``unfragile.yml`` at its default branch holds ``unfragile-claim: {token}``."""
        ref = repository_ref(url)
        if isinstance(ref, str):
            return ProofCheck(False, url, ref + "; nothing was fetched")
        target = raw_url(ref, self._templates[ref.host])
        fetched = self._fetch(target)
        where = f"unfragile.yml of {ref.host}/{ref.path}"
        if fetched.body is None:
            problem = fetched.problem
            if problem == "answered HTTP 404":
                problem += f" (no {where} on its default branch, or a private repository)"
            return ProofCheck(False, target, fetched.trail() + problem)
        found, detail = claim_in_yaml(fetched.body, token, where=where)
        return ProofCheck(found, target, fetched.trail() + detail)
