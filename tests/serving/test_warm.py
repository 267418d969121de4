"""badge.serving.warm: the hot path's kept answers and the sightings they carry."""

from __future__ import annotations

from typing import cast

import pytest

from badge.serving import warm as warm_module
from badge.serving.responses import Form
from badge.serving.sightings import Tally
from badge.serving.warm import Sighted, Warm, WarmKey, WarmTable

SHOP = "eqm8kbumvth69rve"
PAGE: Sighted = (SHOP, b"www.shop.be", None)
OTHER: Sighted = (SHOP, b"other.be", "other.be")


def key(n: int) -> WarmKey:
    return (f"/b/{SHOP}.svg", b"lang=nl&n=%d" % n, b"https://www.shop.be/", b"br")


def answer(sighted: Sighted | None = PAGE) -> Warm:
    # The table never looks into the form: an opaque stand-in keeps the test on the table.
    return Warm(SHOP, None, cast(Form, object()), 200, sighted, [], [])


def test_a_kept_answer_is_found_by_its_key() -> None:
    table = WarmTable(Tally(100))
    kept = answer()
    table.keep(key(1), kept)
    assert table.get(key(1)) is kept
    assert table.get(key(2)) is None
    assert len(table) == 1 and list(table) == [key(1)]


def test_hits_counted_before_the_answer_was_kept_move_onto_it() -> None:
    tally: Tally[Sighted] = Tally(100)
    tally.add(PAGE, 3)
    table = WarmTable(tally)
    table.keep(key(1), answer())
    # Its sighting left the tally with its hits, so nothing is counted twice.
    assert len(tally) == 0
    assert table.take_sightings() == [(PAGE, 3)]


def test_taking_sightings_hands_each_answers_hits_over_once() -> None:
    table = WarmTable(Tally(100))
    first, second, unsighted = answer(PAGE), answer(OTHER), answer(None)
    for n, kept in enumerate((first, second, unsighted)):
        table.keep(key(n), kept)
    first.hits += 5
    second.hits += 1
    unsighted.hits += 7
    assert sorted(table.take_sightings()) == sorted([(PAGE, 5), (OTHER, 1)])
    assert table.take_sightings() == []
    assert first.hits == second.hits == unsighted.hits == 0


def kept_with_hits(sighted: Sighted, hits: int) -> tuple[Tally[Sighted], WarmTable, Warm]:
    """A table holding one answer for key(1), which has counted `hits` requests."""
    tally: Tally[Sighted] = Tally(100)
    table = WarmTable(tally)
    kept = answer(sighted)
    table.keep(key(1), kept)
    kept.hits += hits
    return tally, table, kept


def test_a_replaced_answer_hands_its_hits_to_the_tally() -> None:
    tally, table, old = kept_with_hits(OTHER, 4)
    table.keep(key(1), answer(PAGE))
    assert tally.take(OTHER) == 4
    assert old.hits == 0


def test_a_full_table_empties_at_once_and_loses_no_sighting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(warm_module, "MAX_WARM", 3)
    tally: Tally[Sighted] = Tally(100)
    table = WarmTable(tally)
    kept = [answer(PAGE), answer(OTHER), answer(PAGE)]
    for n, one in enumerate(kept):
        table.keep(key(n), one)
        one.hits += 2
    newcomer = answer(None)
    table.keep(key(9), newcomer)
    assert list(table) == [key(9)]
    assert table.stats().evictions == 3
    assert tally.take(PAGE) == 4 and tally.take(OTHER) == 2


def test_clear_hands_every_pending_hit_to_the_tally() -> None:
    tally, table, _ = kept_with_hits(PAGE, 6)
    table.clear()
    assert len(table) == 0 and table.get(key(1)) is None
    assert tally.take(PAGE) == 6


def test_stats_count_only_requests_the_table_answered() -> None:
    tally: Tally[Sighted] = Tally(100)
    tally.add(PAGE, 3)
    table = WarmTable(tally)
    kept = answer(PAGE)
    table.keep(key(1), kept)
    # The request that made the answer counts on it like the rest: it is no hit.
    kept.hits += 1
    kept.hits += 2
    table.take_sightings()
    kept.hits += 4
    stats = table.stats()
    assert (stats.name, stats.size, stats.hits, stats.evictions) == ("warm_answers", 1, 6, 0)
