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
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Quote,
    Side,
    SignalKind,
    Venue,
    VenueSignal,
)
from simulator.faults import FaultKind
from simulator.okx import OkxTwin
from simulator.okx_account import balance_data
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
from venues.errors import InvalidOrder, InvalidParameter
from venues.events import LoggedIn
from venues.http import Response
from venues.okx.session import OkxSession
from venues.session import Send
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
SYMBOL = "BTC-USDT-SWAP"


def _actor(twins, bus: Bus, **adapter_kw) -> ExchangeActor:  # type: ignore[no-untyped-def]
    rt = twins["okx"]
    creds = rt.twin.credentials
    adapter = OkxAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret, creds.passphrase))


def _session(actor: ExchangeActor) -> OkxSession:
    session = actor.session
    assert isinstance(session, OkxSession)
    return session


def _okx_twin(twins) -> OkxTwin:  # type: ignore[no-untyped-def]
    twin = twins["okx"].twin
    assert isinstance(twin, OkxTwin)
    return twin


def _twin_best(twins) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    book = _okx_twin(twins).book_json(SYMBOL, 1)
    assert book is not None
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def _books_equal(twins, actor: ExchangeActor) -> bool:  # type: ignore[no-untyped-def]
    if not actor.adapter.book_state_live(BTC):
        return False
    twin_book = _okx_twin(twins).book_json(SYMBOL, 1000)
    assert twin_book is not None
    bids, asks = _session(actor).codec.book(BTC).as_sorted()
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
            assert _session(actor).codec.book_state(BTC) is BookState.LIVE
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
        session = _session(actor)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await wait_for(lambda: {"orders:SWAP", "positions:SWAP", "account:"} <= session.private_channels,
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
        session = _session(actor)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: adapter.book_state_live(BTC) and "orders:SWAP" in session.private_channels)
            await _step(twins, 50)
            before = len(everything.of(BookIntegrity))
            twins["okx"].twin.faults.inject("drop_ws")
            # (The reconnect can be quicker than a poll of the book state: the bus records SYNCING -> LIVE.)
            await _step(twins, 30, 0.01)  # the market keeps moving while we reconnect
            await wait_for(lambda: actor.streams["public"].connects >= 2 and actor.streams["private"].connects >= 2
                           and adapter.book_state_live(BTC), timeout=10.0, what="reconnected and live")
            await wait_for(lambda: "orders:SWAP" in session.private_channels, what="private re-login")
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
@pytest.mark.parametrize("ws_snapshot", [True, False], ids=["ws-snapshot", "no-ws-snapshot"])
async def test_okx_book_goes_live_and_exact_with_or_without_the_ws_snapshot(bus: Bus, ws_snapshot: bool) -> None:
    """OKX still sends the initial snapshot (the twin's default); it announced removing it: then the first update
    starts OKX's REST bootstrap (GET /api/v5/market/books, aligned on its seqId). Both ways the book is LIVE and
    equal to the venue's, on one connection."""
    everything = Recorder(bus)
    opts = {"okx": {"book_snapshot": ws_snapshot}}
    async with start_twins(["okx"], symbols=["BTC"], rate=0, options=opts) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _step(twins, 100, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            assert actor.streams["public"].connects == 1 and not actor.dropped
            assert actor.resyncs == (0 if ws_snapshot else 1)  # one REST snapshot when no WS snapshot comes
            tg.cancel_scope.cancel()
    (live,) = [m for m in everything.of(BookIntegrity) if m.instrument == BTC]
    assert live.state is BookState.LIVE
    assert live.reason == "snapshot" if ws_snapshot else live.reason.startswith("REST snapshot seqId ")


@pytest.mark.anyio
@pytest.mark.parametrize("ws_snapshot", [True, False], ids=["ws-snapshot", "no-ws-snapshot"])
async def test_okx_sequence_gap_is_rebuilt_through_rest_without_a_resubscribe(bus: Bus, ws_snapshot: bool) -> None:
    everything = Recorder(bus)
    async with start_twins(["okx"], symbols=["BTC"], rate=0, options={"okx": {"book_snapshot": ws_snapshot}}) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        adapter: OkxAdapter = actor.adapter  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: adapter.book_state_live(BTC))
            resyncs = actor.resyncs
            twins["okx"].twin.faults.inject("skip_sequence")
            await _step(twins, 5)
            await wait_for(lambda: actor.resyncs == resyncs + 1 and adapter.book_state_live(BTC), timeout=5.0,
                           what="rebuilt through REST and live")
            await _step(twins, 100, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            assert actor.streams["public"].connects == 1  # no reconnect, and no resubscribe either
            tg.cancel_scope.cancel()
    states = [(m.state, m.reason) for m in everything.of(BookIntegrity) if m.instrument == BTC]
    assert [s for s, _ in states] == [BookState.LIVE, BookState.RESYNCING, BookState.LIVE], states
    assert "expected prevSeqId" in states[1][1] and states[2][1].startswith("REST snapshot seqId ")


@pytest.mark.anyio
async def test_okx_checksum_is_ignored_even_when_the_venue_sends_a_wrong_one(bus: Bus) -> None:
    """Since 2026-06-23 OKX's checksum is always 0 and must not be used: a corrupted one changes nothing."""
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, stale_after_s=30.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step(twins, 10)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            twins["okx"].twin.faults.inject("corrupt_checksum", count=5)
            await _step(twins, 50, 0.002)
            await wait_for(lambda: _books_equal(twins, actor), timeout=3.0, what="actor book == twin book")
            assert actor.resyncs == 0 and not actor.dropped
            assert twins["okx"].twin.faults.active(FaultKind.CORRUPT_CHECKSUM) is None  # all five went out
            tg.cancel_scope.cancel()


def _place(cid: str, side: Side, qty: str, reduce_only: bool = False) -> PlaceOrder:
    return PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId(cid), side=side,
                      quantity=Decimal(qty), order_type=OrderType.MARKET, reduce_only=reduce_only)


