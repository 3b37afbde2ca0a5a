"""The transparency log: how an entry is appended (the same for every store), its signed
checkpoints, and the proofs a reader or an auditor asks for."""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from capgraph.core import tiles, translog
from capgraph.core.checkpoint import Checkpoint, NoteVerifier, sign_checkpoint
from capgraph.core.signing import SigningKey
from capgraph.errors import BadRequest, NotFound
from capgraph.ports import KeyRing, LogNode, LogStore, StoredVersion, WriteTransaction

__all__ = ["TransparencyLog", "append_leaf"]

MAX_ENTRIES = 1000  # per request of ``entries``
CHECKPOINTS_CACHED = 4096  # signed notes kept, least recently used dropped first


def append_leaf(tx: WriteTransaction, data: bytes) -> int:
    """Append ``data`` as the next leaf, with the complete subtrees it closes, inside ``tx``;
    return its index. Write transactions are serialised, so the index never collides."""
    size = tx.log_size()
    nodes = translog.new_nodes(size, translog.leaf_hash(data), tx.log_node)
    tx.put_log_leaf(size, data, [LogNode(*n) for n in nodes])
    return size


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class TransparencyLog:
    """Checkpoints (C2SP tlog-checkpoint) and RFC 9162 proofs over the stored log."""

    def __init__(self, *, store: LogStore, keys: KeyRing, origin: str,
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._keys = keys
        self._default_origin = origin
        self._now = now
        self._identity: tuple[SigningKey, str] | None = None
        self._checkpoints: OrderedDict[int, tuple[Checkpoint, str]] = OrderedDict()
        self._checkpoints_lock = threading.Lock()

    def _log_identity(self) -> tuple[SigningKey, str]:
        if self._identity is None:
            self._identity = self._keys.log_key(self._now(), self._default_origin)
        return self._identity

    @property
    def origin(self) -> str:
        return self._log_identity()[1]

    @property
    def signing_key(self) -> SigningKey:
        return self._log_identity()[0]

    def verifier(self) -> NoteVerifier:
        """The signed-note verifier key of the log's checkpoints."""
        key, origin = self._log_identity()
        return NoteVerifier(origin, key.public.raw)

    def checkpoint(self) -> tuple[Checkpoint, str]:
        """The current tree head and its signed note."""
        return self.checkpoint_at(self._store.log_size())

    def checkpoint_at(self, size: int) -> tuple[Checkpoint, str]:
        """The tree head at ``size`` (at most the current size) and its signed note: the same
        bytes whenever asked (Ed25519 signatures are deterministic). The last
        ``CHECKPOINTS_CACHED`` sizes asked for are kept (least recently used dropped first),
        so rebuilding many envelopes after a write signs no note twice."""
        with self._checkpoints_lock:
            cached = self._checkpoints.get(size)
            if cached is not None:
                self._checkpoints.move_to_end(size)
                return cached
        key, origin = self._log_identity()
        head = Checkpoint(origin, size, translog.tree_hash(self._store.log_node, size))
        note = sign_checkpoint(head, key, name=origin)
        with self._checkpoints_lock:
            self._checkpoints[size] = (head, note)
            if len(self._checkpoints) > CHECKPOINTS_CACHED:
                self._checkpoints.popitem(last=False)
        return head, note

    def proof_for(self, stored: StoredVersion) -> dict[str, Any]:
        """The ``_log`` block of an envelope: where the version sits in the log, and its
        inclusion in the tree that entry made (size = index + 1), with that tree's signed
        checkpoint. So an envelope never changes once written (cacheable as immutable, and
        servable as a static file); a reader who wants a later tree asks for a consistency
        proof from that checkpoint."""
        head, note = self.checkpoint_at(stored.log_index + 1)
        proof = translog.inclusion_proof(self._store.log_node, stored.log_index, head.size)
        leaf = self._store.log_entries(stored.log_index, stored.log_index + 1)[0]
        return {
            "index": stored.log_index,
            "treeSize": head.size,
            "leafHash": _b64(translog.leaf_hash(leaf)),
            "inclusionProof": [_b64(h) for h in proof],
            "checkpoint": note,
        }

    def _check_range(self, low: int, high: int, what: str) -> None:
        size = self._store.log_size()
        if not 0 <= low < high <= size:
            raise BadRequest(f"{what} must satisfy 0 <= start < end <= tree size ({size})")

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """``{index, treeSize, leafHash, hashes}`` for entry ``index`` in the tree of ``size``."""
        self._check_range(index, size, "index and size")
        leaf = self._store.log_entries(index, index + 1)[0]
        proof = translog.inclusion_proof(self._store.log_node, index, size)
        return {"index": index, "treeSize": size, "leafHash": _b64(translog.leaf_hash(leaf)),
                "hashes": [_b64(h) for h in proof]}

    def consistency(self, old_size: int, size: int) -> dict[str, Any]:
        """``{from, treeSize, hashes}`` proving the tree of ``old_size`` is a prefix."""
        self._check_range(old_size - 1, size, "from and size")
        proof = translog.consistency_proof(self._store.log_node, old_size, size)
        return {"from": old_size, "treeSize": size, "hashes": [_b64(h) for h in proof]}

    def tile(self, path: str) -> tuple[tiles.Tile, bytes]:
        """A C2SP tlog-tiles hash tile or entry bundle by its path below ``tile/``, for the
        current tree; ``NotFound`` when the path names no tile the tree has (yet)."""
        tile = tiles.parse_tile_path(path)
        if tile is None or not tiles.exists(tile, self._store.log_size()):
            raise NotFound(f"the log has no tile {path!r}")
        try:
            return tile, self.tile_bytes(tile)
        except ValueError as exc:
            raise NotFound(f"entry bundle {path!r} cannot be served: {exc}") from exc

    def tile_bytes(self, tile: tiles.Tile) -> bytes:
        """The bytes of a tile the tree has; ``ValueError`` for an entry bundle holding an
        entry longer than the format's 65,535 bytes."""
        if not tile.is_entries:
            return tiles.hash_tile(self._store.log_nodes, tile)
        first = tile.first()
        return tiles.entry_bundle(self._store.log_entries(first, first + tile.width))

    def entries(self, start: int, end: int) -> list[bytes]:
        """Leaf data of entries [start, end), at most ``MAX_ENTRIES`` at a time."""
        self._check_range(start, end, "start and end")
        if end - start > MAX_ENTRIES:
            raise BadRequest(f"at most {MAX_ENTRIES} entries per request")
        return self._store.log_entries(start, end)
