"""OrderRouter against the real Binance twin, a real ExchangeActor and a real SQLite journal file."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.base import Actor
from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from actors.journal import Journal, JournalState
from actors.ref import ActorRef
from actors.router import IntentRejected, OrderRouter, RouterConfig
from messages import (
    CancelOrder,
    ClientOrderId,
    Failover,
    GetOpenOrders,
    InstrumentId,
    OrderIntent,
    OrderRejected,
    OrdersAtRisk,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from simulator import LatencyProfile
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from tests.actors.exchanges.conftest import Recorder, endpoints, wait_for
from venues import Credentials
from venues.errors import UnknownOrder
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
REPO = Path(__file__).resolve().parents[2]

# The twin's latency faults below stay under 1.5 s, so a 2.5 s grace is past any delayed original here.
# In production the grace must exceed the venue's receive window instead (RouterConfig default 6 s).
FAST = RouterConfig(initial_venue=Venue.BINANCE, place_timeout_s=15.0, query_timeout_s=5.0, query_interval_s=0.2,
                    resend_grace_s=2.5, reconcile_retry_s=0.3)
EXCHANGE = ExchangeConfig(instruments=[BTC], depth_levels=0, rest_timeout_s=1.0)


@dataclass
class Rig:
    twins: Twins
    bus: Bus
    actor: ExchangeActor
    router: OrderRouter
    ref: ActorRef
    journal: Journal
    rec: Recorder

    def bid_ask(self) -> tuple[Decimal, Decimal]:
        book = self.twins["binance"].twin.book_json("BTCUSDT", 1)
        return Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])

    def twin_client_ids(self) -> Counter[str]:
        """Orders the twin's matching engine holds, per client id (what it accepted)."""
        return Counter(o.client_id for o in self.twins["binance"].twin.engine.orders.values())

    def received(self) -> Counter[str]:
        """Placements the twin received per client id, refused ones included (the duplicate oracle: a
        re-sent order the twin refused as a duplicate still counts)."""
        return Counter(self.twins["binance"].twin.received.to_json())

    def twin_order(self, cid: str) -> Any:
        [order] = [o for o in self.twins["binance"].twin.engine.orders.values() if o.client_id == cid]
        return order


def _exchange(twins: Twins, bus: Bus, config: ExchangeConfig = EXCHANGE) -> ExchangeActor:
    rt = twins["binance"]
    adapter = BinanceAdapter(InstrumentRegistry(), endpoints(rt), trades=False)
    return ExchangeActor(adapter, config, bus=bus,
                         credentials=Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret))


def _router(journal: Journal, actor: ExchangeActor, bus: Bus, config: RouterConfig = FAST,
            extra: dict[Venue, ActorRef] | None = None) -> OrderRouter:
    assert isinstance(actor.adapter, BinanceAdapter)
    return OrderRouter(journal, {Venue.BINANCE: actor.ref, **(extra or {})}, bus=bus, config=config,
                       id_makers={Venue.BINANCE: actor.adapter.make_client_order_id}, registries={Venue.BINANCE: actor.registry})


