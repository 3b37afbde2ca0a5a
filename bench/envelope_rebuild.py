"""Latest envelopes after a write: the old caches against the new, in one run.

Before (the code of main before issue 15 point 6, copied below as ``Before*``): the latest
envelope was cached per slug until any write, then built again, and building one signs the
checkpoint of its own tree size (index + 1); checkpoints were cached in a dict cleared all at
once past 1,024 sizes, so with more artifacts than that every rebuild signed a note.
After (``registry/reading.py``, ``registry/translog.py``): envelopes are also kept per
(slug, version) (they never change), so after a write a slug costs one read of its latest
version; checkpoints are an LRU.

On one SQLite registry with N artifacts (embedder off): both readers warm every latest
envelope, then each round publishes one manifest (every process's latest cache is now stale)
and each reader serves all N latest envelopes again, timed, alternating which goes first.
Both readers' answers are compared byte for byte.

Usage: .venv/bin/python bench/envelope_rebuild.py [-n 1500] [--rounds 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from capgraph.bootstrap import build_registry
from capgraph.config import Settings
from capgraph.core import translog
from capgraph.core.checkpoint import Checkpoint
from capgraph.registry import Registry
from capgraph.registry import translog as registry_translog
from capgraph.registry.reading import Reading
from capgraph.registry.translog import TransparencyLog

DEMO = Path(__file__).resolve().parents[1] / "src" / "capgraph" / "demo" / "manifests"
SIGNED = {"n": 0}
_sign = registry_translog.sign_checkpoint


def counted_sign(head: Checkpoint, key: Any, *, name: str) -> str:
    SIGNED["n"] += 1
    return _sign(head, key, name=name)


registry_translog.sign_checkpoint = counted_sign  # both readers' notes are counted


class BeforeLog(TransparencyLog):
    """``checkpoint_at`` as it was: a dict of signed notes, cleared past 1,024."""

    def checkpoint_at(self, size: int) -> tuple[Checkpoint, str]:
        old: dict[int, tuple[Checkpoint, str]] = self.__dict__.setdefault("_old", {})
        cached = old.get(size)
        if cached is not None:
            return cached
        key, origin = self._log_identity()
        head = Checkpoint(origin, size, translog.tree_hash(self._store.log_node, size))
        note = registry_translog.sign_checkpoint(head, key, name=origin)
        if len(old) > 1024:
            old.clear()
        old[size] = (head, note)
        return head, note


class BeforeReading(Reading):
    """``envelope_bytes`` as it was: latest per slug until any write, nothing per version."""

    def envelope_bytes(self, slug: str, base_url: str, *, version: int | None = None) -> bytes:
        if version is not None or base_url.rstrip("/") != self._public_url:
            return self._envelope(self.passport(slug, version=version), base_url)
        generation = self._store.generation()
        cached = self._envelopes.get(slug)
        if cached is not None and cached[0] == generation:
            return cached[1]
        data = self._envelope(self.passport(slug), base_url)
        self._envelopes[slug] = (generation, data)
        return data


def manifests(n: int) -> list[str]:
    base = [yaml.safe_load(p.read_text()) for p in sorted(DEMO.glob("*.yml"))]
    out = []
    for i in range(n):
        data = copy.deepcopy(base[i % len(base)])
        data["artifact"]["slug"] = f"{data['artifact']['slug']}-{i}"
        data["artifact"]["name"] = f"{data['artifact']['name']} {i}"
        out.append(yaml.safe_dump(data, sort_keys=False))
    return out


def serve_all(reading: Reading, slugs: list[str], base: str) -> tuple[float, list[bytes]]:
    started = time.perf_counter()
    bodies = [reading.envelope_bytes(slug, base) for slug in slugs]
    return time.perf_counter() - started, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), embedder="none")
        registry: Registry = build_registry(settings)
        texts = manifests(args.n + args.rounds)
        started = time.perf_counter()
        for text in texts[:args.n]:
            registry.publish(text, hint="yaml")
        print(f"published {args.n} manifests in {time.perf_counter() - started:.1f} s")
        base = registry.public_url
        slugs = [f"{yaml.safe_load(t)['artifact']['slug']}" for t in texts[:args.n]]
        store, keys = registry.store, registry.keys
        log = registry._log
        before = BeforeReading(store=store, log=BeforeLog(store=store, keys=keys,
                                                          origin=log.origin, now=log._now),
                               public_url=base)
        after = Reading(store=store, log=TransparencyLog(store=store, keys=keys,
                                                         origin=log.origin, now=log._now),
                        public_url=base)
        serve_all(before, slugs, base)
        serve_all(after, slugs, base)
        rows: list[dict[str, Any]] = []
        for round_ in range(args.rounds):
            registry.publish(texts[args.n + round_], hint="yaml")  # every latest cache is stale
            order = [("before", before), ("after", after)]
            if round_ % 2:
                order.reverse()
            bodies: dict[str, list[bytes]] = {}
            for name, reading in order:
                signed = SIGNED["n"]
                seconds, bodies[name] = serve_all(reading, slugs, base)
                rows.append({"round": round_ + 1, "reader": name, "seconds": seconds,
                             "us_per_envelope": seconds / args.n * 1e6,
                             "notes_signed": SIGNED["n"] - signed})
                print(f"round {round_ + 1} {name:6} {seconds:7.3f} s for {args.n} latest "
                      f"envelopes ({seconds / args.n * 1e6:7.1f} us each), "
                      f"{SIGNED['n'] - signed} checkpoints signed")
            assert bodies["before"] == bodies["after"], "the two readers disagree"
        registry.close()
    median = {name: statistics.median(r["seconds"] for r in rows if r["reader"] == name)
              for name in ("before", "after")}
    ratio = median["before"] / median["after"]
    print(f"median: before {median['before']:.3f} s, after {median['after']:.3f} s; "
          f"before / after = {ratio:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "rows": rows, "median_s": median,
                                         "before_over_after": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
