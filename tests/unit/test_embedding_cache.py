"""The embedder answers a text it embedded recently without running the model again: a
resolve embeds its intent, and the search beside it, the report on it and the same intent
asked again reuse that vector. Real model (the installed MiniLM), real session runs counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from capgraph.search import embedding
from capgraph.search.embedding import MiniLMEmbedder


class _Counting:
    """The model's session, counting its runs."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.runs = 0

    def run(self, *args: Any) -> Any:
        self.runs += 1
        return self.session.run(*args)


@pytest.fixture(scope="module")
def model() -> MiniLMEmbedder:
    return MiniLMEmbedder(threads=1)


@pytest.fixture
def counted(model: MiniLMEmbedder) -> Iterator[_Counting]:
    model._recent.clear()
    spy = _Counting(model._session)
    model._session = spy  # type: ignore[assignment]
    yield spy
    model._session = spy.session


def test_a_text_seen_again_does_not_run_the_model(model: MiniLMEmbedder,
                                                   counted: _Counting) -> None:
    first = model.embed(["extract tables from scanned invoices"])
    again = model.embed(["extract tables from scanned invoices"])
    assert counted.runs == 1
    assert np.array_equal(first, again) and first.shape == (1, model.dim)
    again[0, :] = 0.0  # each caller gets its own array
    assert np.array_equal(model.embed(["extract tables from scanned invoices"]), first)
    model.embed(["transcribe a podcast"])
    assert counted.runs == 2


def test_batches_always_run_the_model_and_agree_with_single_texts(
        model: MiniLMEmbedder, counted: _Counting) -> None:
    texts = ["translate a contract", "find a weather api"]
    singles = np.concatenate([model.embed([t]) for t in texts])
    runs = counted.runs
    batch = model.embed(texts)
    assert counted.runs == runs + 1
    assert np.allclose(batch, singles, atol=1e-5)


def test_the_cache_keeps_only_the_most_recent_texts(model: MiniLMEmbedder, counted: _Counting,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "QUERY_CACHE", 2)
    for text in ("one", "two", "one", "three"):  # "one" was used again, so "two" goes
        model.embed([text])
    assert counted.runs == 3
    model.embed(["one"])
    assert counted.runs == 3
    model.embed(["two"])
    assert counted.runs == 4
    assert len(model._recent) == 2


def test_forget_makes_the_next_embedding_run_the_model(model: MiniLMEmbedder,
                                                       counted: _Counting) -> None:
    first = model.embed(["resize an image"])
    model.forget()
    assert np.array_equal(model.embed(["resize an image"]), first)
    assert counted.runs == 2