@asynccontextmanager
async def rig(tmp_path: Path, *, config: RouterConfig = FAST, extra: dict[Venue, ActorRef] | None = None,
              twins: Twins | None = None, latency: LatencyProfile | None = None) -> AsyncIterator[Rig]:
    """The router on a real journal file, with a Binance actor on its twin; ``latency`` is the twin's round
    trip once everything is up."""
    bus = Bus()
    rec = Recorder(bus, "orders.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as own:
        tw = twins or own
        actor = _exchange(tw, bus)
        with Journal(tmp_path / "journal.sqlite") as journal:
            router = _router(journal, actor, bus, config, extra)
            async with anyio.create_task_group() as tg:
                await tg.start(actor.run)
                ref = await tg.start(router.run)
                tw.set_latency(latency)
                yield Rig(tw, bus, actor, router, ref, journal, rec)
                tg.cancel_scope.cancel()
    bus.close()


def _intent(side: Side, qty: str, price: Decimal | None = None, **kw: Any) -> OrderIntent:
    order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderIntent(strategy="test", instrument=BTC, side=side, quantity=Decimal(qty), price=price,
                       order_type=order_type, **kw)


def _state(r: Rig, cid: ClientOrderId) -> JournalState:
    return r.router.orders[cid].state


@pytest.mark.anyio
async def test_orders_are_placed_tracked_filled_and_cancelled_through_the_router(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        bid, ask = r.bid_ask()
        resting = await r.ref.ask(_intent(Side.BUY, "0.0104", bid * Decimal("0.9") + Decimal("0.037")))
        await wait_for(lambda: _state(r, resting) is JournalState.OPEN, what="resting order open")
        placed = r.twin_order(resting)
        # Rounded to the lot (down) and the tick (passively: a buy rounds down).
        assert placed.qty == Decimal("0.010") and placed.price == (bid * Decimal("0.9") + Decimal("0.037")).quantize(
            Decimal("0.1"), rounding="ROUND_FLOOR")
        taker = await r.ref.ask(_intent(Side.BUY, "0.005"))
        await wait_for(lambda: _state(r, taker) is JournalState.DONE, what="market order filled")
        assert r.router.orders[taker].status is OrderStatus.FILLED
        assert r.router.orders[taker].filled_qty == Decimal("0.005")
        upd = await r.ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=resting))
        assert isinstance(upd, OrderUpdate) and upd.status is OrderStatus.CANCELLED
        await wait_for(lambda: _state(r, resting) is JournalState.DONE)
        entries = {e.client_order_id: e for e in await r.journal.call(r.journal.entries)}
        assert set(entries) == {resting, taker} == set(r.twin_client_ids())
        assert r.received() == Counter({resting: 1, taker: 1})  # each placement reached the venue once
        assert entries[resting].status is OrderStatus.CANCELLED and entries[resting].venue_order_id == str(placed.order_id)
        assert entries[taker].status is OrderStatus.FILLED and entries[taker].filled_qty == Decimal("0.005")
        assert [e.kind for e in r.journal.events(taker)][:2] == ["intent", "sent"]
        # Ids: deterministic from the journal id, sequence and strategy, in Binance's format.
        assert resting == f"cb-{r.journal.journal_id}-1-test" and taker == f"cb-{r.journal.journal_id}-2-test"


@pytest.mark.anyio
async def test_intents_that_cannot_be_sent_are_refused_with_a_reason(tmp_path: Path) -> None:
    async with rig(tmp_path, config=RouterConfig()) as r:  # no initial venue
        with pytest.raises(IntentRejected) as no_venue:
            await r.ref.ask(_intent(Side.BUY, "0.01", Decimal("1000")))
        assert no_venue.value.code == "no_active_venue" and no_venue.value.rejection.venue is None
        with pytest.raises(IntentRejected) as tiny:
            await r.ref.ask(_intent(Side.BUY, "0.0004", Decimal("1000"), venue=Venue.BINANCE))
        assert tiny.value.code == "invalid_size" and "0.000" in tiny.value.rejection.text
        with pytest.raises(IntentRejected) as unknown:
            await r.ref.ask(_intent(Side.BUY, "0.01", Decimal("1000"), venue=Venue.OKX))
        assert unknown.value.code == "unknown_venue"
        with pytest.raises(IntentRejected) as no_px:
            await r.ref.ask(OrderIntent(strategy="test", instrument=BTC, side=Side.BUY, quantity=Decimal("0.01"),
                                        venue=Venue.BINANCE))  # a limit order without a price
        assert no_px.value.code == "invalid_price"
        # A told intent that is refused does not end the router; the refusal is on the bus.
        await r.ref.tell(_intent(Side.BUY, "0.01", Decimal("1000")))
        await wait_for(lambda: len(r.rec.of(OrderRejected)) >= 5)
        assert r.router.alive
        assert [m.code for m in r.rec.of(OrderRejected)] == [
            "no_active_venue", "invalid_size", "unknown_venue", "invalid_price", "no_active_venue"]
        assert await r.journal.call(r.journal.entries) == [] and r.twin_client_ids() == Counter()


