"""ExchangeActor + DeribitAdapter against the Deribit v2 twin on loopback, with a real bus."""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import aiohttp
import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig, OutcomeUnknown
from actors.exchanges.deribit import DeribitAdapter
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
    DeadMansSwitch,
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
    OrderRejected,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Quote,
    Side,
    SwitchState,
    TimeInForce,
    Trade,
    Venue,
)
from simulator.market import DislocationKind
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
from venues.deribit import codes
from venues.deribit.frames import Interval
from venues.deribit.session import DeribitSession, Login
from venues.errors import ConfigError, InvalidOrder, SwitchNotArmed, UnknownOrder, VenueReject
from venues.http import Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USD-PERP")
SYMBOL = "BTC-PERPETUAL"
D = Decimal


def _actor(twins: Any, bus: Bus, *, credentials: bool = True, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["deribit"]
    creds = rt.twin.credentials
    adapter = DeribitAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret) if credentials else None)


def _session(actor: ExchangeActor) -> DeribitSession:
    session = actor.session
    assert isinstance(session, DeribitSession)
    return session


def _twin_best(twins: Any) -> tuple[D, D]:
    book = twins["deribit"].twin.book_json(SYMBOL, 1)
    return D(str(book["bids"][0][0])), D(str(book["asks"][0][0]))


def _assert_book_equals_twin(actor: ExchangeActor, twins: Any) -> None:
    twin_book = twins["deribit"].twin.book_json(SYMBOL, 1000)
    bids, asks = actor.adapter.codec.book(BTC).as_sorted()  # type: ignore[attr-defined]
    assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
    assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]


