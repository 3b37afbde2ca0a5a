"""The keyword index: BM25 over capability documents, answered by tantivy.

The store keeps an append-only *keyword log* (``keyword_changes``): each publish writes a reset
marker for its artifact (an empty capability id), then one row per capability with its text
fields. The index applies the log in order, so replaying it from any earlier point gives the
same index (a reset deletes the artifact's documents, then its current ones are added again).

On disk (``path`` given) one index serves every process on the data directory: the process
that finds the log ahead of the index takes a file lock, applies the new rows, commits, and
records the last applied sequence number in ``<path>.seq`` *after* the commit, so a crash in
between only means the next process replays a few rows again. Other processes reload the
committed segments. Without a path the index lives in memory (tests, ``capgraph eval``).

Why tantivy: an any-word BM25 query over 1,000,000 capabilities took SQLite FTS5 213 ms at
the median; tantivy answers the same query in milliseconds (BENCHMARKS.md "Search at scale").
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tantivy

from capgraph.ports import IndexFeeds

__all__ = ["FIELD_WEIGHTS", "KeywordIndex", "weighted_text"]

log = logging.getLogger(__name__)

# The weight of each text field: capability name, intents and best-for, description with
# input and output types, artifact name, tags and summary. The fields are indexed as one text
# in which each appears ``weight`` times, so BM25 saturates a word's frequency once over the
# weighted sum of its fields (BM25F), as SQLite FTS5 did: a word found in the name *and* the
# artifact text is not scored twice in full. Summing separate per-field BM25 scores instead
# cost 0.8 points of Recall@1 on the dev set (BENCHMARKS.md).
FIELD_WEIGHTS = {"name": 3, "intents": 2, "body": 1, "artifact": 1}
_BATCH = 50_000
_WRITER_HEAP = 64_000_000
# Bumped whenever the schema or the analysis changes: an index built by another version is
# rebuilt from the log rather than read with the wrong assumptions.
_FORMAT = 2


def weighted_text(name: str, intents: str, body: str, artifact: str) -> str:
    """The one indexed text of a capability: each field repeated by its weight."""
    fields = {"name": name, "intents": intents, "body": body, "artifact": artifact}
    return "\n".join(text for field, text in fields.items() if text
                     for _ in range(FIELD_WEIGHTS[field]))


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("slug", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("cap_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("type", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", tokenizer_name="en_stem", index_option="freq")
    return builder.build()


class KeywordIndex:
    def __init__(self, store: IndexFeeds, *, path: Path | None = None) -> None:
        self.store = store
        self.path = path
        self._schema = _schema()
        self._lock = threading.Lock()
        self._generation = -1
        self._seq = 0  # in memory: the last log row applied
        self._index = self._open()

    # -- opening -----------------------------------------------------------------------------
    def _dir(self) -> Path:
        assert self.path is not None
        return self.path.with_name(f"{self.path.name}-v{_FORMAT}")

    def _open(self) -> tantivy.Index:
        if self.path is None:
            return tantivy.Index(self._schema)
        directory = self._dir()
        directory.mkdir(parents=True, exist_ok=True)
        try:
            return tantivy.Index(self._schema, path=str(directory), reuse=True)
        except (OSError, ValueError) as exc:  # unreadable: start over from the log
            log.warning("rebuilding unreadable keyword index %s: %s", directory, exc)
            with self._file_lock():
                self._wipe(directory)
                return tantivy.Index(self._schema, path=str(directory), reuse=True)

    def _wipe(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        self._seq_file().unlink(missing_ok=True)

    def _seq_file(self) -> Path:
        return self._dir().with_suffix(".seq")

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Excludes other processes writing the same directory (nothing to exclude in
        memory)."""
        if self.path is None:
            yield
            return
        lock_path = self._dir().with_suffix(".lock")
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _applied(self) -> int:
        """The last log row the index holds (on disk: what the last committer recorded)."""
        if self.path is None:
            return self._seq
        try:
            return int(self._seq_file().read_text())
        except (OSError, ValueError):
            return 0

    def _record(self, seq: int) -> None:
        self._seq = seq
        if self.path is not None:
            tmp = self._seq_file().with_suffix(".seq.tmp")
            tmp.write_text(str(seq))
            os.replace(tmp, self._seq_file())

    # -- keeping up with the store -----------------------------------------------------------
    def sync(self) -> None:
        """Apply every keyword-log row written since the index was last brought up to date
        (cheap when nothing moved), then make the result visible to this process."""
        generation = self.store.generation()
        if generation == self._generation:
            return
        with self._lock:
            if self.store.keyword_changes(self._applied(), limit=1):
                with self._file_lock():
                    self._apply()
            self._index.reload()
            self._generation = generation

    def _apply(self) -> None:
        """Apply the log from the recorded position (the caller holds the locks)."""
        seq = self._applied()
        rows = self.store.keyword_changes(seq, limit=_BATCH)
        if not rows:
            return
        # From the start (a new or rebuilt index) only each artifact's current documents are
        # added: deleted documents linger in tantivy's statistics until segments merge, so
        # replaying history would make BM25 scores depend on how often artifacts changed.
        fresh = seq == 0
        current = self._last_resets() if fresh else {}
        writer = self._index.writer(_WRITER_HEAP, 1)
        try:
            if fresh:  # whatever is there (say, its position was lost) is replaced whole
                writer.delete_all_documents()
            while rows:
                for row in rows:
                    seq, slug, cap_id, kind, name, intents, body, artifact = row
                    if fresh:
                        if not cap_id or seq < current.get(slug, 0):
                            continue
                    elif not cap_id:  # reset marker: the artifact's earlier documents are gone
                        writer.delete_documents_by_term("slug", slug)
                        continue
                    writer.add_document(tantivy.Document(
                        slug=slug, cap_id=cap_id, type=kind,
                        text=weighted_text(name, intents, body, artifact),
                    ))
                rows = self.store.keyword_changes(seq, limit=_BATCH)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        self._record(seq)

    def _last_resets(self) -> dict[str, int]:
        """Each artifact's last reset marker in the log: its current documents follow it."""
        last: dict[str, int] = {}
        seq = 0
        while rows := self.store.keyword_changes(seq, limit=_BATCH):
            for row in rows:
                if not row[2]:
                    last[row[1]] = row[0]
            seq = rows[-1][0]
        return last

    def rebuild(self) -> None:
        """Replace the index with the log's current documents (``capgraph index rebuild``), in
        one commit: processes reading it see the old index or the new one, never a gap."""
        with self._lock, self._file_lock():
            self._record(0)
            self._apply()
            self._index.reload()
            self._generation = -1

    # -- queries -----------------------------------------------------------------------------
    def __len__(self) -> int:
        """Documents (capabilities) the index holds."""
        self.sync()
        return int(self._index.searcher().num_docs)

    def search(self, terms: list[str], *, limit: int, artifact_type: str | None = None
               ) -> list[tuple[str, str, float]]:
        """Any-word BM25 over the latest versions' capability documents: (slug, capability
        id, score), best first. ``terms`` are plain lower-case words (``query_terms``)."""
        self.sync()
        if not terms:
            return []
        query = self._index.parse_query(" ".join(terms), ["text"])
        if artifact_type is not None:
            only = tantivy.Query.const_score_query(
                tantivy.Query.term_query(self._schema, "type", artifact_type), 0.0)
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query),
                                                 (tantivy.Occur.Must, only)])
        searcher = self._index.searcher()
        hits = searcher.search(query, limit, count=False).hits
        out = []
        for score, address in hits:
            doc = searcher.doc(address)
            out.append((str(doc["slug"][0]), str(doc["cap_id"][0]), float(score)))
        return out
