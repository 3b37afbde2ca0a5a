"""The Merkle log (core/translog.py): RFC 9162 hashing, proofs built from stored nodes, and
their verification, checked against an independent recursive implementation of the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core import translog
from capgraph.errors import LogInconsistent, ProofInvalid

PROPERTY = settings(max_examples=200, deadline=None)


# -- an independent RFC 9162 section 2.1 implementation over the leaf hashes ------------------
def _k(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1), computed the slow way."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return hashlib.sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:])).digest()


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), leaf side first."""
    if len(hashes) == 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], complete), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def leaf_data(i: int) -> bytes:
    return f"entry {i}".encode()


class Tree:
    """A log built only through ``translog.new_nodes``, as both stores build theirs."""

    def __init__(self, size: int = 0) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.hashes: list[bytes] = []
        for i in range(size):
            self.append(leaf_data(i))

    def read(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def append(self, data: bytes) -> None:
        leaf = translog.leaf_hash(data)
        for level, index, digest in translog.new_nodes(len(self.hashes), leaf, self.read):
            assert (level, index) not in self.nodes, "a stored node is never rewritten"
            self.nodes[(level, index)] = digest
        self.hashes.append(leaf)

    def root(self, size: int) -> bytes:
        return translog.tree_hash(self.read, size)


BIG = Tree(300)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# -- hashing ---------------------------------------------------------------------------------
def test_leaf_and_node_hashes_use_the_rfc_9162_domain_prefixes() -> None:
    assert translog.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert translog.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert translog.tree_hash(Tree().read, 0).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


# The roots of the RFC 6962 / Certificate Transparency reference test tree (the same vectors
# as transparency-dev/merkle and Trillian).
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_tree_hash_matches_the_published_ct_test_vectors() -> None:
    tree = Tree()
    for size, (data, expected) in enumerate(zip(CT_LEAVES, CT_ROOTS, strict=True), start=1):
        tree.append(data)
        assert tree.root(size).hex() == expected, size


def test_tree_hash_equals_the_recursive_mth_for_every_size_up_to_300() -> None:
    for size in range(301):
        assert BIG.root(size) == ref_mth(BIG.hashes[:size]), size


def test_new_nodes_stores_only_complete_aligned_subtrees() -> None:
    for (level, index), digest in BIG.nodes.items():
        width = 1 << level
        assert (index + 1) * width <= 300
        assert digest == ref_mth(BIG.hashes[index * width:(index + 1) * width])
    # one leaf plus one parent per trailing one bit: 2n - popcount(n) nodes in all
    assert len(BIG.nodes) == 2 * 300 - bin(300).count("1")


def test_proofs_equal_the_rfc_definitions() -> None:
    for size in (1, 2, 3, 7, 8, 9, 100, 255, 256, 257, 300):
        for index in {0, size // 3, size - 1}:
            assert translog.inclusion_proof(BIG.read, index, size) == \
                ref_path(index, BIG.hashes[:size])
        for old in {1, size // 2 or 1, size - 1 or 1, size}:
            assert translog.consistency_proof(BIG.read, old, size) == \
                ref_subproof(old, BIG.hashes[:size], True)


# -- inclusion -------------------------------------------------------------------------------
@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 300))
    return size, draw(st.integers(0, size - 1))


@PROPERTY
@given(size_and_index())
def test_inclusion_proofs_verify_for_random_sizes_and_indexes(case: tuple[int, int]) -> None:
    size, index = case
    tree = Tree(size)
    proof = translog.inclusion_proof(tree.read, index, size)
    assert proof == ref_path(index, tree.hashes)
    translog.verify_inclusion(index, size, tree.hashes[index], proof, tree.root(size))


@PROPERTY
@given(size_and_index(), st.integers(0, 300 * 256), st.sampled_from(["proof", "leaf", "root"]))
def test_any_flipped_bit_breaks_an_inclusion_proof(case: tuple[int, int], bit: int,
                                                   where: str) -> None:
    size, index = case
    proof = translog.inclusion_proof(BIG.read, index, size)
    leaf, root = BIG.hashes[index], BIG.root(size)
    if where == "proof" and proof:
        i = bit % len(proof)
        proof[i] = flip(proof[i], bit // len(proof))
    elif where == "leaf" or where == "proof":  # a size-1 tree has an empty proof
        leaf = flip(leaf, bit)
    else:
        root = flip(root, bit)
    with pytest.raises(ProofInvalid):
        translog.verify_inclusion(index, size, leaf, proof, root)


def test_inclusion_proof_for_the_wrong_index_or_size_fails() -> None:
    proof = translog.inclusion_proof(BIG.read, 5, 100)
    root = BIG.root(100)
    with pytest.raises(ProofInvalid):
        translog.verify_inclusion(6, 100, BIG.hashes[5], proof, root)
    with pytest.raises(ProofInvalid):
        translog.verify_inclusion(5, 200, BIG.hashes[5], proof, root)
    with pytest.raises(ProofInvalid, match="too short"):
        translog.verify_inclusion(5, 100, BIG.hashes[5], proof[:-1], root)
    with pytest.raises(ProofInvalid, match="too long"):
        translog.verify_inclusion(5, 100, BIG.hashes[5], [*proof, root], root)
    with pytest.raises(ProofInvalid, match="outside"):
        translog.verify_inclusion(100, 100, BIG.hashes[5], proof, root)
    with pytest.raises(ValueError):
        translog.inclusion_proof(BIG.read, 100, 100)


# -- consistency -----------------------------------------------------------------------------
@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 300))
    return draw(st.integers(1, size)), size