async def _step_until(twins: Any, pred: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Drive a rate=0 market by hand (keeping data flowing) until ``pred`` holds."""
    with anyio.fail_after(timeout):
        while not pred():
            twins.step()
            await anyio.sleep(0.01)


async def _pause_and_settle(twins: Any, steps: int = 200) -> None:
    for _ in range(steps):
        twins.step()
        await anyio.sleep(0.002)
    await anyio.sleep(0.3)  # the market pauses: let the last frames arrive (< stale_after_s)


@pytest.mark.anyio
async def test_deribit_market_data_arrives_as_typed_messages_and_the_book_goes_syncing_to_live(bus: Bus) -> None:
    rec = Recorder(bus)
    async with start_twins(["deribit"], symbols=["BTC"], rate=50) as twins:
        actor = _actor(twins, bus, credentials=False)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            await anyio.sleep(0.8)
            tg.cancel_scope.cancel()
    now = time.time_ns()
    quotes = rec.of(Quote)
    assert len(quotes) > 10
    assert all(q.venue is Venue.DERIBIT and q.instrument == BTC and q.bid_px < q.ask_px for q in quotes)
    assert all(0 < q.ts_event <= q.ts_recv + 5_000_000 and q.ts_recv <= now for q in quotes)
    assert any(isinstance(t, Trade) and t.instrument == BTC for t in rec.items)
    states = [m.state for m in rec.of(BookIntegrity) if m.instrument == BTC]
    assert states[:2] == [BookState.SYNCING, BookState.LIVE]


@pytest.mark.anyio
async def test_deribit_actor_book_matches_the_twin_book_exactly_when_the_market_pauses(bus: Bus) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step_until(twins, lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _pause_and_settle(twins)
            _assert_book_equals_twin(actor, twins)
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_order_lifecycle_through_the_actor(bus: Bus) -> None:
    rec = Recorder(bus, "orders.>")
    acct = Recorder(bus, "account.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
            bid, _ = _twin_best(twins)
            far = (bid * D("0.9") / tick).to_integral_value(ROUND_DOWN) * tick

            # Resting limit: placed (the ack is the venue's whole order) -> queried by either id -> cancelled.
            cid = ClientOrderId("cb-test-1")
            resting = PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                 quantity=D("100"), price=far, post_only=True)
            ack = await ref.ask(resting)
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            assert (ack.client_order_id, ack.price, ack.quantity, ack.side) == (cid, far, D("100"), Side.BUY)
            assert ack.venue_order_id
            q = await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid))
            assert q.status is OrderStatus.SUBMITTED and q.quantity == D("100") and q.venue_order_id == ack.venue_order_id
            q2 = await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, venue_order_id=ack.venue_order_id))
            assert q2.client_order_id == cid and q2.status is OrderStatus.SUBMITTED
            open_orders = await ref.ask(GetOpenOrders(venue=Venue.DERIBIT, instrument=BTC))
            assert [o.client_order_id for o in open_orders] == [cid]
            cancelled = await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid))
            assert cancelled.status is OrderStatus.CANCELLED and cancelled.venue_order_id == ack.venue_order_id
            with pytest.raises(UnknownOrder):
                await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("never-sent")))

            # Cancel by client id alone (e.g. after a restart): cancel_by_label answers a count; the stream
            # carries the CANCELLED update.
            cid3 = ClientOrderId("cb-test-3")
            await ref.ask(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid3, side=Side.SELL,
                                     quantity=D("50"), price=(bid * D("1.1") / tick).to_integral_value(ROUND_UP) * tick))
            _session(actor).order_ids.clear()  # forget the venue id learnt from the ack
            assert await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid3)) is None
            await wait_for(lambda: any(u.client_order_id == cid3 and u.status is OrderStatus.CANCELLED
                                       for u in rec.of(OrderUpdate)), what="label cancel on the stream")
            with pytest.raises(UnknownOrder):
                await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid3))

            # Marketable order: filled at once; position and balances reflect it.
            cid2 = ClientOrderId("cb-test-2")
            taker = PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid2, side=Side.BUY,
                               quantity=D("50"), order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC)
            filled = await ref.ask(taker)
            assert filled.status is OrderStatus.FILLED and filled.filled_qty == D("50") and filled.avg_price
            positions = await ref.ask(GetPositions(venue=Venue.DERIBIT))
            assert [(p.instrument, p.side, p.size) for p in positions] == [(BTC, Side.BUY, D("50"))]
            balances = await ref.ask(GetBalances(venue=Venue.DERIBIT))
            btc = [b for b in balances if b.asset == "BTC"]
            assert btc and btc[0].total > 0 and btc[0].available < btc[0].total  # margin is in use

            # The private stream delivers the lifecycle on orders.update.deribit (and fills, and the portfolio).
            def stream_filled() -> bool:
                ups = [u for u in rec.of(OrderUpdate) if u.client_order_id == cid2 and u.status is OrderStatus.FILLED]
                return len(ups) >= 2  # the REST ack and the user.orders notification

            await wait_for(stream_filled, what="FILLED on the private stream")
            # user.trades rows carry the order's label, so the streamed fill has our client order id.
            await wait_for(lambda: any(f.venue_order_id == filled.venue_order_id and f.quantity == D("50")
                                       and f.client_order_id == cid2 for f in rec.of(Fill)), what="fill on the stream")
            await wait_for(lambda: any(b.asset == "BTC" for b in acct.of(Balance)), what="portfolio on the stream")
            health = await ref.ask(HealthCheck(venue=Venue.DERIBIT))
            assert isinstance(health, HealthReport) and health.status == "ok" and health.books_live == 1
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_raw_books_and_private_channels_follow_the_login_and_the_session_is_refreshed(bus: Bus) -> None:
    """The twin refuses raw books and private calls before auth (13778 / 13009): the session sends them only
    once the auth answer is in. The refresh timer then renews the socket's session with its refresh token."""
    rec = Recorder(bus, "orders.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus, book_interval=Interval.RAW, cancel_on_disconnect=True, session_refresh_s=0.3)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live raw book")
            session = _session(actor)
            assert session.login is Login.LOGGED_IN
            twin: Any = twins["deribit"].twin
            (conn,) = twin.hub.conns
            assert f"book.{SYMBOL}.raw" in conn.channels and f"book.{SYMBOL}.100ms" not in conn.channels
            assert {"user.orders.any.any.raw", "user.trades.any.any.raw", "user.portfolio.btc"} <= conn.channels
            assert conn.cancel_on_disconnect
            assert session.subscribes_refused == 0  # nothing was sent before the login it needs
            tokens = [session.codec.access_token]
            for _ in range(2):
                await wait_for(lambda: session.codec.access_token != tokens[-1], what="refreshed session")
                tokens.append(session.codec.access_token)
            tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
            bid, _ = _twin_best(twins)
            cid = ClientOrderId("cb-raw-1")
            await ref.ask(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                     quantity=D("10"), price=(bid * D("0.9") / tick).to_integral_value(ROUND_DOWN) * tick,
                                     post_only=True))
            await wait_for(lambda: sum(1 for u in rec.of(OrderUpdate) if u.client_order_id == cid
                                       and u.status is OrderStatus.SUBMITTED) >= 2,  # the REST ack, then the stream
                           what="order on the private stream")
            assert actor.streams["main"].connects == 1  # the refreshed session kept the connection
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_actor_recovers_from_a_dropped_socket_to_the_twins_book(bus: Bus) -> None:
    rec = Recorder(bus, "venue.book.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step_until(twins, lambda: actor.adapter.book_state_live(BTC), what="live book")
            await _pause_and_settle(twins, 50)
            st = actor.streams["main"]
            connects = st.connects
            twins["deribit"].twin.faults.inject("drop_ws")
            await _step_until(twins, lambda: st.connects > connects and actor.adapter.book_state_live(BTC),
                              what="reconnected and live again")
            await _pause_and_settle(twins)
            _assert_book_equals_twin(actor, twins)
            health = await actor.ref.ask(HealthCheck(venue=Venue.DERIBIT))
            assert health.status == "ok"
            tg.cancel_scope.cancel()
    states = [m.state for m in rec.of(BookIntegrity) if m.instrument == BTC]
    assert states[:2] == [BookState.SYNCING, BookState.LIVE]
    after = states[2:]
    assert BookState.SYNCING in after and after[-1] is BookState.LIVE
    assert after.index(BookState.SYNCING) < len(after) - 1


@pytest.mark.anyio
async def test_deribit_book_gap_is_answered_by_resubscribing(bus: Bus) -> None:
    rec = Recorder(bus, "venue.book.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus, credentials=False)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _step_until(twins, lambda: actor.adapter.book_state_live(BTC), what="live book")
            twins["deribit"].twin.faults.inject("skip_sequence")  # one change hidden: prev_change_id breaks
            await _step_until(twins, lambda: actor.resyncs == 1 and actor.adapter.book_state_live(BTC),
                              what="resubscribed and live")
            await _pause_and_settle(twins)
            _assert_book_equals_twin(actor, twins)
            assert actor.streams["main"].connects == 1  # a gap costs a resubscribe, not a reconnect
            tg.cancel_scope.cancel()
    states = [m.state for m in rec.of(BookIntegrity)]
    assert BookState.RESYNCING in states and states[-1] is BookState.LIVE


@pytest.mark.anyio
async def test_deribit_heartbeat_test_requests_are_answered_and_the_socket_stays_up(bus: Bus) -> None:
    # heartbeat_unit_s shrinks the twin's seconds: the wire-valid interval of 10 lasts 0.3 s, and a
    # test_request left unanswered until the next one closes the socket.
    async with start_twins(["deribit"], symbols=["BTC"], rate=50, options={"deribit": {"heartbeat_unit_s": 0.03}}) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC), what="live book")
            pongs = len(actor.latencies_ms)
            await anyio.sleep(1.5)
            assert len(actor.latencies_ms) >= pongs + 3  # each test_request answered by public/test (Pong)
            assert actor.streams["main"].connects == 1
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_chart_klines_and_book_deltas_reach_the_bus(bus: Bus) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0, clock_ms=clock_near_minute_end()) as twins:
        def make() -> ExchangeActor:
            adapter = DeribitAdapter(InstrumentRegistry(), endpoints(twins["deribit"]), klines=("1m",), emit_deltas=True)
            return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus)

        items, (bids, asks) = await run_klines_and_deltas(bus, twins, make, BTC)
        twin: Any = twins["deribit"].twin
        klines = [m for m in items if isinstance(m, Kline)]
        assert all(k.venue is Venue.DERIBIT and k.instrument == BTC for k in klines)
        # chart.trades has no "final" flag (on Deribit either): every candle arrives with closed=False.
        check_klines(klines, twin.klines[SYMBOL]["1"], [t.price for t, _ in twin.trades[SYMBOL]], venue_closes=False)
        deltas = [m for m in items if isinstance(m, BookDelta)]
        assert deltas and all(d.instrument == BTC for d in deltas)
        assert rebuild_book([m for m in items if isinstance(m, BookSnapshot | BookDelta)]) == (bids, asks)
        twin_book = twin.book_json(SYMBOL, 1000)
        assert bids == [(float(p), float(s)) for p, s in twin_book["bids"]]
        assert asks == [(float(p), float(s)) for p, s in twin_book["asks"]]


