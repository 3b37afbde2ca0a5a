"""Claim proofs over the network: bounded, safe HTTP fetches and DNS TXT look-ups.

``NetworkProofChecker`` (``checker.py``) is the ``ProofChecker`` port's adapter;
``NetworkDocumentFetcher`` (``documents.py``) reads documents to import by the same rules;
``is_shared_host`` (``hosts.py``) tells which hosts need the repository method.
"""

from capgraph.proofs.checker import NetworkProofChecker
from capgraph.proofs.documents import NetworkDocumentFetcher
from capgraph.proofs.hosts import is_shared_host

__all__ = ["NetworkDocumentFetcher", "NetworkProofChecker", "is_shared_host"]
