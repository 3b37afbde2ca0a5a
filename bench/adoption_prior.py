"""The adoption prior (issue 16, point 3) on a constructed model hub: Recall@1 of resolve's
ranking with the prior and without it (``ADOPTION_PRIOR_WEIGHT`` 0, ranking as before the
prior), side by side in one run, on the same registry.

The hub is CONSTRUCTED here (no real hub data): for each of 6 tasks, 5 made-up models whose
Hugging Face model cards differ only in their name, size and the domain they were trained on;
each card carries ``downloads``/``likes``, which the model-card importer reads as *sourced*
counts (the same path as ``capgraph import``). Downloads are 40M, 3M, 250k, 20k, 1.5k, dealt
to a task's models in a seeded random order; likes are downloads / 1000.

Two kinds of query, labelled by rule, not by hand:
- generic: the task in plain words, naming no model or domain ("transcribe a recording to
  text"). Every model of the task does it; the label is the task's most-downloaded model, on
  the premise that on a hub a generic request is best served by the model most people use
  for it. That premise is ours; the numbers show what the prior does under it, not that it
  holds on a real hub.
- specific: the task plus the training domain of one model that is NOT the most downloaded
  ("transcribe courtroom recordings to text"). The label is that model: the prior must not
  take a clearly better text match away from it.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/adoption_prior.py [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from capgraph.bootstrap import assemble_registry
from capgraph.registry import Registry
from capgraph.search import engine
from capgraph.search.embedding import MiniLMEmbedder
from capgraph.storage.keystore import FileKeyStore
from capgraph.storage.memory import MemoryStore

SWEEP = [0.0, 0.03, 0.05, 0.1, 0.2, 0.4]  # adoption prior weights, 0 = without the prior
DOWNLOADS = [40_000_000, 3_000_000, 250_000, 20_000, 1_500]
ORGS = ["northwind-ai", "quarry-labs", "tessel", "brightfold", "oxbow-research"]
SIZES = ["small", "base", "large", "medium", "tiny"]
# pipeline tag, the task in words, 5 training domains, generic queries, specific query form
TASKS: list[tuple[str, str, list[str], list[str], str]] = [
    ("automatic-speech-recognition", "speech recognition",
     ["courtroom recordings", "call-centre audio", "medical dictation", "radio broadcasts",
      "classroom lectures"],
     ["transcribe a recording to text", "speech to text model", "turn spoken audio into text"],
     "transcribe {domain} to text"),
    ("summarization", "summarisation",
     ["legal contracts", "scientific papers", "news articles", "meeting minutes",
      "customer reviews"],
     ["summarise a long document", "make a short summary of this text",
      "condense text into key points"],
     "summarise {domain}"),
    ("translation", "translation",
     ["patent filings", "video game dialogue", "pharmaceutical leaflets", "tourism brochures",
      "software manuals"],
     ["translate text into another language", "machine translation model",
      "translate this paragraph"],
     "translate {domain}"),
    ("text-to-image", "image generation",
     ["architectural sketches", "botanical illustrations", "pixel-art sprites",
      "fashion lookbooks", "comic panels"],
     ["generate an image from a prompt", "text to image model", "draw a picture from words"],
     "generate {domain} from a prompt"),
    ("object-detection", "object detection",
     ["warehouse pallets", "traffic cameras", "satellite imagery", "retail shelves",
      "wildlife camera traps"],
     ["find and box objects in a photo", "object detection model",
      "locate objects in an image"],
     "detect objects in {domain}"),
    ("sentence-similarity", "sentence embeddings",
     ["legal case law", "e-commerce product titles", "biomedical abstracts",
      "support tickets", "source code comments"],
     ["embed sentences to compare their meaning", "sentence similarity model",
      "find sentences with the same meaning"],
     "compare the meaning of {domain}"),
]


def model_card(org: str, name: str, task: str, words: str, size: str, domain: str,
               downloads: int) -> str:
    return (f"---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: {task}\n"
            f"downloads: {downloads}\nlikes: {downloads // 1000}\n---\n\n# {org}/{name}\n\n"
            f"{name} is a {size} {words} model trained on {domain}. It was evaluated on a "
            f"held-out set of {domain} and released under the Apache licence.\n")


def build(registry: Registry, seed: int) -> list[tuple[str, str, str]]:
    """Import the hub; (kind, query, expected slug) per query."""
    rng = random.Random(seed)
    queries: list[tuple[str, str, str]] = []
    for t, (task, words, domains, generic, specific) in enumerate(TASKS):
        counts = DOWNLOADS[:]
        rng.shuffle(counts)
        slugs = []
        for i, (org, size, domain) in enumerate(zip(ORGS, SIZES, domains, strict=True)):
            name = f"{words.split()[0][:5]}-{t}{i}-{size}"
            url = f"https://huggingface.co/{org}/{name}"
            card = model_card(org, name, task, words, size, domain, counts[i])
            outcome = registry.import_document(card.encode(), source_url=url)
            if outcome.counts().get("new") != 1:
                raise SystemExit(f"import of {url} did not create it: {outcome.counts()}")
            slugs.append(f"{org}-{name}".lower())
        top = max(range(5), key=lambda i: counts[i])
        queries += [("generic", q, slugs[top]) for q in generic]
        queries += [("specific", specific.format(domain=domains[i]), slugs[i])
                    for i in range(5) if i != top]
    return queries


def recall_at_1(registry: Registry, queries: list[tuple[str, str, str]]
                ) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in ("generic", "specific"):
        rows = [(q, want) for k, q, want in queries if k == kind]
        hits = 0
        for q, want in rows:
            first = next(registry.engine.ranked(q, artifact_type="model"), None)
            hits += first is not None and first.card.slug == want
        out[kind] = {"queries": len(rows), "hits": hits, "r_at_1": round(hits / len(rows), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry = assemble_registry(store=MemoryStore(), keys=FileKeyStore(Path(tmp) / "k"),
                                     registry_name="bench", public_url="http://bench.test",
                                     embedder=MiniLMEmbedder(threads=1))
        queries = build(registry, args.seed)
        slugs = {s for _, _, s in queries}
        missing = [s for s in slugs if registry.engine.card(s) is None]
        if missing:
            raise SystemExit(f"expected slugs not in the registry: {missing}")
        with_prior = recall_at_1(registry, queries)
        weight, bound = engine.ADOPTION_PRIOR_WEIGHT, engine.MAX_PRIOR
        sweep: dict[str, Any] = {}
        try:  # 0: ranking as before the prior; larger weights show what the bound buys
            for w in SWEEP:
                engine.ADOPTION_PRIOR_WEIGHT, engine.MAX_PRIOR = w, engine.PRIOR_WEIGHT + w
                sweep[str(w)] = recall_at_1(registry, queries)
        finally:
            engine.ADOPTION_PRIOR_WEIGHT, engine.MAX_PRIOR = weight, bound
        registry.store.close()
    result = {"models": 5 * len(TASKS), "seed": args.seed, "adoption_prior_weight": weight,
              "with_prior": with_prior, "without_prior": sweep["0.0"], "sweep": sweep}
    json.dump(result, sys.stdout, indent=1)
    print()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
