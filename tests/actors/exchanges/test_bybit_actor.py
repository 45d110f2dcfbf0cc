"""The ExchangeActor with the Bybit v5 (linear) adapter against the Bybit twin on loopback, with a real bus."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import msgspec
import pytest

from actors.bus import Bus
from actors.exchanges.adapter import VenueContext
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.bybit import BybitAdapter
from actors.journal import Journal, JournalState
from actors.router import OrderRouter, RouterConfig
from messages import (
    AccountConfig,
    Balance,
    BookDelta,
    BookIntegrity,
    BookSnapshot,
    BookState,
    CancelOrder,
    ClientOrderId,
    ContractType,
    Fill,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    HealthCheck,
    HealthReport,
    Instrument,
    InstrumentId,
    InstrumentKind,
    Kline,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Quote,
    ReconcileNeeded,
    Side,
    SubscribeMarketData,
    Trade,
    Venue,
    VenueOrderId,
    VenueSignal,
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
from tests.venues.bybit.wire_files import wire_bytes
from venues import Credentials
from venues.bybit import rest
from venues.bybit.session import BybitSession
from venues.errors import ConfigError, InvalidParameter, UnknownOrder
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")
BTC_USDC = InstrumentId("BTC-USDC-PERP")
DEPTH = 50


def _actor(twins, bus: Bus, **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["bybit"]
    creds = rt.twin.credentials
    adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=DEPTH, **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _session(actor: ExchangeActor) -> BybitSession:
    assert isinstance(actor.session, BybitSession)
    return actor.session


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
            actor.on_frame(public, stale, time.time_ns())  # noqa: SLF001 - inject one venue frame
            assert not actor.adapter.book_state_live(BTC)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live again after resubscribing")
            # One resubscribe (unsubscribe + subscribe on the live connection), not a reconnect.
            assert actor.resyncs == 1 and public.connects == connects
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


# -- 2026 protocol: categorised topics, WS errors, paging, settle coins, history, position modes, balances --
def _actor_on(twins, bus: Bus, instruments: list[InstrumentId], **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["bybit"]
    creds = rt.twin.credentials
    adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=DEPTH, trades=False, **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=list(instruments), depth_levels=0), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _private_topics(twins) -> set[str]:  # type: ignore[no-untyped-def]
    conns = [c for c in twins["bybit"].twin.hub.conns if c.private and c.authed]
    return set().union(*(c.topics for c in conns)) if conns else set()


_CATEGORISED = {"order.linear", "execution.linear", "position.linear", "wallet"}


@pytest.mark.anyio
async def test_bybit_private_topics_are_categorised_and_other_categories_are_ignored_not_dropped(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: _private_topics(twins) == _CATEGORISED, what="categorised private topics")
            private = actor.streams["private"]
            reconciles = actor.reconciles
            # A unified account's all-in-one rows of another category (a spot order): recognised, not malformed.
            row = {"category": "spot", "symbol": "BTCUSDT", "orderId": "s-1", "orderLinkId": "", "side": "Buy",
                   "orderType": "Limit", "price": "1", "qty": "1", "orderStatus": "New", "avgPrice": "",
                   "cumExecQty": "0", "updatedTime": "1700000000000"}
            frame = json.dumps({"topic": "order", "id": "x", "creationTime": 1, "data": [row]}).encode()
            actor.on_frame(private, frame, time.time_ns())  # noqa: SLF001 - one venue frame
            assert actor.adapter.codec.ignored == {"order.spot": 1}  # type: ignore[attr-defined]
            assert sum(actor.dropped.values()) == 0 and actor.reconciles == reconciles  # no reconcile for it
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_refused_subscribes_and_a_refused_login_are_sent_again_after_a_backoff(bus: Bus) -> None:
    rec = Recorder(bus, "venue.>")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        twin = twins["bybit"].twin
        twin.refuse_subscribes = 1  # the first subscribe request: {"success": false, "op": "subscribe", ...}
        twin.refuse_logins = 1  # the first login: {"success": false, "op": "auth", ...}
        actor = _actor(twins, bus, retry_base_s=0.05)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="book live")
            await wait_for(lambda: _session(actor).logged_in and _private_topics(twins) == _CATEGORISED,
                           what="logged in and subscribed after the retries")
            assert twin.refuse_subscribes == 0 == twin.refuse_logins
            assert any("login failed" in s.detail for s in rec.of(VenueSignal))  # typed, reported
            assert sum(actor.dropped.values()) == 0  # error replies are no undecodable frames
            assert actor.streams["private"].connects == 1 == actor.streams["public"].connects  # on the same connections
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_second_private_reconnect_inside_the_interval_is_reconciled_when_it_ends(bus: Bus) -> None:
    """ReconcileNeeded goes out at most once per interval, but never drops a reason: the private stream
    drops twice inside one interval; the first reconnect asks at once, the second when the interval ends
    (updates missed between the first reconcile and the second drop would otherwise never be looked for)."""
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        twin = twins["bybit"].twin
        rt = twins["bybit"]
        adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=DEPTH, trades=False)
        config = ExchangeConfig(instruments=[BTC], depth_levels=0, reconcile_min_interval_s=3.0)
        actor = ExchangeActor(adapter, config, bus=bus,
                              credentials=Credentials(twin.credentials.api_key, twin.credentials.secret))
        rec = Recorder(bus, "orders.reconcile.>")
        private = lambda: actor.streams["private"]  # noqa: E731
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: private().connected and _session(actor).logged_in, what="private up")
            for n in (2, 3):
                twin.faults.inject("drop_ws")
                await wait_for(lambda n=n: private().connects == n and private().connected, what=f"reconnect {n}")
            second_up_ns = time.time_ns()
            await wait_for(lambda: len(rec.of(ReconcileNeeded)) == 2, what="the deferred reconcile request")
            first, second = rec.of(ReconcileNeeded)
            assert second.ts - first.ts >= 3.0e9 * 0.99  # once per interval...
            assert second.ts >= second_up_ns - 50_000_000  # ...and the second reconnect was not forgotten
            assert actor.reconciles == 2
            tg.cancel_scope.cancel()


def _twin_open(twins) -> list[str]:  # type: ignore[no-untyped-def]
    """The client order ids of every order open on the Bybit twin, sorted."""
    return sorted(o.client_id for o in twins["bybit"].twin.engine.open_orders())


@pytest.mark.anyio
async def test_bybit_reconcile_across_three_pages_and_both_settle_coins(bus: Bus, tmp_path: Path) -> None:
    """Orders on USDT and USDC perpetuals, three pages of them on the twin (2 rows a page); GetOpenOrders
    lists every one of them, each once, across every page of both settle coins; the private stream misses
    two cancels; the router's reconcile finds every order's state, and the list then holds exactly the
    orders still open."""
    options = {"bybit": {"settle_coins": ("USDT", "USDC"), "page_size": 2}}
    async with start_twins(["bybit"], symbols=["BTC"], rate=0, options=options) as twins:
        twin = twins["bybit"].twin
        actor = _actor_on(twins, bus, [BTC, BTC_USDC])
        config = RouterConfig(initial_venue=Venue.BYBIT, query_interval_s=0.2, reconcile_retry_s=0.3)
        with Journal(tmp_path / "journal.sqlite") as journal:
            router = OrderRouter(journal, {Venue.BYBIT: actor.ref}, bus=bus, config=config,
                                 id_makers={Venue.BYBIT: actor.adapter.make_client_order_id},
                                 registries={Venue.BYBIT: actor.registry})
            async with anyio.create_task_group() as tg:
                await tg.start(actor.run)
                ref = await tg.start(router.run)
                bid = Decimal(twin.book_json("BTCUSDT", 1)["bids"][0][0])
                cids = {}
                for inst, n in ((BTC, 5), (BTC_USDC, 3)):
                    for i in range(n):
                        intent = OrderIntent(strategy="t", instrument=inst, side=Side.BUY, quantity=Decimal("0.001"),
                                             price=(bid * Decimal("0.8")).quantize(Decimal("0.1")) - i)
                        cids[(inst, i)] = await ref.ask(intent)
                await wait_for(lambda: all(router.orders[c].state is JournalState.OPEN for c in cids.values()),
                               what="every order open")
                # One page alone holds 2 orders of each coin and names the next one...
                firsts = actor.adapter.open_orders(None, actor)
                pages = [rest.parse_list_page(await actor.rest.request(spec), 0) for spec in firsts]
                assert [p.rows for p in pages] == [2, 2] and all(p.cursor for p in pages)
                # ...and GetOpenOrders reads every page: 3 of USDT orders (5), 2 of USDC orders (3).
                opened = await actor.ref.ask(GetOpenOrders(venue=Venue.BYBIT))
                listed = sorted(u.client_order_id for u in opened)
                assert listed == sorted(cids.values()) == _twin_open(twins)  # all of them, none twice
                assert all(u.status is OrderStatus.SUBMITTED for u in opened)
                by_symbol = await actor.ref.ask(GetOpenOrders(venue=Venue.BYBIT, instrument=BTC))
                assert sorted(u.client_order_id for u in by_symbol) == sorted(c for k, c in cids.items() if k[0] == BTC)
                # The private stream goes away; meanwhile the venue cancels the oldest order of each settle coin
                # (the last page of USDT, the second of USDC): the router hears of it only by reconciling.
                twin.faults.inject("drop_ws", duration_s=0.5)
                await wait_for(lambda: not actor.streams["private"].connected, what="private down")
                for inst, symbol in ((BTC, "BTCUSDT"), (BTC_USDC, "BTCPERP")):
                    twin.engine.cancel(symbol, twin.now_ms(), client_id=cids[(inst, 0)])
                twin.flush_private()
                done = router.reconciled.get(Venue.BYBIT, 0)
                await wait_for(lambda: router.reconciled.get(Venue.BYBIT, 0) > done, timeout=15, what="a reconcile")
                await wait_for(lambda: all(router.orders[cids[k]].state is JournalState.DONE
                                           for k in ((BTC, 0), (BTC_USDC, 0))), what="the missed cancels")
                assert all(router.orders[cids[k]].status is OrderStatus.CANCELLED for k in ((BTC, 0), (BTC_USDC, 0)))
                still = [c for k, c in cids.items() if k[1] != 0]
                assert all(router.orders[c].state is JournalState.OPEN for c in still)
                left = await actor.ref.ask(GetOpenOrders(venue=Venue.BYBIT))
                assert sorted(u.client_order_id for u in left) == sorted(still) == _twin_open(twins)
                tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_positions_are_read_across_every_page_of_both_settle_coins(bus: Bus) -> None:
    """Four positions, one a page (``page_size`` 1): two USDT perpetuals, two USDC perpetuals; GetPositions
    returns each of them once."""
    eth_usdc = InstrumentId("ETH-USDC-PERP")
    options = {"bybit": {"settle_coins": ("USDT", "USDC"), "page_size": 1}}
    async with start_twins(["bybit"], symbols=["BTC", "ETH"], rate=0, options=options) as twins:
        twin = twins["bybit"].twin
        actor = _actor_on(twins, bus, [BTC, ETH, BTC_USDC, eth_usdc])
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            sizes = {BTC: Decimal("0.002"), ETH: Decimal("0.03"), BTC_USDC: Decimal("0.004"), eth_usdc: Decimal("0.05")}
            for n, (inst, qty) in enumerate(sizes.items()):
                await ref.ask(PlaceOrder(venue=Venue.BYBIT, instrument=inst, client_order_id=ClientOrderId(f"pg-{n}"),
                                         side=Side.BUY, quantity=qty, order_type=OrderType.MARKET))
            held = await ref.ask(GetPositions(venue=Venue.BYBIT))
            assert sorted((p.instrument, p.side, p.size) for p in held) == sorted(
                (inst, Side.BUY, qty) for inst, qty in sizes.items())
            venue_side = {(s, pos.qty) for (s, _side), pos in twin.engine.account.positions.items() if pos.qty}
            assert venue_side == {(actor.registry.get(Venue.BYBIT, p.instrument).venue_symbol, p.size) for p in held}
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_hedge_mode_is_read_at_start_and_orders_open_and_close_each_side(bus: Bus) -> None:
    acct = Recorder(bus, "account.>")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20, options={"bybit": {"hedge": True}}) as twins:
        twin = twins["bybit"].twin
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            # At start the settle coins' positions (none open here), then the subscribed symbol, flat: its mode.
            await wait_for(lambda: bool(acct.of(AccountConfig)), what="the position mode read")
            (cfg,) = acct.of(AccountConfig)  # one, naming the configured symbol's mode
            assert (cfg.venue, cfg.position_mode, cfg.detail) == (Venue.BYBIT, PositionMode.HEDGE, "hedge: BTCUSDT")
            assert actor.position_mode is PositionMode.HEDGE

            def order(cid: str, side: Side, reduce_only: bool = False) -> PlaceOrder:
                return PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=side,
                                  quantity=Decimal("0.020"), order_type=OrderType.MARKET, reduce_only=reduce_only)

            await ref.ask(order("hg-long", Side.BUY))  # opens the long
            await ref.ask(order("hg-short", Side.SELL))  # opens the short, beside it
            held = await ref.ask(GetPositions(venue=Venue.BYBIT))
            assert sorted((p.side, p.size) for p in held) == [(Side.BUY, Decimal("0.020")), (Side.SELL, Decimal("0.020"))]
            await ref.ask(order("hg-close-long", Side.SELL, reduce_only=True))
            await ref.ask(order("hg-close-short", Side.BUY, reduce_only=True))
            sides = {o.client_id: o.position_side.value for o in twin.engine.orders.values()}
            assert sides == {"hg-long": "LONG", "hg-short": "SHORT", "hg-close-long": "LONG", "hg-close-short": "SHORT"}
            assert all(o.status.value == "FILLED" for o in twin.engine.orders.values())
            assert await ref.ask(GetPositions(venue=Venue.BYBIT)) == []  # both sides closed
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_a_mode_switched_while_running_is_detected_from_the_refusal_and_published(bus: Bus) -> None:
    acct = Recorder(bus, "account.>")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        twin = twins["bybit"].twin
        actor = _actor(twins, bus, ping_interval_s=0.2)  # the silence check (and the mode recheck) every 0.2 s
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: bool(acct.of(AccountConfig)), what="the start's AccountConfig")
            (cfg,) = acct.of(AccountConfig)
            assert (cfg.position_mode, cfg.detail) == (PositionMode.ONE_WAY, "one_way: BTCUSDT")
            twin.engine.account.hedge = True  # switched elsewhere (the web UI): nothing is pushed
            order = PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("sw-1"), side=Side.BUY,
                               quantity=Decimal("0.010"), order_type=OrderType.MARKET)
            with pytest.raises(InvalidParameter, match="position idx not match position mode"):
                await ref.ask(order)
            await wait_for(lambda: acct.of(AccountConfig)[-1].position_mode is PositionMode.HEDGE,
                           what="the new mode published")
            assert actor.position_mode is PositionMode.HEDGE
            await ref.ask(msgspec.structs.replace(order, client_order_id=ClientOrderId("sw-2")))
            assert twin.engine.get("BTCUSDT", client_id="sw-2").position_side.value == "LONG"
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_one_query_asks_order_history_when_realtime_forgot_the_closed_order(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        twin = twins["bybit"].twin
        actor = _actor(twins, bus)
        adapter = actor.adapter
        assert isinstance(adapter, BybitAdapter)
        asked: list[tuple[str, str | None]] = []  # (answered request, the request follow asked next)
        follow = adapter.follow

        def spy(spec: RequestSpec, response: Response, ctx: VenueContext) -> RequestSpec | None:
            nxt = follow(spec, response, ctx)
            step = (spec.path, None if nxt is None else nxt.path)
            if not asked or asked[-1] != step:  # the actor builds a follow-up again when it sends it (fresh signature)
                asked.append(step)
            return nxt

        monkeypatch.setattr(adapter, "follow", spy)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            bid, _ask = _twin_best(twins)
            cid = ClientOrderId("hist-1")
            await ref.ask(PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                     quantity=Decimal("0.010"), price=Decimal(str(round(bid * 0.9, 1)))))
            await ref.ask(CancelOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid))
            query = QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=cid)
            asked.clear()
            recent = await ref.ask(query)  # realtime still keeps the recently closed order: one request
            assert recent.status is OrderStatus.CANCELLED and asked == [("/v5/order/realtime", None)]
            twin.restart_books()  # a Bybit restart: realtime no longer has closed orders
            for _ in range(2):  # the same answer every time: nothing is remembered between queries
                asked.clear()
                found = await ref.ask(query)  # one ask: realtime, then history
                assert found.status is OrderStatus.CANCELLED and found.client_order_id == cid
                assert found.venue_order_id == recent.venue_order_id and found.raw_status == "Cancelled"
                assert asked == [("/v5/order/realtime", "/v5/order/history"), ("/v5/order/history", None)]
            never = QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("never-sent"))
            asked.clear()
            with pytest.raises(UnknownOrder, match="neither /v5/order/realtime nor /v5/order/history"):
                await ref.ask(never)
            assert asked == [("/v5/order/realtime", "/v5/order/history"), ("/v5/order/history", None)]
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_balances_are_the_wallet_the_free_margin_and_the_unrealised_pnl_apart(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        twin = twins["bybit"].twin
        actor = _actor(twins, bus, stale_after_s=30.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            bid, _ask = _twin_best(twins)
            await ref.ask(PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("bal-1"),
                                     side=Side.BUY, quantity=Decimal("0.100"), order_type=OrderType.MARKET))
            await ref.ask(PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("bal-2"),
                                     side=Side.BUY, quantity=Decimal("0.100"), price=Decimal(str(round(bid * 0.9, 1)))))
            twins.step(20)  # the mark moves: some unrealised PnL
            (usdt,) = await ref.ask(GetBalances(venue=Venue.BYBIT))
            wallet = twin.wallet_item()
            (coin,) = wallet["coin"]
            assert usdt.asset == "USDT" and usdt.total == Decimal(coin["walletBalance"])
            assert usdt.unrealized_pnl == Decimal(coin["unrealisedPnl"]) != 0
            # What can open new positions: the account's free margin, net of the position's and the order's margin.
            assert usdt.available == Decimal(wallet["totalAvailableBalance"])
            assert usdt.available < usdt.total - Decimal(coin["totalPositionIM"]) + abs(usdt.unrealized_pnl)
            tg.cancel_scope.cancel()


# -- the adapter and its session, without a twin -------------------------------------------------------------
def _ack(oid: str, cid: str) -> Response:
    body = {"retCode": 0, "retMsg": "OK", "result": {"orderId": oid, "orderLinkId": cid}, "retExtInfo": {},
            "time": 1_700_000_000_123}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


def _order_push(status: str, filled: str) -> bytes:
    row = {"category": "linear", "symbol": "BTCUSDT", "orderId": "oid-1", "orderLinkId": "cb-1", "side": "Buy",
           "orderType": "Limit", "price": "30000.0", "qty": "0.010", "orderStatus": status, "avgPrice": "",
           "cumExecQty": filled, "updatedTime": "1700000000000"}
    return json.dumps({"id": "x", "topic": "order", "creationTime": 1_700_000_000_000, "data": [row]}).encode()


def _registry() -> InstrumentRegistry:
    reg = InstrumentRegistry()
    reg.add(Instrument(id=BTC, venue=Venue.BYBIT, venue_symbol="BTCUSDT", kind=InstrumentKind.PERPETUAL, base="BTC",
                       quote="USDT", settle="USDT", contract_type=ContractType.LINEAR, tick_size=Decimal("0.1"),
                       lot_size=Decimal("0.001")))
    return reg


def test_bybit_cancel_answer_takes_the_order_fields_the_session_learnt_from_the_private_stream() -> None:
    adapter = BybitAdapter(_registry())
    session = adapter.session(Credentials("k", "s"), lambda: "n")
    cmd = CancelOrder(venue=Venue.BYBIT, instrument=BTC, venue_order_id=VenueOrderId("oid-1"))
    assert adapter.parse_cancel(cmd, _ack("oid-1", "cb-1"), 5) is None  # never seen: nothing to report
    session.feed("private", _order_push("PartiallyFilled", "0.004"), 1)
    upd = adapter.parse_cancel(cmd, _ack("oid-1", "cb-1"), 5)
    assert upd is not None and upd.status is OrderStatus.CANCELLED and upd.client_order_id == "cb-1"
    assert (upd.side, upd.quantity, upd.filled_qty, upd.price) == (Side.BUY, Decimal("0.010"), Decimal("0.004"),
                                                                 Decimal("30000.0"))


def test_bybit_place_answer_is_the_ack_and_never_hides_a_fresher_pushed_state() -> None:
    adapter = BybitAdapter(_registry())
    session = adapter.session(Credentials("k", "s"), lambda: "n")
    order = PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-1"), side=Side.BUY,
                       quantity=Decimal("0.010"), price=Decimal("30000.0"))
    session.feed("private", _order_push("Filled", "0.010"), 1)  # the push won the race
    ack = adapter.parse_place(order, _ack("oid-1", "cb-1"), 5)
    assert ack.status is OrderStatus.SUBMITTED  # the router ignores an update that steps back
    cancel = CancelOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-1"))
    known = adapter.parse_cancel(cancel, _ack("oid-1", "cb-1"), 6)
    assert known is not None and known.status is OrderStatus.FILLED  # the pushed state was kept
    # An order the stream has not told of yet: the ack's own fields are what a cancel answer joins.
    other = adapter.parse_place(msgspec.structs.replace(order, client_order_id=ClientOrderId("cb-2")),
                                _ack("oid-2", "cb-2"), 7)
    gone = adapter.parse_cancel(CancelOrder(venue=Venue.BYBIT, instrument=BTC, venue_order_id=VenueOrderId("oid-2")),
                                _ack("oid-2", "cb-2"), 8)
    assert gone is not None and gone.status is OrderStatus.CANCELLED and gone.quantity == other.quantity


class _Ctx:
    """A VenueContext for the request builders (no actor): credentials, a fixed clock, a position mode."""

    def __init__(self, mode: PositionMode = PositionMode.ONE_WAY) -> None:
        self.credentials: Credentials | None = Credentials("k", "s")
        self.registry = _registry()
        self.position_mode = mode

    def now_ms(self) -> int:
        return 1_700_000_000_000

    def nonce(self) -> str:
        return "n"


def _body(spec: RequestSpec) -> dict[str, object]:
    return json.loads(spec.body)


def _order(side: Side, reduce_only: bool = False, instrument: InstrumentId = BTC) -> PlaceOrder:
    return PlaceOrder(venue=Venue.BYBIT, instrument=instrument, client_order_id=ClientOrderId("cb-1"), side=side,
                      quantity=Decimal("0.010"), price=Decimal("30000.0"), reduce_only=reduce_only)


def _usdc_registry() -> InstrumentRegistry:
    reg = _registry()
    reg.add(Instrument(id=BTC_USDC, venue=Venue.BYBIT, venue_symbol="BTCPERP", kind=InstrumentKind.PERPETUAL,
                       base="BTC", quote="USDC", settle="USDC", contract_type=ContractType.LINEAR,
                       tick_size=Decimal("0.1"), lot_size=Decimal("0.001")))
    return reg


def test_bybit_orders_carry_the_position_their_symbol_s_mode_names() -> None:
    adapter = BybitAdapter(_usdc_registry())
    one_way, hedge = _Ctx(), _Ctx(PositionMode.HEDGE)
    assert "positionIdx" not in _body(adapter.place_order(_order(Side.BUY), one_way))  # 0: the venue's default
    # Hedge mode: positionIdx names the position the order moves.
    cases = [(Side.BUY, False, 1), (Side.SELL, False, 2), (Side.SELL, True, 1), (Side.BUY, True, 2)]
    for side, reduce_only, idx in cases:
        body = _body(adapter.place_order(_order(side, reduce_only), hedge))
        assert body["positionIdx"] == idx and body.get("reduceOnly", False) is reduce_only, (side, reduce_only)
    # A symbol's own mode, as read or pushed, wins over the account's summary.
    adapter.modes.set("BTCUSDT", PositionMode.ONE_WAY)
    assert "positionIdx" not in _body(adapter.place_order(_order(Side.SELL), hedge))
    adapter.modes.set("BTCUSDT", PositionMode.HEDGE)
    assert _body(adapter.place_order(_order(Side.SELL, True), one_way))["positionIdx"] == 1
    # USDC perpetuals have no hedge mode: always one-way.
    assert "positionIdx" not in _body(adapter.place_order(_order(Side.BUY, instrument=BTC_USDC), hedge))


def _error(code: int, msg: str) -> Response:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


def test_bybit_a_refused_position_idx_marks_the_modes_for_a_fresh_read() -> None:
    adapter = BybitAdapter(_registry())
    with pytest.raises(InvalidParameter):
        adapter.raise_for_error(_error(10001, "params error: qty invalid"))
    assert not adapter.modes.recheck
    with pytest.raises(InvalidParameter, match="position idx not match position mode"):
        adapter.raise_for_error(_error(10001, "position idx not match position mode"))
    assert adapter.modes.recheck


def _rows(*rows: dict[str, object], cursor: str = "") -> Response:
    body = {"retCode": 0, "retMsg": "OK", "time": 1,
            "result": {"list": list(rows), "nextPageCursor": cursor, "category": "linear"}}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


_ROW: dict[str, object] = {"symbol": "BTCUSDT", "orderId": "oid-1", "orderLinkId": "cb-1", "side": "Buy", "orderType": "Limit",
        "price": "30000.0", "qty": "0.010", "orderStatus": "Cancelled", "avgPrice": "", "cumExecQty": "0",
        "updatedTime": "1700000000000"}


def test_bybit_a_query_realtime_does_not_answer_asks_order_history_in_the_same_query() -> None:
    adapter, ctx = BybitAdapter(_registry()), _Ctx()
    assert ctx.credentials is not None
    inst = ctx.registry.get(Venue.BYBIT, BTC)
    q = QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-1"))
    realtime = adapter.query_order(q, ctx)
    assert realtime.path == "/v5/order/realtime"
    history = adapter.follow(realtime, _rows(), ctx)  # no row in realtime: the same query, of order history
    assert history == rest.query_order(ctx.credentials, ctx.now_ms(), inst, client_order_id=ClientOrderId("cb-1"),
                                       history=True)
    assert adapter.follow(history, _rows(), ctx) is None  # history is the last place to look
    assert adapter.follow(history, _rows(_ROW), ctx) is None
    assert adapter.parse_query(q, _rows(_ROW), 2).status is OrderStatus.CANCELLED  # found in history
    with pytest.raises(UnknownOrder, match="neither /v5/order/realtime nor /v5/order/history"):
        adapter.parse_query(q, _rows(), 3)  # neither has it
    # Realtime has the order: its answer is the query's, never paged even with a cursor in it.
    assert adapter.follow(realtime, _rows(_ROW), ctx) is None
    assert adapter.follow(realtime, _rows(_ROW, cursor="more"), ctx) is None
    assert adapter.query_order(q, ctx) == realtime  # nothing is remembered between queries
    by_id = adapter.query_order(QueryOrder(venue=Venue.BYBIT, instrument=BTC, venue_order_id=VenueOrderId("oid-9")),
                                ctx)
    in_history = adapter.follow(by_id, _rows(), ctx)
    assert in_history is not None and in_history.path == "/v5/order/history"
    assert parse_qs(in_history.query) == parse_qs(by_id.query) == {"category": ["linear"], "symbol": ["BTCUSDT"],
                                                                   "orderId": ["oid-9"]}


def test_bybit_lists_are_followed_by_their_cursor_to_the_last_page() -> None:
    adapter, ctx = BybitAdapter(_usdc_registry()), _Ctx()
    creds, now = ctx.credentials, ctx.now_ms()
    assert creds is not None
    _usdt, usdc = adapter.open_orders(None, ctx)
    second = adapter.follow(usdc, _rows(_ROW, cursor="c-2"), ctx)
    assert second == rest.open_orders(creds, now, settle_coin="USDC", cursor="c-2")
    third = adapter.follow(second, _rows(_ROW, cursor="c-3"), ctx)  # the new cursor replaces the old one
    assert third == rest.open_orders(creds, now, settle_coin="USDC", cursor="c-3")
    assert adapter.follow(third, _rows(_ROW), ctx) is None  # no cursor: the last page
    assert adapter.follow(usdc, _rows(), ctx) is None  # an empty list
    (by_symbol,) = adapter.open_orders(BTC_USDC, ctx)
    assert adapter.follow(by_symbol, _rows(_ROW, cursor="s"), ctx) == rest.open_orders(creds, now, "BTCPERP",
                                                                                        cursor="s")
    usdt_held, _usdc_held = adapter.positions(ctx)
    assert adapter.follow(usdt_held, _rows(cursor="p"), ctx) == rest.positions(
        creds, now, settle_coin="USDT", limit=rest.POSITIONS_PAGE, cursor="p")
    assert adapter.follow(usdt_held, _rows(), ctx) is None
    (wallet,) = adapter.balances(ctx)
    assert adapter.follow(wallet, _rows(cursor="w"), ctx) is None  # one answer: nothing follows a balance read


def test_bybit_a_recorded_open_orders_page_is_followed_by_its_cursor() -> None:
    adapter, ctx = BybitAdapter(_registry()), _Ctx()
    assert ctx.credentials is not None
    recorded = Response(status=200, headers={}, body=wire_bytes("bybit/rest_open_orders_response.json"))
    cursor = "page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26"  # as Bybit sent it
    first, _usdc = adapter.open_orders(None, ctx)
    nxt = adapter.follow(first, recorded, ctx)
    assert nxt == rest.open_orders(ctx.credentials, ctx.now_ms(), settle_coin="USDT", cursor=cursor)
    assert parse_qs(nxt.query)["cursor"] == [cursor]  # sent back exactly, once encoded
    # The same page as a query's answer (it has a row): the order is found, nothing is asked next.
    q = QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("test-000005"))
    assert adapter.follow(adapter.query_order(q, ctx), recorded, ctx) is None


def test_bybit_lists_ask_each_settle_coin_for_the_largest_page() -> None:
    adapter, ctx = BybitAdapter(_registry()), _Ctx()
    opens = adapter.open_orders(None, ctx)
    assert [parse_qs(s.query)["settleCoin"] for s in opens] == [["USDT"], ["USDC"]]
    assert all(parse_qs(s.query)["limit"] == ["50"] for s in opens)
    (by_symbol,) = adapter.open_orders(BTC, ctx)
    assert parse_qs(by_symbol.query)["symbol"] == ["BTCUSDT"]
    held = adapter.positions(ctx)
    assert [(parse_qs(s.query)["settleCoin"], parse_qs(s.query)["limit"]) for s in held] == [
        (["USDT"], ["200"]), (["USDC"], ["200"])]
    assert [parse_qs(s.query)["settleCoin"] for s in BybitAdapter(_registry(), settle_coins=("USDT",)).positions(ctx)
            ] == [["USDT"]]


def test_bybit_a_positions_answer_shows_the_modes_of_its_symbols() -> None:
    adapter = BybitAdapter(_registry())
    row = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.010", "avgPrice": "30000", "leverage": "10",
           "unrealisedPnl": "1", "liqPrice": "", "updatedTime": "1700000000000", "positionIdx": 1}
    (pos,) = adapter.parse_positions(_rows(row), 1)
    assert (pos.side, pos.size) == (Side.BUY, Decimal("0.010"))
    assert adapter.modes.get("BTCUSDT") is PositionMode.HEDGE
