"""The search indexes stay fresh: a publish is searchable at once, in this process and in a
server process on the same data dir (keyword and dense alike); a republish replaces what was
indexed; a restart and ``capgraph index rebuild`` (even without the vector snapshot) give the
same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capgraph.search.documents import query_terms
from tests.conftest import Server
from tests.integration.conftest import client_for, invoke, running_server, write_manifest
from tests.integration.conftest import manifest as widget
from tests.searchkit import LUNAR_INTENT, demo_registry, posture_manifests, stable_search
from tests.unit.factories import capability, long_text, manifest, to_yaml
from tests.wire import resolve_json

# No word of this query (nor its stem) occurs in the savanna manifests: only the dense index
# can find them.
DENSE_ONLY = "recognise each wild horse in a herd from its pattern"
QUERIES = ["count the stripes on a zebra", DENSE_ONLY, LUNAR_INTENT, "look up a postcode",
           "measure crater rims", "tag the ears of an okapi"]


def savanna(slug: str, *, first: str = "zebra") -> dict[str, Any]:
    caps = {
        "zebra": capability("zebra", name="zebra stripe counting",
                            description=long_text("zebra stripe counting from safari photos"),
                            intents_served=["count the stripes on a zebra",
                                            "tell zebras apart by their stripes"],
                            categories=["image-visual"]),
        "okapi": capability("zebra", name="okapi ear tagging",
                            description=long_text("okapi ear tagging from camera traps"),
                            intents_served=["tag the ears of an okapi"],
                            categories=["image-visual"]),
    }
    data = manifest(capabilities=[
        caps[first],
        capability("giraffe", name="giraffe neck measuring",
                   description=long_text("giraffe neck measuring from drone footage"),
                   intents_served=["measure how tall a giraffe is"], categories=["image-visual"]),
        capability("hippo", name="hippo yawn detection",
                   description=long_text("hippo yawn detection in river videos"),
                   intents_served=["spot a yawning hippo"], categories=["image-visual"]),
    ])
    data["artifact"].update({"slug": slug, "name": f"Savanna {slug.title()}"})
    return data


def test_the_dense_only_query_shares_no_word_with_the_manifest() -> None:
    text = to_yaml(savanna("x")) + to_yaml(savanna("x", first="okapi"))
    assert not set(query_terms(DENSE_ONLY)) & set(query_terms(text))


def small_data_dir(path: Path) -> Path:
    """A data dir with a few small artifacts (rebuilding the demo corpus would re-embed tens
    of long texts; freshness does not need them)."""
    registry = demo_registry(path)
    try:
        for data in [*posture_manifests().values(), widget("postcodes")]:
            registry.publish(to_yaml(data))
    finally:
        registry.store.close()
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_data_dir(tmp_path_factory.mktemp("fresh") / "data")


def test_a_publish_is_searchable_at_once_in_process(tmp_path: Path) -> None:
    registry = demo_registry(small_data_dir(tmp_path / "data"))
    try:
        assert "savanna-local" not in [m.slug for m in registry.search(DENSE_ONLY).matches]
        registry.publish(to_yaml(savanna("savanna-local")))
        top = registry.search("count the stripes on a zebra").matches[0]
        assert (top.slug, top.capabilities[0].name) == ("savanna-local", "zebra stripe counting")
        assert "savanna-local" not in {s for s, _, _ in registry.keywords.search(
            query_terms(DENSE_ONLY), limit=500)}
        assert registry.search(DENSE_ONLY).matches[0].slug == "savanna-local"  # dense, fresh
        answer = resolve_json(registry, "tell zebras apart by their stripes")
        assert answer["resolved"][0]["artifact"]["slug"] == "savanna-local"
    finally:
        registry.store.close()


class Live:
    """A real server on the module's data dir that a test can restart."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._context: Any = None
        self.server: Server | None = None

    def start(self) -> None:
        self._context = running_server(self.data_dir)
        self.server, _ = self._context.__enter__()

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def search(self, q: str, **params: Any) -> dict[str, Any]:
        assert self.server is not None
        with client_for(self.server.url) as client:
            response = client.get("/api/v1/search", params={"q": q, **params})
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

    def resolve(self, intent: str) -> dict[str, Any]:
        assert self.server is not None
        with client_for(self.server.url) as client:
            response = client.post("/api/v1/resolve", json={"intent": intent})
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {q: stable_search(self.search(q, limit=10)) for q in QUERIES}


@pytest.fixture(scope="module")
def live(data_dir: Path) -> Iterator[Live]:
    server = Live(data_dir)
    server.start()
    yield server
    server.stop()


def _slugs(result: dict[str, Any]) -> list[str]:
    return [m["artifact"]["slug"] for m in result["matches"]]


