"""The asynchronous client (``AsyncClient``): the same operations as ``Client``, awaited."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
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

__all__ = ["AsyncClient"]


class AsyncClient(ClientBase):
    """The same client for asyncio/anyio code: every operation is awaited. Use it as an
    async context manager or await ``aclose()``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 30.0, retry: Retry | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(base_url, api_key=api_key, timeout=timeout, retry=retry)
        self._http = httpx.AsyncClient(headers=self._headers, timeout=timeout)
        self._sleep = sleep

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: Call) -> Any:
        attempt = 0
        while True:
            response = await self._http.send(self._request(self._http, call))
            wait = self.retry.delay(response.status_code, response.headers.get("Retry-After"),
                                    attempt)
            if wait is None:
                return self._read(call, response)
            await response.aclose()
            await self._sleep(wait)
            attempt += 1

    async def search(self, query: str, *, limit: int = 5, type: str | None = None) -> SearchResult:
        """Artifacts whose capabilities match ``query`` (2-500 characters; limit 1-20)."""
        return await self._run(calls.search(query, limit=limit, type=type))  # type: ignore[no-any-return]

    async def resolve(self, intent: str, *, limit: int = 3, risk: str = "default",
                      type: str | None = None, capability: str | None = None) -> Resolution:
        """The best capability for ``intent`` (2-500 characters; limit 1-10; risk one of
        default, production, enterprise, strict)."""
        return await self._run(calls.resolve(  # type: ignore[no-any-return]
            intent, limit=limit, risk=risk, type=type, capability=capability))

    async def passport(self, slug: str, *, version: int | None = None) -> Passport:
        """The signed passport envelope of ``slug`` (latest, or ``version``)."""
        return await self._run(calls.passport(safe_slug(slug), version=version))  # type: ignore[no-any-return]

    async def versions(self, slug: str) -> list[VersionInfo]:
        return await self._run(calls.versions(safe_slug(slug)))  # type: ignore[no-any-return]

    async def report(self, resolution: Resolution, answer: Answer, outcome: Outcome, *,
                     comment: str | None = None, source: str | None = None) -> FeedbackResult:
        """Report how ``answer`` (one of ``resolution.resolved``) went: once per resolve."""
        return await self._run(calls.feedback(  # type: ignore[no-any-return]
            resolve_id=resolution.resolve_id, slug=answer.slug,
            callback_token=answer.callback_token, outcome=outcome, comment=comment,
            source=source))

    async def feedback(self, *, resolve_id: str, slug: str, callback_token: str,
                       outcome: Outcome, comment: str | None = None, source: str | None = None
                       ) -> FeedbackResult:
        """POST /api/feedback with the fields of a resolve answer kept elsewhere."""
        return await self._run(calls.feedback(  # type: ignore[no-any-return]
            resolve_id=resolve_id, slug=slug, callback_token=callback_token, outcome=outcome,
            comment=comment, source=source))

    async def publish(self, manifest: str | bytes | Mapping[str, Any]) -> PublishResult:
        """Publish a manifest (YAML or JSON text, or a mapping); needs an API key."""
        return await self._run(calls.publish(manifest))  # type: ignore[no-any-return]

    async def validate(self, manifest: str | bytes | Mapping[str, Any]) -> ValidationResult:
        return await self._run(calls.validate(manifest))  # type: ignore[no-any-return]

    async def start_claim(self, slug: str, method: str) -> Claim:
        """Start proving you build ``slug`` (method http, dns or repository); needs a key."""
        return await self._run(calls.start_claim(slug, method))  # type: ignore[no-any-return]

    async def claim(self, claim_id: str) -> Claim:
        """A started claim's status."""
        return await self._run(calls.claim(safe_slug(claim_id)))  # type: ignore[no-any-return]

    async def verify_claim(self, claim_id: str) -> dict[str, Any]:
        """Ask the registry to check a claim's proof now."""
        return await self._run(calls.verify_claim(safe_slug(claim_id)))  # type: ignore[no-any-return]

    async def jwks(self) -> dict[str, Any]:
        """The registry's JWK Set, to pin (save it once; pass it to ``verify``)."""
        return await self._run(calls.jwks())  # type: ignore[no-any-return]

    async def verify(self, passport: Passport | Mapping[str, Any], *, jwks: Mapping[str, Any],
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
        proof = decode_proof(await self._run(calls.consistency(*sizes))) if sizes else []
        trusted = check_against(head, saved, proof)
        if trusted != saved:
            saved_file.save(trusted)
        return verified(envelope, head, index, first_use=saved is None)
