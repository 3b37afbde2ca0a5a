"""Explore cheap changes that could lift Recall@1 on the MetaTool single-tool dev set.

    .venv/bin/python bench/explore_recall.py queries --part 0 --parts 2   # and --part 1 (~2 min)
    .venv/bin/python bench/explore_recall.py queries --stripped --part 0 --parts 2  # optional
    .venv/bin/python bench/explore_recall.py corpus   # registry vectors, text variants, BM25
    .venv/bin/python bench/explore_recall.py run [--json OUT]   # every variant, ~1 min
    .venv/bin/python bench/explore_recall.py keyword [--json OUT]  # keyword sides, ~2 min

Query and corpus embeddings come from the project's own ``MiniLMEmbedder`` (each text embedded
alone, as ``SearchEngine.candidates`` embeds a query) and are cached in ``/tmp/explore``; the
dev set is read from ../shared/eval at run time. Everything after the embeddings is a matrix
simulation of ``SearchEngine.candidates`` (checked against ``capgraph eval``: the FTS5 keyword
side gives its 0.570 / 0.788 / 0.708 exactly). Parameters are tuned on the even-indexed single
queries; each row reports even / odd / all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "metatool"
CACHE = Path("/tmp/explore")
sys.path.insert(0, str(ROOT / "src"))

from capgraph.cli.evaluate import load_corpus  # noqa: E402
from capgraph.registry.indexing import write_index  # noqa: E402
from capgraph.search.corpus import body_from_entry  # noqa: E402
from capgraph.search.documents import SearchDoc, documents_for, query_terms  # noqa: E402
from capgraph.search.embedding import MiniLMEmbedder  # noqa: E402
from capgraph.search.keyword import KeywordIndex  # noqa: E402
from capgraph.storage.memory import MemoryStore  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Query-side normalisation: generic request boilerplate at the start ("Can you please",
# "I'm looking for a tool that", "Hello, chatbot!") and a trailing "can you help me with that?".
_LEAD = re.compile(
    r"^(?:(?:hey|hi|hello)(?: there)?(?:[,!]?\s*(?:chatbot|assistant|bot))?\s*[,!.:]+\s*"
    r"|(?:can|could|would|will) you(?: please)?(?: help me(?: (?:in|with|to))?)?\s+"
    r"|please\s+"
    r"|i(?:'m| am) looking for (?:a |an |some )?"
    r"(?:(?:tool|app|plugin|service|way)s? (?:that|which|to) (?:can |will )?)?"
    r"|(?:is|are) there (?:a|an|any|some) "
    r"(?:(?:tool|app|plugin|service|resource|website|way)s? )?(?:that|which|to|for)?\s*"
    r"(?:can |will |could )?"
    r"|i (?:need|want|would like|'d like)(?: you)? to\s+"
    r"|i (?:need|want) (?:a|an|some) (?:tool|app|plugin|service|way)s? (?:that|which|to|for) "
    r"(?:can |will )?"
    r"|help me(?: to)?\s+)",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"[,.!?]?\s*(?:(?:can|could|would) you(?: please)? (?:help|assist) me"
    r"(?: with (?:that|this|it))?|any (?:ideas|suggestions|recommendations))\s*[?.!]*$",
    re.IGNORECASE,
)


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def single_queries() -> list[dict]:
    return [q for q in load_jsonl(EVAL / "queries.jsonl") if q.get("subset") == "single"]


def embed_one_by_one(embedder: MiniLMEmbedder, texts: list[str]) -> np.ndarray:
    """Each text alone, as a query is embedded at search time (int8 dynamic quantisation sees
    the padded batch, so a batch would not give exactly the production vector)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = embedder.embed([text])[0]
    return out


