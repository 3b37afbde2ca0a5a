"""Helpers for the transparency-log integration tests: manifests with fresh slugs, an auditor
that rebuilds the log from what a server serves, checks on the SQLite tables, and the
tampering a malicious operator would do to them."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml

from capgraph.core import translog
from capgraph.core.canonical import canonical_bytes
from capgraph.core.checkpoint import Checkpoint, NoteVerifier, parse_checkpoint
from capgraph.core.offline import log_verifiers
from tests.conftest import DEMO


@cache
def _demo(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEMO / name).read_text(encoding="utf-8"))
    return data


def demo_manifest(slug: str, *, base: str = "docling.yml", revision: int = 0) -> str:
    """A valid demo manifest as YAML, under a new slug (and changed text for a revision)."""
    data = _demo(base)
    data = {**data, "artifact": {**data["artifact"], "slug": slug, "name": f"Test {slug}",
                                 "integrations": []}}
    if revision:
        data["artifact"]["description"] += f" Revision {revision}."
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH, written out independently of core/translog.py."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    level = list(leaf_hashes)
    # Bottom-up: pair neighbours, carry an odd last node up unchanged; equal to the recursive
    # split at the largest power of two for every size.
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def verifier_of(client: httpx.Client) -> NoteVerifier:
    response = client.get("/api/v1/trust-passport-public-key")
    assert response.status_code == 200
    found = log_verifiers(response.json())
    assert len(found) == 1
    return found[0]


def checkpoint(client: httpx.Client, verifier: NoteVerifier) -> Checkpoint:
    response = client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_checkpoint(response.text, verifier)


def entries(client: httpx.Client, size: int) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, size, 1000):
        end = min(start + 1000, size)
        response = client.get("/api/v1/log/entries", params={"start": start, "end": end})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["start"], body["end"]) == (start, end)
        out += [base64.b64decode(e, validate=True) for e in body["entries"]]
    assert len(out) == size
    return out


@dataclass
class Audit:
    head: Checkpoint
    entries: list[bytes]
    slugs: dict[str, int]
    """Every artifact with its number of versions."""
    ownership: list[dict[str, Any]]
    """The ownership entries (docs/OWNERSHIP.md), in log order."""

    @property
    def owner_set(self) -> dict[str, int]:
        """How many `owner-set` entries each slug has."""
        counts: dict[str, int] = {}
        for entry in self.ownership:
            if entry["event"] == "owner-set":
                counts[entry["slug"]] = counts.get(entry["slug"], 0) + 1
        return counts


def audit(client: httpx.Client, verifier: NoteVerifier) -> Audit:
    """Everything a third party can check over HTTP: the checkpoint's root is the MTH of the
    served entries, every version's log index holds exactly its passport's canonical bytes, and
    versions and entries are in one-to-one correspondence."""
    head = checkpoint(client, verifier)
    data = entries(client, head.size)
    assert mth([leaf(d) for d in data]) == head.root
    slugs: dict[str, int] = {}
    offset = 0
    while True:
        page = client.get("/api/v1/artifacts", params={"limit": 500, "offset": offset}).json()
        for row in page["artifacts"]:
            slugs[row["slug"]] = row["latestVersion"]
        if len(page["artifacts"]) < 500:
            break
        offset += 500
    seen: set[int] = set()
    for slug, latest in slugs.items():
        for number in range(1, latest + 1):
            envelope = client.get(f"/api/v1/artifacts/{slug}/versions/{number}").json()
            index = envelope["_log"]["index"]
            assert index not in seen, f"two versions share log index {index}"
            seen.add(index)
            assert data[index] == canonical_bytes(envelope["passport"]), (slug, number)
            proof = [base64.b64decode(h) for h in envelope["_log"]["inclusionProof"]]
            note_head = parse_checkpoint(envelope["_log"]["checkpoint"], verifier)
            translog.verify_inclusion(index, note_head.size, leaf(data[index]), proof,
                                      note_head.root)
    ownership = {i for i, d in enumerate(data) if ownership_entry(d) is not None}
    assert not seen & ownership, "a version's log index holds an ownership entry"
    assert seen | ownership == set(range(head.size)), "log entries and versions differ"
    return Audit(head, data, slugs, [e for d in data if (e := ownership_entry(d)) is not None])


def ownership_entry(data: bytes) -> dict[str, Any] | None:
    """The entry as an ownership change (docs/OWNERSHIP.md), or None for a passport entry."""
    entry = json.loads(data)
    if entry.get("kind") != "ownership":
        return None
    assert data == canonical_bytes(entry)
    assert set(entry) == {"kind", "event", "slug", "owner", "maintainers", "verification",
                          "by", "at"}, entry
    return dict(entry)


def audit_database(path: Path) -> int:
    """The SQLite tables agree: leaves 0..n-1 with no gap, one leaf per version and every
    other leaf an ownership entry, every stored node equal to the MTH of the leaves it covers.
    Returns n."""
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        leaves = [bytes(r[1]) for r in conn.execute(
            "SELECT idx, data FROM log_leaves ORDER BY idx")]
        indexes = [r[0] for r in conn.execute("SELECT idx FROM log_leaves ORDER BY idx")]
        n = len(leaves)
        assert indexes == list(range(n))
        versions = sorted(r[0] for r in conn.execute("SELECT log_index FROM versions"))
        others = [i for i in range(n) if ownership_entry(leaves[i]) is not None]
        assert sorted(versions + others) == list(range(n))
        for index, passport in conn.execute("SELECT log_index, passport FROM versions"):
            assert leaves[index] == canonical_bytes(json.loads(passport))
        hashes = [leaf(d) for d in leaves]
        nodes = {(lv, ix): bytes(h) for lv, ix, h in conn.execute(
            "SELECT level, idx, hash FROM log_nodes")}
        assert len(nodes) == 2 * n - bin(n).count("1")
        for (level, index), digest in nodes.items():
            width = 1 << level
            assert (index + 1) * width <= n
            assert digest == mth(hashes[index * width:(index + 1) * width])
        return n


def _rebuild_nodes(conn: sqlite3.Connection) -> None:
    """Recompute every stored node from the leaves, as an operator covering tracks would."""
    conn.execute("DELETE FROM log_nodes")
    nodes: dict[tuple[int, int], bytes] = {}
    for index, data in conn.execute("SELECT idx, data FROM log_leaves ORDER BY idx").fetchall():
        for level, ix, digest in translog.new_nodes(
                index, translog.leaf_hash(bytes(data)), lambda lv, i: nodes[(lv, i)]):
            nodes[(level, ix)] = digest
    conn.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                     [(lv, ix, h) for (lv, ix), h in nodes.items()])


def rewrite_entry(path: Path, index: int, data: bytes) -> None:
    """Replace one entry's leaf data and make the whole tree agree with it again."""
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("UPDATE log_leaves SET data = ? WHERE idx = ?",
                            (data, index)).rowcount == 1
        _rebuild_nodes(conn)


def truncate(path: Path, size: int) -> None:
    """Drop every entry from ``size`` on, with the versions they logged."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM log_leaves WHERE idx >= ?", (size,))
        conn.execute("DELETE FROM versions WHERE log_index >= ?", (size,))
        conn.execute("DELETE FROM artifacts WHERE slug NOT IN (SELECT slug FROM versions)")
        conn.execute("UPDATE artifacts SET latest_version = (SELECT max(version) FROM versions "
                     "WHERE versions.slug = artifacts.slug)")
        _rebuild_nodes(conn)
