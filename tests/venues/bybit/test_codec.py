"""BybitCodec.feed: book sequencing (snapshot, delta, u == 1, gaps, crossed), quotes, acks, garbage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messages.base import BookState, InstrumentId, Side, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot, Kline, Quote, Trade
from tests.venues.bybit.wire_files import wire_bytes, wire_json
from venues.bybit import BybitCodec, DropReason
from venues.events import Dropped, LoggedIn, LoginFailed, NeedResubscribe, Pong, Subscribed, SubscribeFailed
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
TOPIC = "orderbook.50.BTCUSDT"


def book_frame(
    kind: str, u: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = 1_700_000_000_000
) -> bytes:
    """A linear orderbook push written from the documented fields (topic, type, ts, data.s/b/a/u/seq, cts)."""
    data = {
        "s": "BTCUSDT",
        "b": [list(lv) for lv in bids],
        "a": [list(lv) for lv in asks],
        "u": u,
        "seq": u * 10,
    }
    return json.dumps(
        {"topic": TOPIC, "type": kind, "ts": ts, "data": data, "cts": ts - 2}, separators=(",", ":")
    ).encode()


OWN_SNAPSHOT = book_frame(
    "snapshot", 177400506,
    bids=[("30247.20", "10.0"), ("30246.00", "1.0"), ("30240.00", "2.0")],
    asks=[("30248.70", "1.5"), ("30249.60", "0.3"), ("30250.00", "5.0")],
)  # fmt: skip


def levels(raw: list[list[str]]) -> dict[float, float]:
    return {float(p): float(s) for p, s in raw}


def apply_model(book: dict[float, float], changes: list[list[str]]) -> None:
    for p, s in changes:
        if float(s) == 0.0:
            book.pop(float(p), None)
        else:
            book[float(p)] = float(s)


# -- fixtures replayed -------------------------------------------------------------------------------
def test_fixture_snapshot_makes_the_book_live_with_its_exact_levels(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_orderbook_snapshot.json")
    codec = BybitCodec(registry, emit_deltas=True)
    out = codec.feed(wire_bytes("bybit/ws_orderbook_snapshot.json"), 7)
    bids = [(float(p), float(s)) for p, s in doc["data"]["b"]]
    asks = [(float(p), float(s)) for p, s in doc["data"]["a"]]
    assert out == [
        BookIntegrity(venue=Venue.BYBIT, instrument=BTC, state=BookState.LIVE, reason=f"snapshot u={doc['data']['u']} on {doc['topic']}", ts=7),
        BookSnapshot(venue=Venue.BYBIT, instrument=BTC, bids=tuple(bids), asks=tuple(asks), sequence=doc["data"]["u"], ts_event=doc["ts"] * 1_000_000, ts_recv=7),
        Quote(venue=Venue.BYBIT, instrument=BTC, bid_px=bids[0][0], bid_sz=bids[0][1], ask_px=asks[0][0], ask_sz=asks[0][1], ts_event=doc["ts"] * 1_000_000, ts_recv=7),
    ]  # fmt: skip
    assert (bids[0], bids[-1], asks[0], asks[-1]) == (
        (16493.5, 0.006),
        (16493.0, 0.1),
        (16611.0, 0.029),
        (16612.0, 0.213),
    )
    assert codec.book(BTC).as_sorted() == (bids, asks)
    assert codec.book_state(BTC) is BookState.LIVE


def test_fixture_delta_on_the_unrelated_fixture_snapshot_is_caught_as_crossed(
    registry: InstrumentRegistry,
) -> None:
    # The two doc examples are from different days (16.5k vs 30.2k): applying one onto the other crosses
    # the book, and the codec must resync instead of publishing it.
    codec = BybitCodec(registry)
    codec.feed(wire_bytes("bybit/ws_orderbook_snapshot.json"), 1)
    out = codec.feed(wire_bytes("bybit/ws_orderbook_delta.json"), 2)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[0], BookIntegrity) and out[0].state is BookState.RESYNCING
    assert "crossed: best bid 30247.2 >= best ask 16611.0" in out[0].reason
    assert codec.book_state(BTC) is BookState.RESYNCING


def test_fixture_delta_applies_to_the_exact_expected_levels(registry: InstrumentRegistry) -> None:
    delta = wire_json("bybit/ws_orderbook_delta.json")
    codec = BybitCodec(registry, emit_deltas=True)
    codec.feed(OWN_SNAPSHOT, 1)
    out = codec.feed(wire_bytes("bybit/ws_orderbook_delta.json"), 2)
    snap = json.loads(OWN_SNAPSHOT)["data"]
    bids, asks = levels(snap["b"]), levels(snap["a"])
    apply_model(bids, delta["data"]["b"])
    apply_model(asks, delta["data"]["a"])
    expected_bids = sorted(bids.items(), reverse=True)
    expected_asks = sorted(asks.items())
    assert codec.book(BTC).as_sorted() == (expected_bids, expected_asks)
    # Values read from the fixture: 30247.20 -> 30.028, 30240.00 and 30248.70 / 30249.60 deleted.
    assert expected_bids[0] == (30247.2, 30.028)
    assert 30240.0 not in bids and 30248.7 not in asks and 30249.6 not in asks
    assert expected_asks[0] == (30249.3, 0.892)
    u = delta["data"]["u"]
    assert out == [
        BookDelta(
            venue=Venue.BYBIT, instrument=BTC,
            bids=tuple((float(p), float(s)) for p, s in delta["data"]["b"]),
            asks=tuple((float(p), float(s)) for p, s in delta["data"]["a"]),
            sequence=u, prev_sequence=177400506, ts_event=delta["ts"] * 1_000_000, ts_recv=2,
        ),
        Quote(venue=Venue.BYBIT, instrument=BTC, bid_px=30247.2, bid_sz=30.028, ask_px=30249.3, ask_sz=0.892, ts_event=delta["ts"] * 1_000_000, ts_recv=2),
    ]  # fmt: skip


# -- sequencing on our own payloads -------------------------------------------------------------------
def test_delta_before_any_snapshot_is_dropped_and_not_applied(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    out = codec.feed(book_frame("delta", 5, [("100.0", "1")], [("101.0", "1")]), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].reason == DropReason.DELTA_BEFORE_SNAPSHOT
    assert codec.book_state(BTC) is BookState.SYNCING
    assert codec.book(BTC).depth == (0, 0)


def test_non_increasing_u_is_a_gap_that_triggers_resubscribe(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    codec.feed(book_frame("snapshot", 100, [("100.0", "1")], [("101.0", "1")]), 1)
    codec.feed(book_frame("delta", 101, [("100.0", "2")], []), 2)
    out = codec.feed(book_frame("delta", 101, [("99.0", "7")], []), 3)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    integrity, resub = out
    assert isinstance(integrity, BookIntegrity) and isinstance(resub, NeedResubscribe)
    assert integrity.state is BookState.RESYNCING
    assert (
        integrity.reason
        == "expected u > 101 for bybit BTC-USDT-PERP orderbook.50.BTCUSDT, got 101; resyncing"
    )
    assert resub == NeedResubscribe(instrument=BTC, reason=integrity.reason)
    assert codec.book(BTC).bid_size(99.0) == 0.0  # the gapped delta was not applied
    # Deltas stay out until a snapshot arrives; then the book is live again.
    later = codec.feed(book_frame("delta", 103, [("98.0", "1")], []), 4)
    assert [d.reason for d in later if isinstance(d, Dropped)] == [DropReason.AWAITING_SNAPSHOT]
    back = codec.feed(book_frame("snapshot", 200, [("100.5", "1")], [("101.5", "2")]), 5)
    assert isinstance(back[0], BookIntegrity) and back[0].state is BookState.LIVE
    assert back[-1] == Quote(
        venue=Venue.BYBIT,
        instrument=BTC,
        bid_px=100.5,
        bid_sz=1.0,
        ask_px=101.5,
        ask_sz=2.0,
        ts_event=1_700_000_000_000_000_000,
        ts_recv=5,
    )


def test_decreasing_u_is_a_gap_too(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    codec.feed(book_frame("snapshot", 100, [("100.0", "1")], [("101.0", "1")]), 1)
    out = codec.feed(book_frame("delta", 42, [], []), 2)
    assert isinstance(out[0], BookIntegrity) and "got 42" in out[0].reason


def test_u_equal_one_overwrites_the_book_like_a_snapshot(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    codec.feed(book_frame("snapshot", 5000, [("100.0", "1"), ("99.0", "3")], [("101.0", "1")]), 1)
    codec.feed(book_frame("delta", 5001, [("98.0", "1")], []), 2)
    out = codec.feed(book_frame("delta", 1, [("50.0", "4")], [("51.0", "5")]), 3)
    assert codec.book(BTC).as_sorted() == ([(50.0, 4.0)], [(51.0, 5.0)])
    assert out[-1] == Quote(
        venue=Venue.BYBIT,
        instrument=BTC,
        bid_px=50.0,
        bid_sz=4.0,
        ask_px=51.0,
        ask_sz=5.0,
        ts_event=1_700_000_000_000_000_000,
        ts_recv=3,
    )
    # The sequence restarts from 1.
    nxt = codec.feed(book_frame("delta", 2, [("50.0", "6")], []), 4)
    assert isinstance(nxt[-1], Quote) and nxt[-1].bid_sz == 6.0


def test_later_snapshot_replaces_the_whole_book_without_an_integrity_event(
    registry: InstrumentRegistry,
) -> None:
    codec = BybitCodec(registry)
    codec.feed(book_frame("snapshot", 10, [("100.0", "1"), ("99.0", "1")], [("101.0", "1")]), 1)
    out = codec.feed(book_frame("snapshot", 10, [("90.0", "2")], [("91.0", "3")]), 2)
    assert [type(m) for m in out] == [Quote]
    assert codec.book(BTC).as_sorted() == ([(90.0, 2.0)], [(91.0, 3.0)])


def test_crossed_snapshot_is_not_published(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    out = codec.feed(book_frame("snapshot", 10, [("101.0", "1")], [("101.0", "1")]), 1)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[0], BookIntegrity) and out[0].state is BookState.RESYNCING
    assert "crossed: best bid 101.0 >= best ask 101.0" in out[0].reason
    assert codec.book_state(BTC) is BookState.RESYNCING


def test_reset_sends_every_book_back_to_syncing(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    codec.feed(book_frame("snapshot", 10, [("100.0", "1")], [("101.0", "1")]), 1)
    out = codec.reset(ts_recv=9)
    assert out == [
        BookIntegrity(venue=Venue.BYBIT, instrument=BTC, state=BookState.SYNCING, reason="reconnect", ts=9)
    ]
    assert codec.book_state(BTC) is BookState.SYNCING
    assert codec.book(BTC).depth == (0, 0)
    assert codec.reset() == []


def test_track_book_gives_the_topic_that_book_topic_names_again(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry, depth=200)
    assert codec.track_book(BTC) == "orderbook.200.BTCUSDT" == codec.book_topic(BTC)
    # A frame of another depth for the same instrument is not mixed into this book.
    out = codec.feed(book_frame("snapshot", 1, [("1.0", "1")], [("2.0", "1")]), 1)
    assert isinstance(out[0], Dropped) and out[0].reason == DropReason.OTHER_DEPTH


def test_book_of_an_unregistered_symbol_is_dropped() -> None:
    codec = BybitCodec(InstrumentRegistry())
    out = codec.feed(book_frame("snapshot", 1, [("1.0", "1")], [("2.0", "1")]), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped) and out[0].reason == DropReason.UNKNOWN_SYMBOL
    assert "BTCUSDT" in out[0].error


# -- tickers, trades, klines ---------------------------------------------------------------------------
def test_linear_ticker_snapshot_becomes_a_quote(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_ticker_linear_perp_snapshot.json")
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_ticker_linear_perp_snapshot.json"), 3)
    d = doc["data"]
    assert out == [
        Quote(
            venue=Venue.BYBIT, instrument=BTC, bid_px=float(d["bid1Price"]), bid_sz=float(d["bid1Size"]),
            ask_px=float(d["ask1Price"]), ask_sz=float(d["ask1Size"]), ts_event=doc["ts"] * 1_000_000, ts_recv=3,
        )
    ]  # fmt: skip
    assert (float(d["bid1Price"]), float(d["ask1Price"])) == (66666.6, 66666.7)


def test_ticker_delta_is_merged_with_the_previous_ticker(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    codec.feed(wire_bytes("bybit/ws_ticker_linear_perp_snapshot.json"), 1)
    delta = b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","ask1Price":"66670.00","lastPrice":"66669"},"cs":9532239430,"ts":1760325052730}'
    out = codec.feed(delta, 2)
    assert out == [
        Quote(
            venue=Venue.BYBIT,
            instrument=BTC,
            bid_px=66666.6,
            bid_sz=23789.165,
            ask_px=66670.0,
            ask_sz=23775.469,
            ts_event=1760325052730 * 1_000_000,
            ts_recv=2,
        )
    ]


def test_ticker_delta_without_a_previous_snapshot_gives_no_quote(registry: InstrumentRegistry) -> None:
    delta = b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"1.0"},"ts":1}'
    assert BybitCodec(registry).feed(delta, 1) == []


def test_spot_ticker_without_bid_and_ask_gives_no_quote(registry: InstrumentRegistry) -> None:
    assert BybitCodec(registry).feed(wire_bytes("bybit/ws_ticker_spot_snapshot.json"), 1) == []


def test_public_trade_fixture_becomes_a_trade(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_public_trade.json")["data"][0]
    (trade,) = BybitCodec(registry).feed(wire_bytes("bybit/ws_public_trade.json"), 4)
    assert trade == Trade(
        venue=Venue.BYBIT, instrument=BTC, price=float(doc["p"]), size=float(doc["v"]), side=Side.BUY,
        trade_id=doc["i"], ts_event=doc["T"] * 1_000_000, ts_recv=4,
    )  # fmt: skip
    assert (doc["p"], doc["v"], doc["S"]) == ("16578.50", "0.001", "Buy")


def test_kline_fixture_becomes_an_open_candle(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_kline.json")["data"][0]
    (k,) = BybitCodec(registry).feed(wire_bytes("bybit/ws_kline.json"), 5)
    assert isinstance(k, Kline)
    assert (k.interval, k.open_time, k.close_time) == ("5m", doc["start"] * 1_000_000, doc["end"] * 1_000_000)
    assert (k.open, k.high, k.low, k.close, k.volume) == (16649.5, 16677.0, 16608.0, 16677.0, 2.081)
    assert k.closed is doc["confirm"] is False
    assert k.ts_event == doc["timestamp"] * 1_000_000


# -- acks and heartbeats ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "ws_pong_public_linear.json",
        "ws_pong_public_spot.json",
        "ws_pong_public_option.json",
        "ws_pong_private.json",
        "ws_trade_pong.json",
    ],
)
def test_every_pong_shape_becomes_a_pong(registry: InstrumentRegistry, name: str) -> None:
    assert BybitCodec(registry).feed(wire_bytes(f"bybit/{name}"), 1) == [Pong(ts_sent=0)]


def test_pong_echoing_a_numeric_req_id_reports_the_send_time(registry: InstrumentRegistry) -> None:
    frame = b'{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"1700000000123","op":"ping"}'
    assert BybitCodec(registry).feed(frame, 1) == [Pong(ts_sent=1700000000123)]


@pytest.mark.parametrize("name", ["ws_subscribe_ack_linear.json", "ws_subscribe_ack_private.json"])
def test_subscribe_acks_become_subscribed(registry: InstrumentRegistry, name: str) -> None:
    assert BybitCodec(registry).feed(wire_bytes(f"bybit/{name}"), 1) == [
        Subscribed(channels=(), request_id="")
    ]


def test_command_resp_ack_lists_the_subscribed_topics(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_subscribe_ack_option.json")
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_subscribe_ack_option.json"), 1)
    assert out == [Subscribed(channels=tuple(doc["data"]["successTopics"]))]
    assert out[0].channels == ("orderbook.100.BTC-6JAN23-18000-C",)  # type: ignore[union-attr]


def test_failed_subscribe_keeps_the_venue_text(registry: InstrumentRegistry) -> None:
    frame = b'{"success":false,"ret_msg":"error:handler not found,topic:orderbook.7.BTCUSDT","conn_id":"c","req_id":"r1","op":"subscribe"}'
    assert BybitCodec(registry).feed(frame, 1) == [
        SubscribeFailed(code="", text="error:handler not found,topic:orderbook.7.BTCUSDT", request_id="r1")
    ]


@pytest.mark.parametrize(
    ("frame", "event"),
    [
        # The venue's error replies (docs/v5/ws/connect shapes with success false), never undecodable drops.
        (b'{"success":false,"ret_msg":"Request not authorized","op":"subscribe","conn_id":"c"}',
         SubscribeFailed(code="", text="Request not authorized")),
        (b'{"success":false,"ret_msg":"error:already subscribed,topic:x","conn_id":"c","req_id":7,"op":"subscribe"}',
         SubscribeFailed(code="", text="error:already subscribed,topic:x", request_id="7")),
        (b'{"success":false,"ret_msg":"x","conn_id":"c","req_id":null,"op":"subscribe"}',
         SubscribeFailed(code="", text="x")),
        (b'{"success":false,"ret_msg":"error:request not supported","conn_id":"c","req_id":"sub-3"}',
         SubscribeFailed(code="", text="request: error:request not supported", request_id="sub-3")),
        (b'{"success":false,"ret_msg":"busy","conn_id":"c","req_id":"u-1","op":"unsubscribe"}',
         SubscribeFailed(code="", text="unsubscribe: busy", request_id="u-1")),
        (b'{"success":false,"ret_msg":"too many","conn_id":"c","req_id":"1700000000123","op":"ping"}',
         SubscribeFailed(code="", text="ping: too many", request_id="1700000000123")),
        (b'{"success":false,"ret_msg":"Request expired","op":"auth","conn_id":"c","req_id":"auth-1"}',
         LoginFailed(code="", text="Request expired")),
        (b'{"success":true,"ret_msg":"","conn_id":"c","req_id":"sub-1","op":"subscribe"}',
         Subscribed(channels=(), request_id="sub-1")),
    ],
)
def test_ws_replies_become_typed_events_whatever_they_name(
    registry: InstrumentRegistry, frame: bytes, event: object
) -> None:
    assert BybitCodec(registry).feed(frame, 1) == [event]


@pytest.mark.parametrize("name", ["ws_auth_response.json", "ws_trade_auth_response.json"])
def test_auth_acks_of_both_sockets_become_logged_in(registry: InstrumentRegistry, name: str) -> None:
    assert BybitCodec(registry).feed(wire_bytes(f"bybit/{name}"), 1) == [LoggedIn()]


def test_failed_auth_becomes_login_failed_with_the_venue_text(registry: InstrumentRegistry) -> None:
    private = b'{"success":false,"ret_msg":"Params Error","op":"auth","conn_id":"c"}'
    trade = b'{"retCode":10004,"retMsg":"Invalid sign","op":"auth","connId":"c"}'
    codec = BybitCodec(registry)
    assert codec.feed(private, 1) == [LoginFailed(code="", text="Params Error")]
    assert codec.feed(trade, 1) == [LoginFailed(code="10004", text="Invalid sign")]


@pytest.mark.parametrize(
    "name", ["ws_trade_order_create_response.json", "ws_trade_batch_create_response_with_errors.json"]
)
def test_order_entry_acks_are_dropped_as_unsupported(registry: InstrumentRegistry, name: str) -> None:
    doc: dict[str, Any] = wire_json(f"bybit/{name}")
    out = BybitCodec(registry).feed(wire_bytes(f"bybit/{name}"), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].reason == DropReason.UNSUPPORTED_OP and repr(doc["op"]) in out[0].error


def test_unknown_topic_and_frame_without_topic_or_op_are_dropped(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry)
    (a,) = codec.feed(b'{"topic":"liquidation.BTCUSDT","data":{}}', 1)
    (b,) = codec.feed(b'{"hello":1}', 1)
    assert (
        isinstance(a, Dropped) and a.reason == DropReason.UNKNOWN_TOPIC and "'liquidation.BTCUSDT'" in a.error
    )
    assert (
        isinstance(b, Dropped)
        and b.reason == DropReason.DECODE_ERROR
        and "expected a 'topic' or an 'op'" in b.error
    )


def test_bybit_package_imports_no_io_or_clock_module() -> None:
    import ast
    from pathlib import Path

    banned = {"asyncio", "anyio", "aiohttp", "socket", "time"}
    for path in sorted(Path("venues/bybit").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & banned, f"{path} imports {names}"


def test_u_jump_is_a_gap_when_the_codec_enforces_contiguous_u(registry: InstrumentRegistry) -> None:
    codec = BybitCodec(registry, contiguous_u=True)
    codec.feed(wire_bytes("bybit/ws_orderbook_snapshot.json"), 1)
    out = codec.feed(wire_bytes("bybit/ws_orderbook_delta.json"), 2)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[0], BookIntegrity) and out[0].state is BookState.RESYNCING
    assert "expected u 18521289 after 18521288" in out[0].reason and "got 177400507" in out[0].reason