class _StubVenue(Actor):
    """A second venue that acknowledges every PlaceOrder (only to see where new intents go); like an exchange
    actor, it publishes what it answers on the bus it is given (``out``)."""

    def __init__(self) -> None:
        super().__init__("exchange.bybit.stub")
        self.placed: list[PlaceOrder] = []
        self.out: Bus | None = None

    async def handle(self, msg: Any) -> Any:
        if isinstance(msg, PlaceOrder):
            self.placed.append(msg)
            upd = OrderUpdate(venue=msg.venue, instrument=msg.instrument, client_order_id=msg.client_order_id,
                              venue_order_id=VenueOrderId("1"), status=OrderStatus.SUBMITTED, raw_status="New",
                              side=msg.side, order_type=msg.order_type, quantity=msg.quantity, filled_qty=Decimal(0),
                              avg_price=None, price=msg.price, ts_event=0, ts_recv=0)
            if self.out is not None:
                self.out.publish_msg(upd)
            return upd
        if isinstance(msg, GetOpenOrders):
            return []
        if isinstance(msg, QueryOrder):
            raise UnknownOrder("bybit", 110001, "order does not exist")
        return None


@pytest.mark.anyio
async def test_failover_routes_new_intents_reports_orders_at_risk_and_reconciles_on_return(tmp_path: Path) -> None:
    stub = _StubVenue()
    async with anyio.create_task_group() as outer:
        stub_ref = await outer.start(stub.run)
        async with rig(tmp_path, extra={Venue.BYBIT: stub_ref}) as r:
            stub.out = r.bus
            bid, _ = r.bid_ask()
            resting = await r.ref.ask(_intent(Side.BUY, "0.010", (bid * Decimal("0.9")).quantize(Decimal("0.1"))))
            await wait_for(lambda: _state(r, resting) is JournalState.OPEN)
            twin = r.twins["binance"].twin
            twin.faults.inject(FaultKind.REFUSE_CONNECTIONS)  # binance is down: REST and WebSockets
            twin.faults.inject(FaultKind.DROP_WS)
            r.bus.publish_msg(Failover(from_venue=Venue.BINANCE, to_venue=Venue.BYBIT, cause="test", ts_detected=1,
                                       ts_switched=2))
            await wait_for(lambda: bool(r.rec.of(OrdersAtRisk)), what="orders at risk")
            [risk] = r.rec.of(OrdersAtRisk)
            assert risk.venue is Venue.BINANCE and risk.client_order_ids == (resting,)
            new = await r.ref.ask(_intent(Side.SELL, "0.010", bid * 2))
            await wait_for(lambda: _state(r, new) is JournalState.OPEN)
            assert [p.client_order_id for p in stub.placed] == [new] and stub.placed[0].venue is Venue.BYBIT
            with pytest.raises(IntentRejected) as down:
                await r.ref.ask(_intent(Side.BUY, "0.010", bid, venue=Venue.BINANCE))
            assert down.value.code == "venue_down"
            # While binance is away, the resting order is cancelled there (the update is lost with the link).
            twin.engine.cancel("BTCUSDT", 0, client_id=resting)
            await anyio.sleep(0.5)
            assert _state(r, resting) is JournalState.OPEN and r.router.reconciled.get(Venue.BINANCE, 0) == 0
            twin.faults.clear()
            await wait_for(lambda: _state(r, resting) is JournalState.DONE, what="reconciled when reachable")
            assert r.router.orders[resting].status is OrderStatus.CANCELLED
            await wait_for(lambda: r.router.reconciled.get(Venue.BINANCE, 0) >= 1, what="router reconciliation")
            r.bus.publish_msg(Failover(from_venue=Venue.BYBIT, to_venue=Venue.BINANCE, cause="back", ts_detected=3,
                                       ts_switched=4))
            await wait_for(lambda: r.router.active is Venue.BINANCE and Venue.BINANCE not in r.router.down)
            assert r.twin_client_ids() == Counter({resting: 1})
        outer.cancel_scope.cancel()


