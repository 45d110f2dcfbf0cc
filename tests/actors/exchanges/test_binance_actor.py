from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from messages import (
    AccountConfig,
    Balance,
    BookDelta,
    BookIntegrity,
    BookSnapshot,
    BookState,
    CancelOrder,
    ClientOrderId,
    GetBalances,
    GetPositions,
    HealthCheck,
    HealthReport,
    InstrumentId,
    Kline,
    OrderRejected,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Quote,
    Side,
    TimeInForce,
    Venue,
)
from simulator.binance import BinanceConfig
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import (
    Recorder,
    check_klines,
    clock_near_minute_end,
    endpoints,
    rebuild_book,
    run_klines_and_deltas,
    wait_for,
)
from venues import Credentials
from venues.errors import InvalidParameter, PostOnlyWouldTake
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")


def _actor(twins, bus: Bus, **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["binance"]
    creds = rt.twin.credentials
    adapter = BinanceAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _twin_best(twins) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    book = twins["binance"].twin.book_json("BTCUSDT", 1)
    return float(book["bids"][0][0]), float(book["asks"][0][0])


@pytest.mark.anyio
async def test_binance_actor_keeps_a_live_book_equal_to_the_twins(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["binance"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await anyio.sleep(0.5)
            quotes = rec.of(Quote)
            assert quotes and all(q.venue is Venue.BINANCE and q.instrument == BTC for q in quotes)
            assert all(q.bid_px < q.ask_px and q.ts_recv >= q.ts_event - 5_000_000_000 for q in quotes)
            # Compare the whole book at a quiet moment: stop the market, let the last frames arrive.
            twins.running["binance"].twin  # noqa: B018 - the twin stays up; we read its published book
            tg.cancel_scope.cancel()
    states = [m.state for m in rec.of(BookIntegrity)]
    assert states[:2] == [BookState.SYNCING, BookState.LIVE] or BookState.LIVE in states


@pytest.mark.anyio
async def test_binance_actor_book_matches_the_twin_book_exactly_when_the_market_pauses(bus: Bus) -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            for _ in range(50):
                twins.step()
                await anyio.sleep(0.005)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            for _ in range(200):
                twins.step()
                await anyio.sleep(0.002)
            await anyio.sleep(0.3)
            twin_book = twins["binance"].twin.book_json("BTCUSDT", 1000)
            bids, asks = actor.adapter.codec.book(BTC).as_sorted()
            assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
            assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_binance_order_lifecycle_through_the_actor(bus: Bus) -> None:
    rec = Recorder(bus, "orders.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            bid, ask = _twin_best(twins)
            cid = ClientOrderId("cb-test-1")
            resting = PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                 quantity=Decimal("0.010"), price=Decimal(str(round(bid * 0.9, 1))))
            ack = await ref.ask(resting)
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED and ack.client_order_id == cid
            q = await ref.ask(QueryOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid))
            assert q.status is OrderStatus.SUBMITTED and q.quantity == Decimal("0.010")
            cancelled = await ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid))
            assert cancelled.status is OrderStatus.CANCELLED
            taker = PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=ClientOrderId("cb-test-2"),
                               side=Side.BUY, quantity=Decimal("0.005"), order_type=OrderType.MARKET,
                               time_in_force=TimeInForce.GTC)
            filled = await ref.ask(taker)
            assert filled.status is OrderStatus.FILLED and filled.filled_qty == Decimal("0.005")
            positions = await ref.ask(GetPositions(venue=Venue.BINANCE))
            assert [(p.instrument, p.side, p.size) for p in positions] == [(BTC, Side.BUY, Decimal("0.005"))]
            balances = await ref.ask(GetBalances(venue=Venue.BINANCE))
            assert any(b.asset == "USDT" and b.total > 0 for b in balances)
            # The private stream carries the same lifecycle.
            await wait_for(lambda: any(u.client_order_id == "cb-test-2" and u.status is OrderStatus.FILLED
                                       for u in rec.of(OrderUpdate) if u.ts_recv > 0))
            health = await ref.ask(HealthCheck(venue=Venue.BINANCE))
            assert isinstance(health, HealthReport) and health.status == "ok" and health.books_live == 1
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_market_data_reaches_the_bus_with_event_and_receive_times(bus: Bus) -> None:
    rec = Recorder(bus, "md.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await anyio.sleep(1.0)
            tg.cancel_scope.cancel()
    quotes = rec.of(Quote)
    now = time.time_ns()
    assert len(quotes) > 10
    assert all(0 < q.ts_event <= q.ts_recv <= now for q in quotes[-5:])


@pytest.mark.anyio
async def test_binance_klines_and_book_deltas_reach_the_bus(bus: Bus) -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0, clock_ms=clock_near_minute_end()) as twins:
        def make() -> ExchangeActor:
            adapter = BinanceAdapter(InstrumentRegistry(), endpoints(twins["binance"]), klines=("1m",), emit_deltas=True)
            return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus)

        items, (bids, asks) = await run_klines_and_deltas(bus, twins, make, BTC)
        twin = twins["binance"].twin
        klines = [m for m in items if isinstance(m, Kline)]
        assert all(k.venue is Venue.BINANCE and k.instrument == BTC for k in klines)
        # The twin never marks a pushed kline final (x is false while trades land in it).
        check_klines(klines, twin.klines["BTCUSDT"]["1m"], [t.price for t, _ in twin.trades["BTCUSDT"]],
                     venue_closes=False)
        deltas = [m for m in items if isinstance(m, BookDelta)]
        assert deltas and all(d.instrument == BTC for d in deltas)
        assert rebuild_book([m for m in items if isinstance(m, BookSnapshot | BookDelta)]) == (bids, asks)
        twin_book = twin.book_json("BTCUSDT", 1000)
        assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]


