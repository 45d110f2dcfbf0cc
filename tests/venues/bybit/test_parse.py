"""Private stream pushes (order, execution, position, wallet) parsed field by field from the fixtures."""

from __future__ import annotations

import json
from decimal import Decimal

from messages.account import Balance, Position
from messages.base import (
    ClientOrderId,
    InstrumentId,
    InstrumentKind,
    OrderStatus,
    OrderType,
    Side,
    Venue,
    VenueOrderId,
)
from messages.orders import Fill, OrderUpdate
from tests.venues.bybit.sample_registry import BTC_PERP
from tests.venues.bybit.wire_files import wire_bytes, wire_json
from venues.bybit import BybitCodec, DropReason, parse, wire
from venues.bybit.modes import PositionIdxSeen
from venues.events import Dropped
from venues.symbols import InstrumentRegistry

MS = 1_000_000


def test_order_push_becomes_an_order_update_with_every_field(registry: InstrumentRegistry) -> None:
    d = wire_json("bybit/ws_private_order_update.json")["data"][0]
    assert d["category"] == "option"  # the documented example: parsed by a codec of that category
    out = BybitCodec(registry, category="option").feed(wire_bytes("bybit/ws_private_order_update.json"), 11)
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


def test_rows_of_other_categories_are_counted_as_ignored_never_dropped(registry: InstrumentRegistry) -> None:
    """The all-in-one topics carry every category of a unified account: a spot BTCUSDT row must neither be
    attributed to the linear perp nor be a malformed frame (a drop on the private stream asks a reconcile)."""
    codec = BybitCodec(registry)
    spot = _linear_order("New").replace(b'"category": "linear"', b'"category": "spot"')
    assert codec.feed(spot, 1) == []
    assert codec.feed(wire_bytes("bybit/ws_private_order_update.json"), 2) == []  # the option fixture
    execution = wire_json("bybit/ws_private_execution.json")
    execution["data"][0]["category"] = "inverse"
    assert codec.feed(json.dumps(execution).encode(), 3) == []
    assert codec.ignored == {"order.spot": 1, "order.option": 1, "execution.inverse": 1}
    # A categorised topic names the category of rows that do not: order.linear rows are ours.
    (u,) = codec.feed(_linear_order("New").replace(b'"category": "linear", ', b"").replace(
        b'"topic": "order"', b'"topic": "order.linear"'), 4)
    assert isinstance(u, OrderUpdate) and u.instrument == "BTC-USDT-PERP"


def test_linear_row_of_a_symbol_registered_as_another_category_is_still_dropped() -> None:
    from tests.venues.bybit.sample_registry import make_instrument

    spot_only = InstrumentRegistry()  # BTCUSDT known only as spot: a linear row cannot be attributed
    spot_only.add(make_instrument("BTC-USDT", "BTCUSDT", "BTC", "USDT", kind=InstrumentKind.SPOT))
    (d,) = BybitCodec(spot_only).feed(_linear_order("New"), 1)
    assert isinstance(d, Dropped) and d.reason == DropReason.UNKNOWN_SYMBOL
    assert "registered as spot BTC-USDT, but the frame is linear" in d.error


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
        ),
        PositionIdxSeen(symbol="BTCUSDT", position_idx=2),  # the sell side of hedge mode: BTCUSDT is hedged
    ]  # fmt: skip
    assert (d["positionIdx"], d["side"], d["liqPrice"]) == (2, "", "0")


def test_wallet_push_becomes_one_balance_per_coin_with_the_pooled_free_margin_in_that_coin(
    registry: InstrumentRegistry,
) -> None:
    doc = wire_json("bybit/ws_private_wallet.json")
    acct = doc["data"][0]
    c = acct["coin"][0]
    out = BybitCodec(registry).feed(wire_bytes("bybit/ws_private_wallet.json"), 14)
    # available: the account's totalAvailableBalance (USD) in BTC, at the venue's valuation usdValue / equity
    free_btc = Decimal(acct["totalAvailableBalance"]) * Decimal(c["equity"]) / Decimal(c["usdValue"])
    assert out == [
        Balance(
            venue=Venue.BYBIT, asset=c["coin"], total=Decimal(c["walletBalance"]), available=free_btc,
            ts_event=doc["creationTime"] * MS, ts_recv=14, unrealized_pnl=Decimal(c["unrealisedPnl"]),
        )
    ]  # fmt: skip
    assert round(free_btc, 4) == Decimal("0.2681")  # 9556.61 USD free, BTC at 35651 USD
    assert free_btc != Decimal(c["walletBalance"]) - Decimal(c["locked"])  # never the wallet minus locked


def _coin(coin: str, wallet: str, equity: str, usd: str, upnl: str = "0", withdraw: str = "") -> wire.WalletCoin:
    return wire.WalletCoin(coin=coin, walletBalance=wallet, equity=equity, usdValue=usd, unrealisedPnl=upnl,
                           availableToWithdraw=withdraw)


def test_unified_wallet_reports_wallet_balance_and_unrealised_pnl_apart_and_the_pooled_free_margin() -> None:
    item = wire.WalletItem(accountType="UNIFIED", totalAvailableBalance="700", coin=[
        _coin("USDT", "1000", "1020", "1020.4", upnl="20"),  # 1020 USDT valued 1020.4 USD
        _coin("USDC", "0", "0", "0"),  # nothing held: a stablecoin is valued at 1 USD
        _coin("SOL", "3", "0", "0"),  # not collateral (usdValue 0): opens nothing
    ])  # fmt: skip
    usdt, usdc, sol = parse.balances([item], 1, 2)
    assert (usdt.total, usdt.unrealized_pnl) == (Decimal("1000"), Decimal("20"))  # equity 1020 is not "total"
    assert usdt.available == Decimal(700) * 1020 / Decimal("1020.4")
    assert (usdc.total, usdc.available) == (Decimal(0), Decimal(700))
    assert (sol.total, sol.available) == (Decimal(3), Decimal(0))


def test_account_without_pooled_margin_reports_the_coin_available_to_withdraw() -> None:
    # A classic account (or the unified account's inverse CONTRACT wallet) sends no totalAvailableBalance.
    item = wire.WalletItem(accountType="CONTRACT", coin=[_coin("BTC", "1.5", "1.6", "96000", withdraw="1.2")])
    (b,) = parse.balances([item], 1, 2)
    assert (b.total, b.available) == (Decimal("1.5"), Decimal("1.2"))
