"""ExchangeActor + DeribitAdapter against the Deribit v2 twin on loopback, with a real bus."""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.deribit import DeribitAdapter
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
    TimeInForce,
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
from venues.errors import UnknownOrder
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
            actor.adapter._ids.clear()  # type: ignore[attr-defined]  # forget the venue id learned from the ack
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
            # Keep-alive renews the socket's session with its refresh token.
            codec = actor.adapter.codec  # type: ignore[attr-defined]
            token = codec.access_token
            await actor.adapter.keepalive(actor)
            await wait_for(lambda: codec.access_token not in (None, token), what="refreshed session")
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
            health = await actor.health()
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
        twin = twins["deribit"].twin
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