# -- issue 15: the venue as it is in December 2026 -----------------------------------------------------------
def _hedge_twins(**kw: object) -> Any:
    return start_twins(["binance"], symbols=["BTC"], rate=0,
                       options={"binance": {"config": BinanceConfig(**kw)}})  # type: ignore[arg-type]


def _order(cid: str, side: Side, qty: str, *, reduce_only: bool = False) -> PlaceOrder:
    return PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=ClientOrderId(cid), side=side,
                      quantity=Decimal(qty), order_type=OrderType.MARKET, reduce_only=reduce_only)


async def _live(actor: ExchangeActor, twins: Any) -> None:
    with anyio.fail_after(10):
        while not actor.adapter.book_state_live(BTC):
            twins.step()
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_a_hundred_algo_and_strategy_updates_cause_no_reconcile_and_no_drop(bus: Bus) -> None:
    rec = Recorder(bus, "orders.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        twin = twins["binance"].twin
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _live(actor, twins)
            reconciles = actor.reconciles
            for i in range(50):
                twin.emit_user_event("ALGO_UPDATE", o={"caid": f"algo-{i}", "s": "BTCUSDT", "X": "NEW"})
                twin.emit_user_event("STRATEGY_UPDATE")
            codec = actor.adapter.codec
            await wait_for(lambda: codec.ignored["STRATEGY_UPDATE"] == 50, what="50 STRATEGY_UPDATEs read")
            algo = [u for u in rec.of(OrderUpdate) if u.client_order_id and u.client_order_id.startswith("algo-")]
            assert [u.client_order_id for u in algo] == [f"algo-{i}" for i in range(50)]
            assert all(u.status is OrderStatus.SUBMITTED and u.raw_status == "NEW" for u in algo)
            assert actor.reconciles == reconciles and not actor.dropped
            assert actor.stats().dropped == 0 and codec.unknown_events == {}
            assert actor.stats().ignored == sum(codec.ignored.values()) >= 50  # where the status and metrics read
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_the_position_mode_is_read_at_start_and_hedge_orders_open_and_close_each_side(bus: Bus) -> None:
    rec = Recorder(bus, "account.>")
    async with _hedge_twins(hedge_mode=True) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            assert actor.position_mode is PositionMode.HEDGE  # read before any stream opened
            (config,) = rec.of(AccountConfig)
            assert (config.venue, config.position_mode) == (Venue.BINANCE, PositionMode.HEDGE)
            await _live(actor, twins)
            for cid, side, qty, reduce_only in (("h-1", Side.BUY, "0.010", False), ("h-2", Side.SELL, "0.004", False)):
                filled = await ref.ask(_order(cid, side, qty, reduce_only=reduce_only))
                assert filled.status is OrderStatus.FILLED
            positions = await ref.ask(GetPositions(venue=Venue.BINANCE))
            assert sorted((p.side, p.size) for p in positions) == [(Side.BUY, Decimal("0.010")),
                                                                  (Side.SELL, Decimal("0.004"))]
            # reduce-only closes go to the side they close: the SELL closes the long, the BUY the short
            closed = await ref.ask(_order("h-3", Side.SELL, "0.010", reduce_only=True))
            assert closed.status is OrderStatus.FILLED
            positions = await ref.ask(GetPositions(venue=Venue.BINANCE))
            assert [(p.side, p.size) for p in positions] == [(Side.SELL, Decimal("0.004"))]
            closed = await ref.ask(_order("h-4", Side.BUY, "0.004", reduce_only=True))
            assert closed.status is OrderStatus.FILLED
            assert await ref.ask(GetPositions(venue=Venue.BINANCE)) == []
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_mode_changed_behind_our_back_is_seen_on_the_first_refusal_and_published(bus: Bus) -> None:
    rec = Recorder(bus, "account.>")
    async with _hedge_twins() as twins:
        twin = twins["binance"].twin
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _live(actor, twins)
            assert actor.position_mode is PositionMode.ONE_WAY
            twin.engine.account.hedge = True  # as POST /fapi/v1/positionSide/dual would, while flat
            with pytest.raises(InvalidParameter) as refused:
                await ref.ask(_order("m-1", Side.BUY, "0.010"))
            assert refused.value.code == "-4061"
            await wait_for(lambda: actor.position_mode is PositionMode.HEDGE, what="the mode read again")
            assert [c.position_mode for c in rec.of(AccountConfig)] == [PositionMode.ONE_WAY, PositionMode.HEDGE]
            filled = await ref.ask(_order("m-2", Side.BUY, "0.010"))  # now with positionSide=LONG
            assert filled.status is OrderStatus.FILLED
            (long_,) = twin.engine.account.positions.values()
            assert (long_.side.value, long_.qty) == ("LONG", Decimal("0.010"))
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_balances_carry_available_balance_never_the_cross_wallet(bus: Bus) -> None:
    from simulator import binance_rest

    rec = Recorder(bus, "account.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        twin = twins["binance"].twin
        actor = _actor(twins, bus, balance_refresh_s=0.01)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _live(actor, twins)
            assert (await ref.ask(_order("b-1", Side.BUY, "0.500"))).status is OrderStatus.FILLED
            # The fill's ACCOUNT_UPDATE brings only its cw; the session reads availableBalance after it.
            await wait_for(lambda: rec.of(Balance), what="a Balance after the fill")
            pushed = rec.of(Balance)[-1]
            (row,) = binance_rest._balance(twin, {})  # the twin's own GET /fapi/v3/balance row (the market is still)
            assert {(b.total, b.available, b.unrealized_pnl) for b in rec.of(Balance)} == {
                (Decimal(row["balance"]), Decimal(row["availableBalance"]), Decimal(row["crossUnPnl"]))}
            assert pushed.available < pushed.total == Decimal(row["crossWalletBalance"])
            (asked,) = await ref.ask(GetBalances(venue=Venue.BINANCE))
            assert (asked.total, asked.available) == (pushed.total, pushed.available)
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_post_only_order_that_would_take_is_refused_with_a_typed_reject(bus: Bus) -> None:
    rec = Recorder(bus, "orders.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _live(actor, twins)
            _, ask = _twin_best(twins)
            crossing = PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=ClientOrderId("po-1"),
                                  side=Side.BUY, quantity=Decimal("0.010"), price=Decimal(str(ask)), post_only=True)
            with pytest.raises(PostOnlyWouldTake) as refused:
                await ref.ask(crossing)
            assert refused.value.code == "-5022"
            (rejected,) = rec.of(OrderRejected)
            assert (rejected.client_order_id, rejected.code) == ("po-1", "-5022")
            tg.cancel_scope.cancel()