@pytest.mark.anyio
async def test_an_intent_asked_right_after_a_failover_goes_to_the_new_venue(tmp_path: Path) -> None:
    """Asks are served before bus messages: a Failover still in the router's mailbox is applied first."""
    stub = _StubVenue()
    async with anyio.create_task_group() as outer:
        stub_ref = await outer.start(stub.run)
        async with rig(tmp_path, extra={Venue.BYBIT: stub_ref}) as r:
            stub.out = r.bus
            bid, _ = r.bid_ask()
            # Published and asked in one go: the Failover is in the router's mailbox, not yet handled.
            r.bus.publish_msg(Failover(from_venue=Venue.BINANCE, to_venue=Venue.BYBIT, cause="test", ts_detected=1,
                                       ts_switched=2))
            cid = await r.ref.ask(_intent(Side.SELL, "0.010", bid * 2))
            assert r.router.orders[cid].venue is Venue.BYBIT
            await wait_for(lambda: [p.client_order_id for p in stub.placed] == [cid], what="placed on bybit")
            assert r.twin_client_ids() == Counter()
        outer.cancel_scope.cancel()


# -- faults ----------------------------------------------------------------------------------------

_FAULTS = st.sampled_from(["http_5xx", "latency", "drop_ws", "rate_limit", "execute_then_5xx", "execute_then_drop",
                           "none"])
_STEPS = st.lists(
    st.tuples(st.sampled_from(["rest", "market", "ioc"]), st.sampled_from([Side.BUY, Side.SELL]), _FAULTS,
              st.floats(0.2, 1.2)),
    min_size=1, max_size=4,
)


async def _fault_scenario(tmp_path: Path, steps: list[tuple[str, Side, str, float]]) -> None:
    async with rig(tmp_path) as r:
        await wait_for(lambda: r.actor.adapter.book_state_live(BTC), what="live book")
        twin = r.twins["binance"].twin
        cids: list[ClientOrderId] = []
        for kind, side, fault, duration in steps:
            if fault == "latency":
                twin.faults.inject(FaultKind.LATENCY, duration_s=duration, ms=1400)  # beyond the 1 s REST timeout
            elif fault in ("drop_ws", "execute_then_5xx", "execute_then_drop"):
                twin.faults.inject(fault)  # one-shot: the next placement executes, its answer is lost
            elif fault != "none":
                twin.faults.inject(fault, duration_s=duration)
            bid, ask = r.bid_ask()
            if kind == "rest":
                px = bid * Decimal("0.95") if side is Side.BUY else ask * Decimal("1.05")
                intent = _intent(side, "0.010", px)
            elif kind == "ioc":
                intent = _intent(side, "0.010", ask if side is Side.BUY else bid, time_in_force=TimeInForce.IOC)
            else:
                intent = _intent(side, "0.005")
            cids.append(await r.ref.ask(intent))
            await anyio.sleep(0.1)
        await anyio.sleep(1.5)
        twin.faults.clear()
        await r.router.wait_settled(60)
        for cid in cids:  # close what still rests, through the router
            if _state(r, cid) is JournalState.OPEN:
                await r.ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid), timeout=10)
        await wait_for(lambda: all(_state(r, c).is_final for c in cids), timeout=30, what="all orders final")
        await r.router.wait_settled(30)  # and every final state committed to the journal
        on_twin = r.twin_client_ids()
        received = r.received()
        entries = {e.client_order_id: e for e in r.journal.entries()}
        assert set(entries) == set(cids)
        for cid in cids:
            o = r.router.orders[cid]
            finals = [s for s in o.history if s.is_final]
            assert finals == [o.state], (cid, o.history)  # exactly one final state
            assert entries[cid].state is o.state and entries[cid].status == o.status
            assert received[cid] <= 1, (cid, received[cid])  # never reached the venue twice
            if on_twin[cid]:  # acknowledged by the venue: journaled as done with the venue's status
                venue_order = r.twin_order(cid)
                assert entries[cid].state is JournalState.DONE, (cid, entries[cid])
                assert entries[cid].filled_qty == venue_order.filled
            else:
                assert entries[cid].state is JournalState.NOT_PLACED or entries[cid].status is OrderStatus.REJECTED


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_random_intents_under_faults_end_final_once_and_never_reach_the_venue_twice(
        tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, Side, str, float]]) -> None:
    anyio.run(_fault_scenario, tmp_path_factory.mktemp("faults"), steps)


