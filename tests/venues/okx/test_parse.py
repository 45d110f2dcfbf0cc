"""OKX parse: private order pushes (OrderUpdate + the latest Fill), positions, account, candle intervals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from messages.account import Balance, Position
from messages.base import InstrumentId, OrderStatus, OrderType, Side, Venue
from messages.orders import Fill, OrderUpdate
from venues.errors import DecodeError
from venues.events import Dropped, LoggedIn, LoginFailed, Subscribed, SubscribeFailed
from venues.okx import OkxCodec
from venues.okx.parse import interval_close_ms
from venues.symbols import InstrumentRegistry

OkxBytes = Callable[[str], bytes]
OKX = Venue.OKX


def test_orders_push_gives_the_order_update_and_its_latest_fill(
    registry: InstrumentRegistry, okx_bytes: OkxBytes
) -> None:
    update, fill = OkxCodec(registry).feed(okx_bytes("ws_orders_push.json"), 8)
    assert isinstance(update, OrderUpdate) and isinstance(fill, Fill)
    assert (update.instrument, update.venue_order_id, update.client_order_id) == (
        "BTC-USDT",
        "452197707845865472",
        None,
    )
    assert (update.status, update.raw_status, update.side, update.order_type) == (
        OrderStatus.FILLED, "filled", Side.SELL, OrderType.LIMIT)  # fmt: skip
    assert (update.quantity, update.filled_qty, update.avg_price, update.price) == (
        Decimal("0.001"), Decimal("0.001"), Decimal("31527.1"), Decimal("31527.1"))  # fmt: skip
    assert (update.ts_event, update.ts_recv) == (1654084353264000000, 8)
    assert (fill.trade_id, fill.price, fill.quantity, fill.fee, fill.fee_asset, fill.liquidity) == (
        "242589207", Decimal("31527.1"), Decimal("0.001"), Decimal("0.02522168"), "USDT", "maker")  # fmt: skip
    assert fill.ts_event == 1654084353263000000


def test_swap_order_push_sizes_stay_in_contracts_and_partial_fill_is_reported(
    registry: InstrumentRegistry,
) -> None:
    frame = (
        b'{"arg":{"channel":"orders","instType":"SWAP","uid":"1"},"data":[{"instId":"BTC-USDT-SWAP",'
        b'"ordId":"9","clOrdId":"cb7","state":"partially_filled","side":"buy","ordType":"ioc","sz":"10",'
        b'"px":"30000","avgPx":"29999.5","accFillSz":"4","fillSz":"3","fillPx":"30000","tradeId":"t2",'
        b'"fillFee":"-0.45","fillFeeCcy":"USDT","execType":"T","fillTime":"1700000000001",'
        b'"reduceOnly":"true","uTime":"1700000000002","cTime":"1700000000000"}]}'
    )
    update, fill = OkxCodec(registry).feed(frame, 1)
    assert isinstance(update, OrderUpdate) and isinstance(fill, Fill)
    assert (update.instrument, update.status, update.quantity, update.filled_qty) == (
        "BTC-USDT-PERP", OrderStatus.PARTIALLY_FILLED, Decimal("10"), Decimal("4"))  # fmt: skip
    assert (update.last_fill_qty, update.last_fill_px, update.reduce_only) == (
        Decimal("3"),
        Decimal("30000"),
        True,
    )
    assert (fill.client_order_id, fill.quantity, fill.fee, fill.liquidity) == (
        "cb7",
        Decimal("3"),
        Decimal("0.45"),
        "taker",
    )


def test_order_push_with_an_unknown_state_is_dropped_as_unknown_status(registry: InstrumentRegistry) -> None:
    frame = b'{"arg":{"channel":"orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP","ordId":"1","state":"expired","side":"buy","ordType":"limit","sz":"1"}]}'
    (dropped,) = OkxCodec(registry).feed(frame, 1)
    assert dropped == Dropped(
        reason="unknown_status",
        error="unknown okx order status 'expired'; expected one of live, partially_filled, filled, canceled, mmp_canceled",
    )


def test_positions_and_account_pushes(registry: InstrumentRegistry) -> None:
    codec = OkxCodec(registry)
    (pos,) = codec.feed(
        b'{"arg":{"channel":"positions","instType":"SWAP"},"data":[{"instId":"BTC-USD-SWAP","pos":"-12",'
        b'"posSide":"net","avgPx":"60000","upl":"0.0012","lever":"10","liqPx":"80000","uTime":"1700000000000"}]}',
        2,
    )
    assert pos == Position(
        venue=OKX, instrument=InstrumentId("BTC-USD-PERP"), side=Side.SELL, size=Decimal("12"), entry_price=Decimal("60000"),
        unrealized_pnl=Decimal("0.0012"), ts_event=1700000000000000000, ts_recv=2, leverage=Decimal("10"),
        liquidation_price=Decimal("80000"),
    )  # fmt: skip
    (bal,) = codec.feed(
        b'{"arg":{"channel":"account"},"data":[{"uTime":"1700000000000","details":[{"ccy":"USDT","eq":"100.5",'
        b'"cashBal":"100","upl":"0.5","availEq":"88.75","availBal":"90.25","uTime":"1700000000001"}]}]}',
        3,
    )
    assert bal == Balance(
        venue=OKX, asset="USDT", total=Decimal("100"), available=Decimal("88.75"), unrealized_pnl=Decimal("0.5"),
        ts_event=1700000000001000000, ts_recv=3,
    )  # fmt: skip


def test_event_frames_become_codec_events(registry: InstrumentRegistry, okx_bytes: OkxBytes) -> None:
    codec = OkxCodec(registry)
    assert codec.feed(okx_bytes("ws_books_subscribe_ack.json"), 1) == [
        Subscribed(channels=("books:BTC-USDT",), request_id="1512")
    ]
    assert codec.feed(okx_bytes("ws_login_response.json"), 1) == [LoggedIn()]
    assert codec.feed(okx_bytes("ws_login_error.json"), 1) == [
        LoginFailed(code="60009", text="Login failed.")
    ]
    (failed,) = codec.feed(okx_bytes("ws_subscribe_error.json"), 1)
    assert isinstance(failed, SubscribeFailed)
    assert (failed.code, failed.request_id) == ("60012", "1512")
    assert failed.text.startswith('Invalid request: {"op": "subscribe", "argss"')


def test_candle_intervals_close_one_ms_before_the_next_open() -> None:
    assert interval_close_ms("1m", 0) == 59_999
    assert interval_close_ms("4H", 0) == 4 * 3_600_000 - 1
    assert interval_close_ms("1Dutc", 0) == 86_400_000 - 1
    assert interval_close_ms("1M", 1_706_745_600_000) == 1_709_251_200_000 - 1  # Feb 2024 has 29 days
    assert interval_close_ms("1Y", 0) == 31_536_000_000 - 1
    with pytest.raises(DecodeError, match="expected e.g. 1m, 1H, 1D, 1M, got 'x5'"):
        interval_close_ms("x5", 0)
