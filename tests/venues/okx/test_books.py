"""OKX books (venues/okx/books.py, through OkxCodec): seqId/prevSeqId only, the checksum never read, the WS
snapshot when it comes, OKX's REST bootstrap when it does not and after every gap or crossed book."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages.base import BookState, InstrumentId, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot, Quote
from venues.book import BOOK_SYNC_TABLE, BookInput, L2Book
from venues.errors import DecodeError
from venues.events import SUPERSEDED, Dropped, NeedSnapshot, Subscribed
from venues.http import Response
from venues.okx import OkxCodec
from venues.okx.books import BUFFER_LIMIT, OkxBook
from venues.okx.wire import BookLevel
from venues.symbols import InstrumentRegistry

OkxBytes = Callable[[str], bytes]
OKX = Venue.OKX
PERP = InstrumentId("BTC-USDT-PERP")
SPOT = InstrumentId("BTC-USDT")
TS = 1700000000123000000


class BookFeed:
    """A tiny model of OKX's books channel for one instrument: keeps the truth, emits WS frames and REST answers.

    ``checksum`` is what every push carries: 0, as OKX sends it since 2026-06-23.
    """

    def __init__(self, symbol: str = "BTC-USDT-SWAP", checksum: Any = 0) -> None:
        self.symbol = symbol
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.seq = 1000
        self.checksum = checksum

    def _frame(
        self, action: str, bids: list[list[str]], asks: list[list[str]], prev: int, **over: Any
    ) -> bytes:
        item: dict[str, Any] = {
            "asks": asks, "bids": bids, "ts": "1700000000123", "checksum": self.checksum, "prevSeqId": prev,
            "seqId": self.seq,
        }  # fmt: skip
        item.update(over)
        msg = {"arg": {"channel": "books", "instId": self.symbol}, "action": action, "data": [item]}
        return json.dumps(msg, separators=(",", ":")).encode()

    def snapshot(self, bids: dict[str, str], asks: dict[str, str]) -> bytes:
        self.bids, self.asks = dict(bids), dict(asks)
        return self._frame(
            "snapshot",
            [[p, s, "0", "1"] for p, s in bids.items()],
            [[p, s, "0", "1"] for p, s in asks.items()],
            -1,
        )

    def update(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]], **over: Any) -> bytes:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for px, sz in levels:
                if float(sz) == 0:
                    side.pop(px, None)
                else:
                    side[px] = sz
        prev = self.seq
        self.seq += 1 + (self.seq % 3)  # seqIds jump, as OKX's do
        return self._frame(
            "update", [[p, s, "0", "1"] for p, s in bids], [[p, s, "0", "1"] for p, s in asks], prev, **over
        )

    def rest(self) -> Response:
        """GET /api/v5/market/books now: the whole book and its seqId (shape of the doc answer + seqId)."""
        row = {"asks": [[p, s, "0", "1"] for p, s in self.asks.items()],
               "bids": [[p, s, "0", "1"] for p, s in self.bids.items()], "ts": "1700000000999", "seqId": self.seq}
        return Response(status=200, headers={}, body=json.dumps({"code": "0", "msg": "", "data": [row]}).encode())

    def truth(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids = sorted(((float(p), float(s)) for p, s in self.bids.items()), reverse=True)
        return bids, sorted((float(p), float(s)) for p, s in self.asks.items())


SNAP_BIDS = {"100.5": "3", "100.4": "2", "100": "7"}
SNAP_ASKS = {"100.6": "1", "100.7": "4", "101": "9"}


def _live(registry: InstrumentRegistry, emit_deltas: bool = False) -> tuple[OkxCodec, BookFeed]:
    codec = OkxCodec(registry, emit_deltas=emit_deltas)
    venue = BookFeed()
    out = codec.feed(venue.snapshot(SNAP_BIDS, SNAP_ASKS), 7)
    assert out[0] == BookIntegrity(venue=OKX, instrument=PERP, state=BookState.LIVE, reason="snapshot", ts=7)
    return codec, venue


def _quote(bid: float, bid_sz: float, ask: float, ask_sz: float, ts_recv: int, ts: int = TS) -> Quote:
    return Quote(venue=OKX, instrument=PERP, bid_px=bid, bid_sz=bid_sz, ask_px=ask, ask_sz=ask_sz, ts_event=ts,
                 ts_recv=ts_recv)  # fmt: skip


# -- the WS snapshot, when OKX sends it ---------------------------------------------------------------------
def test_ws_snapshot_makes_the_book_live_and_quotes_the_best_levels(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry)
    assert codec.book_state(PERP) is BookState.LIVE
    assert codec.book(PERP).as_sorted() == venue.truth()
    assert codec.book(PERP).best() == (100.5, 3.0, 100.6, 1.0)


def test_update_in_sequence_returns_a_quote_and_the_delta(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry, emit_deltas=True)
    out = codec.feed(venue.update([("100.5", "0"), ("100.55", "2")], [("100.6", "5")]), 9)
    assert out == [
        BookDelta(
            venue=OKX, instrument=PERP, bids=((100.5, 0.0), (100.55, 2.0)), asks=((100.6, 5.0),),
            sequence=1002, prev_sequence=1000, ts_event=TS, ts_recv=9,
        ),
        _quote(100.55, 2.0, 100.6, 5.0, 9),
    ]  # fmt: skip


def test_ws_snapshot_with_emit_deltas_returns_the_whole_book_then_the_quote(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry, emit_deltas=True)
    integrity, snap, quote = codec.feed(BookFeed().snapshot(SNAP_BIDS, SNAP_ASKS), 1)
    assert isinstance(integrity, BookIntegrity) and integrity.state is BookState.LIVE
    assert isinstance(snap, BookSnapshot) and snap.sequence == 1000
    assert snap.bids == ((100.5, 3.0), (100.4, 2.0), (100.0, 7.0))
    assert snap.asks == ((100.6, 1.0), (100.7, 4.0), (101.0, 9.0))
    assert quote == _quote(100.5, 3.0, 100.6, 1.0, 1)


def test_keepalive_update_with_no_levels_and_equal_seq_ids_is_accepted(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry)
    out = codec.feed(venue._frame("update", [], [], venue.seq), 5)  # prevSeqId == seqId == last seqId
    assert out == [_quote(100.5, 3.0, 100.6, 1.0, 5)]
    assert codec.book_state(PERP) is BookState.LIVE


def test_sequence_reset_after_maintenance_is_accepted_and_followed(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry)
    prev = venue.seq
    venue.seq = 3  # OKX: seqId may restart lower than prevSeqId after maintenance
    assert isinstance(codec.feed(venue._frame("update", [], [], prev), 5)[0], Quote)
    out = codec.feed(venue.update([("100.45", "1")], []), 6)  # chains on the new, lower seqId
    assert isinstance(out[0], Quote) and out[0].bid_px == 100.5
    assert codec.book(PERP).bid_size(100.45) == 1.0


# -- the checksum is never read -----------------------------------------------------------------------------
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(checksums=st.lists(
    st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.none(), st.text(max_size=8),
              st.floats(allow_nan=False, allow_infinity=False), st.booleans()), min_size=5, max_size=5))  # fmt: skip
def test_the_checksum_is_ignored_whatever_it_holds(registry: InstrumentRegistry, checksums: list[Any]) -> None:
    """OKX's checksum is 0 since 2026-06-23 and "must no longer be used": any value, of any JSON type, changes
    nothing; the book stays LIVE and equal to the truth."""
    codec = OkxCodec(registry)
    venue = BookFeed(checksum=checksums[0])
    assert codec.feed(venue.snapshot(SNAP_BIDS, SNAP_ASKS), 0)[0].state is BookState.LIVE  # type: ignore[union-attr]
    for i, value in enumerate(checksums[1:]):
        venue.checksum = value
        out = codec.feed(venue.update([(f"{round(100.3 - i / 10, 1):g}", str(i + 1))], [("100.8", str(i + 2))]), 1)
        assert len(out) == 1 and isinstance(out[0], Quote), out
    assert codec.book_state(PERP) is BookState.LIVE and codec.book(PERP).as_sorted() == venue.truth()


def test_real_capture_replays_with_no_false_gap_whatever_its_checksums_say(
    registry: InstrumentRegistry, okx_bytes: OkxBytes
) -> None:
    """The 2022 capture (real CRCs, no seqId) replays message by message: every frame gives the Quote of the book
    rebuilt from scratch; flipping every checksum changes nothing."""
    lines = [ln for ln in okx_bytes("ws_books_real_sequence_BTC-USDT.jsonl").splitlines() if ln.strip()]
    for corrupt in (False, True):
        codec = OkxCodec(registry, emit_deltas=True)
        assert codec.feed(lines[0], 0) == [Subscribed(channels=("books:BTC-USDT",))]
        assert codec.book_state(SPOT) is BookState.SYNCING
        ref_bids: dict[float, float] = {}
        ref_asks: dict[float, float] = {}
        for i, line in enumerate(lines[1:], start=1):
            msg = json.loads(line)
            if corrupt:
                msg["data"][0]["checksum"] ^= 0x5A5A
            out = codec.feed(json.dumps(msg).encode(), i)
            data = msg["data"][0]
            for side, levels in ((ref_bids, data["bids"]), (ref_asks, data["asks"])):
                for px, sz, *_ in levels:
                    side.pop(float(px), None)
                    if float(sz) > 0:
                        side[float(px)] = float(sz)
            bb, ba = max(ref_bids), min(ref_asks)
            quotes = [o for o in out if isinstance(o, Quote)]
            assert [(q.bid_px, q.bid_sz, q.ask_px, q.ask_sz) for q in quotes] == [(bb, ref_bids[bb], ba, ref_asks[ba])], i
            assert quotes[0].ts_event == int(data["ts"]) * 1_000_000
            assert not any(isinstance(o, (Dropped, NeedSnapshot)) for o in out), (i, out)
        assert codec.book(SPOT).as_sorted() == (sorted(ref_bids.items(), reverse=True), sorted(ref_asks.items()))
        assert (bb, ref_bids[bb], ba, ref_asks[ba]) == (30247.5, 0.00135203, 30247.6, 0.23393)


def test_doc_books_snapshot_and_update_chain_on_seq_ids(registry: InstrumentRegistry, okx_bytes: OkxBytes) -> None:
    # The doc examples' checksum (-855196043) matches nothing: it is ignored, as every checksum now is.
    codec = OkxCodec(registry, emit_deltas=True)
    out = codec.feed(okx_bytes("ws_books_snapshot.json"), 1)
    assert out[0] == BookIntegrity(venue=OKX, instrument=SPOT, state=BookState.LIVE, reason="snapshot", ts=1)
    snap = out[1]
    assert isinstance(snap, BookSnapshot) and snap.sequence == 123456
    assert snap.bids[0] == (8476.97, 256.0) and snap.bids[-1] == (8446.0, 95.0)
    assert snap.asks[0] == (8476.98, 415.0) and snap.asks[-1] == (8506.96, 100.0)
    delta, quote = codec.feed(okx_bytes("ws_books_update.json"), 2)
    assert isinstance(delta, BookDelta) and (delta.prev_sequence, delta.sequence) == (123456, 123457)
    assert delta.asks[1] == (8477.0, 7.0)  # "8477" and "8477.0" are one price
    assert isinstance(quote, Quote) and (quote.bid_px, quote.ask_px) == (8476.97, 8476.98)


# -- gaps and crossed books: resync through REST ------------------------------------------------------------
def test_gap_in_okx_book_sequence_resyncs_through_rest_and_the_book_comes_back_exact(
    registry: InstrumentRegistry,
) -> None:
    codec, venue = _live(registry)
    venue.update([("100.4", "5")], [])  # lost on the way
    gap_frame = venue.update([("100.3", "1")], [])
    out = codec.feed(gap_frame, 11)
    assert out == [
        BookIntegrity(venue=OKX, instrument=PERP, state=BookState.RESYNCING,
                      reason="okx BTC-USDT-PERP book: expected prevSeqId 1000, got 1002; resyncing", ts=11),
        NeedSnapshot(instrument=PERP, reason="okx BTC-USDT-PERP book: expected prevSeqId 1000, got 1002; resyncing"),
    ]  # fmt: skip
    assert codec.book(PERP).best() is None  # never silently wrong: emptied until the snapshot
    assert codec.feed(venue.update([("100.2", "1")], []), 12) == []  # buffered, one fetch already asked for
    rest = venue.rest()
    after = venue.update([("100.1", "1")], [("100.6", "0")])
    assert codec.feed(after, 13) == []
    out = codec.apply_snapshot(PERP, rest, 14)
    assert out[0] == BookIntegrity(venue=OKX, instrument=PERP, state=BookState.LIVE,
                                   reason="REST snapshot seqId 1005, 1 buffered updates replayed", ts=14)  # fmt: skip
    assert out[1:] == [_quote(100.5, 3.0, 100.7, 4.0, 14, 1700000000999000000)]
    assert codec.book(PERP).as_sorted() == venue.truth()
    assert codec.stale_events == 2  # the gap's update and the next: older than the snapshot, dropped
    assert isinstance(codec.feed(venue.update([("100.05", "2")], []), 15)[0], Quote)


def test_the_update_that_showed_the_gap_is_kept_to_bridge_the_rest_snapshot(registry: InstrumentRegistry) -> None:
    """The update after the hole may be the very one that bridges the REST snapshot (prevSeqId <= seqId <
    its seqId): it is kept, so the book goes live at once instead of failing again on the next update."""
    codec, venue = _live(registry)
    venue.update([("100.4", "5")], [])  # lost
    rest = venue.rest()  # knows the lost update
    out = codec.feed(venue.update([("100.3", "1")], []), 1)  # shows the gap; bridges the snapshot
    assert isinstance(out[1], NeedSnapshot)
    out = codec.apply_snapshot(PERP, rest, 2)
    assert out[0].reason == "REST snapshot seqId 1002, 1 buffered updates replayed"  # type: ignore[union-attr]
    assert codec.book(PERP).as_sorted() == venue.truth()
    assert [type(o) for o in codec.feed(venue.update([("100.2", "2")], []), 3)] == [Quote]  # in sequence


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_ok=st.integers(min_value=0, max_value=10), skip=st.integers(min_value=1, max_value=5))
def test_every_injected_gap_is_detected(registry: InstrumentRegistry, n_ok: int, skip: int) -> None:
    codec, venue = _live(registry)
    for i in range(n_ok):
        assert isinstance(codec.feed(venue.update([("100.3", str(i + 1))], []), 1)[0], Quote)
    for _ in range(skip):
        venue.update([("100.2", "1")], [])  # never delivered
    out = codec.feed(venue.update([("100.1", "1")], []), 2)
    assert isinstance(out[0], BookIntegrity) and out[0].state is BookState.RESYNCING
    assert out[1] == NeedSnapshot(instrument=PERP, reason=out[0].reason)


def test_crossed_book_after_an_update_resyncs_through_rest(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry)
    out = codec.feed(venue.update([("100.8", "1")], []), 5)  # bid above the best ask
    reason = "okx BTC-USDT-PERP book: crossed: best bid 100.8 >= best ask 100.6; resyncing"
    assert out == [BookIntegrity(venue=OKX, instrument=PERP, state=BookState.RESYNCING, reason=reason, ts=5),
                   NeedSnapshot(instrument=PERP, reason=reason)]  # fmt: skip
    venue.bids.pop("100.8")  # the venue's real book was never crossed
    out = codec.apply_snapshot(PERP, venue.rest(), 6)
    assert out[0].state is BookState.LIVE and codec.book(PERP).as_sorted() == venue.truth()  # type: ignore[union-attr]
    # Nothing was buffered: the next push must bridge the snapshot's seqId (here it chains on it exactly).
    assert isinstance(codec.feed(venue.update([("100.45", "1")], []), 7)[0], Quote)


def test_reset_after_reconnect_puts_every_book_back_to_syncing(registry: InstrumentRegistry) -> None:
    codec, venue = _live(registry)
    assert codec.reset(ts=99) == [
        BookIntegrity(venue=OKX, instrument=PERP, state=BookState.SYNCING, reason="disconnected", ts=99)
    ]
    assert codec.book_state(PERP) is BookState.SYNCING
    assert codec.book(PERP).depth == (0, 0)
    assert codec.apply_snapshot(PERP, venue.rest(), 1) == []  # an answer asked before the reconnect: ignored
    # Resubscribed: a snapshot if OKX still sends one, else the first update asks for the REST bootstrap.
    assert codec.feed(venue.update([("100.2", "1")], []), 1) == [
        NeedSnapshot(instrument=PERP,
                     reason="okx BTC-USDT-PERP books update without a snapshot; fetching GET /api/v5/market/books")
    ]  # fmt: skip


# -- no WS snapshot: OKX's REST bootstrap -------------------------------------------------------------------
def test_a_stream_without_snapshot_goes_live_through_the_rest_bootstrap(registry: InstrumentRegistry) -> None:
    """OKX's procedure: buffer, GET /api/v5/market/books, drop updates with seqId <= the snapshot's, the first
    kept one bridges it (prevSeqId <= seqId < its seqId), then the prevSeqId chain."""
    codec = OkxCodec(registry)
    venue = BookFeed()
    venue.bids, venue.asks = dict(SNAP_BIDS), dict(SNAP_ASKS)  # the book before we subscribed
    frames = [venue.update([("100.3", "4")], []), venue.update([], [("100.8", "2")])]
    rest = venue.rest()  # taken here: its seqId is the second update's
    frames += [venue.update([("100.2", "6")], [("100.6", "0")]), venue.update([("100.5", "1")], [])]
    outs = [codec.feed(f, i) for i, f in enumerate(frames)]
    assert outs[0] == [NeedSnapshot(
        instrument=PERP, reason="okx BTC-USDT-PERP books update without a snapshot; fetching GET /api/v5/market/books")]
    assert outs[1:] == [[], [], []] and codec.book_state(PERP) is BookState.SYNCING
    out = codec.apply_snapshot(PERP, rest, 9)
    assert out[0] == BookIntegrity(venue=OKX, instrument=PERP, state=BookState.LIVE,
                                   reason="REST snapshot seqId 1003, 2 buffered updates replayed", ts=9)  # fmt: skip
    assert out[1:] == [_quote(100.5, 1.0, 100.7, 4.0, 9, 1700000000999000000)]
    assert codec.book(PERP).as_sorted() == venue.truth() and codec.stale_events == 2
    assert codec.feed(venue.update([], [("100.7", "3")]), 10) == [_quote(100.5, 1.0, 100.7, 3.0, 10)]


def test_a_rest_snapshot_newer_than_the_buffer_waits_for_the_update_that_bridges_it(
    registry: InstrumentRegistry,
) -> None:
    codec = OkxCodec(registry, emit_deltas=True)
    venue = BookFeed()
    venue.bids, venue.asks = dict(SNAP_BIDS), dict(SNAP_ASKS)
    late = [venue.update([("100.3", "4")], []), venue.update([("100.2", "1")], [])]  # still on the wire
    codec.feed(late[0], 0)
    out = codec.apply_snapshot(PERP, venue.rest(), 1)
    assert [type(o) for o in out] == [BookIntegrity, BookSnapshot, Quote]
    assert isinstance(out[1], BookSnapshot) and out[1].sequence == venue.seq
    assert codec.feed(late[1], 2) == [SUPERSEDED]  # older than the snapshot: dropped as stale, not a gap
    delta, quote = codec.feed(venue.update([("100.45", "2")], []), 3)
    assert isinstance(delta, BookDelta) and isinstance(quote, Quote)
    assert codec.book(PERP).as_sorted() == venue.truth()


def test_a_rest_snapshot_older_than_the_buffered_stream_is_fetched_again(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    venue = BookFeed()
    venue.bids, venue.asks = dict(SNAP_BIDS), dict(SNAP_ASKS)
    old = venue.rest()
    venue.update([("100.3", "4")], [])  # never seen by us
    codec.feed(venue.update([("100.2", "1")], []), 0)
    out = codec.apply_snapshot(PERP, old, 1)
    assert out == [NeedSnapshot(instrument=PERP, reason=(
        "okx BTC-USDT-PERP REST snapshot seqId 1000 is older than the buffered stream (prevSeqId 1002); "
        "fetching again"))]  # fmt: skip
    assert codec.book_state(PERP) is BookState.SYNCING
    out = codec.apply_snapshot(PERP, venue.rest(), 2)
    assert out[0].state is BookState.LIVE and codec.book(PERP).as_sorted() == venue.truth()  # type: ignore[union-attr]


def test_an_update_that_does_not_bridge_the_rest_snapshot_is_a_gap(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    venue = BookFeed()
    venue.bids, venue.asks = dict(SNAP_BIDS), dict(SNAP_ASKS)
    codec.feed(venue.update([("100.3", "4")], []), 0)
    codec.apply_snapshot(PERP, venue.rest(), 1)
    venue.update([("100.2", "1")], [])  # lost
    out = codec.feed(venue.update([("100.1", "1")], []), 2)
    reason = "okx BTC-USDT-PERP book: expected prevSeqId <= snapshot seqId 1002, got 1003; resyncing"
    assert out == [BookIntegrity(venue=OKX, instrument=PERP, state=BookState.RESYNCING, reason=reason, ts=2),
                   NeedSnapshot(instrument=PERP, reason=reason)]  # fmt: skip


def test_a_rest_answer_arriving_after_a_ws_snapshot_is_ignored(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    venue = BookFeed()
    venue.bids, venue.asks = dict(SNAP_BIDS), dict(SNAP_ASKS)
    stale = venue.rest()
    assert isinstance(codec.feed(venue.update([("100.3", "4")], []), 0)[0], NeedSnapshot)
    codec.feed(venue.snapshot(venue.bids, venue.asks), 1)  # OKX sent its snapshot after all
    assert codec.apply_snapshot(PERP, stale, 2) == []
    assert codec.book(PERP).as_sorted() == venue.truth()


def test_a_rest_answer_without_seq_id_cannot_bootstrap(registry: InstrumentRegistry, okx_bytes: OkxBytes) -> None:
    """The doc capture of GET /api/v5/market/books predates the 2026 seqId: it cannot be aligned, so it is a
    DecodeError (the resync queue backs off and the session asks again)."""
    codec = OkxCodec(registry)
    codec.feed(BookFeed(symbol="BTC-USDT").update([("100", "1")], []), 0)
    with pytest.raises(DecodeError, match="expected a seqId in the GET /api/v5/market/books answer"):
        codec.apply_snapshot(SPOT, Response(status=200, headers={}, body=okx_bytes("rest_orderbook_response.json")), 1)
    assert codec.book_state(SPOT) is BookState.SYNCING


def test_the_buffer_is_bounded_and_the_oldest_updates_go_first(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    venue = BookFeed()
    for i in range(BUFFER_LIMIT + 50):
        codec.feed(venue.update([(f"{90 + (i % 50) / 10:.1f}", "1")], []), i)
    rest = venue.rest()
    out = codec.apply_snapshot(PERP, rest, 1)
    assert out[0].state is BookState.LIVE and codec.stale_events == BUFFER_LIMIT  # type: ignore[union-attr]


_level = st.tuples(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=4))
_steps = st.lists(st.tuples(st.lists(_level, max_size=6), st.lists(_level, max_size=6)), min_size=1, max_size=25)


def _levels(bid_levels: list[tuple[int, int]], ask_levels: list[tuple[int, int]]) -> tuple[list[tuple[str, str]], ...]:
    bids = [(f"{(1000 - t) / 10:g}", str(s)) for t, s in bid_levels]  # bids <= 99.9
    asks = [(f"{(1000 + t) / 10:g}", str(s)) for t, s in ask_levels]  # asks >= 100.1
    return bids, asks


# Wide enough for the near band to be trimmed (more than 4 x 32 levels) and refilled within one example.
_wide = st.lists(st.tuples(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=3)),
                 min_size=20, max_size=40)
_picks = st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=2, max_size=8)  # levels to delete, by rank


def _bands(book: L2Book) -> tuple[object, ...]:
    return book._bn, book._bf, book._bt, book._bb, book._an, book._af, book._at, book._ba  # noqa: SLF001


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(st.tuples(_wide, _wide, _picks), min_size=12, max_size=20))
def test_apply_levels_is_l2book_apply_on_okx_levels(
    steps: list[tuple[list[tuple[int, int]], list[tuple[int, int]], list[float]]],
) -> None:
    """OkxBook.apply_levels keeps L2Book's near/far bands exactly as L2Book.apply does (same dicts, thresholds
    and bests after every step), through refills and trims of the near band and deletes at any rank."""
    ours, ref = OkxBook("okx", "X"), L2Book("okx", "X")
    for bid_levels, ask_levels, picks in steps:
        bids = [(1000.0 - t, float(s)) for t, s in bid_levels]
        asks = [(1000.0 + t, float(s)) for t, s in ask_levels]
        held_b, held_a = ref.as_sorted()
        bids += [(held_b[int(f * len(held_b))][0], 0.0) for f in picks if held_b]
        asks += [(held_a[int(f * len(held_a))][0], 0.0) for f in picks if held_a]
        got = ours.apply_levels([BookLevel(px=p, sz=s) for p, s in bids], [BookLevel(px=p, sz=s) for p, s in asks])
        assert got == ref.apply(bids, asks)
        assert _bands(ours) == _bands(ref)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
def test_snapshot_plus_deltas_equals_the_truth_and_is_never_crossed(
    registry: InstrumentRegistry, steps: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]
) -> None:
    codec = OkxCodec(registry)
    venue = BookFeed()
    codec.feed(venue.snapshot({"99.9": "1"}, {"100.1": "1"}), 0)
    for bid_levels, ask_levels in steps:
        out = codec.feed(venue.update(*_levels(bid_levels, ask_levels)), 1)
        assert not any(isinstance(o, (Dropped, NeedSnapshot)) for o in out)
        assert not codec.book(PERP).is_crossed()
    assert codec.book(PERP).as_sorted() == venue.truth()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps, data=st.data())
def test_the_rest_bootstrap_from_any_point_ends_on_the_truth(
    registry: InstrumentRegistry, steps: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]], data: st.DataObject
) -> None:
    """No WS snapshot: updates from the start, a REST snapshot taken after any of them and answered after any
    later one; the book always ends equal to the venue's and LIVE."""
    codec = OkxCodec(registry)
    venue = BookFeed()
    venue.bids, venue.asks = {"99.9": "1"}, {"100.1": "1"}
    frames = [venue.update(*_levels(b, a)) for b, a in steps[:1]]
    taken_at = data.draw(st.integers(min_value=1, max_value=len(steps)), label="snapshot taken after update")
    answered_at = data.draw(st.integers(min_value=taken_at, max_value=len(steps)), label="answer after update")
    rest = None
    for b, a in steps[1:taken_at]:
        frames.append(venue.update(*_levels(b, a)))
    rest = venue.rest()
    for b, a in steps[taken_at:]:
        frames.append(venue.update(*_levels(b, a)))
    for i, frame in enumerate(frames):
        if i == answered_at:
            codec.apply_snapshot(PERP, rest, i)
        assert not any(isinstance(o, Dropped) for o in codec.feed(frame, i))
    if answered_at == len(frames):
        codec.apply_snapshot(PERP, rest, 99)
    assert codec.book_state(PERP) is BookState.LIVE
    assert codec.book(PERP).as_sorted() == venue.truth()


@pytest.mark.parametrize("state", list(BookState))
@pytest.mark.parametrize("event", list(BookInput))
def test_book_sync_table_answers_every_state_and_input(state: BookState, event: BookInput) -> None:
    assert (state, event) in BOOK_SYNC_TABLE
    if event is BookInput.DELTA and state is BookState.LIVE:
        assert BOOK_SYNC_TABLE[(state, event)] is BookState.LIVE  # books.py's hot path relies on it
