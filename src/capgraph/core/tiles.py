"""The transparency log as C2SP tlog-tiles: hash tiles, entry bundles and their paths.

A tile is a subtree of height 8 given by its 256 leaves: the tile at level L, index N holds
the Merkle tree hashes of the tree nodes at height ``8 * L`` with indices ``N * 256 + i``
(i = 0..255), 32 bytes each. A tree of size s has, at level L, ``s // 256**(L + 1)`` full
tiles and, when ``(s // 256**L) % 256`` is not 0, one *partial* tile of that width, served
under ``.p/<W>``. Entry bundles are the level-0 tiles' entries, each entry prefixed with its
length as a big-endian uint16. Paths: ``tile/<L>/<N>[.p/<W>]`` and
``tile/entries/<N>[.p/<W>]``, N written in groups of three digits, all but the last
prefixed with ``x`` (1234067 is ``x001/x234/067``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["HEIGHT", "MAX_ENTRY", "WIDTH", "Tile", "entry_bundle", "exists", "hash_tile",
           "parse_tile_path", "tiles_for"]

HEIGHT = 8
WIDTH = 1 << HEIGHT  # hashes (or entries) in a full tile
MAX_ENTRY = 0xFFFF  # the longest entry a uint16 length prefix can carry
MAX_LEVEL = 63

NodesReader = Callable[[int, int, int], list[bytes]]  # (level, start, end) -> stored nodes


@dataclass(frozen=True, order=True)
class Tile:
    """Tile ``index`` at ``level`` (level -1: the entry bundle of level-0 tile ``index``),
    ``width`` hashes wide (256: a full tile)."""

    level: int
    index: int
    width: int = WIDTH

    @property
    def partial(self) -> bool:
        return self.width < WIDTH

    @property
    def is_entries(self) -> bool:
        return self.level < 0

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for a bundle."""
        digits = f"{self.index:d}"
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
        name = "/".join([*("x" + g for g in groups[:-1]), groups[-1]])
        level = "entries" if self.is_entries else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{level}/{name}{suffix}"

    def first(self) -> int:
        """The index of the first node (at height ``8 * level``) this tile holds."""
        return self.index * WIDTH


def tiles_for(size: int) -> Iterator[Tile]:
    """Every tile and entry bundle of a tree of ``size`` leaves: the full ones, then at
    each level the partial one when there is one."""
    level, count = 0, size
    while count > 0:
        full, rest = divmod(count, WIDTH)
        for index in range(full):
            yield Tile(level, index)
            if level == 0:
                yield Tile(-1, index)
        if rest:
            yield Tile(level, full, rest)
            if level == 0:
                yield Tile(-1, full, rest)
        level, count = level + 1, full


def exists(tile: Tile, size: int) -> bool:
    """Whether a tree of ``size`` leaves has ``tile``: a full tile once its 256 nodes are
    complete, a partial one of width W once W nodes are (a wider tile has the same first W)."""
    level = max(tile.level, 0)
    if level > MAX_LEVEL or not 1 <= tile.width <= WIDTH:
        return False
    nodes = size >> (HEIGHT * level)  # complete nodes at height 8 * level
    return tile.first() + tile.width <= nodes


def hash_tile(read: NodesReader, tile: Tile) -> bytes:
    """The bytes of a hash tile: ``width`` 32-byte hashes, the stored nodes [first,
    first + width) at height 8 * level, read at once."""
    first = tile.first()
    return b"".join(read(HEIGHT * tile.level, first, first + tile.width))


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries, each prefixed by its length (big-endian uint16). ``ValueError`` when one is
    longer than 65,535 bytes, which the format cannot carry."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise ValueError(f"a log entry of {len(entry)} bytes is longer than an entry "
                             f"bundle can carry ({MAX_ENTRY})")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def parse_tile_path(path: str) -> Tile | None:
    """The tile a ``tile/...`` path (without the leading ``tile/``) names, or None when the
    path is not one the format allows (leading zeros, a width of 0 or 256, level > 63)."""
    if len(path) > 120:  # 2**64 tiles take 7 groups: far shorter
        return None
    parts = path.split("/")
    width = WIDTH
    if len(parts) >= 3 and parts[-2].endswith(".p"):
        w = parts[-1]
        if not w.isdigit() or w != str(int(w)) or not 1 <= int(w) < WIDTH:
            return None
        width = int(w)
        parts = [*parts[:-2], parts[-2][:-2]]
    if len(parts) < 2:
        return None
    head, groups = parts[0], parts[1:]
    if head == "entries":
        level = -1
    elif head.isdigit() and head == str(int(head)) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        return None
    digits = ""
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        if not last:
            if not group.startswith("x"):
                return None
            group = group[1:]
        if len(group) != 3 or not group.isdigit() or not group.isascii():
            return None
        digits += group
    if len(groups) > 1 and digits.startswith("000"):
        return None  # not the shortest form
    return Tile(level, int(digits), width)