def _far_bid(actor: ExchangeActor, twins: Any) -> D:
    tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
    bid, _ = _twin_best(twins)
    return (bid * D("0.9") / tick).to_integral_value(ROUND_DOWN) * tick


@pytest.mark.anyio
async def test_deribit_placement_whose_answer_is_dropped_reached_the_venue_once_and_is_found_by_asking(bus: Bus) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        twin: Any = twins["deribit"].twin
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await ref.ask(GetOpenOrders(venue=Venue.DERIBIT, instrument=BTC))  # a kept-alive REST connection
            cid = ClientOrderId("cb-lost-1")
            twin.faults.inject("execute_then_drop")  # placed, then the connection is reset: no answer
            with pytest.raises(OutcomeUnknown):
                await ref.ask(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid, side=Side.BUY,
                                         quantity=D("10"), price=_far_bid(actor, twins), post_only=True))
            assert twin.received.count(cid) == 1
            found = await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=cid))
            assert found.status is OrderStatus.SUBMITTED and twin.received.count(cid) == 1
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_placement_request_is_a_post_no_http_client_sends_twice_when_its_answer_is_lost() -> None:
    """aiohttp (like proxies and other clients) sends a GET again, by itself, when a kept-alive connection
    drops before the answer: a placement built as a GET reached the venue twice. Ours is a POST."""
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins, aiohttp.ClientSession() as http:
        rt = twins["deribit"]
        twin: Any = rt.twin
        registry = InstrumentRegistry()
        adapter = DeribitAdapter(registry, endpoints(rt))
        async with http.get(rt.rest + adapter.instruments_requests()[0].target) as listed:
            for inst in adapter.parse_instruments(Response(status=listed.status, headers={}, body=await listed.read())):
                registry.add(inst)
        creds = Credentials(twin.credentials.api_key, twin.credentials.secret)
        ctx = _Ctx(creds, registry, twin.now_ms)
        price = (D(str(twin.book_json(SYMBOL, 1)["bids"][0][0])) * D("0.9") / D("0.5")).to_integral_value(ROUND_DOWN) * D("0.5")
        spec = adapter.place_order(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-lost-2"),
                                              side=Side.BUY, quantity=D("10"), price=price), ctx)
        twin.faults.inject("execute_then_drop")
        with pytest.raises(aiohttp.ServerDisconnectedError):  # on the kept-alive connection of the listing
            async with http.request(spec.method.value, rt.rest + spec.target, headers=spec.headers, data=spec.body):
                pass
        assert twin.received.count("cb-lost-2") == 1


