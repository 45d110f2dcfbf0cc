"""Deribit channel payloads -> exact messages, checked field by field against the fixture files."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from messages.account import Balance, Position
from messages.base import InstrumentId, OrderStatus, OrderType, Side, Venue
from messages.market import Kline, Quote, Trade
from messages.orders import Fill, OrderUpdate
from venues.deribit import DeribitCodec, unified_id
from venues.events import Dropped

PERP = InstrumentId("BTC-USD-PERP")
MS = 1_000_000
D = Decimal


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize(
    ("name", "unified"),
    [
        ("BTC-PERPETUAL", "BTC-USD-PERP"),
        ("BTC_USDC-PERPETUAL", "BTC-USDC-PERP"),
        ("BTC-29SEP23", "BTC-USD-20230929"),
        ("BTC_USDC-6SEP26", "BTC-USDC-20260906"),
        ("BTC-24SEP21-8000-P", "BTC-USD-20210924-8000-P"),
        ("BTC_USDC", "BTC-USDC"),
        ("BTC-FS-29SEP23_PERP", "BTC-FS-29SEP23_PERP"),
    ],
)
def test_unified_ids_follow_the_symbols_module_scheme(name: str, unified: str) -> None:
    assert unified_id(name) == unified


def test_public_trades_become_trades(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    (t,) = deribit_json("ws_trades_data.json")
    out = DeribitCodec().feed(notification("ws_trades_data.json", "trades.BTC-PERPETUAL.100ms"), 5)
    assert out == [Trade(venue=Venue.DERIBIT, instrument=PERP, price=t["price"], size=t["amount"], side=Side.SELL,
                         trade_id=t["trade_id"], ts_event=t["timestamp"] * MS, ts_recv=5)]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "channel"),
    [("ws_ticker_data.json", "ticker.BTC-PERPETUAL.100ms"), ("ws_quote_data.json", "quote.BTC-PERPETUAL")],
)
def test_ticker_and_quote_channels_become_quotes(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any], name: str, channel: str
) -> None:
    d = deribit_json(name)
    out = DeribitCodec().feed(notification(name, channel), 9)
    assert out == [Quote(venue=Venue.DERIBIT, instrument=PERP, bid_px=d["best_bid_price"], bid_sz=d["best_bid_amount"],
                         ask_px=d["best_ask_price"], ask_sz=d["best_ask_amount"], ts_event=d["timestamp"] * MS,
                         ts_recv=9)]  # fmt: skip


def test_real_option_ticker_notification_becomes_a_quote(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    d = deribit_json("ws_real_ticker_notification.json")["params"]["data"]
    (q,) = DeribitCodec().feed(deribit_bytes("ws_real_ticker_notification.json"), 1)
    assert isinstance(q, Quote) and q.instrument == InstrumentId("ETH-USD-20210730-2800-C")
    assert (q.bid_px, q.bid_sz, q.ask_px, q.ask_sz) == (0.0015, 4714.0, 0.0025, 873.0)
    assert (q.bid_px, q.ask_px, q.ts_event) == (d["best_bid_price"], d["best_ask_price"], d["timestamp"] * MS)


def test_chart_trades_become_a_kline(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    d = deribit_json("ws_chart_trades_data.json")
    (k,) = DeribitCodec().feed(notification("ws_chart_trades_data.json", "chart.trades.BTC-PERPETUAL.1"), 3)
    assert k == Kline(venue=Venue.DERIBIT, instrument=PERP, interval="1m", open_time=d["tick"] * MS,
                      close_time=(d["tick"] + 60_000) * MS, open=d["open"], high=d["high"], low=d["low"],
                      close=d["close"], volume=d["volume"], closed=False, ts_event=3, ts_recv=3)  # fmt: skip


def test_user_orders_raw_single_object_becomes_an_order_update(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    d = deribit_json("ws_user_orders_raw_data.json")
    (u,) = DeribitCodec().feed(
        notification("ws_user_orders_raw_data.json", "user.orders.BTC-PERPETUAL.raw"), 2
    )
    assert u == OrderUpdate(venue=Venue.DERIBIT, instrument=PERP, client_order_id=None, venue_order_id=d["order_id"],
                            status=OrderStatus.SUBMITTED, raw_status=d["order_state"], side=Side.BUY,
                            order_type=OrderType.LIMIT, quantity=_dec(d["amount"]), filled_qty=D(0), avg_price=None,
                            price=_dec(d["price"]), ts_event=d["last_update_timestamp"] * MS, ts_recv=2)  # fmt: skip


def test_user_orders_kind_currency_array_becomes_order_updates(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    (d,) = deribit_json("ws_user_orders_kind_currency_data.json")
    (u,) = DeribitCodec().feed(
        notification("ws_user_orders_kind_currency_data.json", "user.orders.future.BTC.100ms"), 2
    )
    assert isinstance(u, OrderUpdate)
    assert (u.venue_order_id, u.price, u.quantity, u.raw_status) == (
        d["order_id"],
        _dec(d["price"]),
        _dec(d["amount"]),
        "open",
    )


def test_user_trades_become_fills(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    trades = deribit_json("ws_user_trades_data.json")
    out = DeribitCodec().feed(notification("ws_user_trades_data.json", "user.trades.BTC-PERPETUAL.raw"), 4)
    assert out == [
        Fill(venue=Venue.DERIBIT, instrument=PERP, client_order_id=None, venue_order_id=t["order_id"],
             trade_id=t["trade_id"], side=Side.SELL, price=_dec(t["price"]), quantity=_dec(t["amount"]),
             fee=_dec(t["fee"]), fee_asset=t["fee_currency"], liquidity="taker", ts_event=t["timestamp"] * MS, ts_recv=4)
        for t in trades
    ]  # fmt: skip
    assert [f.trade_id for f in out if isinstance(f, Fill)] == ["48079254", "48079255"]


def test_user_changes_give_orders_fills_and_positions(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    d = deribit_json("ws_user_changes_data.json")
    out = DeribitCodec().feed(
        notification("ws_user_changes_data.json", "user.changes.BTC-PERPETUAL.100ms"), 6
    )
    assert [type(m) for m in out] == [OrderUpdate, Fill, Position]
    order, fill, pos = out
    assert isinstance(order, OrderUpdate) and order.status is OrderStatus.FILLED
    assert order.filled_qty == _dec(d["orders"][0]["filled_amount"]) and order.avg_price == _dec(
        d["orders"][0]["average_price"]
    )
    assert order.order_type is OrderType.MARKET
    assert (
        isinstance(fill, Fill)
        and fill.fee == _dec(d["trades"][0]["fee"])
        and fill.venue_order_id == "3398016"
    )
    p = d["positions"][0]
    assert pos == Position(venue=Venue.DERIBIT, instrument=PERP, side=Side.BUY, size=_dec(p["size"]),
                           entry_price=_dec(p["average_price"]), unrealized_pnl=_dec(p["floating_profit_loss"]),
                           ts_event=6, ts_recv=6, leverage=_dec(p["leverage"]))  # fmt: skip


def test_user_portfolio_becomes_a_balance_of_cash_free_margin_and_session_upl_apart(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    d = deribit_json("ws_user_portfolio_data.json")
    out = DeribitCodec().feed(notification("ws_user_portfolio_data.json", "user.portfolio.btc"), 8)
    assert out == [Balance(venue=Venue.DERIBIT, asset="BTC", total=_dec(d["balance"]),
                           available=_dec(d["available_funds"]), ts_event=8, ts_recv=8,
                           unrealized_pnl=_dec(d["session_upl"]))]  # fmt: skip
    # total is the cash without the session's PnL: the margin balance is total + that PnL, and equity
    # (which includes it) is not what total holds.
    margin = _dec(d["balance"]) + _dec(d["futures_session_upl"]) + _dec(d["futures_session_rpl"])
    assert abs(margin - _dec(d["margin_balance"])) < D("1e-7") and _dec(d["balance"]) != _dec(d["equity"])


def _frame(channel: str, data: Any) -> bytes:
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
    )


def test_own_partially_filled_order_with_label_and_market_price() -> None:
    order = {"order_id": "ETH-1", "order_state": "open", "instrument_name": "BTC_USDC-PERPETUAL", "direction": "sell",
             "amount": 0.01, "filled_amount": 0.004, "average_price": 65000.5, "order_type": "stop_market",
             "last_update_timestamp": 1700000000123, "price": "market_price", "label": "strat1-7", "reduce_only": True}  # fmt: skip
    (u,) = DeribitCodec().feed(_frame("user.orders.BTC_USDC-PERPETUAL.raw", order), 1)
    assert isinstance(u, OrderUpdate)
    assert (u.instrument, u.status, u.client_order_id, u.price, u.order_type) == (
        "BTC-USDC-PERP",
        OrderStatus.PARTIALLY_FILLED,
        "strat1-7",
        None,
        OrderType.MARKET,
    )
    assert (u.quantity, u.filled_qty, u.avg_price, u.reduce_only, u.side) == (
        D("0.01"),
        D("0.004"),
        D("65000.5"),
        True,
        Side.SELL,
    )


def test_own_order_with_unknown_state_is_dropped_as_unknown_status() -> None:
    order = {"order_id": "1", "order_state": "archived", "instrument_name": "BTC-PERPETUAL", "direction": "buy",
             "amount": 10, "order_type": "limit", "last_update_timestamp": 1, "price": 1}  # fmt: skip
    (d,) = DeribitCodec().feed(_frame("user.orders.BTC-PERPETUAL.raw", order), 1)
    assert isinstance(d, Dropped) and d.reason == "UnknownStatus" and "'archived'" in d.error


def test_own_maker_fill_with_label() -> None:
    trade = [{"trade_id": "9", "order_id": "77", "instrument_name": "BTC-PERPETUAL", "timestamp": 1700000000000,
              "direction": "buy", "price": 65000.5, "amount": 20, "fee": -0.0000001, "fee_currency": "BTC",
              "liquidity": "M", "label": "abc"}]  # fmt: skip
    (f,) = DeribitCodec().feed(_frame("user.trades.BTC-PERPETUAL.raw", trade), 1)
    assert isinstance(f, Fill)
    assert (f.liquidity, f.client_order_id, f.fee, f.price, f.quantity) == (
        "maker",
        "abc",
        D("-1E-7"),
        D("65000.5"),
        D(20),
    )