@pytest.mark.anyio
async def test_okx_long_short_mode_is_read_at_start_and_orders_open_and_close_each_side(bus: Bus) -> None:
    rec = Recorder(bus, "account.config.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=20, options={"okx": {"hedge": True}}) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            assert actor.position_mode is PositionMode.HEDGE  # read before any stream opened
            (config,) = rec.of(AccountConfig)
            assert (config.venue, config.position_mode) == (Venue.OKX, PositionMode.HEDGE)
            for cid, side, qty, reduce in (("cbl1", Side.BUY, "5", False), ("cbs1", Side.SELL, "4", False),
                                           ("cbl2", Side.SELL, "2", True), ("cbs2", Side.BUY, "4", True)):
                await ref.ask(_place(cid, side, qty, reduce))
            engine = _okx_twin(twins).engine
            assert [engine.orders[engine._by_client[(SYMBOL, c)]].position_side.value  # noqa: SLF001
                    for c in ("cbl1", "cbs1", "cbl2", "cbs2")] == ["LONG", "SHORT", "LONG", "SHORT"]
            positions = await ref.ask(GetPositions(venue=Venue.OKX))
            assert [(p.side, p.size) for p in positions if p.size] == [(Side.BUY, Decimal("3"))]
            await ref.ask(_place("cbs3", Side.SELL, "1"))
            positions = await ref.ask(GetPositions(venue=Venue.OKX))
            assert sorted((p.side.value, p.size) for p in positions if p.size) == [("buy", Decimal("3")),
                                                                                  ("sell", Decimal("1"))]
            assert actor.reconciles == 0 and not actor.dropped
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_a_mode_change_while_running_is_noticed_published_and_followed(bus: Bus) -> None:
    """The account switches to long_short_mode while the actor runs: the next order (no posSide) is refused with
    51000 posSide, the session re-reads the config at its next event, publishes the change, and the same order
    then goes out with its posSide."""
    rec = Recorder(bus, "account.config.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus, ping_interval_s=0.2, config_refresh_s=0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            assert [c.position_mode for c in rec.of(AccountConfig)] == [PositionMode.ONE_WAY]
            _okx_twin(twins).engine.account.hedge = True  # the twin's switch (nothing is open)
            with pytest.raises(InvalidParameter, match="posSide"):
                await ref.ask(_place("cbm1", Side.BUY, "2"))
            await wait_for(lambda: actor.position_mode is PositionMode.HEDGE, what="config read again")
            assert [c.position_mode for c in rec.of(AccountConfig)] == [PositionMode.ONE_WAY, PositionMode.HEDGE]
            placed = await ref.ask(_place("cbm2", Side.BUY, "2"))
            assert placed.client_order_id == "cbm2"
            positions = await ref.ask(GetPositions(venue=Venue.OKX))
            assert [(p.side, p.size) for p in positions if p.size] == [(Side.BUY, Decimal("2"))]
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_balances_are_cash_free_margin_and_upl_apart(bus: Bus) -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await ref.ask(_place("cbb1", Side.BUY, "40"))
            twins.step(20)
            balances = {b.asset: b for b in await ref.ask(GetBalances(venue=Venue.OKX))}
            (usdt,) = balance_data(_okx_twin(twins), {"USDT"})["details"]
            got = balances["USDT"]
            assert (got.total, got.available, got.unrealized_pnl) == (
                Decimal(usdt["cashBal"]), Decimal(usdt["availEq"]), Decimal(usdt["upl"]))  # fmt: skip
            assert got.unrealized_pnl != 0 and got.total != Decimal(usdt["eq"])
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_instruments_that_are_not_live_are_registered_but_refuse_orders_locally(bus: Bus) -> None:
    states = {"ETH-USDT-SWAP": "suspend", "BTC-USD-SWAP": "preopen"}
    async with start_twins(["okx"], symbols=["BTC", "ETH"], rate=20, options={"okx": {"instrument_states": states}}) as twins:
        actor = _actor(twins, bus)
        adapter: OkxAdapter = actor.adapter  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            eth, inverse = InstrumentId("ETH-USDT-PERP"), InstrumentId("BTC-USD-PERP")
            assert actor.registry.get(Venue.OKX, eth).venue_symbol == "ETH-USDT-SWAP"  # registered all the same
            assert adapter.not_live == {eth: "suspend", inverse: "preopen"}
            for inst, state in ((eth, "suspend"), (inverse, "preopen")):
                order = PlaceOrder(venue=Venue.OKX, instrument=inst, client_order_id=ClientOrderId("cbnl"),
                                   side=Side.BUY, quantity=Decimal("1"), order_type=OrderType.MARKET)
                with pytest.raises(InvalidOrder, match=f"is '{state}', not live: OKX trades only live instruments"):
                    await ref.ask(order)
            assert twins["okx"].twin.received.count("cbnl") == 0  # refused here: nothing was sent
            assert (await ref.ask(_place("cbok", Side.BUY, "1"))).client_order_id == "cbok"
            tg.cancel_scope.cancel()


# -- the adapter alone (no twin): the joins that are easy to get wrong ------------------------------
CREDS = Credentials("key", "secret", "pass")


def _adapter_with_btc(**kw: object) -> OkxAdapter:
    reg = InstrumentRegistry()
    reg.add(Instrument(id=BTC, venue=Venue.OKX, venue_symbol=SYMBOL, kind=InstrumentKind.PERPETUAL, base="BTC",
                       quote="USDT", settle="USDT", contract_type=ContractType.LINEAR, tick_size=Decimal("0.1"),
                       lot_size=Decimal("1"), contract_size=Decimal("0.01"), min_qty=Decimal("1")))
    return OkxAdapter(reg, **kw)  # type: ignore[arg-type]


def test_okx_adapter_sessions_share_its_codec_and_carry_its_options() -> None:
    adapter = _adapter_with_btc(stale_after_s=2.0, ping_interval_s=15.0, private_heartbeat_s=10.0, trades=False,
                                klines=("1h",), inst_type="FUTURES")
    session = adapter.session(CREDS, lambda: "n")
    assert session.codec is adapter.codec and session.registry is adapter.registry
    specs = {s.name: s for s in session.streams()}
    assert (specs["public"].stale_after_s, specs["public"].ping_interval_s) == (2.0, 15.0)
    assert (specs["private"].stale_after_s, specs["private"].protocol_heartbeat_s) == (None, 10.0)
    assert [s.name for s in adapter.session(None, lambda: "n").streams()] == ["public", "business"]
    assert session.url("private", 0) == adapter.endpoints.ws["private"]
    session.subscribe([BTC], 0)
    (public,) = session.connected("public", 0)
    (business,) = session.connected("business", 0)
    assert isinstance(public, Send) and isinstance(business, Send)
    assert json.loads(public.frame)["args"] == [{"channel": "books", "instId": SYMBOL}]  # trades=False
    assert json.loads(business.frame)["args"] == [{"channel": "candle1H", "instId": SYMBOL}]  # okx_bar("1h")
    (sub,) = session.on_event(LoggedIn(), "private", 0)
    assert isinstance(sub, Send) and json.loads(sub.frame)["args"][0] == {"channel": "orders", "instType": "FUTURES"}


def test_okx_parse_place_never_steps_back_behind_the_orders_channel() -> None:
    adapter = _adapter_with_btc()
    order = PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb9"), side=Side.BUY,
                       quantity=Decimal("2"), order_type=OrderType.MARKET)
    ack = Response(status=200, headers={}, body=json.dumps({"code": "0", "msg": "", "data": [
        {"clOrdId": "cb9", "ordId": "77", "sCode": "0", "sMsg": "", "ts": "1700000000000"}]}).encode())
    assert adapter.parse_place(order, ack, 5).status is OrderStatus.SUBMITTED  # no session yet
    session = adapter.session(CREDS, lambda: "n")
    assert adapter.parse_place(order, ack, 5).status is OrderStatus.SUBMITTED  # nothing seen yet
    push = {"arg": {"channel": "orders", "instType": "SWAP"}, "data": [{
        "instId": SYMBOL, "ordId": "77", "clOrdId": "cb9", "state": "filled", "side": "buy", "ordType": "market",
        "sz": "2", "px": "", "accFillSz": "2", "avgPx": "30000", "fillSz": "2", "fillPx": "30000", "tradeId": "1",
        "fillFee": "-0.3", "fillFeeCcy": "USDT", "execType": "T", "uTime": "1700000000001", "cTime": "1700000000000"}]}
    out = session.feed("private", json.dumps(push), 6)
    assert any(isinstance(o, OrderUpdate) and o.status is OrderStatus.FILLED for o in out)
    upd = adapter.parse_place(order, ack, 7)
    assert upd.status is OrderStatus.FILLED and upd.filled_qty == Decimal("2")
    other = Response(status=200, headers={}, body=ack.body.replace(b'"77"', b'"78"'))
    assert adapter.parse_place(order, other, 8).status is OrderStatus.SUBMITTED  # another order of that id


def test_okx_rate_buckets() -> None:
    adapter = _adapter_with_btc()
    buckets, routes = adapter.rate_buckets()
    by_name = {b.name: b for b in buckets}
    # OKX's own limits (60 and 10 per 2 s): the limiter's windows slide, so no 2 s span ever holds more.
    assert (by_name["trade/order"].capacity, by_name["trade/order"].period_s) == (60, 2.0)
    assert (by_name["account/balance"].capacity, by_name["account/positions"].capacity) == (10, 10)
    assert all(b.per_request for b in buckets) and routes["trade/order"][0] == "trade/order"


@pytest.mark.anyio
async def test_okx_klines_on_the_business_stream_and_book_deltas_reach_the_bus(bus: Bus) -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=0, clock_ms=clock_near_minute_end()) as twins:
        def make() -> ExchangeActor:
            adapter = OkxAdapter(InstrumentRegistry(), endpoints(twins["okx"]), klines=("1m",), emit_deltas=True)
            actor = ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus)
            assert [s.name for s in actor.session.streams()] == ["public", "business"]
            return actor

        items, (bids, asks) = await run_klines_and_deltas(bus, twins, make, BTC)
        twin = _okx_twin(twins)
        klines = [m for m in items if isinstance(m, Kline)]
        assert all(k.venue is Venue.OKX and k.instrument == BTC for k in klines)
        # The twin pushes only the candle trades land in, always with confirm "0".
        check_klines(klines, twin.klines[SYMBOL]["1m"], [t.price for t, _ in twin.trades[SYMBOL]], venue_closes=False)
        deltas = [m for m in items if isinstance(m, BookDelta)]
        assert deltas and all(d.instrument == BTC for d in deltas)
        assert rebuild_book([m for m in items if isinstance(m, BookSnapshot | BookDelta)]) == (bids, asks)
        twin_book = twin.book_json(SYMBOL, 1000)
        assert twin_book is not None
        assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
        assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]


@pytest.mark.anyio
async def test_okx_open_orders_are_read_across_every_page(bus: Bus) -> None:
    """orders-pending answers 100 rows at most, newest first: a list past a page is followed with ``after``
    (the oldest ordId of the page) to its end, so a reconcile sees every open order."""
    from simulator.matching import OrderRequest, OrderType
    from simulator.matching import Side as TwinSide

    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        twin = twins["okx"].twin
        bid = Decimal(twin.book_json("BTC-USDT-SWAP", 1)["bids"][0][0])
        price = (bid * Decimal("0.8")).quantize(Decimal("0.1"))
        placed = {f"page{i}" for i in range(230)}
        for n, cid in enumerate(sorted(placed)):
            twin.engine.place(OrderRequest("BTC-USDT-SWAP", TwinSide.BUY, OrderType.LIMIT, Decimal(1), cid, price), n)
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            got = await ref.ask(GetOpenOrders(venue=Venue.OKX), timeout=30.0)
            assert sorted(u.client_order_id for u in got) == sorted(placed)  # all three pages, each order once
            one = await ref.ask(GetOpenOrders(venue=Venue.OKX, instrument=BTC), timeout=30.0)
            assert len(one) == len(placed)
            tg.cancel_scope.cancel()
