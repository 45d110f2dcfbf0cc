from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import BookState
from venues.book import BOOK_SYNC_TABLE, BookInput, IllegalTransition, L2Book, next_book_state
from venues.errors import CrossedBook

prices = st.integers(1, 400).map(lambda n: n * 0.5)
sizes = st.sampled_from([0.0, 0.0, 0.1, 1.0, 2.5, 7.0])
changes = st.lists(st.tuples(prices, sizes), max_size=30)


def reference(snapshot: list[tuple[float, float]], updates: list[list[tuple[float, float]]]) -> dict[float, float]:
    book = {p: s for p, s in snapshot if s > 0}
    for batch in updates:
        for p, s in batch:
            if s > 0:
                book[p] = s
            else:
                book.pop(p, None)
    return book


@settings(max_examples=300)
@given(snap_b=changes, snap_a=changes, updates=st.lists(st.tuples(changes, changes), max_size=20))
def test_snapshot_plus_deltas_equals_a_book_rebuilt_from_scratch(
    snap_b: list[tuple[float, float]], snap_a: list[tuple[float, float]], updates: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]]
) -> None:
    book = L2Book("test", "X")
    book.load(snap_b, snap_a)
    for b, a in updates:
        book.apply(b, a)
    bids = reference(snap_b, [u[0] for u in updates])
    asks = reference(snap_a, [u[1] for u in updates])
    got_b, got_a = book.as_sorted()
    assert dict(got_b) == bids and dict(got_a) == asks
    assert book.best_bid() == ((max(bids), bids[max(bids)]) if bids else None)
    assert book.best_ask() == ((min(asks), asks[min(asks)]) if asks else None)
    assert book.top_bids(5) == sorted(bids.items(), key=lambda kv: -kv[0])[:5]
    assert book.top_asks(5) == sorted(asks.items())[:5]


@settings(max_examples=200)
@given(ops=st.lists(st.tuples(st.booleans(), prices, sizes), max_size=400))
def test_best_stays_correct_through_heavy_insert_delete_churn(ops: list[tuple[bool, float, float]]) -> None:
    book = L2Book("test", "X")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for is_bid, px, sz in ops:
        side = bids if is_bid else asks
        (book.set_bid if is_bid else book.set_ask)(px, sz)
        if sz > 0:
            side[px] = sz
        else:
            side.pop(px, None)
        assert book.best_bid() == ((max(bids), bids[max(bids)]) if bids else None)
        assert book.best_ask() == ((min(asks), asks[min(asks)]) if asks else None)
    assert book.depth == (len(bids), len(asks))


@given(bid=prices, ask=prices)
def test_crossed_or_locked_book_is_reported_with_both_prices(bid: float, ask: float) -> None:
    book = L2Book("okx", "BTC-USDT-PERP")
    book.load([(bid, 1.0)], [(ask, 1.0)])
    if bid >= ask:
        with pytest.raises(CrossedBook) as err:
            book.check_not_crossed()
        assert (err.value.bid, err.value.ask) == (bid, ask)
        assert "okx BTC-USDT-PERP" in str(err.value) and "resyncing" in str(err.value)
    else:
        book.check_not_crossed()
        assert not book.is_crossed()


def test_deleting_an_unknown_level_is_a_no_op() -> None:
    book = L2Book("binance", "X")
    book.load([(10.0, 1.0)], [(11.0, 1.0)])
    book.apply([(9.0, 0.0)], [(12.0, 0.0)])
    assert book.as_sorted() == ([(10.0, 1.0)], [(11.0, 1.0)])


@given(st.sampled_from(list(BookState)), st.sampled_from(list(BookInput)))
def test_book_sync_table_covers_every_state_and_input(state: BookState, event: BookInput) -> None:
    if (state, event) in BOOK_SYNC_TABLE:
        new = next_book_state(state, event)
        if event in (BookInput.GAP, BookInput.CHECKSUM_FAIL, BookInput.CROSSED):
            assert new is BookState.RESYNCING  # an integrity failure never leaves a book live
        if event is BookInput.DISCONNECT:
            assert new is BookState.SYNCING
        if event is BookInput.DELTA:
            assert new is state  # deltas never make a book live: only a snapshot does
    else:
        with pytest.raises(IllegalTransition):
            next_book_state(state, event)
