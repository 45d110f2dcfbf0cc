"""Hypothesis: garbage never crashes feed; book invariants hold; every injected gap is detected."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages.base import BookState, InstrumentId, Message
from messages.control import BookIntegrity
from messages.market import Quote
from tests.venues.bybit.sample_registry import build_registry
from tests.venues.bybit.wire_files import WIRE_DIR
from venues.bybit import BybitCodec, DropReason
from venues.events import CodecEvent, Dropped, NeedResubscribe

BTC = InstrumentId("BTC-USDT-PERP")
TOPIC = "orderbook.50.BTCUSDT"
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _own_frames() -> list[bytes]:
    # Our own payloads from the documented fields, so the fuzz means something without the fixtures.
    return [
        b'{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1"]],"a":[["101.0","2"]],"u":5,"seq":9},"cts":1}',
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.1","p":"100.5","i":"t1","BT":false}]}',
        b'{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{"symbol":"BTCUSDT","bid1Price":"1","bid1Size":"2","ask1Price":"3","ask1Size":"4"}}',
        b'{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}',
        b'{"id":"1","topic":"order","creationTime":1,"data":[{"category":"linear","symbol":"BTCUSDT","orderId":"o","orderLinkId":"","side":"Buy","orderType":"Limit","price":"1","qty":"1","orderStatus":"New","avgPrice":"","cumExecQty":"0","updatedTime":"1"}]}',
    ]


def _real_frames() -> list[bytes]:
    folder = WIRE_DIR / "bybit"
    if not folder.is_dir():
        return []
    return [p.read_bytes().strip() for p in sorted(Path(folder).glob("ws_*.json"))]


FRAMES = _own_frames() + _real_frames()


def _assert_typed(out: list[Message | CodecEvent]) -> None:
    assert isinstance(out, list)
    for item in out:
        assert isinstance(item, Message | CodecEvent)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_and_give_typed_output(data: bytes) -> None:
    _assert_typed(BybitCodec(build_registry()).feed(data, 0))


@SETTINGS
@given(st.sampled_from(FRAMES), st.data())
def test_truncated_real_frames_are_dropped_as_decode_errors(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    out = BybitCodec(build_registry()).feed(frame[:cut], 0)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].reason == DropReason.DECODE_ERROR
    assert out[0].error.startswith("cannot decode bybit")


@SETTINGS
@given(
    st.sampled_from(FRAMES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_mutated_real_frames_never_raise(frame: bytes, flips: list[tuple[int, int]]) -> None:
    buf = bytearray(frame)
    for pos, value in flips:
        buf[pos % len(buf)] = value
    codec = BybitCodec(build_registry())
    codec.feed(FRAMES[0], 0)  # a live book, so mutated deltas reach the sequencing code
    _assert_typed(codec.feed(bytes(buf), 0))


# -- book invariants ---------------------------------------------------------------------------------
def _frame(kind: str, u: int, bids: dict[int, int], asks: dict[int, int]) -> bytes:
    # Prices on a 0.5 grid: bids below 1000, asks above, so valid updates can never cross.
    b = [[f"{p / 2:.1f}", str(s)] for p, s in bids.items()]
    a = [[f"{p / 2:.1f}", str(s)] for p, s in asks.items()]
    body = {"topic": TOPIC, "type": kind, "ts": u, "data": {"s": "BTCUSDT", "b": b, "a": a, "u": u, "seq": u}}
    return json.dumps(body, separators=(",", ":")).encode()


bid_px = st.integers(1800, 1999)  # 900.0 .. 999.5
ask_px = st.integers(2001, 2200)  # 1000.5 .. 1100.0
size = st.integers(0, 5)


def side_levels(px: st.SearchStrategy[int]) -> st.SearchStrategy[dict[int, int]]:
    """Delta levels: sizes 0..5 (0 deletes)."""
    return st.dictionaries(px, size, max_size=8)


def snapshot_levels(px: st.SearchStrategy[int]) -> st.SearchStrategy[dict[int, int]]:
    """Snapshot levels: at least one, sizes 1..5."""
    return st.dictionaries(px, st.integers(1, 5), min_size=1, max_size=20)


def _apply(model: dict[float, float], changes: dict[int, int]) -> None:
    for p, s in changes.items():
        if s == 0:
            model.pop(p / 2, None)
        else:
            model[p / 2] = float(s)


@SETTINGS
@given(
    snapshot_levels(bid_px),
    snapshot_levels(ask_px),
    st.lists(st.tuples(side_levels(bid_px), side_levels(ask_px)), max_size=30),
)
def test_snapshot_plus_deltas_equals_the_book_rebuilt_from_scratch_and_never_crosses(
    snap_b: dict[int, int], snap_a: dict[int, int], deltas: list[tuple[dict[int, int], dict[int, int]]]
) -> None:
    codec = BybitCodec(build_registry())
    codec.feed(_frame("snapshot", 10, snap_b, snap_a), 0)
    bids = {p / 2: float(s) for p, s in snap_b.items()}
    asks = {p / 2: float(s) for p, s in snap_a.items()}
    for i, (db, da) in enumerate(deltas):
        out = codec.feed(_frame("delta", 11 + i, db, da), 0)
        _apply(bids, db)
        _apply(asks, da)
        assert codec.book_state(BTC) is BookState.LIVE
        assert not codec.book(BTC).is_crossed()
        quotes = [m for m in out if isinstance(m, Quote)]
        if bids and asks:
            best_b, best_a = max(bids), min(asks)
            assert [(q.bid_px, q.bid_sz, q.ask_px, q.ask_sz) for q in quotes] == [
                (best_b, bids[best_b], best_a, asks[best_a])
            ]
        else:
            assert quotes == []
    assert codec.book(BTC).as_sorted() == (sorted(bids.items(), reverse=True), sorted(asks.items()))


@SETTINGS
@given(
    snapshot_levels(bid_px), snapshot_levels(ask_px),
    st.lists(st.integers(1, 3), min_size=1, max_size=15), st.data(),
)  # fmt: skip
def test_every_injected_gap_is_detected(
    snap_b: dict[int, int], snap_a: dict[int, int], steps: list[int], data: st.DataObject
) -> None:
    codec = BybitCodec(build_registry())
    codec.feed(_frame("snapshot", 100, snap_b, snap_a), 0)
    u = 100
    for step in steps:
        u += step
        assert not any(isinstance(m, BookIntegrity) for m in codec.feed(_frame("delta", u, {1900: 1}, {}), 0))
    bad_u = data.draw(st.integers(2, u))  # non-increasing (u == 1 is the documented restart, not a gap)
    out = codec.feed(_frame("delta", bad_u, {1901: 2}, {}), 0)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert codec.book_state(BTC) is BookState.RESYNCING
    assert codec.book(BTC).bid_size(950.5) == 0.0 or 1901 in snap_b
    # Nothing is applied until a new snapshot.
    dropped = codec.feed(_frame("delta", u + 1, {1902: 3}, {}), 0)
    assert [m.reason for m in dropped if isinstance(m, Dropped)] == [DropReason.AWAITING_SNAPSHOT]


@SETTINGS
@given(snapshot_levels(bid_px), snapshot_levels(ask_px), st.integers(2000, 2200))
def test_a_delta_that_crosses_the_book_is_detected(
    snap_b: dict[int, int], snap_a: dict[int, int], cross_px: int
) -> None:
    codec = BybitCodec(build_registry())
    codec.feed(_frame("snapshot", 10, snap_b, snap_a), 0)
    if cross_px < min(snap_a):
        return  # not a crossing bid
    out = codec.feed(_frame("delta", 11, {cross_px: 1}, {}), 0)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[0], BookIntegrity) and "crossed" in out[0].reason