class _Ctx:
    """A VenueContext for a builder-only adapter (as bench/orders.py's floor uses one)."""

    def __init__(self, credentials: Credentials, registry: InstrumentRegistry, now_ms: Any) -> None:
        self.credentials: Credentials | None = credentials
        self.registry = registry
        self._now_ms = now_ms
    @property
    def position_mode(self) -> PositionMode:
        return PositionMode.ONE_WAY

    def now_ms(self) -> int:
        return int(self._now_ms())

    def nonce(self) -> str:
        return "nonce-1"


@pytest.mark.anyio
async def test_deribit_balances_hold_cash_free_margin_and_the_session_upl_apart_as_the_twin_reports(bus: Bus) -> None:
    # No market driver: the mark moves only by the steps below, so the twin's portfolio read after the answer
    # is the one the answer was made from.
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins:
        actor = _actor(twins, bus)
        twin: Any = twins["deribit"].twin
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await ref.ask(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-bal-1"),
                                     side=Side.BUY, quantity=D("1000"), order_type=OrderType.MARKET,
                                     time_in_force=TimeInForce.IOC))
            twin.model.dislocate("deribit", "BTC", DislocationKind.JUMP, 10, offset=0.01)  # move the mark
            for _ in range(20):
                twins.step(1)
            balances = await ref.ask(GetBalances(venue=Venue.DERIBIT))
            summary = twin.portfolio("BTC")
            (btc,) = [b for b in balances if b.asset == "BTC"]
            assert (btc.total, btc.available, btc.unrealized_pnl) == (
                D(str(summary["balance"])), D(str(summary["available_funds"])), D(str(summary["session_upl"])))
            assert btc.unrealized_pnl != 0 and btc.available < btc.total  # margin in use, PnL apart
            # total holds neither unrealised PnL nor the session's realised PnL (settled at 08:00 UTC on Deribit)
            equity_less_rpl = D(str(summary["equity"])) - D(str(summary["session_rpl"]))
            assert abs(btc.total + btc.unrealized_pnl - equity_less_rpl) <= D("2e-8")  # each rounded to 1e-8
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_publishes_its_one_way_mode_at_start_with_credentials_only(bus: Bus) -> None:
    rec = Recorder(bus, "account.config.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        for creds in (True, False):
            actor = _actor(twins, bus, credentials=creds)
            async with anyio.create_task_group() as tg:
                await tg.start(actor.run)
                assert actor.position_mode is PositionMode.ONE_WAY
                tg.cancel_scope.cancel()
    assert [(m.venue, m.position_mode) for m in rec.of(AccountConfig)] == [(Venue.DERIBIT, PositionMode.ONE_WAY)]


@pytest.mark.anyio
async def test_deribit_orders_on_a_book_that_is_not_open_are_refused_before_leaving(bus: Bus) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        twin.set_book_state(SYMBOL, "locked")  # as get_instruments lists it at start
        actor = _actor(twins, bus)
        assert isinstance(actor.adapter, DeribitAdapter)
        codec = actor.adapter.codec
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))

            def order(cid: str) -> PlaceOrder:
                return PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(cid),
                                  side=Side.BUY, quantity=D("10"), price=_far_bid(actor, twins), post_only=True)

            with pytest.raises(InvalidOrder, match="'locked'"):
                await ref.ask(order("cb-state-1"))
            twin.set_book_state(SYMBOL, "open")  # instrument.state tells the running connection
            await wait_for(lambda: codec.book_open(SYMBOL)[0], what="open again")
            assert (await ref.ask(order("cb-state-2"))).status is OrderStatus.SUBMITTED
            twin.set_book_state(SYMBOL, "settlement")
            await wait_for(lambda: not codec.book_open(SYMBOL)[0], what="in settlement")
            with pytest.raises(InvalidOrder, match="'settlement'"):
                await ref.ask(order("cb-state-3"))
            assert [twin.received.count(f"cb-state-{i}") for i in (1, 2, 3)] == [0, 1, 0]
            tg.cancel_scope.cancel()


