"""The static read path's parts (core/tiles.py, storage/static_dir.py, registry/static.py):
tile paths and widths as C2SP tlog-tiles defines them, atomic idempotent files, and an
update after each write that catches up from wherever the directory is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capgraph.bootstrap import assemble_registry
from capgraph.core import tiles, translog
from capgraph.ports import StaticSink, Store
from capgraph.registry import Registry
from capgraph.registry import translog as registry_translog
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore
from capgraph.storage.static_dir import DirectorySink
from tests.conftest import FIXED_NOW
from tests.unit.factories import long_text, manifest, to_yaml


def test_tile_paths_are_written_as_the_spec_writes_them() -> None:
    assert tiles.Tile(0, 0).path() == "tile/0/000"
    assert tiles.Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert tiles.Tile(2, 5, 17).path() == "tile/2/005.p/17"
    assert tiles.Tile(-1, 1000, 3).path() == "tile/entries/x001/000.p/3"
    for tile in [tiles.Tile(0, 0), tiles.Tile(0, 1234067), tiles.Tile(3, 999, 255),
                 tiles.Tile(-1, 1000, 3), tiles.Tile(63, 10**9)]:
        assert tiles.parse_tile_path(tile.path().removeprefix("tile/")) == tile


@pytest.mark.parametrize("path", ["0/00", "0/0000", "0/x000/001", "00/000", "64/000",
                                  "0/000.p/0", "0/000.p/256", "0/000.p/01", "0/001/002",
                                  "entries", "0/abc", "0/x12/345", "0/000.p/", "x/000",
                                  "0/\u0661\u0662\u0663"])
def test_paths_the_format_does_not_allow_name_no_tile(path: str) -> None:
    assert tiles.parse_tile_path(path) is None


def test_a_tree_of_70000_has_the_tiles_the_spec_lists() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17,
    # and one partial level 2 tile of width 1"
    hash_tiles = [t for t in tiles.tiles_for(70_000) if not t.is_entries]
    level0 = [t for t in hash_tiles if t.level == 0]
    assert len([t for t in level0 if not t.partial]) == 273
    assert [t.width for t in level0 if t.partial] == [112]
    assert [(t.level, t.index, t.width) for t in hash_tiles if t.level > 0] == [
        (1, 0, 256), (1, 1, 17), (2, 0, 1)]
    assert [t.level for t in tiles.tiles_for(256) if not t.is_entries] == [0, 1]
    assert all(tiles.exists(t, 70_000) for t in tiles.tiles_for(70_000))
    assert not tiles.exists(tiles.Tile(0, 273, 113), 70_000)
    assert not tiles.exists(tiles.Tile(1, 1), 70_000)


def test_a_hash_tile_holds_the_stored_subtree_hashes() -> None:
    nodes: dict[tuple[int, int], bytes] = {}
    for i in range(300):
        for level, index, digest in translog.new_nodes(i, translog.leaf_hash(b"%d" % i),
                                                      lambda lv, ix: nodes[(lv, ix)]):
            nodes[(level, index)] = digest
    def read(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    def read_range(level: int, start: int, end: int) -> list[bytes]:
        return [nodes[(level, i)] for i in range(start, end)]

    level1 = tiles.hash_tile(read_range, tiles.Tile(1, 0, 1))
    assert level1 == translog.tree_hash(read, 256)
    assert tiles.hash_tile(read_range, tiles.Tile(0, 1, 44))[-32:] == translog.leaf_hash(b"299")


def test_an_entry_bundle_prefixes_each_entry_with_its_length() -> None:
    assert tiles.entry_bundle([b"ab", b"", b"c"]) == b"\x00\x02ab\x00\x00\x00\x01c"
    with pytest.raises(ValueError, match="65535"):
        tiles.entry_bundle([b"x" * 65_536])


def test_the_directory_writes_whole_files_and_refuses_paths_out_of_it(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path / "www")
    sink.put("a/b/c", b"one", immutable=False)
    sink.put("a/b/c", b"two", immutable=False)
    assert sink.get("a/b/c") == b"two" and sink.get("a/b/none") is None
    sink.put("a/x.p/3", b"3", immutable=True)
    sink.delete("a/x.p/3")
    assert not (tmp_path / "www/a/x.p").exists()
    sink.delete("a/x.p/3")  # gone already: nothing to do
    for bad in ["../out", "a/../../out", "/abs", "a//b", ".lock", "a/.tmp-x", ""]:
        with pytest.raises(ValueError):
            sink.put(bad, b"x", immutable=False)
    assert sorted(p.name for p in (tmp_path / "www/a/b").iterdir()) == ["c"]
    assert oct((tmp_path / "www/a/b/c").stat().st_mode & 0o777) == "0o644"


def _publish(registry: Registry, slug: str, revision: int = 0) -> None:
    data = manifest()
    data["artifact"]["slug"] = slug
    data["capabilities"][0]["description"] = long_text(f"revision {revision}")
    registry.publish(to_yaml(data), hint="yaml")


def _registry(store: Store, keys: Path, sink: StaticSink | None) -> Registry:
    return assemble_registry(store=store, keys=FileKeyStore(keys), registry_name="capgraph-test",
                             public_url="http://registry.test", clock=lambda: FIXED_NOW,
                             static=sink)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def test_updates_after_each_write_equal_a_full_export(tmp_path: Path) -> None:
    registry = _registry(MemoryStore(), tmp_path / "keys", DirectorySink(tmp_path / "live"))
    for revision in range(3):
        for slug in ("one", "two"):
            _publish(registry, f"static-{slug}", revision)
    registry.export_static(DirectorySink(tmp_path / "full"))
    full, written = _files(tmp_path / "full"), _files(tmp_path / "live")
    # Every update left the partial tile of the size it ended at; the export only the last.
    assert {k: v for k, v in written.items() if ".p/" not in k or k.endswith(".p/6")} == full
    assert sorted(k for k in written if "tile/0/" in k) == [
        f"api/v1/log/tile/0/000.p/{n}" for n in range(1, 7)]
    envelope = json.loads(full["api/v1/passport/static-two"])
    assert envelope["passport"]["version"] == 3
    assert full["api/v1/artifacts/static-two/versions/3"] == full["api/v1/passport/static-two"]
    assert full["api/v1/log/checkpoint"] == registry.checkpoint()[1].encode()
    assert full["api/v1/trust-passport-public-key"] == registry.jwks_bytes()


def test_a_registry_that_missed_writes_catches_up_on_its_next(tmp_path: Path) -> None:
    store = MemoryStore()
    _publish(_registry(store, tmp_path / "keys", None), "static-early")  # no directory yet
    sink = DirectorySink(tmp_path / "www")
    registry = _registry(store, tmp_path / "keys", sink)
    _publish(registry, "static-late")
    assert sink.get("api/v1/passport/static-early") is not None
    assert sink.get("api/v1/log/tile/0/000.p/2") is not None
    # Keys change without a log entry: the JWK Set is rewritten all the same.
    before = sink.get("api/v1/trust-passport-public-key")
    registry.rotate_signing_key()
    after = sink.get("api/v1/trust-passport-public-key")
    assert after == registry.jwks_bytes() != before
    # Nothing new: no update at all.
    assert registry.sync_static() is None


def test_a_write_the_directory_refuses_does_not_fail_the_write(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    registry = _registry(MemoryStore(), tmp_path / "keys", DirectorySink(blocked))
    _publish(registry, "static-kept")
    assert registry.passport("static-kept").version == 1


def test_envelopes_after_a_write_are_not_built_again(registry: Registry,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    base = registry.public_url
    for slug in ("env-a", "env-b"):
        _publish(registry, slug)
        registry.envelope_bytes(slug, base)
    built: list[str] = []
    real = registry_translog.TransparencyLog.proof_for
    monkeypatch.setattr(registry_translog.TransparencyLog, "proof_for",
                        lambda self, stored: built.append(stored.slug) or real(self, stored))
    _publish(registry, "env-c")
    first = registry.envelope_bytes("env-a", base)
    assert registry.envelope_bytes("env-a", base, version=1) == first
    registry.envelope_bytes("env-c", base)
    assert built == ["env-c"]


def test_the_checkpoint_cache_drops_the_least_recently_used(registry: Registry,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    for i in range(4):
        _publish(registry, f"cp-{i}")
    monkeypatch.setattr(registry_translog, "CHECKPOINTS_CACHED", 2)
    log = registry._log
    log._checkpoints.clear()
    signed: list[int] = []
    real = registry_translog.sign_checkpoint
    monkeypatch.setattr(registry_translog, "sign_checkpoint",
                        lambda head, key, name: signed.append(head.size) or real(head, key,
                                                                                 name=name))
    for size in (1, 2, 1, 3, 1, 2):
        log.checkpoint_at(size)
    assert signed == [1, 2, 3, 2]  # 2 was dropped for 3; 1, used last, was kept
