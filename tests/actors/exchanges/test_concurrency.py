"""An exchange actor under venue-like latency: requests overlap, cancels and health probes never wait behind
placements, and the rate limiter keeps a reserve for them. Real Binance twin, real actor, real bus.

The oracles are orders of completion, never durations: an actor that served one request at a time (the
design these tests replaced) answers a cancel or a probe asked after a burst of placements last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
import yarl
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.bus import Bus
from actors.clock import ManualClock
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from actors.exchanges.bybit import BybitAdapter
from actors.ratelimit import Bucket, VenueLimiter
from messages import (
    CancelOrder,
    ClientOrderId,
    HealthCheck,
    HealthReport,
    InstrumentId,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    Side,
    Venue,
)
from simulator import LatencyProfile
from simulator.runner import Twins, start_twins
from tests.actors.exchanges.conftest import endpoints, wait_for
from venues import Credentials
from venues.http import Method, RequestSpec
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
RTT_MS = 150


@asynccontextmanager
async def _venue(bus: Bus, max_in_flight: int) -> AsyncIterator[tuple[Twins, ExchangeActor]]:
    """The Binance twin and an actor on it; the twin gets its venue-like round trip once the actor is up."""
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        rt = twins["binance"]
        adapter = BinanceAdapter(InstrumentRegistry(), endpoints(rt), trades=False)
        actor = ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0, max_in_flight=max_in_flight),
                              bus=bus, credentials=Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret))
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            twins.set_latency(LatencyProfile.from_rtt(RTT_MS, jitter_ms=10, seed=3))
            yield twins, actor
            tg.cancel_scope.cancel()


def _resting(twins: Twins, cid: str) -> PlaceOrder:
    """A buy far below the market: it rests."""
    bid = Decimal(twins["binance"].twin.book_json("BTCUSDT", 1)["bids"][0][0])
    price = (bid * Decimal("0.8")).quantize(Decimal("0.1"))
    return PlaceOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=Decimal("0.01"), price=price)


async def _burst_then(actor: ExchangeActor, twins: Twins, n: int, last: tuple[str, Callable[[], Awaitable[Any]]]
                      ) -> list[str]:
    """Ask ``n`` placements at once, then (once the actor has some of them on the wire) ``last``; return the
    names in the order their answers came back."""
    done: list[str] = []
    orders = [_resting(twins, f"cbburst{i}") for i in range(n)]

    async def place(o: PlaceOrder) -> None:
        upd = await actor.ref.ask(o, timeout=30.0)
        assert isinstance(upd, OrderUpdate) and upd.status is OrderStatus.SUBMITTED
        done.append(o.client_order_id)

    async def final() -> None:
        await last[1]()
        done.append(last[0])

    async with anyio.create_task_group() as tg:
        for o in orders:
            tg.start_soon(place, o)
        await wait_for(lambda: actor.rest.in_flight >= 1, what="placements on the wire")
        tg.start_soon(final)
    return done


@pytest.mark.anyio
async def test_a_cancel_overtakes_placements_queued_behind_the_in_flight_cap(bus: Bus) -> None:
    async with _venue(bus, max_in_flight=2) as (twins, actor):
        first = _resting(twins, "cbcancelme")
        await actor.ref.ask(first, timeout=10.0)

        async def cancel() -> None:
            await actor.ref.ask(CancelOrder(venue=Venue.BINANCE, instrument=BTC, client_order_id=first.client_order_id),
                                timeout=30.0)

        done = await _burst_then(actor, twins, 8, ("cancel", cancel))
    # Two placements were on the wire when the cancel was asked; six waited in the actor's lane. The cancel
    # has a lane of its own: it comes back with the first wave, never after the queued placements.
    assert done.index("cancel") <= 3, done
    assert len(done) == 9


@pytest.mark.anyio
async def test_a_health_probe_does_not_wait_behind_placements_and_measures_one_round_trip(bus: Bus) -> None:
    async with _venue(bus, max_in_flight=2) as (twins, actor):
        reports: list[HealthReport] = []
        t_asked: list[float] = []

        async def probe() -> None:
            t_asked.append(anyio.current_time())
            reports.append(await actor.ref.ask(HealthCheck(venue=Venue.BINANCE), timeout=30.0))
            t_asked.append(anyio.current_time())

        done = await _burst_then(actor, twins, 8, ("probe", probe))
    assert done.index("probe") <= 3, done
    [report] = reports
    # The probe's latency is its own round trip: not the time it took to be answered, had it queued. The
    # reported latency and the ask's duration are the same round trip (no queue in between).
    asked_for_ms = (t_asked[1] - t_asked[0]) * 1000.0
    assert report.latency_ms <= asked_for_ms
    assert report.latency_ms >= RTT_MS  # it did cross the (slowed) venue


@pytest.mark.anyio
async def test_eight_placements_overlap_in_time(bus: Bus) -> None:
    """Half the round trip in, half out: when the first answer comes back, the venue has already received all
    eight (an actor serving one request at a time would have sent only the first)."""
    async with _venue(bus, max_in_flight=16) as (twins, actor):
        received = twins["binance"].twin.received
        orders = [_resting(twins, f"cboverlap{i}") for i in range(8)]
        at_first_answer: list[int] = []

        async def place(o: PlaceOrder) -> None:
            await actor.ref.ask(o, timeout=30.0)
            if not at_first_answer:
                at_first_answer.append(sum(received.count(p.client_order_id) for p in orders))

        async with anyio.create_task_group() as tg:
            for o in orders:
                tg.start_soon(place, o)
    assert at_first_answer == [8]
    assert all(received.count(o.client_order_id) == 1 for o in orders)


# -- the limiter's reserve -------------------------------------------------------------------------------
def _spec(endpoint: str) -> RequestSpec:
    return RequestSpec(method=Method.POST, path="/x", endpoint=endpoint)


@pytest.mark.anyio
async def test_placements_cannot_spend_the_reserve_an_urgent_cancel_needs() -> None:
    clock = ManualClock()
    limiter = VenueLimiter("v", [Bucket(name="orders", capacity=10, period_s=1.0, per_request=True)], clock=clock,
                           reserve=0.2)
    for _ in range(8):  # up to the reserve: no wait
        await limiter.acquire(_spec("orders"))
    got: list[str] = []

    async def normal() -> None:
        await limiter.acquire(_spec("orders"))
        got.append("normal")

    async def urgent() -> None:
        await limiter.acquire(_spec("orders"), urgent=True)
        got.append("urgent")

    async with anyio.create_task_group() as tg:
        tg.start_soon(normal)
        await clock.settle()
        assert got == []  # the ninth placement waits: it would dip into the reserve
        tg.start_soon(urgent)
        await clock.settle()
        assert got == ["urgent"]  # the cancel goes at once
        await clock.advance_and_settle(0.99)
        assert got == ["urgent"]  # the window still holds the first eight
        await clock.advance_and_settle(0.02)  # they leave it: the placement fits under the reserve again
        assert got == ["urgent", "normal"]


@pytest.mark.anyio
@given(gaps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=60), urgent=st.lists(st.booleans(), max_size=60))
@settings(max_examples=40, deadline=None)
async def test_no_span_of_the_period_ever_holds_more_than_the_capacity(gaps: list[float], urgent: list[bool]) -> None:
    """Whatever the arrival pattern, the requests let through in any window of the period never exceed the
    capacity (so a venue counting in fixed windows never sees a breach), and normal ones never the
    capacity less the reserve."""
    clock = ManualClock()
    limiter = VenueLimiter("v", [Bucket(name="b", capacity=5, period_s=1.0, per_request=True)], clock=clock,
                           reserve=0.2)
    sent: list[tuple[float, bool]] = []

    async def one(is_urgent: bool) -> None:
        await limiter.acquire(_spec("b"), urgent=is_urgent)
        sent.append((clock.monotonic(), is_urgent))

    async with anyio.create_task_group() as tg:
        for i, gap in enumerate(gaps):
            tg.start_soon(one, urgent[i] if i < len(urgent) else False)
            await clock.advance_and_settle(gap)
        while len(sent) < len(gaps):
            await clock.advance_and_settle(0.05)
    for t, _ in sent:
        window = [u for s, u in sent if t - 1.0 < s <= t]
        assert len(window) <= 5
        assert sum(1 for u in window if not u) <= 4


@pytest.mark.anyio
async def test_a_ban_pause_stops_urgent_requests_too() -> None:
    clock = ManualClock()
    limiter = VenueLimiter("v", [Bucket(name="orders", capacity=10, period_s=1.0)], clock=clock)
    limiter.pause_until(5.0)
    got: list[str] = []

    async def urgent() -> None:
        await limiter.acquire(_spec("orders"), urgent=True)
        got.append("urgent")

    async with anyio.create_task_group() as tg:
        tg.start_soon(urgent)
        await clock.advance_and_settle(4.9)
        assert got == []
        await clock.advance_and_settle(0.2)
        assert got == ["urgent"]


# -- a burst past the venue's limit ---------------------------------------------------------------------
def _bybit_order(twins: Twins, cid: str) -> PlaceOrder:
    bid = Decimal(twins["bybit"].twin.book_json("BTCUSDT", 1)["bids"][0][0])
    return PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=Decimal("0.001"), price=(bid * Decimal("0.8")).quantize(Decimal("0.1")))


@pytest.mark.anyio
async def test_a_burst_past_the_venues_order_limit_meets_no_429_through_the_gateway_but_does_raw(bus: Bus) -> None:
    """Bybit counts order/create per account in one-second windows (10 / s; the twin enforces it, 10006).
    30 placements asked at once of the actor are paced under it and all accepted; the same 30, signed the
    same way and sent at once by a bare client, are partly refused."""
    n = 30
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins:
        rt = twins["bybit"]
        adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), trades=False)
        actor = ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0, max_in_flight=n), bus=bus,
                              credentials=Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret))
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            answers: list[Any] = []

            async def place(i: int) -> None:
                answers.append(await actor.ref.ask(_bybit_order(twins, f"cbgw{i}"), timeout=30.0))

            async with anyio.create_task_group() as burst:
                for i in range(n):
                    burst.start_soon(place, i)
            assert len(answers) == n and all(a.status is OrderStatus.SUBMITTED for a in answers)
            assert actor.limiter.waits >= 1  # it did hold some back
            assert sum(rt.twin.received.count(f"cbgw{i}") for i in range(n)) == n

            refused = 0
            async with aiohttp.ClientSession() as http:
                async def raw(i: int) -> None:
                    nonlocal refused
                    spec = adapter.place_order(_bybit_order(twins, f"cbraw{i}"), actor)
                    async with http.request(spec.method.value, yarl.URL(rt.rest + spec.target, encoded=True),
                                            headers=spec.headers, data=spec.body or None) as resp:
                        body = await resp.json(content_type=None)
                    refused += body.get("retCode") == 10006

                async with anyio.create_task_group() as burst:
                    for i in range(n):
                        burst.start_soon(raw, i)
            assert refused >= n - 10, refused  # the venue's limit is real: raw, the burst breaks it
            tg.cancel_scope.cancel()
