"""Matching engine: fills across levels, TIF semantics, reduce-only, duplicates, events, PnL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulator.account import Account, PositionSide
from simulator.book import Side
from simulator.instruments import InstrumentSpec
from simulator.market import MarketModel
from simulator.matching import (
    AccountEvent,
    ExecType,
    MatchingEngine,
    OrderEvent,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
    UnknownOrder,
)

BTC = InstrumentSpec("BTCUSDT", "BTC", "USDT", Decimal("0.10"), Decimal("0.001"))


def _engine() -> tuple[MarketModel, MatchingEngine]:
    m = MarketModel(21, ["BTC"])
    book = m.add_book("v", BTC)
    return m, MatchingEngine({"BTCUSDT": BTC}, {"BTCUSDT": book}, Account({"USDT": Decimal(1_000_000)}))


def _req(side: Side, qty: str, price: Decimal | None = None, tif: TimeInForce = TimeInForce.GTC, cid: str = "c1",
         reduce_only: bool = False) -> OrderRequest:
    typ = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest("BTCUSDT", side, typ, Decimal(qty), cid, price, tif, reduce_only)


def test_market_order_fills_across_levels_and_emits_new_then_trades() -> None:
    _, eng = _engine()
    asks = eng.books["BTCUSDT"].asks(2)
    qty = asks[0][1] + BTC.lot
    order = eng.place(_req(Side.BUY, str(qty)), 1)
    assert order.status is OrderStatus.FILLED and order.filled == qty
    events = eng.drain_events()
    order_events = [e for e in events if isinstance(e, OrderEvent)]
    assert [e.exec_type for e in order_events] == [ExecType.NEW, ExecType.TRADE, ExecType.TRADE]
    assert [e.last_price for e in order_events[1:]] == [asks[0][0], asks[1][0]]
    assert isinstance(events[-1], AccountEvent) and events[-1].position_qty == qty


def test_resting_limit_partially_fills_then_fills_when_the_market_crosses() -> None:
    m, eng = _engine()
    book = eng.books["BTCUSDT"]
    best_ask = book.asks(1)[0]
    order = eng.place(_req(Side.BUY, str(best_ask[1] + Decimal("5")), best_ask[0]), 1)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled == best_ask[1]
    from simulator.market import DislocationKind

    m.dislocate("v", "BTC", DislocationKind.JUMP, steps=3, offset=-0.01)
    for _ in range(3):
        m.step()
        eng.on_market("BTCUSDT", 2)
    assert order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED) and order.filled > best_ask[1]
    trades = [e for e in eng.drain_events() if isinstance(e, OrderEvent) and e.exec_type is ExecType.TRADE]
    assert trades[-1].is_maker and trades[-1].last_price == best_ask[0]


def test_post_only_that_would_take_is_rejected_without_events() -> None:
    _, eng = _engine()
    ask = eng.books["BTCUSDT"].asks(1)[0][0]
    with pytest.raises(OrderRejected) as info:
        eng.place(_req(Side.BUY, "0.001", ask, TimeInForce.POST_ONLY), 1)
    assert info.value.reason is RejectReason.POST_ONLY_WOULD_TAKE and eng.drain_events() == []


def test_fok_rejects_when_not_fully_fillable_and_ioc_expires_the_rest() -> None:
    _, eng = _engine()
    ask = eng.books["BTCUSDT"].asks(1)[0]
    with pytest.raises(OrderRejected) as info:
        eng.place(_req(Side.BUY, str(ask[1] + 1), ask[0], TimeInForce.FOK), 1)
    assert info.value.reason is RejectReason.FOK_NOT_FILLABLE
    order = eng.place(_req(Side.BUY, str(ask[1] + 1), ask[0], TimeInForce.IOC, cid="ioc"), 1)
    assert order.status is OrderStatus.EXPIRED and order.filled == ask[1]


def test_reduce_only_rejected_without_a_position_and_accepted_against_one() -> None:
    _, eng = _engine()
    with pytest.raises(OrderRejected) as info:
        eng.place(_req(Side.SELL, "0.001", reduce_only=True), 1)
    assert info.value.reason is RejectReason.REDUCE_ONLY_REJECTED
    eng.place(_req(Side.BUY, "0.002", cid="open"), 1)
    closed = eng.place(_req(Side.SELL, "0.002", cid="close", reduce_only=True), 2)
    assert closed.status is OrderStatus.FILLED
    assert eng.account.position("BTCUSDT").qty == 0 and eng.account.position("BTCUSDT").entry_price == 0


def test_duplicate_client_id_of_an_open_order_is_rejected_and_cancel_frees_it() -> None:
    _, eng = _engine()
    bid = eng.books["BTCUSDT"].bids(1)[0][0] - 100
    o = eng.place(_req(Side.BUY, "0.001", bid, cid="dup"), 1)
    with pytest.raises(OrderRejected) as info:
        eng.place(_req(Side.BUY, "0.001", bid, cid="dup"), 1)
    assert info.value.reason is RejectReason.DUPLICATE_CLIENT_ID
    assert eng.cancel("BTCUSDT", 2, client_id="dup").status is OrderStatus.CANCELED
    with pytest.raises(UnknownOrder):
        eng.cancel("BTCUSDT", 3, order_id=o.order_id)
    assert eng.place(_req(Side.BUY, "0.001", bid, cid="dup"), 4).order_id != o.order_id


def test_round_trip_books_realized_pnl_and_fees_into_the_wallet() -> None:
    _, eng = _engine()
    buy = eng.place(_req(Side.BUY, "1", cid="b"), 1)
    sell = eng.place(_req(Side.SELL, "1", cid="s"), 2)
    expected = (sell.avg_price - buy.avg_price) * 1 - buy.fees - sell.fees
    assert eng.account.balances["USDT"] - Decimal(1_000_000) == expected
    assert sell.realized_pnl == sell.avg_price - buy.avg_price


def test_inverse_contract_pnl_is_in_the_base_currency() -> None:
    spec = InstrumentSpec("BTC-PERPETUAL", "BTC", "USD", Decimal("0.5"), Decimal("10"), Decimal(10), inverse=True)
    acct = Account({"BTC": Decimal(1)})
    acct.apply_fill(spec, Decimal(1000), Decimal(100_000), Decimal(0), 1)
    change = acct.apply_fill(spec, Decimal(-1000), Decimal(110_000), Decimal(0), 2)
    assert change.realized_pnl == Decimal(10_000) * (Decimal(1) / 100_000 - Decimal(1) / 110_000)
    assert acct.balances["BTC"] > 1


def test_oldest_final_orders_are_forgotten_past_keep_orders_and_open_ones_never() -> None:
    """A long run's memory stays bounded: past ``keep_orders`` the oldest closed orders go (as venues stop
    answering for old closed orders), the hooks hear of each, and a resting order is kept however old."""
    _, eng = _engine()
    eng.keep_orders = 20
    forgotten: list[int] = []
    eng.on_forget.append(lambda o: forgotten.append(o.order_id))
    bid = eng.books["BTCUSDT"].bids(1)[0][0] - 100
    resting = eng.place(_req(Side.BUY, "0.001", bid, cid="rest"), 1)
    closed = []
    for n in range(60):
        side = Side.BUY if n % 2 else Side.SELL
        closed.append(eng.place(_req(side, "0.001", cid=f"m{n}"), 2 + n))
    assert all(o.status is OrderStatus.FILLED for o in closed)
    assert len(eng.orders) <= 20 and resting.order_id in eng.orders
    assert eng.forgotten == len(forgotten) == 61 - len(eng.orders)
    assert forgotten == [o.order_id for o in closed[: len(forgotten)]]  # oldest first
    assert eng.get("BTCUSDT", order_id=closed[-1].order_id) is closed[-1]
    with pytest.raises(UnknownOrder):
        eng.get("BTCUSDT", client_id="m0")
    assert eng.get("BTCUSDT", client_id="rest") is resting
    again = eng.place(_req(Side.BUY, "0.001", cid="m0"), 100)  # a forgotten id is free again
    assert again.order_id not in forgotten and eng.get("BTCUSDT", client_id="m0") is again


# -- hedge (long/short) position mode --------------------------------------------------------------------
def _hedge_req(side: Side, qty: str, position_side: PositionSide, cid: str) -> OrderRequest:
    return OrderRequest("BTCUSDT", side, OrderType.MARKET, Decimal(qty), cid, position_side=position_side)


def test_hedge_mode_keeps_a_long_and_a_short_side_and_each_order_moves_its_own() -> None:
    _, eng = _engine()
    eng.account.hedge = True
    eng.place(_hedge_req(Side.BUY, "0.004", PositionSide.LONG, "l1"), 1)
    eng.place(_hedge_req(Side.SELL, "0.003", PositionSide.SHORT, "s1"), 2)
    acct = eng.account
    assert acct.position("BTCUSDT", PositionSide.LONG).qty == Decimal("0.004")
    assert acct.position("BTCUSDT", PositionSide.SHORT).qty == Decimal("-0.003")  # not netted against the long
    eng.place(_hedge_req(Side.SELL, "0.001", PositionSide.LONG, "l2"), 3)  # closes part of the long only
    assert acct.position("BTCUSDT", PositionSide.LONG).qty == Decimal("0.003")
    assert acct.position("BTCUSDT", PositionSide.SHORT).qty == Decimal("-0.003")
    last = [e for e in eng.drain_events() if isinstance(e, AccountEvent)][-1]
    assert (last.position_side, last.position_qty) == (PositionSide.LONG, Decimal("0.003"))
    with pytest.raises(OrderRejected) as closing_too_much:  # a close larger than its side is refused
        eng.place(_hedge_req(Side.BUY, "0.004", PositionSide.SHORT, "s2"), 4)
    assert closing_too_much.value.reason is RejectReason.REDUCE_ONLY_REJECTED


def test_the_position_side_must_match_the_accounts_mode() -> None:
    _, eng = _engine()
    with pytest.raises(OrderRejected) as one_way:
        eng.place(_hedge_req(Side.BUY, "0.001", PositionSide.LONG, "x1"), 1)
    assert one_way.value.reason is RejectReason.POSITION_SIDE_MISMATCH
    eng.account.hedge = True
    with pytest.raises(OrderRejected) as hedge:
        eng.place(_hedge_req(Side.BUY, "0.001", PositionSide.BOTH, "x2"), 2)
    assert hedge.value.reason is RejectReason.POSITION_SIDE_MISMATCH
