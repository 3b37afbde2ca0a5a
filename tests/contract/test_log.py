"""The transparency log: one leaf per version at its log index, the stored complete-subtree
nodes, and tree heads and proofs computed from them equal to RFC 9162's over the leaves."""

from __future__ import annotations

import hashlib

import pytest

from capgraph.core import translog
from capgraph.errors import StorageError
from capgraph.ports import LogNode, Store
from capgraph.registry.translog import append_leaf
from tests.contract.conftest import append, reference_root
from tests.unit.test_translog import CT_LEAVES, CT_ROOTS  # the published RFC 6962 vectors


def test_the_reference_root_gives_the_published_roots() -> None:
    assert reference_root([]) == hashlib.sha256(b"").digest()
    assert [reference_root(CT_LEAVES[:n]).hex() for n in range(1, 9)] == CT_ROOTS


def test_tree_heads_from_stored_nodes_are_the_published_roots(store: Store) -> None:
    for n, leaf in enumerate(CT_LEAVES, start=1):
        append(store, "demo", log_leaf=leaf)
        assert translog.tree_hash(store.log_node, n).hex() == CT_ROOTS[n - 1]
    assert store.log_entries(0, 8) == CT_LEAVES
    assert [translog.tree_hash(store.log_node, n).hex() for n in range(1, 9)] == CT_ROOTS


def test_each_versions_log_index_is_the_position_of_its_leaf(store: Store) -> None:
    appended = [append(store, slug, f"{slug}-{i}")
                for i in range(3) for slug in ("a", "b")]
    assert [v.log_index for v in appended] == list(range(6))
    assert store.log_size() == 6
    leaves = [f"leaf:{slug}-{i}".encode() for i in range(3) for slug in ("a", "b")]
    assert store.log_entries(0, 6) == leaves
    for v in appended:
        assert store.log_entries(v.log_index, v.log_index + 1) == [leaves[v.log_index]]
    assert store.log_entries(2, 4) == leaves[2:4]
    assert store.log_entries(4, 100) == leaves[4:]
    assert store.log_entries(6, 7) == []


def test_tree_heads_from_stored_nodes_equal_the_root_of_the_leaves(store: Store) -> None:
    assert store.log_size() == 0
    assert translog.tree_hash(store.log_node, 0) == reference_root([])
    leaves: list[bytes] = []
    for n in range(1, 18):
        append(store, "demo")
        leaves.append(f"leaf:demo-{n}".encode())
        assert store.log_size() == n
        assert translog.tree_hash(store.log_node, n) == reference_root(leaves)
    assert store.log_entries(0, len(leaves)) == leaves
    # Every earlier head can still be computed, and every leaf proven in each of them.
    for size in range(1, len(leaves) + 1):
        root = translog.tree_hash(store.log_node, size)
        assert root == reference_root(leaves[:size])
        for index in range(size):
            proof = translog.inclusion_proof(store.log_node, index, size)
            translog.verify_inclusion(index, size, translog.leaf_hash(leaves[index]), proof,
                                      root)


def test_stored_nodes_are_the_complete_aligned_subtrees(store: Store) -> None:
    for n in range(3):
        append(store, "demo", f"t{n}")
    l0, l1, l2 = (translog.leaf_hash(f"leaf:t{n}".encode()) for n in range(3))
    assert [store.log_node(0, i) for i in range(3)] == [l0, l1, l2]
    assert store.log_node(1, 0) == translog.node_hash(l0, l1)
    for missing in ((0, 3), (1, 1), (2, 0), (5, 0)):
        with pytest.raises(StorageError):
            store.log_node(*missing)
    assert store.log_nodes(0, 0, 3) == [l0, l1, l2]  # a tile's range, in one read
    assert store.log_nodes(0, 1, 3) == [l1, l2] and store.log_nodes(1, 0, 1) == [
        translog.node_hash(l0, l1)]
    assert store.log_nodes(0, 2, 2) == []
    for level, start, end in ((0, 0, 4), (1, 0, 2), (2, 0, 1)):
        with pytest.raises(StorageError):
            store.log_nodes(level, start, end)
    with store.write() as tx:
        assert tx.log_node(1, 0) == translog.node_hash(l0, l1)
        with pytest.raises(StorageError):
            tx.log_node(1, 1)


def test_a_missing_node_of_an_empty_log_raises_storage_error(store: Store) -> None:
    with pytest.raises(StorageError):
        store.log_node(0, 0)


def test_append_leaf_returns_the_next_index_and_the_transaction_sees_it(store: Store) -> None:
    with store.write() as tx:
        assert [append_leaf(tx, f"x{i}".encode()) for i in range(3)] == [0, 1, 2]
        assert tx.log_size() == 3
        assert tx.log_node(1, 0) == translog.node_hash(translog.leaf_hash(b"x0"),
                                                       translog.leaf_hash(b"x1"))
    assert store.log_size() == 3
    assert append(store, "demo").log_index == 3
    assert translog.tree_hash(store.log_node, 4) == reference_root(
        [b"x0", b"x1", b"x2", b"leaf:demo-1"])


def test_put_log_leaf_that_is_not_the_next_raises_storage_error(store: Store) -> None:
    leaf = translog.leaf_hash(b"x")
    for index in (1, -1):
        with pytest.raises(StorageError), store.write() as tx:
            tx.put_log_leaf(index, b"x", [LogNode(0, index, leaf)])
    assert store.log_size() == 0
    append(store, "demo")
    for index in (0, 2):
        with pytest.raises(StorageError), store.write() as tx:
            tx.put_log_leaf(index, b"x", [LogNode(0, index, leaf)])
    assert store.log_size() == 1
    assert store.log_entries(0, 3) == [b"leaf:demo-1"]
    assert translog.tree_hash(store.log_node, 1) == reference_root([b"leaf:demo-1"])
