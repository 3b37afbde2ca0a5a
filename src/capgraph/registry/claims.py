"""Claims: a builder proves who they are by putting a token where only they can.

- ``http``: ``{origin of artifact.url}/.well-known/unfragile.json`` holds the token;
- ``dns``: a TXT record ``_unfragile.{host}`` holds ``unfragile-claim={token}``;
- ``repository``: for artifacts on shared hosts (GitHub, Hugging Face, package indexes), whose
  domain proves nothing, the repository's own ``unfragile.yml`` holds it.

A verified artifact claim makes the claimant the owner and re-issues the passport as
verified; a verified domain claim gives a new publisher a key for that domain's artifacts.
``recheck`` looks again and withdraws the mark where the proof is gone. Every change is on
the transparency log (``registry/ownership.py``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from capgraph.core.compose import iso_ms
from capgraph.core.verification import Verification
from capgraph.errors import (
    BadRequest,
    ClaimExpired,
    ClaimFailed,
    NotFound,
    NotOwner,
    SelfServiceDisabled,
)
from capgraph.ports import ClaimRecord, OwnershipRecord, ProofCheck, ProofChecker, Store
from capgraph.proofs.hosts import host_of, is_shared_host
from capgraph.registry.access import Access
from capgraph.registry.ownership import record_change
from capgraph.registry.publishing import Publishing

# host_of and is_shared_host are the proofs' own rules, passed on for the pages.
__all__ = ["CLAIM_TTL", "METHODS", "ClaimStarted", "Claims", "DomainKey", "host_of",
           "instructions", "is_shared_host"]

log = logging.getLogger(__name__)

METHODS = ("http", "dns", "repository")
CLAIM_TTL = timedelta(days=2)


@dataclass(frozen=True)
class ClaimStarted:
    claim: ClaimRecord
    instructions: str


@dataclass(frozen=True)
class DomainKey:
    """What a verified domain claim gives: a publisher and its key (the secret shown once)."""

    publisher_id: str
    key_id: str
    secret: str


def instructions(method: str, target: str, token: str) -> str:
    """What the builder must do, step by step, for ``target`` (an artifact URL or a host)."""
    host = host_of(target) or target
    origin = target if "://" in target else f"https://{host}"
    if method == "http":
        return (f"Serve https://{host}/.well-known/unfragile.json (from {origin}) as a JSON "
                f'object: {{"unfragile-claim": "{token}"}}, then verify the claim.')
    if method == "dns":
        return (f'Add a TXT record at _unfragile.{host} with the value '
                f'"unfragile-claim={token}", wait for it to be served, then verify the claim.')
    return (f"Commit a file unfragile.yml at the root of {target} (default branch) with the "
            f"line: unfragile-claim: {token}, then verify the claim.")


class Claims:
    def __init__(self, *, store: Store, checker: ProofChecker, publishing: Publishing,
                 access: Access, now: Callable[[], datetime], self_service: bool) -> None:
        self._store = store
        self._checker = checker
        self._publishing = publishing
        self._access = access
        self._now = now
        self._self_service = self_service

    # -- starting ----------------------------------------------------------------------------
    def _start(self, kind: str, subject: str, method: str, publisher_id: str, target: str
               ) -> ClaimStarted:
        if method not in METHODS:
            raise BadRequest(f"method must be one of {', '.join(METHODS)}")
        shared = is_shared_host(target if "://" in target else f"https://{target}")
        if shared and method != "repository":
            raise BadRequest(f"{host_of(target) or target} is a shared host: its domain proves "
                             "nothing about you; use the repository method")
        if method == "repository" and (kind == "domain" or not shared):
            raise BadRequest("the repository method is for artifacts on shared hosts "
                             "(GitHub, Hugging Face, package indexes); use http or dns")
        now = self._now()
        claim = ClaimRecord(
            claim_id="clm_" + secrets.token_hex(8), kind=kind, subject=subject, method=method,
            token="unfragile-" + secrets.token_urlsafe(24), publisher_id=publisher_id,
            created_at=iso_ms(now), expires_at=iso_ms(now + CLAIM_TTL))
        with self._store.write() as tx:
            tx.add_claim(claim)
        return ClaimStarted(claim, instructions(method, target, claim.token))

    def start(self, slug: str, method: str, *, publisher_id: str) -> ClaimStarted:
        """Start proving that ``publisher_id`` builds ``slug``."""
        url = self._url(slug)
        if not url:
            raise BadRequest(f"{slug!r} has no artifact.url to prove")
        return self._start("artifact", slug, method, publisher_id, url)

    def start_domain(self, domain: str, method: str) -> ClaimStarted:
        """Start proving a domain, for a publisher key that owns its artifacts."""
        if not self._self_service:
            raise SelfServiceDisabled("this registry gives keys only through its operator")
        host = domain.strip().lower().rstrip(".")
        if not host or "/" in host or ":" in host or "." not in host or len(host) > 253:
            raise BadRequest("domain must be a host name such as example.org")
        return self._start("domain", host, method, "", host)

    def _url(self, slug: str) -> str:
        stored = self._store.latest(slug)
        if stored is None:
            raise NotFound(f"artifact {slug!r} is not in the registry", slug=slug)
        url = stored.body()["artifact"].get("url")
        return url if isinstance(url, str) else ""

    # -- verifying ---------------------------------------------------------------------------
    def _check(self, method: str, target: str, token: str) -> ProofCheck:
        if method == "http":
            return self._checker.check_http(target, token)
        if method == "dns":
            return self._checker.check_dns(target, token)
        return self._checker.check_repository(target, token)

    def _pending(self, claim_id: str) -> ClaimRecord:
        claim = self._store.claim(claim_id)
        if claim is None:
            raise NotFound(f"no claim {claim_id!r}")
        if claim.status != "pending":
            raise BadRequest(f"claim {claim_id!r} is already {claim.status}")
        if iso_ms(self._now()) > claim.expires_at:
            raise ClaimExpired(f"claim {claim_id!r} expired at {claim.expires_at}; start a new "
                               "one")
        return claim

    def _proven(self, claim: ClaimRecord, target: str) -> Verification:
        seen = self._check(claim.method, target, claim.token)
        if not seen.found:
            raise ClaimFailed(f"the claim token was not found ({claim.method})",
                              looked_up=seen.looked_up, found=seen.detail)
        return Verification(method=claim.method, verified_at=iso_ms(self._now()),
                            subject=seen.looked_up)

    def verify(self, claim_id: str, *, publisher_id: str) -> OwnershipRecord:
        """Check an artifact claim's proof: the claimant becomes the owner and the passport is
        re-issued as verified. ``ClaimFailed`` (422) changes nothing."""
        claim = self._pending(claim_id)
        if claim.kind != "artifact":
            raise BadRequest(f"claim {claim_id!r} is a domain claim: verify it without a key")
        if claim.publisher_id != publisher_id:
            raise NotOwner(f"claim {claim_id!r} was started by another publisher")
        proof = self._proven(claim, self._url(claim.subject))
        with self._store.write() as tx:
            owned = tx.ownership(claim.subject)
            keep = owned.maintainers if owned and owned.owner == publisher_id else ()
            record = OwnershipRecord(slug=claim.subject, owner=publisher_id, maintainers=keep,
                                     verification=proof.to_json(), updated_at=iso_ms(self._now()))
            record_change(tx, "verified", record, by=publisher_id)
            tx.set_claim_status(claim_id, "verified")
        self._publishing.reissue_verification(claim.subject, proof)
        return record

    def verify_domain(self, claim_id: str) -> DomainKey:
        """Check a domain claim: a new publisher for the domain, and its first key."""
        claim = self._pending(claim_id)
        if claim.kind != "domain":
            raise BadRequest(f"claim {claim_id!r} is about an artifact: verify it with your key")
        self._proven(claim, f"https://{claim.subject}")
        publisher_id, key_id, secret = self._access.create_for_domain(claim.subject)
        with self._store.write() as tx:
            tx.set_claim_status(claim_id, "verified")
        return DomainKey(publisher_id, key_id, secret)

    # -- rechecking --------------------------------------------------------------------------
    def recheck(self) -> list[tuple[str, bool]]:
        """Look again at every verified artifact's proof; withdraw the mark (and re-issue
        the passport) where it is gone. Returns (slug, still verified) per artifact."""
        out = []
        for owned in self._store.verified_ownerships():
            proof = Verification.from_json(owned.verification or {})
            url = self._url(owned.slug)
            token = self._token_of(owned.slug, owned.owner)
            seen = self._check(proof.method, url, token) if token else None
            if seen is not None and seen.found:
                out.append((owned.slug, True))
                continue
            log.warning("verification of %s withdrawn: %s", owned.slug,
                        seen.detail if seen else "no claim token on record")
            self.withdraw(owned.slug)
            out.append((owned.slug, False))
        return out

    def _token_of(self, slug: str, publisher_id: str) -> str | None:
        claim = self._store.verified_claim(slug, publisher_id)
        return claim.token if claim else None

    def withdraw(self, slug: str) -> None:
        """Take the verified mark away: logged, and the passport re-issued unverified."""
        with self._store.write() as tx:
            owned = tx.ownership(slug)
            if owned is None or owned.verification is None:
                return
            record_change(tx, "unverified", replace(owned, verification=None,
                                                    updated_at=iso_ms(self._now())),
                          by="registry")
        self._publishing.reissue_verification(slug, None)
