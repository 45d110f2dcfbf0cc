"""Binance dead-man's switch end to end: a real twin, a real ExchangeActor, a real bus.

The switch is ``POST /fapi/v1/countdownCancelAll`` per traded symbol, sent at start and again every third of
the window; orders go out only while it is armed and their symbol's countdown is confirmed; when the actor
dies the twin cancels the resting orders of every symbol it kept a countdown for, and of no other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from messages import (
    ClientOrderId,
    DeadMansSwitch,
    InstrumentId,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    Side,
    SubscribeMarketData,
    SwitchState,
    Venue,
)
from simulator.binance import BinanceTwin
from simulator.binance_countdown import Countdowns
from simulator.book import Side as TwinSide
from simulator.matching import OrderRequest, OrderType
from simulator.runner import RunningTwin, Twins, start_twins
from tests.actors.exchanges.conftest import Recorder, endpoints, wait_for
from venues import Credentials
from venues.errors import ConfigError, SwitchNotArmed
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")
SOL = InstrumentId("SOL-USDT-PERP")
WINDOW_S = 2.0  # the shortest the adapter takes: refreshed every 0.67 s, so a test sees several rounds
UNKNOWN_ERROR = (-1000, "An unknown error occured while processing the request.", 500)
NO_PERMISSION = (-2015, "Invalid API-key, IP, or permissions for action.", 401)


def _actor(twins: Twins, bus: Bus, instruments: list[InstrumentId], window_s: float = WINDOW_S) -> ExchangeActor:
    rt = twins["binance"]
    creds = rt.twin.credentials
    adapter = BinanceAdapter(InstrumentRegistry(), endpoints(rt), dead_mans_switch_s=window_s)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[str(i) for i in instruments], depth_levels=0),
                         bus=bus, credentials=Credentials(creds.api_key, creds.secret))


def _twin(rt: RunningTwin) -> BinanceTwin:
    assert isinstance(rt.twin, BinanceTwin)
    return rt.twin


def _countdowns(rt: RunningTwin) -> Countdowns:
    return _twin(rt).countdowns


def _states(rec: Recorder) -> list[SwitchState]:
    return [m.state for m in rec.of(DeadMansSwitch)]


def _resting(rt: RunningTwin, inst: InstrumentId, cid: str) -> PlaceOrder:
    """A buy 10% under the twin's best bid: it rests."""
    symbol = inst.split("-")[0] + "USDT"
    book = rt.twin.book_json(symbol, 1)
    assert book is not None
    price = Decimal(int(Decimal(book["bids"][0][0]) * Decimal("0.9")))
    qty = Decimal("1") if inst == SOL else Decimal("0.010")
    return PlaceOrder(venue=Venue.BINANCE, instrument=inst, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=qty, price=price)


def _open(rt: RunningTwin, symbol: str) -> list[str]:
    return sorted(o.client_id for o in _twin(rt).engine.open_orders(symbol))