@PROPERTY
@given(two_sizes())
def test_consistency_proofs_verify_for_random_sizes(case: tuple[int, int]) -> None:
    old, size = case
    tree = Tree(size)
    proof = translog.consistency_proof(tree.read, old, size)
    assert proof == ref_subproof(old, tree.hashes, True)
    translog.verify_consistency(old, size, tree.root(old), tree.root(size), proof)


@PROPERTY
@given(two_sizes(), st.integers(0, 300 * 256), st.sampled_from(["proof", "old", "new"]))
def test_any_flipped_bit_breaks_a_consistency_proof(case: tuple[int, int], bit: int,
                                                    where: str) -> None:
    old, size = case
    proof = translog.consistency_proof(BIG.read, old, size)
    old_root, new_root = BIG.root(old), BIG.root(size)
    if where == "proof" and proof:
        i = bit % len(proof)
        proof[i] = flip(proof[i], bit // len(proof))
    elif where == "old" or where == "proof":  # equal sizes have an empty proof
        old_root = flip(old_root, bit)
    else:
        new_root = flip(new_root, bit)
    with pytest.raises(LogInconsistent):
        translog.verify_consistency(old, size, old_root, new_root, proof)


def test_a_rewritten_early_entry_is_caught_by_consistency() -> None:
    honest = Tree(40)
    forged = Tree()
    for i in range(50):
        forged.append(b"forged" if i == 3 else leaf_data(i))
    proof = translog.consistency_proof(forged.read, 40, 50)
    with pytest.raises(LogInconsistent):
        translog.verify_consistency(40, 50, honest.root(40), forged.root(50), proof)


def test_consistency_refuses_a_shrunk_log_and_malformed_proofs() -> None:
    root40, root50 = BIG.root(40), BIG.root(50)
    proof = translog.consistency_proof(BIG.read, 40, 50)
    with pytest.raises(LogInconsistent, match="shrank"):
        translog.verify_consistency(50, 40, root50, root40, proof)
    with pytest.raises(LogInconsistent, match="too short"):
        translog.verify_consistency(40, 50, root40, root50, proof[:-1])
    with pytest.raises(LogInconsistent):
        translog.verify_consistency(40, 50, root40, root50, [*proof, root50])
    with pytest.raises(LogInconsistent):
        translog.verify_consistency(40, 40, root40, root40, [root40])
    with pytest.raises(LogInconsistent, match="empty"):
        translog.verify_consistency(40, 50, root40, root50, [])
    with pytest.raises(ValueError):
        translog.consistency_proof(BIG.read, 0, 10)
    with pytest.raises(ValueError):
        translog.consistency_proof(BIG.read, 11, 10)


def test_proofs_read_o_log_n_stored_nodes() -> None:
    reads: list[tuple[int, int]] = []

    def counting(level: int, index: int) -> bytes:
        reads.append((level, index))
        return BIG.read(level, index)

    translog.tree_hash(counting, 299)
    translog.inclusion_proof(counting, 123, 299)
    translog.consistency_proof(counting, 77, 299)
    assert len(reads) <= 3 * 2 * 9
