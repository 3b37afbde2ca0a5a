"""Claim proofs over the network: bounded, safe HTTP fetches and DNS TXT look-ups.

``NetworkProofChecker`` (``checker.py``) is the ``ProofChecker`` port's adapter;
``is_shared_host`` (``hosts.py``) tells which hosts need the repository method.
"""

from capgraph.proofs.checker import NetworkProofChecker
from capgraph.proofs.hosts import is_shared_host

__all__ = ["NetworkProofChecker", "is_shared_host"]
