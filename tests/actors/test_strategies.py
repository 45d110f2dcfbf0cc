"""Aggregator actor on the bus, SpreadMonitor statistics, and CrossArb against a test router actor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from msgspec.structs import replace as msgspec_replace

from actors import topics
from actors.aggregation import AggregatorConfig, InstrumentGroup
from actors.aggregator import Aggregator
from actors.base import Actor
from actors.bus import Bus
from actors.clock import ManualClock
from actors.strategies.base import Reload
from actors.strategies.cross_arb import CrossArb, CrossArbSettings
from actors.strategies.spread_monitor import SpreadMonitor, SpreadMonitorSettings
from messages import (
    ArbOpportunity,
    ArbPhase,
    ArbStats,
    BestBidAsk,
    GetSettings,
    GetStats,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    Venue,
)
from tests.actors.market_fixtures import USD, USDT, instrument, quote, registry

B, D = Venue.BINANCE, Venue.DERIBIT
GROUP = InstrumentGroup(name="btc", members=[(B, USDT), (D, USD)])
REG = registry(instrument(B), instrument(D, USD, inverse=True, lot="10", tick="0.5"))


class Collector(Actor):
    """Records what arrives on its subscriptions."""

    def __init__(self, bus: Bus, pattern: str) -> None:
        super().__init__("collector", bus=bus)
        self.pattern = pattern
        self.seen: list[Any] = []

    async def on_start(self) -> None:
        self.subscribe(self.pattern, conflate=False)

    async def handle(self, msg: Any) -> Any:
        self.seen.append(msg)


class FakeRouter(Actor):
    """Records intents and answers on the bus with OrderUpdates: fills, unless the venue is told to reject."""

    bus: Bus

    def __init__(self, bus: Bus, reject: set[Venue] | None = None) -> None:
        super().__init__("router", bus=bus)
        self.reject = reject or set()
        self.intents: list[OrderIntent] = []

    async def handle(self, msg: Any) -> Any:
        match msg:
            case OrderIntent(venue=venue) if venue is not None:
                self.intents.append(msg)
                rejected = venue in self.reject and not msg.reduce_only
                px = msg.price or Decimal("96000")
                update = OrderUpdate(
                    venue=venue, instrument=msg.instrument, client_order_id=msg.client_order_id,
                    venue_order_id=None, status=OrderStatus.REJECTED if rejected else OrderStatus.FILLED,
                    raw_status="x", side=msg.side, order_type=msg.order_type, quantity=msg.quantity,
                    filled_qty=Decimal(0) if rejected else msg.quantity, avg_price=None if rejected else px,
                    price=msg.price, ts_event=1, ts_recv=1,
                )
                self.bus.publish_msg(update)
        return None


async def _settle(rounds: int = 50) -> None:
    for _ in range(rounds):
        await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_aggregator_actor_publishes_best_and_arb_on_the_bus(manual_clock: ManualClock) -> None:
    bus = Bus()
    cfg = AggregatorConfig(groups=[GROUP], arb_threshold_bps=10.0, refresh_interval_s=0.25)
    agg = Aggregator(cfg, REG, bus=bus, clock=manual_clock)
    best, arb = Collector(bus, topics.best("btc")), Collector(bus, topics.arb(topics.ALL))
    async with anyio.create_task_group() as tg:
        for actor in (best, arb, agg):
            await tg.start(actor.run)
        now = manual_clock.time_ns()
        bus.publish(topics.quote(B, USDT), quote(B, 97000.0, 97001.0, ts=now))
        bus.publish(topics.quote(D, USD), quote(D, 95999.5, 96000.0, size=48_000.0, inst=USD, ts=now))
        await _settle()
        assert isinstance(best.seen[-1], BestBidAsk) and best.seen[-1].included == (B, D)
        assert [(o.phase, o.buy_venue, o.size_base) for o in arb.seen] == [(ArbPhase.OPENED, D, 0.5)]
        await manual_clock.advance_and_settle(2.5)  # both quotes go stale; the refresher notices
        await _settle()
        assert best.seen[-1].included == () and arb.seen[-1].phase is ArbPhase.CLOSED
        for actor in (agg, arb, best):
            await actor.stop()


def _opp(phase: ArbPhase, net_bps: float, duration_ns: int = 0, group: str = "btc") -> ArbOpportunity:
    return ArbOpportunity(group=group, phase=phase, buy_venue=D, buy_px=96000.0, sell_venue=B, sell_px=97000.0,
                          size_base=0.5, gross_bps=104.0, net_bps=net_bps, gross_quote=500.0, net_quote=400.0,
                          opened_ts=0, duration_ns=duration_ns, ts=0)


@pytest.mark.anyio
async def test_spread_monitor_counts_opportunities_and_durations_per_group() -> None:
    bus = Bus()
    router = FakeRouter(bus)
    mon = SpreadMonitor(router=router.ref, bus=bus)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        await tg.start(mon.run)
        for o in (_opp(ArbPhase.OPENED, 12.0), _opp(ArbPhase.UPDATED, 15.0, 10**9), _opp(ArbPhase.CLOSED, 15.0, 2 * 10**9),
                  _opp(ArbPhase.OPENED, 11.0), _opp(ArbPhase.CLOSED, 11.0, 4 * 10**9), _opp(ArbPhase.OPENED, 30.0, group="eth")):
            bus.publish(topics.topic_for(o), o)
        await _settle()
        stats = (await mon.ref.ask(GetStats())).groups
        btc = stats["btc"]
        assert (btc.opened, btc.updated, btc.closed) == (2, 1, 2)
        assert (btc.mean_duration_s, btc.max_duration_s, btc.max_net_bps) == (3.0, 4.0, 15.0)
        assert (stats["eth"].opened, stats["eth"].closed, stats["eth"].max_net_bps) == (1, 0, 30.0)
        await mon.ref.tell(Reload(SpreadMonitorSettings(log_updates=True)))
        assert (await mon.ref.ask(GetSettings())).log_updates is True
        with pytest.raises(TypeError, match="expects settings of type SpreadMonitorSettings"):
            await mon.ref.ask(Reload(CrossArbSettings()))
        await mon.stop()
        await router.stop()


async def _run_arb(reject: set[Venue], manual_clock: ManualClock) -> tuple[FakeRouter, CrossArb, dict[str, int]]:
    bus = Bus()
    router = FakeRouter(bus, reject)
    settings = CrossArbSettings(min_net_bps=10.0, max_qty_base=0.3, cooldown_s=5.0, max_concurrent=1,
                                default_max_position_base=1.0, default_max_notional=50_000.0,
                                max_total_notional=100_000.0)
    strat = CrossArb("arb", settings, groups=[GROUP], instruments=REG, router=router.ref, bus=bus, clock=manual_clock)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        await tg.start(strat.run)
        bus.publish(topics.arb("btc"), _opp(ArbPhase.OPENED, 9.0))  # below the strategy's threshold
        bus.publish(topics.arb("btc"), _opp(ArbPhase.OPENED, 40.0))
        await _settle()
        bus.publish(topics.arb("btc"), _opp(ArbPhase.UPDATED, 40.0))  # in cool-down: ignored
        await _settle()
        stats = await strat.ref.ask(GetStats())
        await strat.stop()
        await router.stop()
    return router, strat, stats


@pytest.mark.anyio
async def test_cross_arb_places_both_ioc_legs_through_the_router_and_fills(manual_clock: ManualClock) -> None:
    router, strat, stats = await _run_arb(set(), manual_clock)
    legs = [(i.venue, i.side, i.quantity, i.price, i.time_in_force, i.order_type) for i in router.intents]
    # 0.3 BTC: Deribit inverse (USD, lot 10) at 96000 -> 28800 USD; Binance linear -> 0.300
    assert legs == [
        (D, Side.BUY, Decimal("28800"), Decimal("96000.0"), TimeInForce.IOC, OrderType.LIMIT),
        (B, Side.SELL, Decimal("0.300"), Decimal("97000.0"), TimeInForce.IOC, OrderType.LIMIT),
    ]
    assert all(i.strategy == "arb" and i.client_order_id for i in router.intents)
    assert strat.positions == {(D, USD): Decimal("28800"), (B, USDT): Decimal("-0.300")}
    assert stats == ArbStats(attempts=1, completed=1, unwinds=0, unhedged=0, in_flight=0)


@pytest.mark.anyio
async def test_cross_arb_unwinds_the_filled_leg_when_the_other_is_rejected(manual_clock: ManualClock) -> None:
    router, strat, stats = await _run_arb({B}, manual_clock)
    unwind = router.intents[-1]
    assert (unwind.venue, unwind.side, unwind.quantity, unwind.order_type, unwind.reduce_only) == (
        D, Side.SELL, Decimal("28800"), OrderType.MARKET, True)
    assert all(q == 0 for q in strat.positions.values())  # flat everywhere
    assert stats == ArbStats(attempts=1, completed=1, unwinds=1, unhedged=0, in_flight=0)


@pytest.mark.anyio
async def test_cross_arb_gives_up_loudly_when_the_unwind_keeps_failing(manual_clock: ManualClock) -> None:
    bus = Bus()

    class Refuser(FakeRouter):
        async def handle(self, msg: Any) -> Any:
            if isinstance(msg, OrderIntent) and msg.reduce_only:
                self.reject.add(msg.venue)  # type: ignore[arg-type]
                msg = msgspec_replace(msg, reduce_only=False)
            return await super().handle(msg)

    router2 = Refuser(bus, {B})
    strat2 = CrossArb("arb", CrossArbSettings(max_qty_base=0.3, max_hedge_attempts=2, default_max_position_base=1.0,
                                       default_max_notional=50_000.0, max_total_notional=100_000.0), groups=[GROUP],
                      instruments=REG, router=router2.ref, bus=bus, clock=manual_clock)
    async with anyio.create_task_group() as tg:
        await tg.start(router2.run)
        await tg.start(strat2.run)
        bus.publish(topics.arb("btc"), _opp(ArbPhase.OPENED, 40.0))
        await _settle(100)
        stats2 = await strat2.ref.ask(GetStats())
        await strat2.stop()
        await router2.stop()
    assert (stats2.unwinds, stats2.unhedged, stats2.in_flight) == (2, 1, 0)
    assert strat2.positions == {(D, USD): Decimal("28800")}  # reported, not hidden


@pytest.mark.anyio
async def test_cross_arb_respects_the_position_limit(manual_clock: ManualClock) -> None:
    bus = Bus()
    router = FakeRouter(bus)
    settings = CrossArbSettings(max_qty_base=1.0, default_max_position_base=0.1, cooldown_s=0.0)
    strat = CrossArb("arb", settings, groups=[GROUP], instruments=REG, router=router.ref, bus=bus, clock=manual_clock)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        await tg.start(strat.run)
        bus.publish(topics.arb("btc"), _opp(ArbPhase.OPENED, 40.0))
        await _settle()
        bus.publish(topics.arb("btc"), _opp(ArbPhase.UPDATED, 41.0))  # limit used up: no second attempt
        await _settle()
        await strat.stop()
        await router.stop()
    assert [i.quantity for i in router.intents] == [Decimal("9600"), Decimal("0.100")]