def test_a_server_sees_a_cli_publish_on_the_same_data_dir(
        live: Live, data_dir: Path, tmp_path: Path) -> None:
    assert "savanna-cli" not in _slugs(live.search("count the stripes on a zebra"))
    path = write_manifest(tmp_path, "savanna.yml", savanna("savanna-cli"))
    out = invoke(data_dir, "publish", str(path)).stdout  # another process than the server's
    assert out.startswith("savanna-cli: version 1 (new version)")
    top = live.search("count the stripes on a zebra")["matches"][0]
    assert top["artifact"]["slug"] == "savanna-cli"
    assert top["capabilities"][0]["name"] == "zebra stripe counting"
    assert _slugs(live.search(DENSE_ONLY))[0] == "savanna-cli"  # its vectors reached the server
    assert live.resolve("tell zebras apart by their stripes")["resolved"][0]["artifact"][
        "slug"] == "savanna-cli"


def test_a_republish_with_a_changed_capability_drops_the_old_one(
        live: Live, data_dir: Path, tmp_path: Path) -> None:
    first = write_manifest(tmp_path, "v1.yml", savanna("savanna-edit"))
    invoke(data_dir, "publish", str(first))
    before = live.search("count the stripes on a zebra")["matches"][0]
    assert before["artifact"]["slug"] in {"savanna-edit", "savanna-cli"}
    second = write_manifest(tmp_path, "v2.yml", savanna("savanna-edit", first="okapi"))
    assert "version 2 (new version)" in invoke(data_dir, "publish", str(second)).stdout

    def caps_of(result: dict[str, Any], slug: str) -> set[str]:
        return {c["name"] for m in result["matches"] if m["artifact"]["slug"] == slug
                for c in m["capabilities"]}

    for q in ("count the stripes on a zebra", "zebra stripe counting", DENSE_ONLY):
        result = live.search(q, limit=20)
        assert "zebra stripe counting" not in caps_of(result, "savanna-edit"), q
    top = live.search("tag the ears of an okapi")["matches"][0]
    assert (top["artifact"]["slug"], top["capabilities"][0]["name"]) == \
        ("savanna-edit", "okapi ear tagging")
    answer = live.resolve("tell zebras apart by their stripes")  # the old declared intent
    offered = {(r["artifact"]["slug"], r["capability"]["name"]) for r in answer["resolved"]}
    assert ("savanna-edit", "zebra stripe counting") not in offered
    assert ("savanna-cli", "zebra stripe counting") in offered


def same_ranking(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]
                 ) -> bool:
    """The same artifacts and capabilities in the same order, scores within 0.01. A rebuilt
    keyword index holds only current documents, while an updated one still counts replaced
    documents in its BM25 statistics until its segments merge (docs/RESOLVE.md), so a score
    may move in the third decimal; nothing may change place, except two of an artifact's
    capabilities tied within that margin (which of them is listed first is then the noise)."""
    def in_order(x: list[tuple[Any, ...]], y: list[tuple[Any, ...]]) -> bool:
        if len(x) != len(y) or [m[0] for m in x] != [m[0] for m in y]:
            return False
        for mx, my in zip(x, y, strict=True):
            if abs(mx[1] - my[1]) > 0.01:
                return False
            mine, theirs = dict(mx[2]), dict(my[2])
            if mine.keys() != theirs.keys() or any(abs(mine[c] - theirs[c]) > 0.01
                                                   for c in mine):
                return False
            order = [c for c, _ in my[2]]
            for i, (first, _) in enumerate(mx[2]):
                for second, _ in mx[2][i + 1:]:
                    swapped = order.index(first) > order.index(second)
                    if swapped and abs(mine[first] - mine[second]) > 0.01:
                        return False
        return True

    return a.keys() == b.keys() and all(in_order(a[q], b[q]) for q in a)


def test_index_rebuild_gives_identical_results_even_without_the_snapshot(
        live: Live, data_dir: Path) -> None:
    def cli_search(q: str) -> list[tuple[Any, ...]]:
        return stable_search(json.loads(invoke(data_dir, "search", "--json", "--limit", "10",
                                               q).stdout))

    server_before = live.snapshot()
    cli_before = {q: cli_search(q) for q in QUERIES[:3]}
    status = invoke(data_dir, "index", "status").stdout
    assert "vectors" in status and "all-MiniLM-L6-v2" in status

    out = invoke(data_dir, "index", "rebuild")
    assert "reindexed" in out.stdout
    snapshot = data_dir / "index" / "vectors.npz"
    assert snapshot.exists()
    cli_rebuilt = {q: cli_search(q) for q in QUERIES[:3]}
    assert same_ranking(cli_rebuilt, cli_before)
    server_rebuilt = live.snapshot()
    assert same_ranking(server_rebuilt, server_before)  # the running server followed it

    snapshot.unlink()
    out = invoke(data_dir, "index", "rebuild")
    assert "reindexed" in out.stdout and snapshot.exists()
    assert {q: cli_search(q) for q in QUERIES[:3]} == cli_rebuilt  # exactly, this time
    assert live.snapshot() == server_rebuilt
    assert invoke(data_dir, "index", "status").stdout == status


def test_a_restart_gives_identical_results(live: Live, data_dir: Path) -> None:
    before = live.snapshot()
    assert _slugs(live.search(DENSE_ONLY))[0] in {"savanna-cli", "savanna-edit"}
    assert (data_dir / "index" / "vectors.npz").exists()  # written by the rebuild above
    live.stop()
    live.start()  # loads the snapshot, then replays what came after it
    assert live.snapshot() == before