def strip_boilerplate(text: str) -> str:
    """A query without generic request phrasing around what is asked for."""
    out = _TAIL.sub("", text.strip()).strip() or text.strip()
    prev = None
    while prev != out:
        prev = out
        out = _LEAD.sub("", out, count=1).strip()
    if len(out) < 8:
        return text.strip()
    return out[0].upper() + out[1:]


def cache_queries(part: int, parts: int, *, normalized: bool = False) -> None:
    """Embed a slice of the single queries; ``normalized``: only those that
    ``strip_boilerplate`` changes, stripped (the others keep their vectors)."""
    rows = single_queries()
    lo, hi = part * len(rows) // parts, (part + 1) * len(rows) // parts
    texts = [query_text(q) for q in rows[lo:hi]]
    CACHE.mkdir(exist_ok=True)
    embedder = MiniLMEmbedder(threads=1)
    if not normalized:
        np.save(CACHE / f"queries_{part}_of_{parts}.npy", embed_one_by_one(embedder, texts))
        return
    changed = [i for i, t in enumerate(texts) if strip_boilerplate(t) != t]
    vecs = embed_one_by_one(embedder, [strip_boilerplate(texts[i]) for i in changed])
    np.savez(CACHE / f"stripped_{part}_of_{parts}.npz", rows=np.array(changed) + lo, vecs=vecs)


def query_text(row: dict) -> str:
    return str(row["query"])[:500].ljust(2).strip()


def docs_of(entries: list[dict]) -> list[SearchDoc]:
    """The search document of each corpus artifact (one capability each), as publish makes it."""
    out = []
    for entry in entries:
        body = body_from_entry(entry, version="x")
        out.extend(documents_for(body, summary=entry.get("description") or None))
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= 8]


def baseline_texts(doc: SearchDoc) -> tuple[str, str]:
    """``SearchDoc.dense_texts`` as shipped: (name. summary. intents, ... + body)."""
    short = ". ".join(p for p in (doc.name, doc.summary, doc.intents) if p)
    return short, ". ".join(p for p in (doc.name, doc.summary, doc.intents, doc.body) if p)


def proposed_texts(doc: SearchDoc) -> tuple[str, str]:
    """The winner: no name, summary and description embedded apart (still averaged)."""
    short = ". ".join(p for p in (doc.summary, doc.intents) if p) or doc.body or doc.name
    return short, doc.body or short


def variant_texts(doc: SearchDoc) -> list[str]:
    """Every text a variant may embed for one capability."""
    texts = [*baseline_texts(doc), *proposed_texts(doc), doc.name, doc.summary, doc.body,
             f"{doc.summary}. {doc.body}", f"{doc.name}. {doc.summary}",
             f"{doc.name}. {doc.body}", *sentences(doc.summary), *sentences(doc.body)]
    return list(dict.fromkeys(t for t in texts if t))


def score_matrix(slugs: list[str], queries: list[str],
                 hits: Callable[[list[str]], Iterable[tuple[str, float]]]) -> np.ndarray:
    """queries x artifacts: each query's content words (``query_terms``) given to ``hits``,
    which answers (slug, score) pairs; queries without content words score nothing."""
    col = {s: i for i, s in enumerate(slugs)}
    out = np.zeros((len(queries), len(slugs)), dtype=np.float32)
    for i, text in enumerate(queries):
        terms = query_terms(text)
        if terms:
            for slug, score in hits(terms):
                out[i, col[slug]] = score
    return out


def keyword_scores(docs: list[SearchDoc], slugs: list[str], queries: list[str]) -> np.ndarray:
    """BM25 of every (query, artifact) from src's own keyword index (search/keyword.py), in
    memory: one document per artifact, as MetaTool has one capability each."""
    store = MemoryStore()
    with store.write() as tx:
        for slug, doc in zip(slugs, docs, strict=True):
            write_index(tx, slug, "api", [doc], None)
    index = KeywordIndex(store)
    return score_matrix(slugs, queries, lambda terms: (
        (slug, score) for slug, _, score in index.search(terms, limit=len(slugs))))