# -- crash between journal write and send ----------------------------------------------------------

async def _crash_child(r: Rig, journal: Path, kill: str, price: Decimal) -> str:
    rt = r.twins["binance"]
    args = {"rest": rt.rest, "ws": dict(rt.ws), "api_key": rt.twin.credentials.api_key,
            "secret": rt.twin.credentials.secret, "journal": str(journal), "kill": kill, "price": str(price),
            "quantity": "0.010"}
    proc = await anyio.run_process([sys.executable, "-m", "tests.actors.router_crash", json.dumps(args)], cwd=REPO,
                                   check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    return proc.stdout.decode().strip()


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("kill", ["after_journal", "after_send"])
async def test_a_router_killed_around_the_send_neither_loses_nor_duplicates_the_order(tmp_path: Path, kill: str) -> None:
    path = tmp_path / "crash.sqlite"
    config = RouterConfig(initial_venue=Venue.BINANCE, query_interval_s=0.2, resend_grace_s=1.0, reconcile_retry_s=0.3)
    bus = Bus()
    rec = Recorder(bus, "orders.>")
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        actor = _exchange(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            book = twins["binance"].twin.book_json("BTCUSDT", 1)
            price = (Decimal(book["bids"][0][0]) * Decimal("0.9")).quantize(Decimal("0.1"))
            probe = Rig(twins, bus, actor, None, None, None, rec)  # type: ignore[arg-type]
            cid = ClientOrderId(await _crash_child(probe, path, kill, price))
            with Journal(path) as journal:
                [entry] = journal.non_terminal()
                assert entry.client_order_id == cid
                assert entry.state is (JournalState.JOURNALED if kill == "after_journal" else JournalState.SENT)
                router = _router(journal, actor, bus, config)
                ref = await tg.start(router.run)
                await wait_for(lambda: router.orders[cid].state in (JournalState.OPEN, JournalState.NOT_PLACED),
                               timeout=20, what="replayed order reconciled")
                placed = Counter(o.client_id for o in twins["binance"].twin.engine.orders.values())[cid]
                assert twins["binance"].twin.received.count(cid) == placed  # never sent twice
                if kill == "after_journal":
                    assert placed == 0 and router.orders[cid].state is JournalState.NOT_PLACED
                    assert any(m.code == "not_placed" and m.client_order_id == cid for m in rec.of(OrderRejected))
                else:
                    assert placed == 1 and router.orders[cid].state is JournalState.OPEN
                    await ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid))
                    await wait_for(lambda: router.orders[cid].state is JournalState.DONE)
                await anyio.sleep(config.resend_grace_s + 0.5)  # nothing goes out later either
                assert twins["binance"].twin.received.count(cid) == placed
                assert journal.non_terminal() == []
            tg.cancel_scope.cancel()
    bus.close()
