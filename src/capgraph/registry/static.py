"""The static read path: the bytes the Python server serves for passports, the JWK Set and
the transparency log (as C2SP tlog-tiles), written as files a web server or a CDN serves
as they are (docs/STATIC.md).

Every file sits at the URL path the Python server answers with the same bytes:

    api/v1/passport/<slug>                        latest envelope (changes)
    api/v1/artifacts/<slug>/versions/<n>          one version's envelope (immutable)
    api/v1/trust-passport-public-key              the JWK Set (changes on key rotation)
    api/v1/log/checkpoint                         the signed tree head (changes)
    api/v1/log/tile/<L>/<N>[.p/<W>]               hash tiles (full ones immutable)
    api/v1/log/tile/entries/<N>[.p/<W>]           entry bundles (full ones immutable)

``sync()`` runs after every write: it brings the files from the tree size the sink's
checkpoint names up to the store's, under the sink's lock, so a host that missed writes (or
another host's writes) catches up on its next write, and ``export_all()`` (``capgraph
static export``) writes everything again. Both are idempotent. Partial tiles are written for
the size each update ends at, and deleted once their full tile is written (the spec allows
it: a reader falls back to the full tile).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from capgraph.core import tiles
from capgraph.ports import StaticSink, Store
from capgraph.registry.reading import Reading
from capgraph.registry.translog import TransparencyLog

__all__ = ["CHECKPOINT", "JWKS", "LOG_PREFIX", "StaticExport", "SyncReport", "passport_path",
           "version_path"]

log = logging.getLogger(__name__)

LOG_PREFIX = "api/v1/log/"
CHECKPOINT = LOG_PREFIX + "checkpoint"
JWKS = "api/v1/trust-passport-public-key"
PAGE = 500


def passport_path(slug: str) -> str:
    return f"api/v1/passport/{slug}"


def version_path(slug: str, version: int) -> str:
    return f"api/v1/artifacts/{slug}/versions/{version}"


@dataclass(frozen=True)
class SyncReport:
    start: int  # the tree size the files were at
    size: int  # the tree size they are at now
    envelopes: int  # envelope files written (latest and versions)
    tiles: int  # hash tiles and entry bundles written
    skipped: tuple[str, ...] = ()  # bundles the format cannot carry (an entry > 64 KiB)


class StaticExport:
    def __init__(self, *, sink: StaticSink, store: Store, log: TransparencyLog,
                 reading: Reading, jwks: Callable[[], bytes]) -> None:
        self._sink = sink
        self._store = store
        self._log = log
        self._reading = reading
        self._jwks = jwks
        self._synced = -1  # the tree size this process last brought the files to

    def sync(self, *, keys_changed: bool = False) -> SyncReport | None:
        """Bring the files (and the JWK Set) up to the store's tree size; None when this
        process already did, the log did not grow and the keys did not change."""
        if not keys_changed and self._store.log_size() == self._synced:
            return None
        with self._sink.lock():
            return self._update(self._exported_size())

    def export_all(self) -> SyncReport:
        """Write every file again from the store (``capgraph static export``)."""
        with self._sink.lock():
            return self._update(0, every_artifact=True)

    def _exported_size(self) -> int:
        note = self._sink.get(CHECKPOINT)
        try:
            return int(note.split(b"\n")[1]) if note else 0
        except (IndexError, ValueError):
            return 0

    def _update(self, start: int, *, every_artifact: bool = False) -> SyncReport:
        size = self._store.log_size()
        start = min(start, size)
        self._sink.put(JWKS, self._jwks(), immutable=False)
        written, skipped = self._write_tiles(start, size)
        slugs = self._all_slugs() if every_artifact else self._slugs_logged(start, size)
        envelopes = 0
        for slug in slugs:
            data = b""
            for stored in self._store.versions(slug):
                data = self._reading.version_envelope(stored)
                if every_artifact or stored.log_index >= start:
                    self._sink.put(version_path(slug, stored.version), data, immutable=True)
                    envelopes += 1
            if data:  # the latest version's envelope, under the unversioned path too
                self._sink.put(passport_path(slug), data, immutable=False)
                envelopes += 1
        if size > 0 and (size != start or every_artifact):
            self._sink.put(CHECKPOINT, self._log.checkpoint_at(size)[1].encode(),
                           immutable=False)
        self._synced = size
        report = SyncReport(start, size, envelopes, written, tuple(skipped))
        if skipped:
            log.warning("static export: entry bundles %s not written (an entry is longer "
                        "than 65,535 bytes)", ", ".join(skipped))
        return report

    def _write_tiles(self, start: int, size: int) -> tuple[int, list[str]]:
        """Write the tiles that entries [start, size) changed; (how many, bundles skipped)."""
        written, skipped = 0, []
        level = 0
        while size >> (tiles.HEIGHT * level):
            before = start >> (tiles.HEIGHT * level)  # complete nodes at height 8 * level
            after = size >> (tiles.HEIGHT * level)
            if before == after:
                break  # nothing changed at this level, nor above
            for index in range(before // tiles.WIDTH, (after - 1) // tiles.WIDTH + 1):
                width = min(tiles.WIDTH, after - index * tiles.WIDTH)
                tile = tiles.Tile(level, index, width)
                written += self._put_tile(tile)
                if level == 0:
                    bundle = tiles.Tile(-1, index, width)
                    if self._put_tile(bundle):
                        written += 1
                    else:
                        skipped.append(bundle.path())
                if not tile.partial:
                    self._drop_partials(level, index)
            level += 1
        return written, skipped

    def _put_tile(self, tile: tiles.Tile) -> int:
        """Write one tile; 0 when it is a bundle the format cannot carry."""
        try:
            data = self._log.tile_bytes(tile)
        except ValueError:
            return 0
        self._sink.put(LOG_PREFIX + tile.path(), data, immutable=not tile.partial)
        return 1

    def _drop_partials(self, level: int, index: int) -> None:
        for width in range(1, tiles.WIDTH):
            self._sink.delete(LOG_PREFIX + tiles.Tile(level, index, width).path())
            if level == 0:
                self._sink.delete(LOG_PREFIX + tiles.Tile(-1, index, width).path())

    def _slugs_logged(self, start: int, size: int) -> list[str]:
        """The artifacts whose passports entries [start, size) hold, in log order."""
        slugs: dict[str, None] = {}
        for first in range(start, size, PAGE):
            for entry in self._store.log_entries(first, min(size, first + PAGE)):
                slug = _passport_slug(entry)
                if slug is not None:
                    slugs[slug] = None
        return list(slugs)

    def _all_slugs(self) -> Iterable[str]:
        offset = 0
        while page := self._store.artifacts(limit=PAGE, offset=offset):
            yield from (a.slug for a in page)
            offset += len(page)


def _passport_slug(entry: bytes) -> str | None:
    """The artifact slug of a passport entry; None for an ownership entry (or anything
    else)."""
    try:
        data = json.loads(entry)
        slug = data["unfragile"]["artifact"]["slug"]
    except (ValueError, KeyError, TypeError):
        return None
    return slug if isinstance(slug, str) else None
