"""The SQLite store: serialised appends across threads, durability, and the generation counter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from capgraph.ports import NewVersion, StoredVersion
from capgraph.storage.memory import MemoryStore
from capgraph.storage.sqlite import SQLiteStore


def new_version(slug: str, tag: str, *, integrations: list[str] | None = None) -> NewVersion:
    return NewVersion(
        slug=slug, name=f"{slug} {tag}", artifact_type="api", score=42,
        content_hash=f"sha256:{tag}", source_kind="manifest", source="{}",
        passport=f'{{"tag":"{tag}"}}'.encode(), key_id="kid", created_at="2026-11-01T12:00:00.000Z",
        capability_numbers={"alpha": 0, tag: 1}, integrations=integrations or [],
    )


def always(tag: str) -> object:
    def build(latest: StoredVersion | None, number: int) -> NewVersion:
        return new_version("demo", f"{tag}-{number}")
    return build


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "cg.db")
    yield s
    s.close()


def test_concurrent_appends_to_one_slug_number_versions_without_gaps(tmp_path: Path) -> None:
    path = tmp_path / "cg.db"
    stores = [SQLiteStore(path), SQLiteStore(path)]  # two "processes" plus many threads
    threads, per_thread = 8, 6
    seen_latest: list[int | None] = []
    lock = threading.Lock()

    def worker(index: int) -> list[int]:
        numbers = []
        for j in range(per_thread):
            def build(latest: StoredVersion | None, number: int, j: int = j) -> NewVersion:
                with lock:
                    seen_latest.append(latest.version if latest else None)
                assert number == (latest.version + 1 if latest else 1)
                return new_version("demo", f"t{index}-{j}")
            stored, created = stores[index % 2].append("demo", build)
            assert created
            numbers.append(stored.version)
        return numbers

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    total = threads * per_thread
    assigned = sorted(n for numbers in results for n in numbers)
    assert assigned == list(range(1, total + 1))
    history = stores[0].versions("demo")
    assert [v.version for v in history] == list(range(1, total + 1))
    assert len({v.name for v in history}) == total
    assert sorted(seen_latest, key=lambda v: v or 0) == [None, *range(1, total)]
    assert stores[1].latest("demo").version == total  # type: ignore[union-attr]
    assert stores[0].artifacts()[0].latest_version == total
    for s in stores:
        s.close()


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "cg.db"
    first = SQLiteStore(path)
    v1, _ = first.append("demo", always("a"))
    v2, _ = first.append("demo", always("b"))
    first.add_api_key("key_1", "ci", "hash-1", "2026-11-01T12:00:00.000Z")
    first.revoke_api_key("key_1")
    first.close()

    again = SQLiteStore(path)
    assert again.versions("demo") == [v1, v2]
    assert again.version("demo", 1) == v1
    assert again.latest("demo") == v2
    assert again.count() == 1
    record = again.api_key_by_hash("hash-1")
    assert record is not None and record.revoked
    again.close()


def test_stored_version_keeps_every_field_byte_for_byte(store: SQLiteStore) -> None:
    new = new_version("demo", "x")
    stored, created = store.append("demo", lambda latest, number: new)
    assert created
    read = store.latest("demo")
    assert read == stored
    assert read is not None and read.passport == new.passport
    assert read.capability_numbers == new.capability_numbers
    assert (read.slug, read.version, read.content_hash) == ("demo", 1, new.content_hash)


def test_generation_changes_after_a_write_from_another_instance(tmp_path: Path) -> None:
    path = tmp_path / "cg.db"
    reader, writer = SQLiteStore(path), SQLiteStore(path)
    before = reader.generation()
    writer.append("demo", always("a"))
    after_append = reader.generation()
    assert after_append != before
    writer.add_api_key("key_1", "ci", "hash-1", "2026-11-01T12:00:00.000Z")
    assert reader.generation() != after_append
    reader.close()
    writer.close()


def test_generation_does_not_change_when_nothing_is_written(store: SQLiteStore) -> None:
    store.append("demo", always("a"))
    before = store.generation()
    stored, created = store.append("demo", lambda latest, number: None)
    assert not created and stored.version == 1
    store.revoke_api_key("no-such-key")
    assert store.generation() == before


def test_a_builder_that_fails_leaves_nothing_behind(store: SQLiteStore) -> None:
    store.append("demo", always("a"))
    before = store.generation()

    def broken(latest: StoredVersion | None, number: int) -> NewVersion:
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        store.append("demo", broken)
    assert [v.version for v in store.versions("demo")] == [1]
    assert store.generation() == before
    stored, created = store.append("demo", always("b"))
    assert created and stored.version == 2


def test_missing_things_are_none_or_empty(store: SQLiteStore) -> None:
    assert store.latest("nope") is None
    assert store.version("nope", 1) is None
    assert store.versions("nope") == []
    store.append("demo", always("a"))
    assert store.version("demo", 2) is None
    assert store.version("demo", 0) is None


def test_references_count_other_artifacts_latest_integrations(store: SQLiteStore) -> None:
    store.append("target", lambda latest, n: new_version("target", "t", integrations=["target"]))
    store.append("a", lambda latest, n: new_version("a", "a1", integrations=["target"]))
    store.append("b", lambda latest, n: new_version("b", "b1", integrations=["target", "a"]))
    assert store.references_to("target") == 2
    assert store.references_to("a") == 1
    store.append("b", lambda latest, n: new_version("b", "b2", integrations=[]))
    assert store.references_to("target") == 1
    assert store.existing(["a", "zzz", "target"]) == ["a", "target"]
    assert store.existing([]) == []


def test_artifacts_list_latest_versions_filtered_and_paged(store: SQLiteStore) -> None:
    for slug in ("c", "a", "b"):
        store.append(slug, lambda latest, n, slug=slug: new_version(slug, "1"))
    store.append("a", lambda latest, n: new_version("a", "2"))
    rows = store.artifacts()
    assert [(r.slug, r.latest_version) for r in rows] == [("a", 2), ("b", 1), ("c", 1)]
    assert [r.slug for r in store.artifacts(limit=1, offset=1)] == ["b"]
    assert store.artifacts(artifact_type="model") == []
    assert store.count() == 3


def test_api_keys_are_found_by_hash_and_revoked(store: SQLiteStore) -> None:
    store.add_api_key("key_1", "ci", "hash-1", "2026-11-01T12:00:00.000Z")
    record = store.api_key_by_hash("hash-1")
    assert record is not None and (record.key_id, record.revoked) == ("key_1", False)
    assert store.api_key_by_hash("other") is None
    assert store.revoke_api_key("key_1") is True
    assert store.revoke_api_key("key_2") is False
    assert [k.revoked for k in store.api_keys()] == [True]


def test_memory_store_numbers_concurrent_appends_the_same_way() -> None:
    memory = MemoryStore()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: memory.append("demo", always(str(i))), range(40)))
    assert [v.version for v in memory.versions("demo")] == list(range(1, 41))
