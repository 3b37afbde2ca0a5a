"""An append-only Merkle log with RFC 9162 hashing, proofs, and their verification.

Leaf hash ``SHA-256(0x00 || data)``, node hash ``SHA-256(0x01 || left || right)``. The tree
over n leaves splits at the largest power of two below n (RFC 9162 section 2.1.1).

Storage keeps every *complete, aligned* subtree hash: node (level L, index i) covers leaves
``[i * 2^L, (i + 1) * 2^L)``. Appending a leaf adds it at level 0 and completes at most
log2(n) parents, so the tree head and any proof need only O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from capgraph.errors import LogInconsistent, ProofInvalid

__all__ = [
    "NodeReader",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "new_nodes",
    "node_hash",
    "root_from_inclusion",
    "subtree_hash",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]

NodeReader = Callable[[int, int], bytes]
"""Returns the stored hash of the complete node (level, index)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def new_nodes(size: int, leaf: bytes, read: NodeReader) -> list[tuple[int, int, bytes]]:
    """The nodes to store when the leaf at index ``size`` is appended: the leaf itself and
    every parent it completes, as (level, index, hash)."""
    out = [(0, size, leaf)]
    level, index, current = 0, size, leaf
    while index % 2 == 1:
        left = read(level, index - 1)
        current = node_hash(left, current)
        level, index = level + 1, index // 2
        out.append((level, index, current))
    return out


def subtree_hash(read: NodeReader, start: int, end: int) -> bytes:
    """MTH of leaves [start, end), where start is aligned as RFC 9162's recursion aligns it."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        return read(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(subtree_hash(read, start, start + k), subtree_hash(read, start + k, end))


def tree_hash(read: NodeReader, size: int) -> bytes:
    """The root hash of the first ``size`` leaves."""
    return subtree_hash(read, 0, size)


def inclusion_proof(read: NodeReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) from RFC 9162 section 2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(subtree_hash(read, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(read, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(read: NodeReader, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) from RFC 9162 section 2.1.4.1."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(read, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(read, start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree_hash(read, start, end))
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofInvalid(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofInvalid("inclusion proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Raise ``ProofInvalid`` unless the proof shows the leaf at ``index`` under ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofInvalid("inclusion proof does not lead to the tree head")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ``LogInconsistent`` unless the proof shows the old tree is a prefix of the new
    (RFC 9162 section 2.1.4.2)."""
    if old_size > new_size:
        raise LogInconsistent(f"the log shrank from {old_size} to {new_size} entries")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise LogInconsistent("same tree size with a different root hash")
        return
    if old_size == 0:
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise LogInconsistent("empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogInconsistent("consistency proof is too long")
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogInconsistent("consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise LogInconsistent("the log's history does not extend the one seen before")