def fts5_scores(docs: list[SearchDoc], slugs: list[str], queries: list[str]) -> np.ndarray:
    """BM25 of every (query, artifact) as the SQLite FTS5 keyword side that shipped the 0.570
    baseline computes it (storage/sqlite.py: porter tokenizer, weights 3/2/1/1, any word)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(slug UNINDEXED, name, intents, body, "
                 "artifact, tokenize = 'porter unicode61')")
    conn.executemany("INSERT INTO fts VALUES (?, ?, ?, ?, ?)",
                     [(s, d.name, d.intents, d.body, d.artifact)
                      for s, d in zip(slugs, docs, strict=True)])

    def hits(terms: list[str]) -> list[tuple[str, float]]:
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return conn.execute(
            "SELECT slug, -bm25(fts, 0, 3.0, 2.0, 1.0, 1.0) FROM fts WHERE fts MATCH ?",
            [match]).fetchall()

    return score_matrix(slugs, queries, hits)


SESSION2_BOOSTS = {"name": 3.0, "intents": 2.0, "body": 1.0, "artifact": 1.0}


def per_field_scores(docs: list[SearchDoc], slugs: list[str], queries: list[str], *,
                     fts5_idf: bool = False) -> np.ndarray:
    """BM25 of every (query, artifact) as session 2 shipped it: one tantivy BM25 per field,
    summed with boosts 3/2/1/1. With ``fts5_idf`` each query term is also boosted by the
    ratio of FTS5's idf, log((N - n + 0.5) / (n + 0.5)) floored at 1e-6, to Lucene's,
    log(1 + (N - n + 0.5) / (n + 0.5)) (n: documents holding the term in any field), to test
    whether idf is what FTS5 did better."""
    import math

    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("slug", stored=True, tokenizer_name="raw")
    for field in SESSION2_BOOSTS:
        builder.add_text_field(field, tokenizer_name="en_stem", index_option="freq")
    index = tantivy.Index(builder.build())
    writer = index.writer(50_000_000, 1)
    for slug, d in zip(slugs, docs, strict=True):
        writer.add_document(tantivy.Document(slug=slug, name=d.name, intents=d.intents,
                                             body=d.body, artifact=d.artifact))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    total = searcher.num_docs
    stem = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(
        tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase()).filter(
        tantivy.Filter.stemmer("english")).build()
    fields = list(SESSION2_BOOSTS)

    def hits(terms: list[str]) -> list[tuple[str, float]]:
        if not fts5_idf:
            query = index.parse_query(" ".join(terms), fields, field_boosts=SESSION2_BOOSTS)
        else:
            parts = []
            for term in terms:
                stems = stem.analyze(term)
                n = max(searcher.doc_freq(f, stems[0]) for f in fields) if stems else 0
                if not n:
                    continue
                ratio = max(1e-6, math.log((total - n + 0.5) / (n + 0.5))) / math.log(
                    1 + (total - n + 0.5) / (n + 0.5))
                parts.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                    index.parse_query(term, fields, field_boosts=SESSION2_BOOSTS), ratio)))
            if not parts:
                return []
            query = tantivy.Query.boolean_query(parts)
        return [(str(searcher.doc(address)["slug"][0]), score)
                for score, address in searcher.search(query, len(slugs), count=False).hits]

    return score_matrix(slugs, queries, hits)


def run_keyword(out: Path | None) -> None:
    """The keyword side, each fused with the shipped dense texts as the engine fuses."""
    data = Data()
    bench = Bench(data)
    dense = data.q @ mean_of(data, proposed_texts).T
    print(f"{'variant':40} {'keyword':7} {'even R@1/R@5/nDCG':17}  {'odd':17}  {'all':17}"
          "  R@1: merged-gold other-gold macro")
    sides = {
        "SQLite FTS5 (session 1)": data.keyword_fts,
        "tantivy, per-field sum (session 2)": per_field_scores(data.docs, data.slugs,
                                                               data.queries),
        "per-field sum, FTS5's idf per term": per_field_scores(data.docs, data.slugs,
                                                               data.queries, fts5_idf=True),
        "tantivy BM25F (shipped: search/keyword.py)": keyword_scores(data.docs, data.slugs,
                                                                     data.queries),
    }
    for name, matrix in sides.items():
        for alpha in (0.85, 0.9, 0.925):
            bench.report(name, fuse(dense, matrix, alpha=alpha, prior=data.prior),
                         keyword="-", params=f"alpha={alpha}")
    if out is not None:
        out.write_text(json.dumps(bench.rows, indent=1))


def _trust_score(stored: Any) -> float:
    return float(json.loads(stored.passport)["unfragile"]["trust"]["score"])


def cache_corpus() -> None:
    """The production capability vectors (through ``load_corpus``, as ``capgraph eval`` builds
    them), every variant text embedded alone, and the keyword scores of every query."""
    entries = load_jsonl(EVAL / "corpus.jsonl")
    embedder = MiniLMEmbedder(threads=2)
    with tempfile.TemporaryDirectory() as keys:
        registry, slug_of = load_corpus(entries, keys_dir=Path(keys), embedder=embedder)
        # Read through the Store port (the vector log), not the index's internals.
        rows: dict[str, np.ndarray] = {}
        for _, slug, _, _, vec in registry.store.vector_changes(0, limit=1_000_000):
            if vec is not None:
                rows[slug] = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
        slugs = [slug_of[str(e["slug"])] for e in entries]
        prod = np.stack([rows[s] for s in slugs])
        prior = np.array([_trust_score(registry.store.latest(s)) for s in slugs],
                         dtype=np.float32)
    docs = docs_of(entries)
    texts = list(dict.fromkeys(t for d in docs for t in variant_texts(d)))
    vecs = embed_one_by_one(embedder, texts)
    queries = [query_text(q) for q in single_queries()]
    np.save(CACHE / "generic.npy", embed_one_by_one(embedder, list(GENERIC_QUERIES)))
    np.savez(CACHE / "corpus.npz", prod=prod, prior=prior, slugs=np.array(slugs),
             texts=np.array(texts), text_vecs=vecs,
             keyword=keyword_scores(docs, slugs, queries),
             keyword_fts=fts5_scores(docs, slugs, queries))


# -- scoring -----------------------------------------------------------------------------------
DENSE_K = 100  # engine.py: the dense index returns the top 100


class Data:
    """The cached matrices: queries x artifacts, in corpus order."""

    def __init__(self) -> None:
        rows = single_queries()
        parts = sorted(CACHE.glob("queries_*_of_*.npy"), key=lambda p: int(p.stem.split("_")[1]))
        self.q = np.concatenate([np.load(p) for p in parts])
        assert len(self.q) == len(rows), "query cache incomplete: run the queries step"
        cached = np.load(CACHE / "corpus.npz")
        self.slugs = [str(s) for s in cached["slugs"]]
        self.prod = cached["prod"]
        self.prior = cached["prior"]
        self.keyword = cached["keyword"]  # tantivy, as src is moving to
        self.keyword_fts = cached["keyword_fts"]  # SQLite FTS5, the 0.570 baseline
        self.text_vec = dict(zip((str(t) for t in cached["texts"]), cached["text_vecs"],
                                 strict=True))
        self.generic = np.load(CACHE / "generic.npy")
        self.entries = load_jsonl(EVAL / "corpus.jsonl")
        self.docs = docs_of(self.entries)
        col = {str(e["slug"]): i for i, e in enumerate(self.entries)}
        self.gold = np.array([col[q["relevant"][0]] for q in rows])
        self.queries = [query_text(q) for q in rows]
        self.even = np.arange(0, len(rows), 2)
        self.odd = np.arange(1, len(rows), 2)

    def vec(self, text: str) -> np.ndarray:
        return self.text_vec[text]


def gold_rank(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """0-based rank of the relevant artifact (ties counted against it)."""
    g = scores[np.arange(len(gold)), gold][:, None]
    return (scores > g).sum(axis=1) + ((scores == g).sum(axis=1) - 1) // 2


def metrics(rank: np.ndarray) -> dict[str, float]:
    return {
        "r1": float((rank == 0).mean()),
        "r5": float((rank < 5).mean()),
        "ndcg": float(np.where(rank < 10, 1 / np.log2(rank + 2), 0.0).mean()),
    }


def with_floor(dense: np.ndarray, keyword: np.ndarray) -> np.ndarray:
    """What the engine sees: cosines of the dense top-100 and of keyword finds; the others
    (found by neither) get the lowest cosine seen, as ``SearchEngine.candidates`` does."""
    n = dense.shape[1]
    if n <= DENSE_K:
        return dense
    kth = np.partition(dense, n - DENSE_K, axis=1)[:, n - DENSE_K][:, None]
    seen = (dense >= kth) | (keyword > 0)
    floor = np.where(seen, dense, np.inf).min(axis=1, keepdims=True)
    return np.where(seen, dense, floor)


def fuse(dense: np.ndarray, keyword: np.ndarray, *, alpha: float, norm: str = "top",
         prior: np.ndarray | None = None) -> np.ndarray:
    """relevance = alpha x dense + (1 - alpha) x keyword part, as in engine.py for ``top``."""
    if norm == "top":
        top = keyword.max(axis=1, keepdims=True)
        kw = keyword / np.where(top > 0, top, 1.0)
        out = alpha * with_floor(dense, keyword) + (1 - alpha) * kw
    elif norm == "z":
        def z(m: np.ndarray) -> np.ndarray:
            return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-9)
        out = alpha * z(dense) + (1 - alpha) * z(keyword)
    elif norm == "minmax":
        def mm(m: np.ndarray) -> np.ndarray:
            lo, hi = m.min(axis=1, keepdims=True), m.max(axis=1, keepdims=True)
            return (m - lo) / np.where(hi > lo, hi - lo, 1.0)
        out = alpha * mm(dense) + (1 - alpha) * mm(keyword)
    elif norm.startswith("rrf"):
        k = float(norm[3:])
        rd = np.argsort(np.argsort(-dense, axis=1), axis=1)
        rk = np.argsort(np.argsort(-keyword, axis=1), axis=1)
        out = alpha / (k + rd) + (1 - alpha) * np.where(keyword > 0, 1 / (k + rk), 0.0)
    else:
        raise ValueError(norm)
    if prior is not None:
        out = out + 0.05 * prior / 100
    return out


# Reference queries for the query-side hubness estimate: written for this script, not taken
# from the dev set; everyday requests of an assistant's user, across many domains.
GENERIC_QUERIES = (
    "What's the weather going to be like this weekend?",
    "Find me a cheap flight to Lisbon in March.",
    "Translate this paragraph into Spanish.",
    "Summarize this article for me.",
    "Help me write a cover letter for a marketing job.",
    "What are the latest headlines today?",
    "Convert 250 dollars to yen.",
    "Recommend a good science fiction novel.",
    "How do I fix a leaking kitchen tap?",
    "Plan a three-day itinerary for Rome.",
    "What stocks are trending right now?",
    "Create a workout plan for beginners.",
    "Suggest a healthy dinner recipe with chicken.",
    "Book a table for two at an Italian restaurant tonight.",
    "Explain how photosynthesis works.",
    "Generate an image of a sunset over the mountains.",
    "Check my essay for grammar mistakes.",
    "What's a good name for my bakery?",
    "Find apartments for rent near downtown.",
    "What movies are playing this week?",
    "Set a reminder to call my mother on Sunday.",
    "Give me tips to improve my sleep.",
    "Search for research papers about climate change.",
    "What is the population of Canada?",
    "Help me debug this Python function.",
    "Draft a polite email declining a meeting.",
    "Compare the prices of two laptops.",
    "Find a podcast about history.",
    "What should I buy my sister for her birthday?",
    "Tell me a joke.",
    "How many calories are in a banana?",
    "Look up the lyrics of a popular song.",
    "Find job openings for data analysts in Berlin.",
    "What time is it in Tokyo?",
    "Calculate the monthly payment on a mortgage.",
    "Make a shopping list for a week of meals.",
    "Show me the route to the nearest gas station.",
    "I want to learn to play the guitar.",
    "Which wine goes well with salmon?",
    "What are the symptoms of the flu?",
    "Design a logo for my startup.",
    "Write a short poem about autumn.",
    "Analyze the sales data in this spreadsheet.",
    "What are the rules of chess?",
    "Find hiking trails near me.",
    "Track the package I ordered last week.",
    "Explain the difference between stocks and bonds.",
    "Help me prepare for a job interview.",
    "What events are happening in London this weekend?",
    "Give me a fun fact about space.",
    "Recommend a laptop for video editing.",
    "How do I grow tomatoes on a balcony?",
    "Read this PDF and answer my questions about it.",
    "Make a chart of my monthly expenses.",
    "What does this legal clause mean?",
    "Find a dentist who takes new patients.",
    "Suggest some music for studying.",
    "Organize my tasks for the week.",
    "What are good stretches for back pain?",
    "Find online courses about machine learning.",
    "Check whether this website is safe.",
    "Plan a birthday party for a ten year old.",
    "How much is a used car worth?",
    "What's the best way to save for retirement?",
    "Rewrite this text so it sounds more professional.",
    "Find the opening hours of the local library.",
    "Which games are popular right now?",
    "Teach me some basic French phrases.",
    "Give me a quote to motivate me.",
    "Find hotels with a pool in Miami.",
    "Who won the football match last night?",
    "Explain this error message.",
    "Recommend a TV series like a crime drama.",
    "What are the visa requirements for Japan?",
    "Estimate the carbon footprint of my flight.",
    "Find a charity that helps animals.",
    "Create flashcards for my biology exam.",
    "What's my horoscope for today?",
    "Post an update to my social media accounts.",
    "Automate sending a weekly report by email.",
)


# -- variants -----------------------------------------------------------------------------------
def unit(m: np.ndarray) -> np.ndarray:
    out: np.ndarray = m / np.linalg.norm(m, axis=-1, keepdims=True)
    return out


def mean_of(data: Data, texts_of: Callable[[SearchDoc], tuple[str, ...]]) -> np.ndarray:
    """Capability vectors = mean of the embeddings of each doc's texts (as ``Registry._embed``)."""
    return np.stack([np.mean([data.vec(t) for t in texts_of(d)], axis=0) for d in data.docs])


