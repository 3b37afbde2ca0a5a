"""``NetworkDocumentFetcher``: the ``DocumentFetcher`` port over the real network.

An importer given a URL reads it with the claim proofs' fetch (``fetch.py``): https only
(plain http too when private networks are allowed, for tests), at most 3 redirects to the same
host, one deadline for the whole fetch, a byte cap counted while streaming, and connections
only to checked public addresses.
"""

from __future__ import annotations

from capgraph.ports import FetchedDocument
from capgraph.proofs.fetch import fetch, seconds

__all__ = ["NetworkDocumentFetcher"]


class NetworkDocumentFetcher:
    """Fetches documents to import. ``allow_private``: tests only (loopback, plain http);
    ``timeout``: seconds for the whole fetch; ``max_bytes``: the largest body accepted."""

    def __init__(self, *, allow_private: bool, timeout: float, max_bytes: int) -> None:
        self._allow_private = allow_private
        self._timeout = timeout
        self._max_bytes = max_bytes

    def fetch(self, url: str) -> FetchedDocument:
        got = fetch(url, allow_private=self._allow_private, timeout=self._timeout,
                    max_bytes=self._max_bytes)
        if got.body is None:
            problem = got.problem or f"nothing read within {seconds(self._timeout)}"
            return FetchedDocument(got.url, None, got.trail() + problem)
        return FetchedDocument(got.url, got.body)
