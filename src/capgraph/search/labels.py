"""Who each vector is: label -> (slug, capability id, artifact type), held compactly.

A million labels as Python tuples of three strings cost ~250 MB and seconds to build from a
snapshot. Here slugs and types are small tables with an integer column per label, capability
ids are one byte string with end offsets, and "the labels of a slug" is a sorted index built
with numpy (plus a dict for the labels added since), so loading a snapshot builds no
per-label Python object.
"""

from __future__ import annotations

import itertools

import numpy as np

from capgraph.search.replay import GrowableRows

__all__ = ["LabelTable", "pack_strings", "unpack_strings"]


def pack_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of all ``strings`` joined, and the end offset of each."""
    encoded = [s.encode() for s in strings]
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), ends


def unpack_strings(data: np.ndarray, ends: np.ndarray) -> list[str]:
    """The inverse of ``pack_strings``."""
    raw, bounds = data.tobytes(), [0, *ends.tolist()]
    return [raw[a:b].decode() for a, b in itertools.pairwise(bounds)]


def _gather(data: np.ndarray, ends: np.ndarray, labels: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The packed strings of ``labels`` only (for a compacted snapshot)."""
    starts = np.concatenate([[0], ends[:-1]])[labels]
    lengths = ends[labels] - starts
    new_ends = np.cumsum(lengths, dtype=np.int64)
    # The source offset of every output byte: its string's start plus its place inside it.
    within = np.arange(int(new_ends[-1]) if len(new_ends) else 0, dtype=np.int64)
    within -= np.repeat(new_ends - lengths, lengths)
    return data[np.repeat(starts, lengths) + within], new_ends


