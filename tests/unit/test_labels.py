"""The label table (search/labels.py): compact keys, slug lookups across re-indexing, and the
snapshot round trip."""

from __future__ import annotations

import numpy as np
import pytest

from capgraph.search.labels import LabelTable, pack_strings, unpack_strings
from capgraph.search.replay import GrowableRows


def test_strings_pack_and_unpack_whatever_their_characters() -> None:
    strings = ["", "a", "ünïcode—dash", "x" * 300, "tab\tnew\nline"]
    assert unpack_strings(*pack_strings(strings)) == strings
    assert unpack_strings(*pack_strings([])) == []


def test_a_slugs_labels_are_found_before_and_after_the_index_is_rebuilt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LabelTable, "REFREEZE_MIN", 5)
    table = LabelTable()
    expected: dict[str, list[int]] = {}
    for batch in range(6):
        slugs = [f"s{(batch * 3 + i) % 4}" for i in range(3)]
        for i, slug in enumerate(slugs):
            expected.setdefault(slug, []).append(len(table) + i)
        table.append(slugs, [f"{s}-c{batch}" for s in slugs], ["api"] * 3)
        for slug, labels in expected.items():
            assert table.labels_of(slug).tolist() == labels
    assert table.labels_of("unknown").tolist() == []
    assert table._frozen > 0  # the sorted index was rebuilt along the way
    assert (table.slug(4), table.cap_id(4), table.kind(4)) == ("s0", "s0-c1", "api")


def test_the_table_round_trips_whole_or_compacted() -> None:
    table = LabelTable()
    table.append(["a", "b", "a", "c"], ["a1", "b1", "a2", "c1"], ["api", "cli", "api", "mcp"])
    whole = LabelTable.from_arrays(table.to_arrays())
    assert [(whole.slug(i), whole.cap_id(i), whole.kind(i)) for i in range(4)] == \
        [("a", "a1", "api"), ("b", "b1", "cli"), ("a", "a2", "api"), ("c", "c1", "mcp")]
    assert whole.labels_of("a").tolist() == [0, 2]
    part = LabelTable.from_arrays(table.to_arrays(np.array([1, 3])))
    assert [(part.slug(i), part.cap_id(i)) for i in range(len(part))] == \
        [("b", "b1"), ("c", "c1")]
    assert part.labels_of("c").tolist() == [1] and part.labels_of("a").tolist() == []
    broken = table.to_arrays()
    broken["cap_end"] = broken["cap_end"][:-1]
    with pytest.raises(ValueError):
        LabelTable.from_arrays(broken)


def test_growable_rows_grow_in_amortised_steps_and_keep_their_rows() -> None:
    rows = GrowableRows(3, np.float16, minimum=4)
    copies = 0
    for i in range(1000):
        before = rows._buffer
        rows.extend(np.full((1, 3), i))
        copies += rows._buffer is not before
    assert rows.rows().dtype == np.float16 and rows.rows()[:, 0].tolist() == list(range(1000))
    assert copies < 30  # geometric growth, not one copy per row


def test_cap_ids_of_many_labels_match_one_at_a_time() -> None:
    table = LabelTable()
    table.append(["a", "a", "b", "c"], ["a__cap_0", "a__cap_1", "b__cap_0", "c__cap_ü"],
                 ["api", "api", "mcp", "api"])
    labels = np.array([3, 0, 2, 1, 0])
    assert table.cap_ids(labels) == [table.cap_id(int(label)) for label in labels]
    assert table.cap_ids(np.zeros(0, dtype=np.int64)) == []


def test_labels_of_many_slugs_match_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frozen and recent labels alike, unknown slugs contributing nothing, repeats allowed."""
    monkeypatch.setattr(LabelTable, "REFREEZE_MIN", 7)
    table = LabelTable()
    asked = ["s3", "unknown", "s0", "s5", "s3", "s1"]
    for batch in range(5):
        slugs = [f"s{(batch * 5 + i) % 6}" for i in range(4)]
        table.append(slugs, [f"{s}-c{batch}" for s in slugs], ["api"] * 4)
        labels, owner = table.labels_of_many(asked)
        got = {i: sorted(labels[owner == i].tolist()) for i in range(len(asked))}
        assert got == {i: sorted(table.labels_of(s).tolist()) for i, s in enumerate(asked)}
    assert table._frozen > 0 and table._recent  # both parts were read
    empty_labels, empty_owner = table.labels_of_many([])
    assert len(empty_labels) == len(empty_owner) == 0
