"""Private stream pushes (order, execution, position, wallet) parsed field by field from the fixtures."""

from __future__ import annotations

import json
from decimal import Decimal

from messages.account import Balance, Position
from messages.base import ClientOrderId, InstrumentId, OrderStatus, OrderType, Side, Venue, VenueOrderId
from messages.orders import Fill, OrderUpdate
from tests.venues.bybit.sample_registry import BTC_PERP
from tests.venues.bybit.wire_files import wire_bytes, wire_json
from venues.bybit import BybitCodec, DropReason, parse, wire
from venues.events import Dropped
from venues.symbols import InstrumentRegistry

MS = 1_000_000


def test_order_push_becomes_an_order_update_with_every_field(registry: InstrumentRegistry) -> None:
    d = wire_json("bybit/ws_private_order_update.json")["data"][0]
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_private_order_update.json"), 11)
    assert out == [
        OrderUpdate(
            venue=Venue.BYBIT, instrument=InstrumentId(d["symbol"]), client_order_id=None,
            venue_order_id=VenueOrderId(d["orderId"]), status=OrderStatus.FILLED, raw_status=d["orderStatus"],
            side=Side.SELL, order_type=OrderType.MARKET, quantity=Decimal(d["qty"]), filled_qty=Decimal(d["cumExecQty"]),
            avg_price=Decimal(d["avgPrice"]), price=Decimal(d["price"]), ts_event=int(d["updatedTime"]) * MS, ts_recv=11,
            reduce_only=False,
        )
    ]  # fmt: skip
    assert (d["orderStatus"], d["qty"], d["avgPrice"], d["price"]) == ("Filled", "1", "75", "72.5")


def _linear_order(status: str, link: str = "arb-1", avg: str = "0", price: str = "30000.0") -> bytes:
    row = {
        "category": "linear", "symbol": "BTCUSDT", "orderId": "o-1", "orderLinkId": link, "side": "Buy",
        "orderType": "Limit", "price": price, "qty": "0.010", "orderStatus": status, "avgPrice": avg,
        "cumExecQty": "0.004", "updatedTime": "1700000000123", "reduceOnly": True, "leavesQty": "",
        "timeInForce": "PostOnly", "rejectReason": "EC_NoError",
    }  # fmt: skip
    return json.dumps({"id": "x", "topic": "order", "creationTime": 1700000000124, "data": [row]}).encode()


def test_linear_order_push_keeps_client_id_reduce_only_and_partial_fill(registry: InstrumentRegistry) -> None:
    (u,) = BybitCodec(registry).feed(_linear_order("PartiallyFilled", avg="30000.5"), 1)
    assert isinstance(u, OrderUpdate)
    assert (u.instrument, u.client_order_id, u.status, u.raw_status) == (
        "BTC-USDT-PERP",
        ClientOrderId("arb-1"),
        OrderStatus.PARTIALLY_FILLED,
        "PartiallyFilled",
    )
    assert (u.quantity, u.filled_qty, u.avg_price, u.price, u.reduce_only) == (
        Decimal("0.010"),
        Decimal("0.004"),
        Decimal("30000.5"),
        Decimal("30000.0"),
        True,
    )


def test_unfilled_order_has_no_average_price(registry: InstrumentRegistry) -> None:
    (u,) = BybitCodec(registry).feed(_linear_order("New", avg=""), 1)
    assert isinstance(u, OrderUpdate) and u.avg_price is None and u.status is OrderStatus.SUBMITTED


def test_unknown_order_status_is_dropped_as_unknown_status_never_pending(
    registry: InstrumentRegistry,
) -> None:
    (d,) = BybitCodec(registry).feed(_linear_order("Canceled"), 1)
    assert isinstance(d, Dropped) and d.reason == DropReason.UNKNOWN_STATUS
    assert "unknown bybit order status 'Canceled'" in d.error


def test_order_of_a_spot_symbol_is_not_attributed_to_the_linear_perp(registry: InstrumentRegistry) -> None:
    frame = _linear_order("New").replace(b'"category": "linear"', b'"category": "spot"')
    (d,) = BybitCodec(registry).feed(frame, 1)
    assert isinstance(d, Dropped) and d.reason == DropReason.UNKNOWN_SYMBOL
    assert "registered as linear BTC-USDT-PERP, but the frame is spot" in d.error


def test_execution_push_becomes_a_fill(registry: InstrumentRegistry) -> None:
    d = wire_json("bybit/ws_private_execution.json")["data"][0]
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_private_execution.json"), 12)
    assert out == [
        Fill(
            venue=Venue.BYBIT, instrument=InstrumentId("BTC-USDT-PERP"), client_order_id=None,
            venue_order_id=VenueOrderId(d["orderId"]), trade_id=d["execId"], side=Side.SELL,
            price=Decimal(d["execPrice"]), quantity=Decimal(d["execQty"]), fee=Decimal(d["execFee"]),
            fee_asset=d["feeCurrency"], liquidity="taker", ts_event=int(d["execTime"]) * MS, ts_recv=12,
        )
    ]  # fmt: skip
    assert (d["execPrice"], d["execQty"], d["execFee"], d["isMaker"]) == (
        "95900.1",
        "0.5",
        "26.3725275",
        False,
    )


def test_funding_execution_is_not_a_fill() -> None:
    row = wire.ExecutionItem(
        category="linear", symbol="BTCUSDT", execId="e", execPrice=Decimal(1), execQty=Decimal(1),
        execFee=Decimal("0.1"), execType="Funding", orderId="", orderLinkId="", side="Buy",
        execTime="1700000000000", isMaker=False,
    )  # fmt: skip
    assert parse.fill(row, BTC_PERP, 0) is None


def test_position_push_becomes_a_flat_position_on_the_sell_leg(registry: InstrumentRegistry) -> None:
    d = wire_json("bybit/ws_private_position.json")["data"][0]
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_private_position.json"), 13)
    assert out == [
        Position(
            venue=Venue.BYBIT, instrument=InstrumentId("BTC-USDT-PERP"), side=Side.SELL, size=Decimal(d["size"]),
            entry_price=Decimal(d["entryPrice"]), unrealized_pnl=Decimal(d["unrealisedPnl"]),
            ts_event=int(d["updatedTime"]) * MS, ts_recv=13, leverage=Decimal(d["leverage"]), liquidation_price=None,
        )
    ]  # fmt: skip
    assert (d["positionIdx"], d["side"], d["liqPrice"]) == (2, "", "0")


def test_wallet_push_becomes_one_balance_per_coin(registry: InstrumentRegistry) -> None:
    doc = wire_json("bybit/ws_private_wallet.json")
    c = doc["data"][0]["coin"][0]
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_private_wallet.json"), 14)
    assert out == [
        Balance(
            venue=Venue.BYBIT, asset=c["coin"], total=Decimal(c["walletBalance"]),
            available=Decimal(c["availableToWithdraw"]), ts_event=doc["creationTime"] * MS, ts_recv=14,
        )
    ]  # fmt: skip


def test_wallet_without_available_to_withdraw_uses_balance_minus_locked() -> None:
    item = wire.WalletItem(
        accountType="UNIFIED",
        coin=[wire.WalletCoin(coin="USDT", walletBalance="100.5", availableToWithdraw="", locked="0.5")],
    )
    (b,) = parse.balances([item], 1, 2)
    assert (b.total, b.available) == (Decimal("100.5"), Decimal("100.0"))
