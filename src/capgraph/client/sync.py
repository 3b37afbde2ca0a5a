"""The blocking client (``Client``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from capgraph.client import calls
from capgraph.client.base import ClientBase, safe_slug
from capgraph.client.calls import Call, Outcome
from capgraph.client.results import (
    Answer,
    Claim,
    FeedbackResult,
    Passport,
    PublishResult,
    Resolution,
    SearchResult,
    ValidationResult,
    VersionInfo,
)
from capgraph.client.retry import Retry
from capgraph.client.verify import (
    CheckpointFile,
    Verified,
    check_against,
    decode_proof,
    proof_needed,
    verified,
    verify_signed,
)

__all__ = ["Client"]


class Client(ClientBase):
    """A blocking client of a capgraph registry's HTTP API. Use it as a context manager or
    call ``close()``. 429 and 503 answers are retried as ``retry`` says (Retry-After first)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 30.0, retry: Retry | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(base_url, api_key=api_key, timeout=timeout, retry=retry)
        self._http = httpx.Client(headers=self._headers, timeout=timeout)
        self._sleep = sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: Call) -> Any:
        attempt = 0
        while True:
            response = self._http.send(self._request(self._http, call))
            wait = self.retry.delay(response.status_code, response.headers.get("Retry-After"),
                                    attempt)
            if wait is None:
                return self._read(call, response)
            response.close()
            self._sleep(wait)
            attempt += 1

    def search(self, query: str, *, limit: int = 5, type: str | None = None) -> SearchResult:
        """Artifacts whose capabilities match ``query`` (2-500 characters; limit 1-20)."""
        return self._run(calls.search(query, limit=limit, type=type))  # type: ignore[no-any-return]

    def resolve(self, intent: str, *, limit: int = 3, risk: str = "default",
                type: str | None = None, capability: str | None = None) -> Resolution:
        """The best capability for ``intent`` (2-500 characters; limit 1-10; risk one of
        default, production, enterprise, strict)."""
        return self._run(calls.resolve(  # type: ignore[no-any-return]
            intent, limit=limit, risk=risk, type=type, capability=capability))

    def passport(self, slug: str, *, version: int | None = None) -> Passport:
        """The signed passport envelope of ``slug`` (latest, or ``version``)."""
        return self._run(calls.passport(safe_slug(slug), version=version))  # type: ignore[no-any-return]

    def versions(self, slug: str) -> list[VersionInfo]:
        return self._run(calls.versions(safe_slug(slug)))  # type: ignore[no-any-return]

    def report(self, resolution: Resolution, answer: Answer, outcome: Outcome, *,
               comment: str | None = None, source: str | None = None) -> FeedbackResult:
        """Report how ``answer`` (one of ``resolution.resolved``) went: once per resolve."""
        return self._run(calls.feedback(  # type: ignore[no-any-return]
            resolve_id=resolution.resolve_id, slug=answer.slug,
            callback_token=answer.callback_token, outcome=outcome, comment=comment,
            source=source))

    def feedback(self, *, resolve_id: str, slug: str, callback_token: str,
                 outcome: Outcome, comment: str | None = None, source: str | None = None
                 ) -> FeedbackResult:
        """POST /api/feedback with the fields of a resolve answer kept elsewhere."""
        return self._run(calls.feedback(  # type: ignore[no-any-return]
            resolve_id=resolve_id, slug=slug, callback_token=callback_token, outcome=outcome,
            comment=comment, source=source))

    def publish(self, manifest: str | bytes | Mapping[str, Any]) -> PublishResult:
        """Publish a manifest (YAML or JSON text, or a mapping); needs an API key."""
        return self._run(calls.publish(manifest))  # type: ignore[no-any-return]

    def validate(self, manifest: str | bytes | Mapping[str, Any]) -> ValidationResult:
        return self._run(calls.validate(manifest))  # type: ignore[no-any-return]

    def start_claim(self, slug: str, method: str) -> Claim:
        """Start proving you build ``slug`` (method http, dns or repository); needs a key."""
        return self._run(calls.start_claim(slug, method))  # type: ignore[no-any-return]

    def claim(self, claim_id: str) -> Claim:
        """A started claim's status."""
        return self._run(calls.claim(safe_slug(claim_id)))  # type: ignore[no-any-return]

    def verify_claim(self, claim_id: str) -> dict[str, Any]:
        """Ask the registry to check a claim's proof now."""
        return self._run(calls.verify_claim(safe_slug(claim_id)))  # type: ignore[no-any-return]

    def jwks(self) -> dict[str, Any]:
        """The registry's JWK Set, to pin (save it once; pass it to ``verify``)."""
        return self._run(calls.jwks())  # type: ignore[no-any-return]

    def verify(self, passport: Passport | Mapping[str, Any], *, jwks: Mapping[str, Any],
               checkpoint: str | os.PathLike[str]) -> Verified:
        """Check a passport offline against the pinned ``jwks``: its signature, its log
        inclusion proof, and its checkpoint against the one saved in the ``checkpoint`` file
        (saved on first use; afterwards a consistency proof is fetched and checked here).
        Raises ``SignatureInvalid``, ``ProofInvalid`` or ``LogInconsistent``."""
        envelope = passport.envelope if isinstance(passport, Passport) else passport
        head, index = verify_signed(envelope, jwks)
        saved_file = CheckpointFile(checkpoint)
        saved = saved_file.load()
        sizes = proof_needed(head, saved)
        proof = decode_proof(self._run(calls.consistency(*sizes))) if sizes else []
        trusted = check_against(head, saved, proof)
        if trusted != saved:
            saved_file.save(trusted)
        return verified(envelope, head, index, first_use=saved is None)
