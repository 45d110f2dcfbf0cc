"""OkxCodec: every channel's frames, the position mode rows show, and garbage never crashing it (books:
test_books.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages.account import AccountConfig, Position, PositionMode
from messages.base import InstrumentId, Side, Venue
from messages.market import BookSnapshot, Quote
from messages.orders import Fill, OrderUpdate
from tests.venues.okx.test_books import SNAP_ASKS, SNAP_BIDS, BookFeed
from venues.events import Dropped, Pong, SendFrame, StreamExpired
from venues.okx import OkxCodec
from venues.symbols import InstrumentRegistry

OkxBytes = Callable[[str], bytes]
OKX = Venue.OKX
PERP = InstrumentId("BTC-USDT-PERP")
SPOT = InstrumentId("BTC-USDT")


def test_books5_and_bbo_tbt_become_quotes(registry: InstrumentRegistry, okx_bytes: OkxBytes) -> None:
    codec = OkxCodec(registry, emit_deltas=True)
    bch = InstrumentId("BCH-USDT-PERP")
    expected = Quote(
        venue=OKX, instrument=bch, bid_px=111.05, bid_sz=57745.0, ask_px=111.06, ask_sz=55154.0,
        ts_event=1670324386802000000, ts_recv=3,
    )  # fmt: skip
    out = codec.feed(okx_bytes("ws_bbo_tbt.json"), 3)
    assert out[0] == expected
    out = codec.feed(okx_bytes("ws_books5.json"), 3)
    assert out[0] == expected
    snap = out[1]
    assert isinstance(snap, BookSnapshot)
    assert snap.bids[-1] == (111.01, 65090.0) and snap.asks[-1] == (111.1, 67272.0)
    assert snap.sequence == 363996337


def test_trades_tickers_and_candles_are_parsed_field_by_field(
    registry: InstrumentRegistry, okx_bytes: OkxBytes
) -> None:
    codec = OkxCodec(registry)
    (trade,) = codec.feed(okx_bytes("ws_trades_push.json"), 4)
    assert (trade.instrument, trade.price, trade.size, trade.side, trade.trade_id, trade.ts_event) == (  # type: ignore[union-attr]
        SPOT, 42219.9, 0.12060306, Side.BUY, "130639474", 1630048897897000000,
    )  # fmt: skip
    (trade,) = codec.feed(okx_bytes("ws_real_trades_UNI-USD-SWAP.json"), 4)
    assert (trade.instrument, trade.price, trade.size, trade.side, trade.trade_id) == (  # type: ignore[union-attr]
        "UNI-USD-PERP", 5.123, 100.0, Side.SELL, "12883020",
    )  # fmt: skip
    (quote,) = codec.feed(okx_bytes("ws_real_tickers_UNI-USD-SWAP.json"), 4)
    assert quote == Quote(
        venue=OKX, instrument=InstrumentId("UNI-USD-PERP"), bid_px=5.134, bid_sz=96.0, ask_px=5.142,
        ask_sz=25.0, ts_event=1652459223143000000, ts_recv=4,
    )  # fmt: skip
    (quote,) = codec.feed(okx_bytes("ws_tickers_push.json"), 4)
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (8888.88, 5.0, 9999.99, 11.0)  # type: ignore[union-attr]
    (kline,) = codec.feed(okx_bytes("ws_candle_push.json"), 4)
    assert (kline.interval, kline.open, kline.high, kline.low, kline.close, kline.volume, kline.closed) == (  # type: ignore[union-attr]
        "1D", 8533.02, 8553.74, 8527.17, 8548.26, 45247.0, False,
    )  # fmt: skip
    assert kline.open_time == 1597026383085 * 1_000_000  # type: ignore[union-attr]
    assert kline.close_time == (1597026383085 + 86_400_000 - 1) * 1_000_000  # type: ignore[union-attr]


def test_heartbeat_text_frames_and_notice(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    assert codec.feed(b"pong", 1) == [Pong()]
    assert codec.feed(b"ping", 1) == [SendFrame(frame=b"pong")]
    notice = b'{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.","connId":"a4d3ae55"}'
    assert codec.feed(notice, 1) == [
        StreamExpired(reason="okx notice 64008: The connection will soon be closed for a service upgrade.")
    ]


def test_unknown_instrument_and_unknown_channel_are_dropped_not_raised(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    out = codec.feed(
        b'{"arg":{"channel":"trades","instId":"DOGE-USDT-SWAP"},"data":[{"instId":"DOGE-USDT-SWAP","tradeId":"1","px":"0.1","sz":"1","side":"buy","ts":"1"}]}',
        1,
    )
    assert out == [
        Dropped(reason="unknown_instrument", error="no instrument with okx symbol 'DOGE-USDT-SWAP'")
    ]
    out = codec.feed(b'{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[]}', 1)
    assert out == [
        Dropped(reason="unknown channel", error="okx channel 'funding-rate' is not handled")
    ]


# -- the position mode the private rows show -----------------------------------------------------------------
def _order_row(pos_side: str, inst_type: str = "SWAP", ord_id: str = "1") -> bytes:
    row = {"instId": "BTC-USDT-SWAP", "instType": inst_type, "ordId": ord_id, "state": "live", "side": "buy",
           "ordType": "limit", "sz": "2", "px": "100", "posSide": pos_side}
    return json.dumps({"arg": {"channel": "orders", "instType": "ANY"}, "data": [row]}).encode()


def _position_row(pos_side: str, pos: str) -> bytes:
    row = {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "pos": pos, "posSide": pos_side, "avgPx": "100",
           "upl": "0.5", "uTime": "1700000000000"}
    return json.dumps({"arg": {"channel": "positions", "instType": "SWAP"}, "data": [row]}).encode()


def test_a_derivatives_row_with_long_or_short_pos_side_shows_long_short_mode_once(registry: InstrumentRegistry) -> None:
    """OKX pushes no config change, but posSide long/short exists only in long_short_mode and net only in
    net_mode: a row that contradicts the known mode yields one AccountConfig, then nothing until it changes."""
    codec = OkxCodec(registry)
    assert codec.position_mode.value == "one_way"  # (not narrowed: the feed below changes it)
    config, update = codec.feed(_order_row("long"), 5)
    assert config == AccountConfig(venue=OKX, position_mode=PositionMode.HEDGE, ts=5,
                                   detail="orders push BTC-USDT-SWAP 1 with posSide 'long': the account is in long_short_mode")  # fmt: skip
    assert isinstance(update, OrderUpdate) and codec.position_mode is PositionMode.HEDGE
    assert [type(o) for o in codec.feed(_order_row("short", ord_id="2"), 6)] == [OrderUpdate]
    assert [type(o) for o in codec.feed(_position_row("short", "3"), 7)] == [Position]
    config, position = codec.feed(_position_row("net", "-3"), 8)
    assert config == AccountConfig(venue=OKX, position_mode=PositionMode.ONE_WAY, ts=8,
                                   detail="positions push BTC-USDT-SWAP with posSide 'net': the account is in net_mode")  # fmt: skip
    assert isinstance(position, Position) and (position.side, position.size) == (Side.SELL, Decimal(3))


def test_spot_rows_and_rows_without_pos_side_say_nothing_about_the_mode(
    registry: InstrumentRegistry, okx_bytes: OkxBytes
) -> None:
    codec = OkxCodec(registry)
    codec.position_mode = PositionMode.HEDGE
    assert [type(o) for o in codec.feed(okx_bytes("ws_orders_push.json"), 1)] == [OrderUpdate, Fill]  # SPOT, posSide ""
    assert [type(o) for o in codec.feed(_order_row("net", inst_type="MARGIN"), 2)] == [OrderUpdate]
    assert [type(o) for o in codec.feed(_order_row(""), 3)] == [OrderUpdate]
    assert codec.position_mode is PositionMode.HEDGE


# -- hypothesis: garbage never crashes -----------------------------------------
def _feed_is_safe(codec: OkxCodec, frame: bytes) -> None:
    out = codec.feed(frame, 1)
    assert isinstance(out, list)


@settings(max_examples=150, deadline=None)
@given(frame=st.binary(max_size=300))
def test_random_bytes_give_dropped_events_never_exceptions(frame: bytes) -> None:
    codec = OkxCodec(InstrumentRegistry())
    out = codec.feed(frame, 1)
    assert all(isinstance(o, (Dropped, Pong, SendFrame)) for o in out)


def _real_frames() -> list[bytes]:
    frames = [
        BookFeed().snapshot(SNAP_BIDS, SNAP_ASKS),
        b'{"arg":{"channel":"orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP","ordId":"1","state":"live","side":"buy","ordType":"limit","sz":"2","px":"100"}]}',
        b'{"event":"login","code":"0","msg":""}',
    ]
    return frames


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_and_mutated_frames_never_raise(registry: InstrumentRegistry, data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(_real_frames()))
    cut = data.draw(st.integers(min_value=0, max_value=len(frame)))
    pos = data.draw(st.integers(min_value=0, max_value=max(0, len(frame) - 1)))
    byte = data.draw(st.integers(min_value=0, max_value=255))
    mutated = frame[:pos] + bytes([byte]) + frame[pos + 1 :]
    codec = OkxCodec(registry)
    _feed_is_safe(codec, frame[:cut])
    _feed_is_safe(codec, mutated)