# -- the dead-man's switch: cancel-on-disconnect on the socket the orders go over ----------------------------
def _order(actor: ExchangeActor, twins: Any, cid: str, *, cross: bool = False) -> PlaceOrder:
    """A post-only buy far under the market (resting), or above the best ask (``cross``: refused post-only)."""
    tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
    _, ask = _twin_best(twins)
    price = (ask * D("1.01") / tick).to_integral_value(ROUND_UP) * tick if cross else _far_bid(actor, twins)
    return PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=D("10"), price=price, post_only=True)


def _armed(actor: ExchangeActor) -> bool:
    switch = actor.session.switch
    return switch is not None and switch.armed


def _engine_order(twin: Any, venue_order_id: str | None) -> Any:
    assert venue_order_id is not None
    return twin.find_order(venue_order_id)[1]


@pytest.mark.parametrize("window", [0.0, 10.0, 10.5, 600.0])
def test_deribit_dead_mans_switch_window_is_off_or_at_least_the_minimum_heartbeat(window: float) -> None:
    DeribitAdapter(InstrumentRegistry(), dead_mans_switch_s=window)


@pytest.mark.parametrize("window", [5.0, 9.99, -1.0, float("nan"), float("inf")])
def test_deribit_dead_mans_switch_window_below_ten_seconds_or_not_a_number_is_a_config_error(window: float) -> None:
    with pytest.raises(ConfigError, match=r"deribit dead_mans_switch_s must be 0 \(off\) or >= 10 s"):
        DeribitAdapter(InstrumentRegistry(), dead_mans_switch_s=window)