@pytest.mark.anyio
async def test_the_switch_arms_at_start_and_every_countdown_is_sent_again_as_a_heartbeat(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.binance")
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0) as twins:
        rt = twins["binance"]
        countdowns = _countdowns(rt)
        actor = _actor(twins, bus, [BTC, ETH])
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: SwitchState.ARMED in _states(rec), what="switch armed")
            (armed,) = rec.of(DeadMansSwitch)
            assert (armed.venue, armed.window_s) == (Venue.BINANCE, WINDOW_S)
            assert "2000 ms on BTCUSDT, ETHUSDT" in armed.detail
            assert {s: c.countdown_ms for s, c in countdowns.running.items()} == {"BTCUSDT": 2000, "ETHUSDT": 2000}
            first = {s: c.deadline_ms for s, c in countdowns.running.items()}
            sets = dict(countdowns.sets)
            await wait_for(lambda: all(countdowns.sets[s] >= sets[s] + 2 for s in first), what="two heartbeats")
            assert all(countdowns.running[s].deadline_ms > first[s] for s in first)  # moved forward
            assert countdowns.fired == []
            stats = actor.stats()
            assert stats.switch == "armed" and stats.switch_window_s == WINDOW_S
            assert _states(rec) == [SwitchState.ARMED]  # no flapping while the heartbeats keep coming
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_refused_countdown_refuses_the_switch_with_the_venues_code_and_no_order_leaves(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.binance")
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        rt = twins["binance"]
        _countdowns(rt).refusal = NO_PERMISSION
        actor = _actor(twins, bus, [BTC])
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: SwitchState.REFUSED in _states(rec), what="switch refused")
            (refused,) = rec.of(DeadMansSwitch)
            assert refused.detail.startswith("BTCUSDT: ") and "-2015" in refused.detail
            with pytest.raises(SwitchNotArmed, match="refused"):
                await ref.ask(_resting(rt, BTC, "dms-refused-1"))
            assert rt.twin.received.count("dms-refused-1") == 0
            assert actor.stats().switch == "refused"
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_placements_wait_for_the_switch_and_go_out_once_the_venue_confirms_it(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.binance")
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins:
        rt = twins["binance"]
        countdowns = _countdowns(rt)
        countdowns.refusal = UNKNOWN_ERROR  # a transient failure: the switch is not armed, never refused
        actor = _actor(twins, bus, [BTC])
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            assert actor.session.switch is not None and actor.session.switch.state in (SwitchState.ARMING,
                                                                                         SwitchState.FAILING)
            with pytest.raises(SwitchNotArmed, match="dms-early-1 not sent"):
                await ref.ask(_resting(rt, BTC, "dms-early-1"))
            await wait_for(lambda: SwitchState.FAILING in _states(rec), what="switch failing")
            with pytest.raises(SwitchNotArmed, match="failing"):
                await ref.ask(_resting(rt, BTC, "dms-early-2"))
            assert rt.twin.received.count("dms-early-1") == rt.twin.received.count("dms-early-2") == 0
            countdowns.refusal = None  # the venue answers again: the next heartbeat arms the switch
            await wait_for(lambda: SwitchState.ARMED in _states(rec), what="switch armed")
            assert _states(rec) == [SwitchState.FAILING, SwitchState.ARMED]
            ack = await ref.ask(_resting(rt, BTC, "dms-late-1"))
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            assert rt.twin.received.count("dms-late-1") == 1
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_symbol_subscribed_later_gets_its_countdown_and_only_then_takes_orders(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.binance")
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0) as twins:
        rt = twins["binance"]
        countdowns = _countdowns(rt)
        actor = _actor(twins, bus, [BTC])
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: SwitchState.ARMED in _states(rec), what="switch armed")
            with pytest.raises(SwitchNotArmed, match="no countdown confirmed for ETHUSDT"):
                await ref.ask(_resting(rt, ETH, "dms-eth-early"))
            assert rt.twin.received.count("dms-eth-early") == 0 and "ETHUSDT" not in countdowns.running
            await ref.ask(SubscribeMarketData(venue=Venue.BINANCE, instrument=ETH))
            await wait_for(lambda: actor.session.switch is not None and "ETHUSDT" in actor.session.switch.ok,
                           what="ETHUSDT countdown confirmed")
            assert countdowns.running["ETHUSDT"].countdown_ms == 2000
            ack = await ref.ask(_resting(rt, ETH, "dms-eth-late"))
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            assert _states(rec) == [SwitchState.ARMED]
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_when_the_actor_dies_the_twin_cancels_the_resting_orders_of_each_traded_symbol_and_no_other(
    bus: Bus,
) -> None:
    rec = Recorder(bus, "venue.switch.binance")
    async with start_twins(["binance"], symbols=["BTC", "ETH", "SOL"], rate=0) as twins:
        rt = twins["binance"]
        countdowns = _countdowns(rt)
        actor = _actor(twins, bus, [BTC, ETH])
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: SwitchState.ARMED in _states(rec), what="switch armed")
            for inst, cid in ((BTC, "dms-btc-1"), (BTC, "dms-btc-2"), (ETH, "dms-eth-1")):
                ack: Any = await ref.ask(_resting(rt, inst, cid))
                assert ack.status is OrderStatus.SUBMITTED
            with pytest.raises(SwitchNotArmed, match="SOLUSDT"):  # untraded: no countdown, no order
                await ref.ask(_resting(rt, SOL, "dms-sol-refused"))
            tg.cancel_scope.cancel()  # the actor dies: no heartbeat any more
        # An order of ours on a symbol without a countdown (placed some other way) must survive.
        twin = _twin(rt)
        sol_price = _resting(rt, SOL, "x").price
        twin.engine.place(OrderRequest("SOLUSDT", TwinSide.BUY, OrderType.LIMIT, Decimal("1"), "dms-sol-1", sol_price),
                          twin.now_ms())
        await wait_for(lambda: len(countdowns.fired) == 2, what="both countdowns ran out")
        assert {f.symbol: sorted(f.cancelled) for f in countdowns.fired} == {
            "BTCUSDT": ["dms-btc-1", "dms-btc-2"], "ETHUSDT": ["dms-eth-1"]}
        assert _open(rt, "BTCUSDT") == [] and _open(rt, "ETHUSDT") == [] and _open(rt, "SOLUSDT") == ["dms-sol-1"]
        assert countdowns.running == {}
        assert rt.twin.received.count("dms-sol-refused") == 0


@pytest.mark.parametrize("window_s", [0.5, 1.999, -1.0, 86_400.5, float("nan"), float("inf")])
def test_the_adapter_refuses_a_window_outside_two_seconds_to_a_day(window_s: float) -> None:
    with pytest.raises(ConfigError, match=r"expected 0 \(off\) or 2\.\.86400 s for the binance dead_mans_switch_s"):
        BinanceAdapter(InstrumentRegistry(), dead_mans_switch_s=window_s)


@pytest.mark.parametrize("window_s", [0.0, 2.0, 120.0, 86_400.0])
def test_the_adapter_takes_off_or_a_window_from_two_seconds_to_a_day(window_s: float) -> None:
    adapter = BinanceAdapter(InstrumentRegistry(), dead_mans_switch_s=window_s)
    with_key = adapter.session(Credentials("k", "s"), lambda: "n")
    assert (with_key.switch is None) == (window_s == 0.0)
    if with_key.switch is not None:
        assert (with_key.switch.window_s, with_key.switch.refresh_s) == (window_s, window_s / 3)
    assert adapter.session(None, lambda: "n").switch is None  # market data only: nothing to protect
