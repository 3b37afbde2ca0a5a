"""A C2SP tlog-tiles client, written from the specifications (c2sp.org/tlog-tiles,
c2sp.org/tlog-checkpoint, c2sp.org/signed-note, RFC 6962 / 9162 hashing) for the tests, with
nothing of capgraph's own log code: what it verifies, it verifies independently.

``TileLog(fetch, verifier_key)``: ``fetch(path)`` returns the bytes under the log's prefix
(``checkpoint``, ``tile/0/000``, ...). It reads and checks the checkpoint, fetches tiles,
recomputes root hashes, builds and checks inclusion proofs, and checks that an older
checkpoint's tree is a prefix of the current one.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TILE = 256


class TileLogError(Exception):
    """What the log served does not verify."""


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tile_path(level: int | str, index: int, width: int = TILE) -> str:
    digits = str(index).zfill(3 * max(1, -(-len(str(index)) // 3)))
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    name = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    return f"tile/{level}/{name}" + (f".p/{width}" if width < TILE else "")


@dataclass(frozen=True)
class Head:
    origin: str
    size: int
    root: bytes
    note: bytes


def verify_note(note: bytes, verifier_key: str) -> Head:
    """Parse a checkpoint and check the Ed25519 signature of ``verifier_key`` on it."""
    name, key_id_hex, key_b64 = verifier_key.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    if key[0] != 1 or len(key) != 33:
        raise TileLogError("not an Ed25519 verifier key")
    expected_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if expected_id.hex() != key_id_hex:
        raise TileLogError("verifier key id does not match")
    text = note.decode("utf-8")
    body, _, sigs = text.partition("\n\n")
    body += "\n"
    good = False
    for line in sigs.rstrip("\n").split("\n"):
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        raw = base64.b64decode(line[len(prefix):])
        if raw[:4] != expected_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], body.encode())
        except Exception as exc:
            raise TileLogError("checkpoint signature does not verify") from exc
        good = True
    if not good:
        raise TileLogError("checkpoint carries no signature by the log key")
    origin, size, root = body.split("\n")[:3]
    return Head(origin, int(size), base64.b64decode(root), note)


class TileLog:
    def __init__(self, fetch: Callable[[str], bytes], verifier_key: str) -> None:
        self._fetch = fetch
        self._key = verifier_key
        self._tiles: dict[tuple[int | str, int], bytes] = {}
        self.head = verify_note(fetch("checkpoint"), verifier_key)

    # -- tiles -----------------------------------------------------------------------------
    def _tile(self, level: int | str, index: int) -> bytes:
        """The tile (or bundle) ``index`` at ``level`` for the checkpoint's size: the full
        one when the tree has it, else the partial one of the width the spec gives."""
        key = (level, index)
        if key not in self._tiles:
            height = 0 if level == "entries" else int(level)
            count = self.head.size // TILE ** height  # nodes at this level
            width = min(TILE, count - index * TILE)
            if width <= 0:
                raise TileLogError(f"tile {level}/{index} is beyond the tree")
            data = self._fetch(tile_path(level, index, width))
            if level != "entries" and len(data) != 32 * width:
                raise TileLogError(f"tile {level}/{index} has {len(data)} bytes")
            self._tiles[key] = data
        return self._tiles[key]

    def stored_hash(self, height: int, index: int) -> bytes:
        """The hash of the complete subtree at ``height`` (a multiple of 8), ``index``."""
        level = height // 8
        data = self._tile(level, index // TILE)
        at = (index % TILE) * 32
        return data[at:at + 32]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from the tiles (RFC 9162 section 2.1.1)."""
        n = end - start
        if n == 1:
            return self.stored_hash(0, start)
        if n & (n - 1) == 0 and start % n == 0:
            height = n.bit_length() - 1
            if height % 8 == 0:
                return self.stored_hash(height, start // n)
            half = n // 2
            return node(self.subtree(start, start + half), self.subtree(start + half, end))
        k = 1 << ((n - 1).bit_length() - 1)
        return node(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.head.size if size is None else size
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self.subtree(0, size)

    def entries(self) -> list[bytes]:
        """Every entry, from the bundles, each checked against its level-0 tile hash."""
        out: list[bytes] = []
        for index in range(-(-self.head.size // TILE)):
            data = self._tile("entries", index)
            at = 0
            while at < len(data):
                (length,) = struct.unpack(">H", data[at:at + 2])
                out.append(data[at + 2:at + 2 + length])
                at += 2 + length
        if len(out) != self.head.size:
            raise TileLogError(f"{len(out)} entries in the bundles, {self.head.size} in the tree")
        for i, entry in enumerate(out):
            if leaf(entry) != self.stored_hash(0, i):
                raise TileLogError(f"entry {i} does not hash to its tile's leaf hash")
        return out

    # -- checks ----------------------------------------------------------------------------
    def verify(self) -> None:
        """The tiles lead to the checkpoint's root, and every full tile above level 0 holds
        the roots of the full tiles below it."""
        if self.root() != self.head.root:
            raise TileLogError("the tiles do not lead to the checkpoint's root hash")
        level = 1
        while self.head.size >= TILE ** level:
            for i in range(self.head.size // TILE ** level):
                below = self._tile(level - 1, i)
                hashes = [below[j:j + 32] for j in range(0, len(below), 32)]
                while len(hashes) > 1:
                    hashes = [node(hashes[j], hashes[j + 1]) for j in range(0, len(hashes), 2)]
                if hashes[0] != self.stored_hash(8 * level, i):
                    raise TileLogError(f"tile {level} hash {i} is not the root of the tile below")
            level += 1

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) computed from the tiles, leaf side first."""
        path: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = 1 << ((end - start - 1).bit_length() - 1)
            if m < k:
                path.append(self.subtree(start + k, end))
                end = start + k
            else:
                path.append(self.subtree(start, start + k))
                start, m = start + k, m - k
        return path[::-1]

    def check_inclusion(self, entry: bytes, index: int, size: int, root: bytes,
                        proof: list[bytes] | None = None) -> None:
        """RFC 9162 section 2.1.3.2 with ``proof`` (default: the one the tiles give)."""
        proof = self.inclusion_proof(index, size) if proof is None else proof
        fn, sn, r = index, size - 1, leaf(entry)
        for p in proof:
            if sn == 0:
                raise TileLogError("inclusion proof too long")
            if fn % 2 == 1 or fn == sn:
                r = node(p, r)
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
            else:
                r = node(r, p)
            fn, sn = fn >> 1, sn >> 1
        if sn != 0 or r != root:
            raise TileLogError(f"entry {index} is not included in the tree of size {size}")

    def check_consistency(self, older: bytes) -> Head:
        """An older checkpoint (signed by the same key) names a prefix of this tree: the
        tiles give its root too."""
        old = verify_note(older, self._key)
        if old.origin != self.head.origin or old.size > self.head.size:
            raise TileLogError("the older checkpoint is not of this log, or is larger")
        if self.root(old.size) != old.root:
            raise TileLogError("the log's history does not extend the older checkpoint")
        return old
