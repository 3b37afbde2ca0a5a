"""The daily client salts: one per day, made once and then the same for every store on the
database (every host), deleted by day; hosts counting one client by one id rests on this."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capgraph.ports import Store
from tests.contract.conftest import run_threads


def test_a_day_has_one_salt_made_on_first_use(store: Store) -> None:
    generation = store.generation()
    assert store.existing_salt("20261101") is None
    salt = store.daily_salt("20261101")
    assert isinstance(salt, bytes) and len(salt) == 32
    assert store.daily_salt("20261101") == salt
    assert store.existing_salt("20261101") == salt
    other = store.daily_salt("20261102")
    assert len(other) == 32 and other != salt
    assert store.existing_salt("20261103") is None  # asking never makes one
    # A salt is no change the caches of the registry's data need to see.
    assert store.generation() == generation


def test_pruning_deletes_the_salts_of_earlier_days_only(store: Store) -> None:
    salts = {day: store.daily_salt(day) for day in ("20261030", "20261031", "20261101")}
    assert store.prune_salts(before="20261031") == 1
    assert store.existing_salt("20261030") is None
    assert store.existing_salt("20261031") == salts["20261031"]
    assert store.existing_salt("20261101") == salts["20261101"]
    assert store.prune_salts(before="20261031") == 0
    # A pruned day asked for again gets a new salt: old ids cannot be made again.
    assert store.daily_salt("20261030") != salts["20261030"]


@pytest.mark.shared_data
def test_two_stores_on_one_database_get_the_same_salt_for_a_day(
        store: Store, open_again: Callable[[], Store]) -> None:
    other = open_again()
    made = store.daily_salt("20261101")
    assert other.daily_salt("20261101") == made
    assert other.existing_salt("20261101") == made
    # Both ask at once for a day neither has: one salt wins, and both hand out that one.
    stores = [store, other] * 4
    found = run_threads(lambda i: stores[i].daily_salt("20261102"), len(stores))
    assert len(set(found)) == 1 and found[0] != made
    assert store.existing_salt("20261102") == found[0]
    # A prune by one is seen by the other.
    assert other.prune_salts(before="20261102") == 1
    assert store.existing_salt("20261101") is None
    assert store.existing_salt("20261102") == found[0]
