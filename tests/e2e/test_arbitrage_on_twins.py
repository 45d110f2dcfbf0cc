"""End to end on the twins: a dislocation the twins create is traded by the cross-venue arbitrage strategy
through the real router, exchange actors and journal, and the book ends flat across venues."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from actors.bus import Bus
from actors.clock import LiveClock
from actors.exchanges.adapter import Endpoints
from daemon.config import (
    AggregatorSection,
    Config,
    DaemonSection,
    GroupSection,
    HealthSection,
    StrategySection,
    VenueSection,
)
from daemon.wiring import build_graph
from messages import GetPositions, GetStats, InstrumentId, Side, Venue
from simulator.market import DislocationKind
from simulator.runner import start_twins
from venues import Credentials

BTC = InstrumentId("BTC-USDT-PERP")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_cross_arb_trades_a_twin_dislocation_and_ends_flat_within_its_limits(tmp_path: Path) -> None:
    cfg = Config(
        daemon=DaemonSection(journal=str(tmp_path / "j.sqlite"), metrics=""),
        venues={
            "binance": VenueSection(instruments=[str(BTC)], priority=1, taker_fee_bps=2.0),
            "bybit": VenueSection(instruments=[str(BTC)], priority=2, taker_fee_bps=2.0),
        },
        groups=[GroupSection(name="BTC-PERP", members=["binance:BTC-USDT-PERP", "bybit:BTC-USDT-PERP"])],
        aggregator=AggregatorSection(threshold_bps=5.0),
        health=HealthSection(probe_interval_s=1.0),
        strategies=[StrategySection(name="arb", path="actors.strategies.cross_arb:CrossArb",
                                    settings={"min_net_bps": 5.0, "max_qty_base": 0.01,
                                              "default_max_position_base": 0.02, "cooldown_s": 0.2})],
    )
    bus = Bus()
    async with start_twins(["binance", "bybit"], symbols=["BTC"], rate=25, seed=7) as twins:
        endpoints = {Venue(v): Endpoints(rest=rt.rest, ws=dict(rt.ws)) for v, rt in twins.running.items()}
        creds = {Venue(v): Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret)
                 for v, rt in twins.running.items()}
        graph = build_graph(cfg, bus, LiveClock(), random.Random(1), endpoints=endpoints, credentials=creds)
        sup = graph.supervisor
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await anyio.sleep(2.0)  # books live, first Failover, aggregator running
            arb = sup.child("strategy.arb").ref
            assert arb is not None
            assert (await arb.ask(GetStats())).attempts == 0
            # Bybit jumps 40 bps above the others for a while: buy on binance, sell on bybit.
            twins.model.dislocate("bybit", "BTC", DislocationKind.JUMP, steps=40, offset=0.004)
            with anyio.fail_after(20):
                while (await arb.ask(GetStats())).completed < 1:
                    await anyio.sleep(0.1)
            await anyio.sleep(1.0)
            stats = await arb.ask(GetStats())
            positions = {}
            for venue in (Venue.BINANCE, Venue.BYBIT):
                ref = sup.child(f"exchange.{venue.value}").ref
                assert ref is not None
                for p in await ref.ask(GetPositions(venue=venue)):
                    positions[venue] = p.size if p.side is Side.BUY else -p.size
            await sup.stop()
            tg.cancel_scope.cancel()
    bus.close()
    assert stats.completed >= 1 and stats.unhedged == 0
    long_b, short_y = positions.get(Venue.BINANCE, Decimal(0)), positions.get(Venue.BYBIT, Decimal(0))
    assert long_b > 0 and short_y < 0, positions  # bought the cheap venue, sold the rich one
    assert long_b + short_y == 0  # flat across venues (same base quantity both legs)
    assert abs(long_b) <= Decimal("0.02") and abs(short_y) <= Decimal("0.02")  # within its position limits
    assert graph.journal is not None
    graph.journal.close()