class LabelTable:
    """Labels 0..n-1 in the order vectors were added. Appends come from one writer (under the
    index's lock); readers may read concurrently and see a label once ``len`` covers it."""

    REFREEZE_MIN = 50_000

    def __init__(self) -> None:
        self._slugs: list[str] = []
        self._slug_ids: dict[str, int] = {}
        self._types: list[str] = []
        self._type_ids: dict[str, int] = {}
        self._slug_of = GrowableRows(None, np.int32)
        self._type_of = GrowableRows(None, np.int16)
        self._cap_bytes = bytearray()
        self._cap_end = GrowableRows(None, np.int64)
        # slug id -> labels: labels [0, frozen) sorted by slug, and a dict for the rest.
        self._frozen = 0
        self._index = (np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64))  # order, starts
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0

    def __len__(self) -> int:
        return len(self._cap_end)

    # -- writing ---------------------------------------------------------------------------
    def append(self, slugs: list[str], cap_ids: list[str], kinds: list[str]) -> None:
        """Add labels len(self) .. len(self) + len(slugs) - 1."""
        first = len(self)
        slug_ids = [self._intern(s, self._slugs, self._slug_ids) for s in slugs]
        type_ids = [self._intern(k, self._types, self._type_ids) for k in kinds]
        for offset, slug_id in enumerate(slug_ids):
            self._recent.setdefault(slug_id, []).append(first + offset)
        self._recent_count += len(slug_ids)
        self._slug_of.extend(np.array(slug_ids, dtype=np.int32))
        self._type_of.extend(np.array(type_ids, dtype=np.int16))
        encoded = [c.encode() for c in cap_ids]
        ends = len(self._cap_bytes) + np.cumsum([len(e) for e in encoded], dtype=np.int64)
        self._cap_bytes += b"".join(encoded)
        self._cap_end.extend(ends)  # last: it is what len() counts
        if self._recent_count > max(self.REFREEZE_MIN, self._frozen // 4):
            self._refreeze()

    @staticmethod
    def _intern(name: str, names: list[str], ids: dict[str, int]) -> int:
        found = ids.get(name)
        if found is None:
            found = ids[name] = len(names)
            names.append(name)
        return found

    def _refreeze(self) -> None:
        count = len(self)
        slug_of = self._slug_of.rows()[:count]
        order = np.argsort(slug_of, kind="stable").astype(np.int32)
        starts = np.searchsorted(slug_of[order], np.arange(len(self._slugs) + 1))
        # One attribute, so a reader never pairs an old order with new starts; then the dict.
        self._index = (order, starts.astype(np.int64))
        self._frozen = count
        self._recent = {}
        self._recent_count = 0

    # -- reading ---------------------------------------------------------------------------
    def labels_of(self, slug: str) -> np.ndarray:
        """Every label ever given to ``slug``'s capabilities, oldest first (dead ones too)."""
        slug_id = self._slug_ids.get(slug)
        if slug_id is None:
            return np.zeros(0, dtype=np.int64)
        # The dict before the sorted index: ``_refreeze`` swaps the index first, so this sees
        # every label (some twice at worst), never a gap.
        recent = self._recent.get(slug_id)
        order, starts = self._index
        parts = []
        if slug_id + 1 < len(starts):
            parts.append(order[starts[slug_id]:starts[slug_id + 1]].astype(np.int64))
        if recent:
            parts.append(np.array(recent, dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def labels_of_many(self, slugs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``labels_of`` for many slugs in one pass: every label, and the position in ``slugs``
        of the slug it belongs to (a query asks this for ~200 artifacts at once)."""
        ids = [self._slug_ids.get(slug, -1) for slug in slugs]
        # The dict before the sorted index, as in ``labels_of``.
        recent = self._recent
        extra = [(label, i) for i, slug_id in enumerate(ids) if slug_id >= 0
                 for label in recent.get(slug_id, ())]
        order, starts = self._index
        slug_ids = np.array(ids, dtype=np.int64)
        frozen = (slug_ids >= 0) & (slug_ids + 1 < len(starts))
        first = np.where(frozen, starts[np.where(frozen, slug_ids, 0)], 0)
        lengths = np.where(frozen, starts[np.where(frozen, slug_ids + 1, 0)], 0) - first
        owner = np.repeat(np.arange(len(slugs), dtype=np.int64), lengths)
        within = np.arange(int(lengths.sum()), dtype=np.int64)
        within -= np.repeat(np.cumsum(lengths) - lengths, lengths)
        labels = order[np.repeat(first, lengths) + within].astype(np.int64)
        if extra:
            more = np.array(extra, dtype=np.int64)
            labels = np.concatenate([labels, more[:, 0]])
            owner = np.concatenate([owner, more[:, 1]])
        return labels, owner

    def slug(self, label: int) -> str:
        return self._slugs[int(self._slug_of.rows()[label])]

    def cap_id(self, label: int) -> str:
        ends = self._cap_end.rows()
        start = int(ends[label - 1]) if label else 0
        return bytes(self._cap_bytes[start:int(ends[label])]).decode()

    def cap_ids(self, labels: np.ndarray) -> list[str]:
        """``cap_id`` of many labels at once (one array lookup for all their offsets)."""
        ends = self._cap_end.rows()
        labels = np.asarray(labels, dtype=np.int64)
        stop = ends[labels]
        start = np.where(labels > 0, ends[labels - 1], 0)
        data = self._cap_bytes
        return [data[a:b].decode() for a, b in zip(start.tolist(), stop.tolist(), strict=True)]

    def kind(self, label: int) -> str:
        return self._types[int(self._type_of.rows()[label])]

    def type_id(self, kind: str) -> int | None:
        return self._type_ids.get(kind)

    def type_codes(self) -> np.ndarray:
        """Each label's artifact type as a code (see ``type_id``)."""
        return self._type_of.rows()

    # -- snapshots -------------------------------------------------------------------------
    def to_arrays(self, labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The table (only ``labels``, renumbered from 0, when given) as numpy arrays."""
        count = len(self)
        slug_of = self._slug_of.rows()[:count]
        type_of = self._type_of.rows()[:count]
        cap_bytes = np.frombuffer(bytes(self._cap_bytes), dtype=np.uint8)
        cap_end = self._cap_end.rows()[:count]
        if labels is not None:
            slug_of, type_of = slug_of[labels], type_of[labels]
            cap_bytes, cap_end = _gather(cap_bytes, cap_end, labels)
        slug_bytes, slug_end = pack_strings(self._slugs)
        type_bytes, type_end = pack_strings(self._types)
        return {"slug_of": slug_of, "type_of": type_of, "cap_bytes": cap_bytes,
                "cap_end": cap_end, "slug_bytes": slug_bytes, "slug_end": slug_end,
                "type_bytes": type_bytes, "type_end": type_end}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LabelTable:
        """A table from ``to_arrays`` output (checked for consistency: raises ValueError)."""
        table = cls()
        table._slugs = unpack_strings(arrays["slug_bytes"], arrays["slug_end"])
        table._slug_ids = {s: i for i, s in enumerate(table._slugs)}
        table._types = unpack_strings(arrays["type_bytes"], arrays["type_end"])
        table._type_ids = {t: i for i, t in enumerate(table._types)}
        slug_of = np.asarray(arrays["slug_of"], dtype=np.int32)
        type_of = np.asarray(arrays["type_of"], dtype=np.int16)
        cap_end = np.asarray(arrays["cap_end"], dtype=np.int64)
        cap_bytes = np.asarray(arrays["cap_bytes"], dtype=np.uint8)
        if not len(slug_of) == len(type_of) == len(cap_end):
            raise ValueError("label columns differ in length")
        if len(cap_end) and int(cap_end[-1]) != len(cap_bytes):
            raise ValueError("capability ids do not match their offsets")
        if len(slug_of) and (slug_of.min() < 0 or slug_of.max() >= len(table._slugs)
                             or type_of.min() < 0 or type_of.max() >= len(table._types)):
            raise ValueError("label refers to an unknown slug or type")
        table._slug_of = GrowableRows(None, np.int32, initial=slug_of)
        table._type_of = GrowableRows(None, np.int16, initial=type_of)
        table._cap_bytes = bytearray(cap_bytes.tobytes())
        table._cap_end = GrowableRows(None, np.int64, initial=cap_end)
        table._refreeze()
        return table