def sentence_max(data: Data) -> np.ndarray:
    """Per query and capability, the best cosine over the sentences of summary and body."""
    cols, vecs = [], []
    for j, d in enumerate(data.docs):
        for s in dict.fromkeys(sentences(d.summary) + sentences(d.body)) or [d.summary]:
            cols.append(j)
            vecs.append(data.vec(s))
    scores = data.q @ np.stack(vecs).T
    starts = np.searchsorted(np.array(cols), np.arange(len(data.docs)))
    out: np.ndarray = np.maximum.reduceat(scores, starts, axis=1)
    return out


def hub_penalty(ref: np.ndarray, caps: np.ndarray, k: int, *, self_ref: bool = False
                ) -> np.ndarray:
    """CSLS-style: each capability's mean similarity to its k most similar reference vectors
    (``self_ref``: the references are the capabilities themselves, minus each one)."""
    sims = ref @ caps.T
    if self_ref:
        np.fill_diagonal(sims, -np.inf)
    top: np.ndarray = -np.sort(-sims, axis=0)[:k]
    return top.mean(axis=0)


class Bench:
    """Scores variants: fuses a dense matrix with a keyword side, tunes on even queries."""

    def __init__(self, data: Data) -> None:
        self.data = data
        self.rows: list[dict] = []
        merged = np.array(["merged-tool" in e.get("tags", []) for e in data.entries])
        self.merged_gold = merged[data.gold]

    def report(self, name: str, scores: np.ndarray, *, keyword: str, params: str = "") -> dict:
        d = self.data
        rank = gold_rank(scores, d.gold)
        per_tool = [float((rank[d.gold == j] == 0).mean()) for j in np.unique(d.gold)]
        row = {"variant": name, "keyword": keyword, "params": params,
               "even": metrics(rank[d.even]), "odd": metrics(rank[d.odd]), "all": metrics(rank),
               "r1_merged_gold": float((rank[self.merged_gold] == 0).mean()),
               "r1_other_gold": float((rank[~self.merged_gold] == 0).mean()),
               "r1_macro": float(np.mean(per_tool))}
        self.rows.append(row)
        cells = "  ".join("{r1:.3f}/{r5:.3f}/{ndcg:.3f}".format(**row[s])
                          for s in ("even", "odd", "all"))
        print(f"{name:40} {keyword:7} {cells}  {row['r1_merged_gold']:.3f} "
              f"{row['r1_other_gold']:.3f} {row['r1_macro']:.3f}  {params}", flush=True)
        return row

    def keyword(self, name: str) -> np.ndarray | None:
        return {"fts5": self.data.keyword_fts, "tantivy": self.data.keyword}.get(name)

    def variant(self, name: str, dense: np.ndarray, *, alpha: float = 0.9,
                norm: str = "top") -> None:
        """One dense matrix, fused as the engine does with each keyword side."""
        for kw in ("fts5", "tantivy"):
            matrix = self.keyword(kw)
            assert matrix is not None
            self.report(name, fuse(dense, matrix, alpha=alpha, norm=norm,
                                   prior=self.data.prior), keyword=kw,
                        params=f"alpha={alpha} {norm}")

    def tuned(self, name: str, dense_of: Callable[[Any], np.ndarray], grid: list, *,
              alphas: tuple[float, ...] = (0.85, 0.9, 0.95), norm: str = "top") -> None:
        """Pick (parameter, alpha) by Recall@1 on the even queries, per keyword side."""
        d = self.data
        dense = {p: dense_of(p) for p in grid}
        for kw in ("fts5", "tantivy"):
            matrix = self.keyword(kw)
            assert matrix is not None
            best = max(((float((gold_rank(fuse(dense[p][d.even], matrix[d.even], alpha=a,
                                                   norm=norm), d.gold[d.even]) == 0).mean()),
                         i, a) for i, p in enumerate(grid) for a in alphas))
            _, i, a = best
            self.report(name, fuse(dense[grid[i]], matrix, alpha=a, norm=norm,
                                   prior=d.prior), keyword=kw,
                        params=f"p={grid[i]} alpha={a} {norm}")


