from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from messages import (
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
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
    Quote,
    Side,
    TimeInForce,
    Venue,
)
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