def test_deribit_orders_go_over_http_with_the_switch_off_and_wait_for_it_armed_with_it_on() -> None:
    registry = InstrumentRegistry()
    registry.add(Instrument(id=BTC, venue=Venue.DERIBIT, venue_symbol=SYMBOL, kind=InstrumentKind.PERPETUAL,
                            base="BTC", quote="USD", settle="BTC", contract_type=ContractType.INVERSE,
                            tick_size=D("0.5"), lot_size=D("10")))
    creds = Credentials("key", "secret")
    ctx = _Ctx(creds, registry, lambda: 1_700_000_000_000)
    order = PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-off-1"), side=Side.BUY,
                       quantity=D("10"), price=D("50000"))
    cancel = CancelOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-off-1"))
    off = DeribitAdapter(registry)
    off.session(creds, lambda: "n")
    for spec in (off.place_order(order, ctx), off.cancel_order(cancel, ctx)):
        assert spec.stream == "" and spec.headers["Authorization"].startswith("deri-hmac-sha256")
    on = DeribitAdapter(registry, dead_mans_switch_s=10)
    session = on.session(creds, lambda: "n")
    assert session.switch is not None and not session.switch.armed
    with pytest.raises(SwitchNotArmed, match="arming"):  # nothing leaves before the venue confirmed it
        on.place_order(order, ctx)
    assert on.cancel_order(cancel, ctx).stream == ""  # a cancel is never held: over HTTP until logged in
    assert DeribitAdapter(registry, dead_mans_switch_s=10).session(None, lambda: "n").switch is None


