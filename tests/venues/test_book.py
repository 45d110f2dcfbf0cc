from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import BookState
from venues.book import BOOK_SYNC_TABLE, BookInput, L2Book, next_book_state
from venues.errors import CrossedBook
from venues.machine import IllegalTransition

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


deep_prices = st.integers(1, 2000).map(lambda n: n * 0.5)


@st.composite
def deep_book_ops(draw: st.DrawFn) -> tuple[list[tuple[float, float]], list[tuple[str, float, float]]]:
    """A snapshot of up to 600 levels, then level changes and sweeps that delete whole runs of the top."""
    snapshot = draw(st.lists(st.tuples(deep_prices, st.sampled_from([0.5, 1.0, 3.0])), max_size=600))
    op = st.one_of(
        st.tuples(st.just("set"), deep_prices, sizes),
        st.tuples(st.just("sweep"), st.integers(1, 200), st.just(0.0)),  # delete the best n levels
        st.tuples(st.just("read"), st.integers(1, 300), st.just(0.0)),  # a deep top-N read
        st.tuples(st.just("improve"), st.integers(1, 200), st.just(1.0)),  # n new levels better than the best
    )
    return snapshot, draw(st.lists(op, max_size=150))


@settings(max_examples=150, deadline=None)
@given(data=deep_book_ops(), bid_side=st.booleans())
def test_near_band_refills_and_shrinks_without_losing_a_level(
    data: tuple[list[tuple[float, float]], list[tuple[str, float, float]]], bid_side: bool
) -> None:
    """Deep books cross the near/far split many times: best, top-N and depth always match a plain dict."""
    snapshot, ops = data
    book = L2Book("test", "X")
    ref = {p: s for p, s in snapshot if s > 0}
    if bid_side:
        book.load(snapshot, [])
    else:
        book.load([], snapshot)
    order = (lambda kv: -kv[0]) if bid_side else (lambda kv: kv[0])
    for kind, a, b in ops:
        if kind == "set":
            changes = [(a, b)]
        elif kind == "sweep":
            changes = [(p, 0.0) for p, _ in sorted(ref.items(), key=order)[: int(a)]]
        elif kind == "improve":  # the market moves: levels appear beyond the touch, one tick apart
            edge = (max(ref, default=0.0) if bid_side else min(ref, default=1001.0))
            step = 0.5 if bid_side else -0.5
            changes = [(edge + step * (i + 1), b) for i in range(int(a)) if edge + step * (i + 1) > 0]
        else:
            top = book.top_bids(int(a)) if bid_side else book.top_asks(int(a))
            assert top == sorted(ref.items(), key=order)[: int(a)]
            continue
        book.apply(changes, []) if bid_side else book.apply([], changes)
        for p, s in changes:
            if s > 0:
                ref[p] = s
            else:
                ref.pop(p, None)
        want = sorted(ref.items(), key=order)[0] if ref else None
        assert (book.best_bid() if bid_side else book.best_ask()) == want
        assert book.depth == ((len(ref), 0) if bid_side else (0, len(ref)))
    got = book.as_sorted()[0 if bid_side else 1]
    assert got == sorted(ref.items(), key=order)


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


tagged = st.lists(st.tuples(st.sampled_from(["new", "change", "delete"]), deep_prices, sizes), max_size=40)
KEEP = {"new": 1.0, "change": 1.0, "delete": 0.0}


@settings(max_examples=150)
@given(snapshot=st.lists(st.tuples(deep_prices, sizes), max_size=300), batches=st.lists(st.tuples(tagged, tagged), max_size=15))
def test_apply_tagged_equals_apply_of_the_pairs_it_stands_for(
    snapshot: list[tuple[float, float]], batches: list[tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]]
) -> None:
    """Deribit's [action, price, amount] levels: "delete" removes the level whatever its amount says."""
    tagged_book = L2Book("deribit", "X")
    pair_book = L2Book("deribit", "X")
    tagged_book.load(snapshot, snapshot)
    pair_book.load(snapshot, snapshot)
    for b, a in batches:
        tagged_book.apply_tagged(b, a, KEEP)
        pair_book.apply([(p, s * KEEP[t]) for t, p, s in b], [(p, s * KEEP[t]) for t, p, s in a])
        assert tagged_book.best_bid() == pair_book.best_bid()
        assert tagged_book.best_ask() == pair_book.best_ask()
    assert tagged_book.as_sorted() == pair_book.as_sorted()


def test_apply_tagged_rejects_an_unknown_tag() -> None:
    book = L2Book("deribit", "X")
    with pytest.raises(KeyError, match="upsert"):
        book.apply_tagged([("upsert", 10.0, 1.0)], [], KEEP)
