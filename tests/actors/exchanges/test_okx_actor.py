"""The OKX v5 (SWAP) exchange actor end to end: real twin on loopback, real actor, real bus."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.okx import OkxAdapter
from messages import (
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
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
    Quote,
    Side,
    SignalKind,
    Venue,
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
from venues import Credentials
from venues.events import SendFrame
from venues.http import Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
SYMBOL = "BTC-USDT-SWAP"


def _actor(twins, bus: Bus, **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["okx"]
    creds = rt.twin.credentials
    adapter = OkxAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret, creds.passphrase))


def _twin_best(twins) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    book = twins["okx"].twin.book_json(SYMBOL, 1)
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def _books_equal(twins, actor: ExchangeActor) -> bool:  # type: ignore[no-untyped-def]
    if not actor.adapter.book_state_live(BTC):
        return False
    twin_book = twins["okx"].twin.book_json(SYMBOL, 1000)
    bids, asks = actor.adapter.codec.book(BTC).as_sorted()
    return (bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
            and asks == [(float(p), float(s)) for p, s in twin_book["asks"]])


async def _step(twins, n: int, pause: float = 0.003) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        twins.step()
        await anyio.sleep(pause)


@pytest.mark.anyio
async def test_okx_market_data_reaches_the_bus_typed_with_event_and_receive_times(bus: Bus) -> None:
    rec = Recorder(bus, "md.>")
    ctl = Recorder(bus)
    async with start_twins(["okx"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            assert actor.adapter.codec.book_state(BTC) is BookState.LIVE
            await anyio.sleep(1.0)
            tg.cancel_scope.cancel()
    quotes = rec.of(Quote)
    now = time.time_ns()
    assert len(quotes) > 10
    assert all(q.venue is Venue.OKX and q.instrument == BTC and q.bid_px < q.ask_px for q in quotes)
    assert all(0 < q.ts_event <= q.ts_recv + 5_000_000 and q.ts_recv <= now for q in quotes)
    integrity = [m for m in ctl.of(BookIntegrity) if m.instrument == BTC]
    # The book starts SYNCING (no message: nothing changed yet) and the subscribe snapshot makes it LIVE.
    assert integrity and integrity[0].state is BookState.LIVE and integrity[0].reason == "snapshot"
    assert actor.resyncs == 0 and actor.dropped["malformed"] == 0


@pytest.mark.anyio
async def test_okx_actor_book_matches_the_twin_book_exactly_when_the_market_pauses(bus: Bus) -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)  # the market only moves when stepped
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 20)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _step(twins, 200, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            assert actor.resyncs == 0
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_order_lifecycle_through_the_actor(bus: Bus) -> None:
    rec = Recorder(bus, "orders.update.okx")
    everything = Recorder(bus)
    async with start_twins(["okx"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        adapter: OkxAdapter = actor.adapter  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await wait_for(lambda: {"orders:SWAP", "positions:SWAP", "account:"} <= adapter.private_channels,
                           what="private subscriptions after login")
            contract = actor.registry.get(Venue.OKX, BTC).contract_size
            assert contract == Decimal("0.01")  # ctVal from /api/v5/public/instruments

            # A resting limit order: placed, queried by client id and by venue id, cancelled.
            bid, _ = _twin_best(twins)
            cid = ClientOrderId("cbokx1")
            resting = PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                 quantity=Decimal("3"), price=Decimal(str(round(bid * 0.9, 1))))
            ack = await ref.ask(resting)
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            assert ack.client_order_id == cid and ack.venue_order_id and ack.quantity == Decimal("3")
            q = await ref.ask(QueryOrder(venue=Venue.OKX, instrument=BTC, client_order_id=cid))
            assert q.status is OrderStatus.SUBMITTED and q.quantity == Decimal("3") and q.price == resting.price
            q2 = await ref.ask(QueryOrder(venue=Venue.OKX, instrument=BTC, venue_order_id=ack.venue_order_id))
            assert q2.client_order_id == cid
            open_orders = await ref.ask(GetOpenOrders(venue=Venue.OKX))
            assert [o.client_order_id for o in open_orders] == [cid]
            assert await ref.ask(CancelOrder(venue=Venue.OKX, instrument=BTC, client_order_id=cid)) is None
            q3 = await ref.ask(QueryOrder(venue=Venue.OKX, instrument=BTC, client_order_id=cid))
            assert q3.status is OrderStatus.CANCELLED and q3.filled_qty == 0

            # A marketable order fills; positions and balances show it.
            taker_id = ClientOrderId("cbokx2")
            taker = PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=taker_id, side=Side.BUY,
                               quantity=Decimal("2"), order_type=OrderType.MARKET)
            placed = await ref.ask(taker)
            assert placed.client_order_id == taker_id and placed.status in (OrderStatus.SUBMITTED, OrderStatus.FILLED)
            filled = await ref.ask(QueryOrder(venue=Venue.OKX, instrument=BTC, client_order_id=taker_id))
            assert filled.status is OrderStatus.FILLED and filled.filled_qty == Decimal("2")
            positions = await ref.ask(GetPositions(venue=Venue.OKX))
            assert [(p.instrument, p.side, p.size) for p in positions if p.size] == [(BTC, Side.BUY, Decimal("2"))]
            balances = await ref.ask(GetBalances(venue=Venue.OKX))
            assert any(b.asset == "USDT" and b.total > 0 for b in balances)

            # The private stream delivers the same lifecycle on orders.update.okx (plus fills and account).
            def private(cid_: str, status: OrderStatus) -> bool:
                return any(u.client_order_id == cid_ and u.status is status and u.ts_recv > 0
                           for u in rec.of(OrderUpdate))

            await wait_for(lambda: private("cbokx1", OrderStatus.SUBMITTED) and private("cbokx1", OrderStatus.CANCELLED)
                           and private("cbokx2", OrderStatus.FILLED), what="private order updates")
            statuses = [u.status for u in rec.of(OrderUpdate) if u.client_order_id == "cbokx2"]
            first_fill = statuses.index(OrderStatus.FILLED)
            assert OrderStatus.SUBMITTED not in statuses[first_fill:], statuses  # never back after FILLED
            await wait_for(lambda: any(f.client_order_id == "cbokx2" for f in everything.of(Fill)), what="fill")
            fills = [f for f in everything.of(Fill) if f.client_order_id == "cbokx2"]
            assert sum(f.quantity for f in fills) == Decimal("2") and all(f.side is Side.BUY for f in fills)
            assert any(b.asset == "USDT" for b in everything.of(Balance))

            assert not actor.dropped and actor.reconciles == 0, (actor.dropped, actor.reconciles)
            health = await ref.ask(HealthCheck(venue=Venue.OKX))
            assert isinstance(health, HealthReport) and health.status == "ok", health
            assert health.books_live == 1 and health.connected_streams == 2
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_drop_ws_reconnects_and_the_book_comes_back_live_and_exact(bus: Bus) -> None:
    everything = Recorder(bus)
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        adapter: OkxAdapter = actor.adapter  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: adapter.book_state_live(BTC) and "orders:SWAP" in adapter.private_channels)
            await _step(twins, 50)
            before = len(everything.of(BookIntegrity))
            twins["okx"].twin.faults.inject("drop_ws")
            # (The reconnect can be quicker than a poll of the book state: the bus records SYNCING -> LIVE.)
            await _step(twins, 30, 0.01)  # the market keeps moving while we reconnect
            await wait_for(lambda: actor.streams["public"].connects >= 2 and actor.streams["private"].connects >= 2
                           and adapter.book_state_live(BTC), timeout=10.0, what="reconnected and live")
            await wait_for(lambda: "orders:SWAP" in adapter.private_channels, what="private re-login")
            await wait_for(lambda: actor.reconciles >= 1, what="reconcile after the private reconnect")
            await _step(twins, 100, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            tg.cancel_scope.cancel()
    states = [m.state for m in everything.of(BookIntegrity)[before:] if m.instrument == BTC]
    assert states[:2] == [BookState.SYNCING, BookState.LIVE], states
    signals = [(s.kind, s.detail.split(":")[0]) for s in everything.of(VenueSignal)]
    for stream in ("public", "private"):
        assert (SignalKind.WS_CLOSED, stream) in signals
        assert signals.count((SignalKind.WS_OPEN, stream)) >= 2


@pytest.mark.anyio
async def test_okx_bad_checksum_is_answered_by_a_resubscribe_and_the_book_recovers(bus: Bus) -> None:
    everything = Recorder(bus)
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        adapter: OkxAdapter = actor.adapter  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: adapter.book_state_live(BTC))
            twins["okx"].twin.faults.inject("corrupt_checksum")
            await _step(twins, 5)
            await wait_for(lambda: actor.resyncs == 1 and adapter.book_state_live(BTC), timeout=5.0,
                           what="resubscribed and live")
            await _step(twins, 100, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            assert actor.streams["public"].connects == 1  # a resubscribe, not a reconnect
            tg.cancel_scope.cancel()
    states = [m.state for m in everything.of(BookIntegrity) if m.instrument == BTC]
    assert states == [BookState.LIVE, BookState.RESYNCING, BookState.LIVE], states


# -- the adapter alone (no twin): the joins that are easy to get wrong ------------------------------
class _Ctx:
    """A VenueContext that records frames."""

    def __init__(self) -> None:
        self.credentials = Credentials("key", "secret", "pass")
        self.registry = InstrumentRegistry()
        self.sent: list[tuple[str, bytes]] = []

    def now_ms(self) -> int:
        return 1_700_000_000_123

    async def send(self, stream: str, frame: bytes) -> None:
        self.sent.append((stream, frame))


def _adapter_with_btc() -> OkxAdapter:
    reg = InstrumentRegistry()
    reg.add(Instrument(id=BTC, venue=Venue.OKX, venue_symbol=SYMBOL, kind=InstrumentKind.PERPETUAL, base="BTC",
                       quote="USDT", settle="USDT", contract_type=ContractType.LINEAR, tick_size=Decimal("0.1"),
                       lot_size=Decimal("1"), contract_size=Decimal("0.01"), min_qty=Decimal("1")))
    return OkxAdapter(reg)


@pytest.mark.anyio
async def test_okx_private_stream_logs_in_once_per_connection_and_subscribes_after_the_ack() -> None:
    adapter, ctx = _adapter_with_btc(), _Ctx()
    await adapter.on_connected("private", ctx, [BTC])  # type: ignore[arg-type]
    await adapter.on_connected("private", ctx, [BTC])  # type: ignore[arg-type]  # SubscribeMarketData later: no re-login
    assert len(ctx.sent) == 1
    login = json.loads(ctx.sent[0][1])
    assert login["op"] == "login" and login["args"][0]["timestamp"] == "1700000000"  # epoch SECONDS
    out = adapter.feed("private", '{"event":"login","code":"0","msg":"","connId":"a"}', 1)
    (frame,) = [o for o in out if isinstance(o, SendFrame)]
    assert json.loads(frame.frame) == {"op": "subscribe", "args": [
        {"channel": "orders", "instType": "SWAP"}, {"channel": "positions", "instType": "SWAP"}, {"channel": "account"}]}
    adapter.reset_stream("private", 2)  # a new connection logs in again
    await adapter.on_connected("private", ctx, [BTC])  # type: ignore[arg-type]
    assert len(ctx.sent) == 2


def test_okx_parse_place_never_steps_back_behind_the_orders_channel() -> None:
    adapter = _adapter_with_btc()
    order = PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb9"), side=Side.BUY,
                       quantity=Decimal("2"), order_type=OrderType.MARKET)
    ack = Response(status=200, headers={}, body=json.dumps({"code": "0", "msg": "", "data": [
        {"clOrdId": "cb9", "ordId": "77", "sCode": "0", "sMsg": "", "ts": "1700000000000"}]}).encode())
    assert adapter.parse_place(order, ack, 5).status is OrderStatus.SUBMITTED  # nothing seen yet
    push = {"arg": {"channel": "orders", "instType": "SWAP"}, "data": [{
        "instId": SYMBOL, "ordId": "77", "clOrdId": "cb9", "state": "filled", "side": "buy", "ordType": "market",
        "sz": "2", "px": "", "accFillSz": "2", "avgPx": "30000", "fillSz": "2", "fillPx": "30000", "tradeId": "1",
        "fillFee": "-0.3", "fillFeeCcy": "USDT", "execType": "T", "uTime": "1700000000001", "cTime": "1700000000000"}]}
    out = adapter.feed("private", json.dumps(push), 6)
    assert any(isinstance(o, OrderUpdate) and o.status is OrderStatus.FILLED for o in out)
    upd = adapter.parse_place(order, ack, 7)
    assert upd.status is OrderStatus.FILLED and upd.filled_qty == Decimal("2")


def test_okx_resubscribe_frames_and_rate_buckets() -> None:
    adapter = _adapter_with_btc()
    (s1, unsub), (s2, sub) = adapter.resubscribe_frames(BTC)
    assert (s1, s2) == ("public", "public")
    assert json.loads(unsub)["op"] == "unsubscribe" and json.loads(sub)["op"] == "subscribe"
    assert json.loads(sub)["args"] == [{"channel": "books", "instId": SYMBOL}]
    assert adapter.snapshot_request(BTC) is None
    buckets, routes = adapter.rate_buckets()
    by_name = {b.name: b for b in buckets}
    # Half of OKX's fixed-window limits (60 and 10 per 2 s): a leaky bucket never overfills a window then.
    assert (by_name["trade/order"].capacity, by_name["trade/order"].period_s) == (30, 2.0)
    assert (by_name["account/balance"].capacity, by_name["account/positions"].capacity) == (5, 5)
    assert all(b.per_request for b in buckets) and routes["trade/order"][0] == "trade/order"
    assert adapter.ping_frame("public", 0) == b"ping"
    specs = {s.name: s for s in adapter.streams(True)}
    assert specs["public"].stale_after_s == 1.0 and specs["public"].ping_interval_s == 20.0
    assert specs["private"].stale_after_s is None and specs["private"].ping_interval_s == 20.0
    assert [s.name for s in adapter.streams(False)] == ["public"]


@pytest.mark.anyio
async def test_okx_klines_on_the_business_stream_and_book_deltas_reach_the_bus(bus: Bus) -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=0, clock_ms=clock_near_minute_end()) as twins:
        def make() -> ExchangeActor:
            adapter = OkxAdapter(InstrumentRegistry(), endpoints(twins["okx"]), klines=("1m",), emit_deltas=True)
            assert [s.name for s in adapter.streams(False)] == ["public", "business"]
            return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus)

        items, (bids, asks) = await run_klines_and_deltas(bus, twins, make, BTC)
        twin = twins["okx"].twin
        klines = [m for m in items if isinstance(m, Kline)]
        assert all(k.venue is Venue.OKX and k.instrument == BTC for k in klines)
        # The twin pushes only the candle trades land in, always with confirm "0".
        check_klines(klines, twin.klines[SYMBOL]["1m"], [t.price for t, _ in twin.trades[SYMBOL]], venue_closes=False)
        deltas = [m for m in items if isinstance(m, BookDelta)]
        assert deltas and all(d.instrument == BTC for d in deltas)
        assert rebuild_book([m for m in items if isinstance(m, BookSnapshot | BookDelta)]) == (bids, asks)
        twin_book = twin.book_json(SYMBOL, 1000)
        assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
        assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]
