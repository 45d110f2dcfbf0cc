"""The ExchangeActor with the Bybit v5 (linear) adapter against the Bybit twin on loopback, with a real bus."""

from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.bybit import BybitAdapter
from messages import (
    Balance,
    BookDelta,
    BookIntegrity,
    BookSnapshot,
    BookState,
    CancelOrder,
    ClientOrderId,
    Fill,
    GetBalances,
    GetOpenOrders,
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
    SubscribeMarketData,
    Trade,
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
from venues.errors import ConfigError
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")
DEPTH = 50


def _actor(twins, bus: Bus, **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["bybit"]
    creds = rt.twin.credentials
    adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=DEPTH, **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _twin_best(twins) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    book = twins["bybit"].twin.book_json("BTCUSDT", 1)
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def _assert_books_equal(actor: ExchangeActor, twins) -> None:  # type: ignore[no-untyped-def]
    twin_book = twins["bybit"].twin.book_json("BTCUSDT", DEPTH)
    bids, asks = actor.adapter.codec.book(BTC).as_sorted()  # type: ignore[attr-defined]
    assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
    assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]


async def _step(twins, n: int, pause: float = 0.002) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        twins.step()
        await anyio.sleep(pause)


@pytest.mark.anyio
async def test_bybit_market_data_reaches_the_bus_as_typed_messages(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["bybit"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await anyio.sleep(1.0)
            tg.cancel_scope.cancel()
    quotes = rec.of(Quote)
    now = time.time_ns()
    assert len(quotes) > 10
    assert all(q.venue is Venue.BYBIT and q.instrument == BTC and q.bid_px < q.ask_px for q in quotes)
    assert all(0 < q.ts_event <= q.ts_recv <= now for q in quotes[-5:])
    states = [m.state for m in rec.of(BookIntegrity) if m.venue is Venue.BYBIT]
    assert states[:2] == [BookState.SYNCING, BookState.LIVE] or states[0] is BookState.LIVE
    assert actor.dropped["delta_before_snapshot"] == 0


@pytest.mark.anyio
async def test_bybit_book_matches_the_twin_book_exactly_when_the_market_pauses(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)  # the market only moves when stepped
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _step(twins, 300)
            await anyio.sleep(0.3)
            _assert_books_equal(actor, twins)
            assert actor.resyncs == 0
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_order_lifecycle_through_the_actor(bus: Bus) -> None:
    rec = Recorder(bus, "orders.>")
    acct = Recorder(bus, "account.>")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await wait_for(lambda: actor.streams["private"].connected)
            bid, _ask = _twin_best(twins)
            cid = ClientOrderId("cb-bybit-1")
            resting = PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                 quantity=Decimal("0.010"), price=Decimal(str(round(bid * 0.9, 1))))
            ack = await ref.ask(resting)
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED and ack.client_order_id == cid
            assert ack.venue_order_id and ack.quantity == Decimal("0.010") and ack.side is Side.BUY
            q = await ref.ask(QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid))
            assert q.status is OrderStatus.SUBMITTED and q.raw_status == "New" and q.quantity == Decimal("0.010")
            by_id = await ref.ask(QueryOrder(venue=Venue.BYBIT, instrument=BTC, venue_order_id=ack.venue_order_id))
            assert by_id.client_order_id == cid
            open_orders = await ref.ask(GetOpenOrders(venue=Venue.BYBIT, instrument=BTC))
            assert [o.client_order_id for o in open_orders] == [cid]
            cancelled = await ref.ask(CancelOrder(venue=Venue.BYBIT, instrument=BTC, venue_order_id=ack.venue_order_id))
            assert cancelled.status is OrderStatus.CANCELLED and cancelled.client_order_id == cid
            q2 = await ref.ask(QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid))
            assert q2.status is OrderStatus.CANCELLED and q2.raw_status == "Cancelled"
            assert await ref.ask(GetOpenOrders(venue=Venue.BYBIT, instrument=BTC)) == []

            taker_cid = ClientOrderId("cb-bybit-2")
            taker = PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=taker_cid, side=Side.BUY,
                               quantity=Decimal("0.005"), order_type=OrderType.MARKET)
            placed = await ref.ask(taker)
            # Ids-only ack: SUBMITTED unless the private stream's fill came first (then FILLED).
            assert placed.status in (OrderStatus.SUBMITTED, OrderStatus.FILLED) and placed.client_order_id == taker_cid
            filled = await ref.ask(QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=taker_cid))
            assert filled.status is OrderStatus.FILLED and filled.filled_qty == Decimal("0.005") and filled.avg_price
            positions = await ref.ask(GetPositions(venue=Venue.BYBIT))
            assert [(p.instrument, p.side, p.size) for p in positions] == [(BTC, Side.BUY, Decimal("0.005"))]
            balances = await ref.ask(GetBalances(venue=Venue.BYBIT))
            assert any(b.asset == "USDT" and b.total > 0 for b in balances)
            # The private stream carries the same lifecycle on orders.update.bybit, with fills.
            def pushed() -> list[OrderUpdate]:
                return [u for u in rec.of(OrderUpdate) if u.raw_status]

            await wait_for(lambda: any(u.client_order_id == taker_cid and u.status is OrderStatus.FILLED for u in pushed()))
            await wait_for(lambda: any(u.client_order_id == cid and u.status is OrderStatus.CANCELLED for u in pushed()))
            assert any(u.client_order_id == cid and u.status is OrderStatus.SUBMITTED for u in pushed())
            assert any(f.client_order_id == taker_cid for f in rec.of(Fill))
            await wait_for(lambda: any(b.asset == "USDT" for b in acct.of(Balance)))
            health = await ref.ask(HealthCheck(venue=Venue.BYBIT))
            assert isinstance(health, HealthReport) and health.status == "ok" and health.books_live == 1
            assert health.connected_streams == 2
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_order_updates_use_the_venue_topic(bus: Bus) -> None:
    sub = Recorder(bus, "orders.update.bybit")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.streams["private"].connected)
            await anyio.sleep(0.2)  # auth + subscribe acknowledged
            order = PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-bybit-3"),
                               side=Side.SELL, quantity=Decimal("0.002"), order_type=OrderType.MARKET)
            await ref.ask(order)
            await wait_for(lambda: any(u.status is OrderStatus.FILLED and u.raw_status == "Filled"
                                       for u in sub.of(OrderUpdate)))
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_drop_ws_reconnects_and_the_book_comes_back_equal(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _step(twins, 50)
            public = actor.streams["public"]
            connects = public.connects
            # With a duration new connections are dropped too until it ends. (Without one, this twin keeps
            # dropping forever: unlike the Binance twin it does not consume the one-shot fault.)
            twins["bybit"].twin.faults.inject("drop_ws", duration_s=0.5)
            await wait_for(lambda: not actor.adapter.book_state_live(BTC), what="book leaves LIVE")
            await _step(twins, 50)  # the market moves while we are away
            await wait_for(lambda: public.connects > connects and actor.adapter.book_state_live(BTC),
                           what="reconnected and live again")
            await wait_for(lambda: actor.streams["private"].connected, what="private back")
            await _step(twins, 100)
            await anyio.sleep(0.3)
            _assert_books_equal(actor, twins)
            tg.cancel_scope.cancel()
    states = [m.state for m in rec.of(BookIntegrity) if m.instrument == BTC]
    i = states.index(BookState.SYNCING, 1)  # the drop
    assert states[i - 1] is BookState.LIVE and BookState.LIVE in states[i + 1:]



@pytest.mark.anyio
async def test_bybit_gap_is_answered_by_resubscribing_and_the_book_comes_back_equal(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _step(twins, 20)
            await anyio.sleep(0.1)
            public = actor.streams["public"]
            connects = public.connects
            # An old update id arriving again (u not increasing) is a gap for the codec: as if the venue sent it.
            stale = (b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":%d,'
                     b'"data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":1},"cts":1}' % (time.time_ns() // 1_000_000))
            actor._on_frame(public, stale, time.time_ns())  # noqa: SLF001 - inject one venue frame
            assert not actor.adapter.book_state_live(BTC)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live again after resubscribing")
            assert actor.resyncs == 1 and public.connects == connects  # a resubscribe, not a reconnect
            await _step(twins, 50)
            await anyio.sleep(0.3)
            _assert_books_equal(actor, twins)
            tg.cancel_scope.cancel()
    states = [m.state for m in rec.of(BookIntegrity) if m.instrument == BTC]
    assert states[-2:] == [BookState.RESYNCING, BookState.LIVE]


@pytest.mark.anyio
async def test_bybit_silent_private_stream_is_replaced_through_its_keep_alive(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        # Fast keep-alive for the test: ping every 0.2 s, replace after 1 s without a pong or any frame.
        actor = _actor(twins, bus, ping_interval_s=0.2, private_stale_after_s=1.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            private = actor.streams["private"]
            await wait_for(lambda: private.connected and actor.adapter.book_state_live(BTC))
            await anyio.sleep(0.5)
            assert private.connects == 1  # pongs keep an idle private stream alive
            twins["bybit"].twin.faults.inject("stall", duration_s=1.5)  # sockets open, nothing answered
            await wait_for(lambda: private.connects > 1 and private.connected, timeout=10.0, what="private replaced")
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="public back too")
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_klines_and_book_deltas_reach_the_bus(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=0, clock_ms=clock_near_minute_end()) as twins:
        def make() -> ExchangeActor:
            adapter = BybitAdapter(InstrumentRegistry(), endpoints(twins["bybit"]), depth=DEPTH, klines=("1m",),
                                   emit_deltas=True)
            return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus)

        items, (bids, asks) = await run_klines_and_deltas(bus, twins, make, BTC)
        twin = twins["bybit"].twin
        klines = [m for m in items if isinstance(m, Kline)]
        assert all(k.venue is Venue.BYBIT and k.instrument == BTC for k in klines)
        # The twin pushes the finished candle with confirm=true when the next one opens.
        check_klines(klines, twin.klines["BTCUSDT"]["1"], [e[0].price for e in twin.trades["BTCUSDT"]],
                     venue_closes=True)
        deltas = [m for m in items if isinstance(m, BookDelta)]
        assert deltas and all(d.instrument == BTC for d in deltas)
        assert rebuild_book([m for m in items if isinstance(m, BookSnapshot | BookDelta)]) == (bids, asks)
        _assert_books_equal_sorted(twins, bids, asks)


def _assert_books_equal_sorted(twins, bids, asks) -> None:  # type: ignore[no-untyped-def]
    twin_book = twins["bybit"].twin.book_json("BTCUSDT", DEPTH)
    assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
    assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]


@pytest.mark.anyio
async def test_bybit_public_trades_and_a_subscribed_instrument_reach_the_bus(bus: Bus) -> None:
    """publicTrade.{symbol} per instrument (trades on by default); SubscribeMarketData adds ETH's book and
    trades on the live connection, and a kline interval that is not configured is refused whole."""
    rec = Recorder(bus)
    async with start_twins(["bybit"], symbols=["BTC", "ETH"], rate=50) as twins:
        actor = _actor(twins, bus, klines=("1m",))
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live BTC book")
            ref = actor.ref
            with pytest.raises(ConfigError, match="kline 5m"):
                await ref.ask(SubscribeMarketData(venue=Venue.BYBIT, instrument=ETH, trades=True, klines=("1m", "5m")))
            await anyio.sleep(0.3)
            assert not actor.adapter.book_state_live(ETH)  # refused: nothing was subscribed
            assert await ref.ask(SubscribeMarketData(venue=Venue.BYBIT, instrument=ETH, trades=True,
                                                     klines=("1m",))) is None
            await wait_for(lambda: actor.adapter.book_state_live(ETH), what="live ETH book")
            await wait_for(lambda: {t.instrument for t in rec.of(Trade)} >= {BTC, ETH}, timeout=10,
                           what="trades of both instruments")
            tg.cancel_scope.cancel()
    trades = rec.of(Trade)
    assert all(t.venue is Venue.BYBIT and t.price > 0 and t.size > 0 and t.trade_id for t in trades)
    assert any(q.instrument == ETH for q in rec.of(Quote))


@pytest.mark.anyio
async def test_bybit_trades_false_subscribes_no_trades(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["bybit"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus, trades=False)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await anyio.sleep(1.0)
            with pytest.raises(ConfigError, match="trades"):
                await actor.ref.ask(SubscribeMarketData(venue=Venue.BYBIT, instrument=BTC, trades=True))
            tg.cancel_scope.cancel()
    assert len(rec.of(Quote)) > 10 and rec.of(Trade) == []