@pytest.mark.anyio
async def test_deribit_switch_arms_on_the_cod_answer_and_orders_go_over_the_socket_that_covers_them(bus: Bus) -> None:
    switch = Recorder(bus, "venue.switch.>")
    rec = Recorder(bus, "orders.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        actor = _actor(twins, bus, dead_mans_switch_s=24.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: _armed(actor), what="switch armed")
            assert [m.state for m in switch.of(DeadMansSwitch)] == [SwitchState.ARMING, SwitchState.ARMED]
            assert switch.of(DeadMansSwitch)[-1].window_s == 24.0
            (conn,) = twin.hub.conns
            assert conn.cancel_on_disconnect and conn.heartbeat_s == 12.0  # heartbeat at half the window
            stats = actor.stats()
            assert (stats.switch, stats.switch_window_s) == ("armed", 24.0)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            http, frames = actor.rest.requests, actor.rest.stream_requests

            ack = await ref.ask(_order(actor, twins, "cb-dms-1"))
            assert ack.status is OrderStatus.SUBMITTED and ack.client_order_id == "cb-dms-1"
            assert twin.created_via[_engine_order(twin, ack.venue_order_id).order_id] == conn.cid
            q = await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-dms-1")))
            assert q.status is OrderStatus.SUBMITTED and q.venue_order_id == ack.venue_order_id  # a read: HTTP
            cancelled = await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC,
                                                  client_order_id=ClientOrderId("cb-dms-1")))
            assert cancelled.status is OrderStatus.CANCELLED and cancelled.venue_order_id == ack.venue_order_id

            # An error answer on the socket is the same typed rejection as over HTTP (and OrderRejected).
            with pytest.raises(VenueReject) as refused:
                await ref.ask(_order(actor, twins, "cb-dms-2", cross=True))
            assert type(refused.value) is codes.error_class(11054) and refused.value.code == "11054"
            await wait_for(lambda: any(r.client_order_id == "cb-dms-2" and r.code == "11054" for r in rec.of(OrderRejected)))

            # Cancel by label (the venue id forgotten): a count; the CANCELLED update comes on the stream.
            await ref.ask(_order(actor, twins, "cb-dms-3"))
            _session(actor).order_ids.clear()
            assert await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC,
                                             client_order_id=ClientOrderId("cb-dms-3"))) is None
            await wait_for(lambda: any(u.client_order_id == "cb-dms-3" and u.status is OrderStatus.CANCELLED
                                       for u in rec.of(OrderUpdate)), what="label cancel on the stream")
            with pytest.raises(UnknownOrder):
                await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-dms-3")))
            # The stream carries our orders as it does with HTTP placements (the ack, then user.orders).
            await wait_for(lambda: sum(1 for u in rec.of(OrderUpdate) if u.client_order_id == "cb-dms-1"
                                       and u.status is OrderStatus.SUBMITTED) >= 2, what="order on the private stream")
            # Writes went on the socket (3 placements, 3 cancels), the one query over HTTP.
            assert (actor.rest.stream_requests - frames, actor.rest.requests - http) == (6, 1)
            assert [twin.received.count(f"cb-dms-{i}") for i in (1, 2, 3)] == [1, 1, 1]
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_placements_are_refused_until_the_switch_is_armed_and_a_transient_refusal_is_retried(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulator import deribit_trading
    from simulator.deribit_auth import DeribitError

    switch = Recorder(bus, "venue.switch.>")
    enable = deribit_trading.PRIVATE_METHODS["private/enable_cancel_on_disconnect"]
    unavailable = [True]

    def flaky(twin: Any, call: Any) -> Any:
        if unavailable[0]:
            raise DeribitError(13028)  # temporarily_unavailable
        return enable(twin, call)

    monkeypatch.setitem(deribit_trading.PRIVATE_METHODS, "private/enable_cancel_on_disconnect", flaky)
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        actor = _actor(twins, bus, dead_mans_switch_s=10.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            await wait_for(lambda: SwitchState.FAILING in [m.state for m in switch.of(DeadMansSwitch)], what="failing")
            with pytest.raises(SwitchNotArmed, match="failing"):
                await ref.ask(_order(actor, twins, "cb-early-1"))
            assert twin.received.count("cb-early-1") == 0  # nothing left
            unavailable[0] = False  # the session sends it again (after 1 s)
            await wait_for(lambda: _armed(actor), what="armed on the retry")
            assert (await ref.ask(_order(actor, twins, "cb-early-2"))).status is OrderStatus.SUBMITTED
            assert actor.streams["main"].connects == 1
            tg.cancel_scope.cancel()
    assert [m.state for m in switch.of(DeadMansSwitch)] == [SwitchState.ARMING, SwitchState.FAILING, SwitchState.ARMED]


@pytest.mark.anyio
async def test_deribit_a_refused_switch_holds_every_placement_back(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator import deribit_trading
    from simulator.deribit_auth import DeribitError

    def refuse(twin: Any, call: Any) -> Any:
        raise DeribitError(13403)  # scope_exceeded: the key may not do it

    monkeypatch.setitem(deribit_trading.PRIVATE_METHODS, "private/enable_cancel_on_disconnect", refuse)
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        actor = _actor(twins, bus, dead_mans_switch_s=10.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: actor.session.switch is not None
                           and actor.session.switch.state is SwitchState.REFUSED, what="refused")
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            with pytest.raises(SwitchNotArmed, match="refused"):
                await ref.ask(_order(actor, twins, "cb-refused-1"))
            assert twin.received.count("cb-refused-1") == 0 and actor.stats().switch == "refused"
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_an_actor_stopped_abruptly_leaves_the_venue_to_cancel_only_the_orders_of_its_connection(
    bus: Bus,
) -> None:
    rec = Recorder(bus, "orders.update.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins, aiohttp.ClientSession() as http:
        rt = twins["deribit"]
        twin: Any = rt.twin
        creds = Credentials(twin.credentials.api_key, twin.credentials.secret)
        other = ExchangeActor(DeribitAdapter(InstrumentRegistry(), endpoints(rt), dead_mans_switch_s=10.0),
                              ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus, credentials=creds,
                              name="exchange.deribit.other")
        doomed = _actor(twins, bus, dead_mans_switch_s=10.0)
        async with anyio.create_task_group() as keep:
            other_ref = await keep.start(other.run)
            async with anyio.create_task_group() as tg:
                ref = await tg.start(doomed.run)
                await wait_for(lambda: _armed(doomed) and _armed(other) and doomed.adapter.book_state_live(BTC))
                mine = await ref.ask(_order(doomed, twins, "cb-doomed-1"))
                theirs = await other_ref.ask(_order(other, twins, "cb-other-1"))
                # A client trading over HTTP (no connection of its own): Deribit's COD never touches its orders.
                builder = DeribitAdapter(doomed.registry, endpoints(rt))
                spec = builder.place_order(_order(doomed, twins, "cb-http-1"), _Ctx(creds, doomed.registry, twin.now_ms))
                async with http.request(spec.method.value, rt.rest + spec.target, headers=spec.headers,
                                        data=spec.body) as resp:
                    assert resp.status == 200
                tg.cancel_scope.cancel()  # the daemon dies: no logout, the socket goes
            await wait_for(lambda: any(u.client_order_id == "cb-doomed-1" and u.status is OrderStatus.CANCELLED
                                       for u in rec.of(OrderUpdate)), what="COD cancel on the other connection's stream")
            states = {cid: (await other_ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC,
                                                           client_order_id=ClientOrderId(cid)))).status
                      for cid in ("cb-doomed-1", "cb-other-1", "cb-http-1")}
            assert states == {"cb-doomed-1": OrderStatus.CANCELLED, "cb-other-1": OrderStatus.SUBMITTED,
                              "cb-http-1": OrderStatus.SUBMITTED}
            assert twin.cancel_reasons[_engine_order(twin, mine.venue_order_id).order_id] == "cancel_on_disconnect"
            assert _engine_order(twin, theirs.venue_order_id).status.is_open
            keep.cancel_scope.cancel()


@pytest.mark.anyio
async def test_deribit_a_connection_dropped_with_a_placement_in_flight_is_an_unknown_outcome_the_venue_cancelled(
    bus: Bus,
) -> None:
    switch = Recorder(bus, "venue.switch.>")
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        actor = _actor(twins, bus, dead_mans_switch_s=10.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: _armed(actor) and actor.adapter.book_state_live(BTC))
            twin.faults.inject("execute_then_drop")  # placed, then the connection is reset before the answer
            with pytest.raises(OutcomeUnknown, match="connection went before the answer"):
                await ref.ask(_order(actor, twins, "cb-inflight-1"))
            assert twin.received.count("cb-inflight-1") == 1
            await wait_for(lambda: actor.streams["main"].connects == 2 and _armed(actor), what="armed again")
            # The router's next step: ask the venue by label. COD cancelled it with the connection it came on.
            found = await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC,
                                             client_order_id=ClientOrderId("cb-inflight-1")))
            assert found.status is OrderStatus.CANCELLED and twin.received.count("cb-inflight-1") == 1
            assert twin.cancel_reasons[_engine_order(twin, found.venue_order_id).order_id] == "cancel_on_disconnect"
            tg.cancel_scope.cancel()
    assert [m.state for m in switch.of(DeadMansSwitch)] == [SwitchState.ARMING, SwitchState.ARMED,
                                                            SwitchState.FAILING, SwitchState.ARMED]