def run(out: Path | None) -> None:
    data = Data()
    bench = Bench(data)
    q = data.q
    print(f"{'variant':40} {'keyword':7} {'even R@1/R@5/nDCG':17}  {'odd':17}  {'all':17}"
          "  R@1: merged-gold other-gold macro")
    registry = q @ data.prod.T
    bench.report("dense only, shipped texts", registry, keyword="none")
    bench.variant("shipped (registry vectors)", registry)
    base = mean_of(data, baseline_texts)
    bench.variant("shipped texts, re-embedded alone", q @ base.T)
    prop = mean_of(data, proposed_texts)
    bench.report("dense only, (summary, body)", q @ prop.T, keyword="none")
    bench.variant("(summary, body)  <- winner", q @ prop.T)
    bench.variant("(summary, body) renormalised", q @ unit(prop).T)
    summary = mean_of(data, lambda d: (d.summary,))
    body = mean_of(data, lambda d: (d.body,))
    bench.tuned("w x summary + (1-w) x body", lambda w: q @ (w * summary + (1 - w) * body).T,
                [0.3, 0.4, 0.5, 0.6, 0.7])
    for label, texts_of in (
            ("(name. summary, body)", lambda d: (f"{d.name}. {d.summary}", d.body)),
            ("(summary, summary. body)", lambda d: (d.summary, f"{d.summary}. {d.body}")),
            ("(summary, name. summary. body)", lambda d: (d.summary, baseline_texts(d)[1])),
            ("(shipped short, shipped full, summary, body)",
             lambda d: (*baseline_texts(d), d.summary, d.body))):
        bench.variant(label, q @ mean_of(data, texts_of).T)
    bench.variant("summary only", q @ summary.T)
    bench.variant("body only", q @ body.T)
    smax = sentence_max(data)
    bench.tuned("shipped + l x sentence max", lambda lam: (1 - lam) * registry + lam * smax,
                [0.0, 0.25, 0.5, 0.75])
    bench.tuned("(summary, body) + l x sentence max", lambda lam: (1 - lam) * (q @ prop.T)
                + lam * smax, [0.0, 0.25, 0.5])
    for label, caps in (("shipped", data.prod), ("(summary, body)", prop)):
        grid = [(k, b) for k in (5, 10, 20, 40, 80) for b in (0.1, 0.2, 0.3, 0.5, 1.0)]
        bench.tuned(f"{label} - b x hub(generic queries, k)",
                    lambda p, c=caps: q @ c.T - p[1] * hub_penalty(data.generic, c, p[0]),
                    grid)
        bench.tuned(f"{label} - b x hub(capabilities, k)",
                    lambda p, c=caps: q @ c.T - p[1] * hub_penalty(c, c, p[0], self_ref=True),
                    [(k, b) for k in (1, 5, 10, 50) for b in (0.05, 0.1, 0.2, 0.5)])
    stripped = sorted(CACHE.glob("stripped_*_of_*.npz"))
    if stripped:
        qs = q.copy()
        for path in stripped:
            part = np.load(path)
            qs[part["rows"]] = part["vecs"]
        bench.variant("shipped, boilerplate-stripped queries", qs @ data.prod.T)
        bench.variant("(summary, body), stripped queries", qs @ prop.T)
    for norm, alphas in (("z", (0.7, 0.8, 0.9)), ("minmax", (0.7, 0.8, 0.9)),
                         ("rrf10", (0.7, 0.8, 0.9)), ("rrf60", (0.7, 0.8, 0.9))):
        bench.tuned(f"(summary, body), fusion {norm}", lambda _: q @ prop.T, [0],
                    alphas=alphas, norm=norm)
    if out is not None:
        out.write_text(json.dumps(bench.rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queries")
    q.add_argument("--part", type=int, default=0)
    q.add_argument("--parts", type=int, default=1)
    q.add_argument("--stripped", action="store_true",
                   help="Embed the queries strip_boilerplate changes, stripped.")
    sub.add_parser("corpus")
    r = sub.add_parser("run")
    r.add_argument("--json", type=Path, default=None, help="Write every row here too.")
    k = sub.add_parser("keyword")
    k.add_argument("--json", type=Path, default=None, help="Write every row here too.")
    args = parser.parse_args()
    if args.cmd == "queries":
        cache_queries(args.part, args.parts, normalized=args.stripped)
    elif args.cmd == "corpus":
        cache_corpus()
    elif args.cmd == "keyword":
        run_keyword(args.json)
    else:
        run(args.json)


if __name__ == "__main__":
    main()
