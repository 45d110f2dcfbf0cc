"""Unknown placement outcomes, branch by branch: the router (the one owner of order state) resolves each by
asking the venue about the client order id, re-sends only under rule 4, and never places an order twice.

Real Binance twin, real ExchangeActor, real SQLite journal. The duplicate oracle is the twin's count of
placements *received* per client id (a re-sent order the venue refused as a duplicate still counts).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import OutcomeUnknown
from actors.journal import Journal, JournalState
from actors.router import RouterConfig
from messages import (
    CancelOrder,
    ClientOrderId,
    OrderRejected,
    OrderStatus,
    PlaceOrder,
    Side,
    Venue,
)
from simulator import LatencyProfile
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import Recorder, wait_for
from tests.actors.test_router import BTC, FAST, Rig, _exchange, _intent, _router, _state, rig

VENUE_RTT = LatencyProfile.from_rtt(60, jitter_ms=20, seed=7)  # a venue-like round trip: 60-100 ms


def _resting_price(r: Rig) -> Decimal:
    bid, _ = r.bid_ask()
    return (bid * Decimal("0.9")).quantize(Decimal("0.1"))


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["execute_then_5xx", "execute_then_drop"])
async def test_a_placement_whose_answer_is_lost_is_found_by_asking_never_by_sending_again(
        tmp_path: Path, fault: str) -> None:
    async with rig(tmp_path, latency=VENUE_RTT) as r:
        twin = r.twins["binance"].twin
        twin.faults.inject("stall")  # no private-stream update: only a query can tell
        twin.faults.inject(fault)
        cid = await r.ref.ask(_intent(Side.BUY, "0.010", _resting_price(r)))
        await wait_for(lambda: _state(r, cid) is JournalState.OPEN, what="found open by a query")
        o = r.router.orders[cid]
        assert o.history[:3] == [JournalState.JOURNALED, JournalState.SENT, JournalState.UNKNOWN], o.history
        assert o.sends == 1
        assert r.received() == Counter({cid: 1})
        twin.faults.clear()
        await r.ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid))
        await wait_for(lambda: _state(r, cid) is JournalState.DONE)
        await r.router.wait_settled(10)
        assert r.received() == Counter({cid: 1})


@pytest.mark.anyio
async def test_cancels_keep_flowing_while_a_lost_placement_is_being_resolved(tmp_path: Path) -> None:
    slow = RouterConfig(initial_venue=Venue.BINANCE, place_timeout_s=15.0, query_timeout_s=5.0, query_interval_s=1.5,
                        resend_grace_s=6.0)
    async with rig(tmp_path, config=slow, latency=VENUE_RTT) as r:
        twin = r.twins["binance"].twin
        first = await r.ref.ask(_intent(Side.BUY, "0.010", _resting_price(r)))
        await wait_for(lambda: _state(r, first) is JournalState.OPEN)
        twin.faults.inject("stall")  # no private-stream update: only a query can tell
        twin.faults.inject("execute_then_drop")
        lost = await r.ref.ask(_intent(Side.BUY, "0.010", _resting_price(r)))
        await wait_for(lambda: _state(r, lost) is JournalState.UNKNOWN, what="the lost placement is unknown")
        upd = await r.ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=first), timeout=10)
        assert upd.status is OrderStatus.CANCELLED
        assert _state(r, lost) is JournalState.UNKNOWN  # the cancel did not wait for the resolution
        await wait_for(lambda: _state(r, lost) is JournalState.OPEN, timeout=15, what="lost placement found")
        twin.faults.clear()
        assert r.received() == Counter({first: 1, lost: 1})


@pytest.mark.anyio
async def test_a_placement_that_never_arrived_is_sent_again_only_after_the_grace(tmp_path: Path) -> None:
    config = RouterConfig(initial_venue=Venue.BINANCE, place_timeout_s=15.0, query_timeout_s=5.0, query_interval_s=0.1,
                          query_interval_cap_s=0.2, resend_grace_s=1.0, max_sends=3)
    async with rig(tmp_path, config=config, latency=VENUE_RTT) as r:
        r.twins["binance"].twin.faults.inject("http_5xx", duration_s=0.3)  # answered before the order handler
        cid = await r.ref.ask(_intent(Side.BUY, "0.010", _resting_price(r)))
        await wait_for(lambda: _state(r, cid) is JournalState.OPEN, timeout=15, what="re-sent and open")
        o = r.router.orders[cid]
        assert o.sends == 2
        assert r.received() == Counter({cid: 1})  # the first never reached the order handler
        sends = [e.ts_ns for e in await r.journal.call(r.journal.events, cid) if e.kind == "sent"]
        assert len(sends) == 2
        assert (sends[1] - sends[0]) / 1e9 >= config.resend_grace_s  # never before the grace


@pytest.mark.anyio
async def test_after_max_sends_an_order_the_venue_never_saw_ends_not_placed(tmp_path: Path) -> None:
    config = RouterConfig(initial_venue=Venue.BINANCE, place_timeout_s=15.0, query_timeout_s=5.0, query_interval_s=0.1,
                          query_interval_cap_s=0.2, resend_grace_s=0.5, max_sends=1)
    async with rig(tmp_path, config=config, latency=VENUE_RTT) as r:
        twin = r.twins["binance"].twin
        twin.faults.inject("http_5xx")  # until cleared: answered before the order handler
        cid = await r.ref.ask(_intent(Side.BUY, "0.010", _resting_price(r)))
        await wait_for(lambda: _state(r, cid) is JournalState.UNKNOWN, what="outcome unknown")
        twin.faults.clear()  # now the venue can say it does not know the order
        await wait_for(lambda: _state(r, cid) is JournalState.NOT_PLACED, timeout=15, what="not placed")
        assert r.router.orders[cid].sends == 1  # the one send allowed; no second
        assert r.received() == Counter()
        # The refusal is published as the state moves; it reaches the recorder through its mailbox.
        await wait_for(lambda: any(m.code == "not_placed" and m.client_order_id == cid
                                   for m in r.rec.of(OrderRejected)), what="the not_placed refusal on the bus")


@pytest.mark.anyio
async def test_a_client_id_the_venue_already_has_is_an_unknown_outcome_resolved_by_a_query(tmp_path: Path) -> None:
    async with rig(tmp_path, latency=VENUE_RTT) as r:
        cid = ClientOrderId("cbtaken1")
        price = _resting_price(r)
        # The venue already holds this id (as after a send whose answer was lost, then re-sent).
        direct = PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=cid, side=Side.BUY,
                            quantity=Decimal("0.010"), price=price)
        await r.actor.ref.ask(direct)
        with pytest.raises(OutcomeUnknown, match="duplicate"):
            await r.actor.ref.ask(direct)  # the actor reports it as unknown, never as a rejection
        got = await r.ref.ask(_intent(Side.BUY, "0.010", price, client_order_id=cid))
        assert got == cid
        await wait_for(lambda: _state(r, cid) is JournalState.OPEN, what="found by a query")
        assert r.router.orders[cid].history[:3] == [JournalState.JOURNALED, JournalState.SENT, JournalState.UNKNOWN]
        assert r.received()[cid] == 3  # received three times, placed once
        assert r.twin_client_ids()[cid] == 1


@pytest.mark.anyio
async def test_a_restart_in_the_middle_resolves_every_unknown_from_the_journal(tmp_path: Path) -> None:
    """Three placements lose their answers; the router stops before it asks about them. A new router on the
    same journal finds all three by asking, and sends none of them again."""
    slow = RouterConfig(initial_venue=Venue.BINANCE, place_timeout_s=15.0, query_timeout_s=5.0, query_interval_s=30.0,
                        query_interval_cap_s=30.0, resend_grace_s=1.0, reconcile_retry_s=0.3)
    bus = Bus()
    rec = Recorder(bus, "orders.>")
    path = tmp_path / "journal.sqlite"
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        twin = twins["binance"].twin
        actor = _exchange(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            twins.set_latency(VENUE_RTT)
            bid = Decimal(twin.book_json("BTCUSDT", 1)["bids"][0][0])
            price = (bid * Decimal("0.9")).quantize(Decimal("0.1"))
            with Journal(path) as journal:
                router = _router(journal, actor, bus, slow)
                ref = await tg.start(router.run)
                twin.faults.inject("stall")  # no private-stream update: only a query can tell
                twin.faults.inject("execute_then_drop", count=3)
                cids = [await ref.ask(_intent(Side.BUY, "0.010", price)) for _ in range(3)]
                await wait_for(lambda: all(router.orders[c].state is JournalState.UNKNOWN for c in cids))
                await router.stop()
                twin.faults.clear("stall")
            with Journal(path) as journal:
                assert {e.client_order_id for e in journal.non_terminal()} == set(cids)
                again = _router(journal, actor, bus, FAST)
                await tg.start(again.run)
                await wait_for(lambda: all(again.orders[c].state is JournalState.OPEN for c in cids), timeout=20,
                               what="every unknown resolved after the restart")
                assert Counter({c: twin.received.count(c) for c in cids}) == Counter({c: 1 for c in cids})
                await again.stop()
            tg.cancel_scope.cancel()
    assert rec.of(OrderRejected) == []
    bus.close()
