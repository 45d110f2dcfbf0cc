from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.bus import Bus
from actors.circuit import CircuitConfig
from actors.clock import LiveClock, ManualClock
from actors.health import HealthConfig, HealthMonitor, Probe
from actors.selection import SelectionConfig, VenueSelector
from messages import (
    ActorFailed,
    ActorGaveUp,
    ActorStarted,
    CircuitChanged,
    CircuitState,
    Failover,
    HealthStatus,
    RateLimited,
    SignalKind,
    Venue,
    VenueHealth,
    VenueSignal,
)

B, O, Y = Venue.BINANCE, Venue.OKX, Venue.BYBIT  # noqa: E741
pytestmark = pytest.mark.anyio


class Tape:
    """A bus subscriber that records everything, with the perf_counter time it arrived."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.at_ns: list[int] = []

    def deliver(self, topic: str, item: Any) -> None:
        self.at_ns.append(time.perf_counter_ns())
        self.items.append(item)

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.items if isinstance(m, cls)]

    def clear(self) -> None:
        self.items.clear()
        self.at_ns.clear()


def _sig(venue: Venue, kind: SignalKind, value: float = 0.0, detail: str = "", ts: int = 1) -> VenueSignal:
    return VenueSignal(venue=venue, kind=kind, value=value, detail=detail, ts=ts)


def _monitor(
    clock: Any, *, venues: list[Venue] | None = None, probes: dict[Venue, list[Probe]] | None = None,
    selection: SelectionConfig | None = None, **cfg: Any
) -> tuple[HealthMonitor, Tape, Bus]:
    bus = Bus()
    tape = Tape()
    bus.subscribe(">", tape)
    vs = venues or [B, O, Y]
    if isinstance(cfg.get("circuit"), dict):
        cfg["circuit"] = CircuitConfig(**cfg["circuit"])
    config = HealthConfig(venues=vs, **cfg)
    sel = [VenueSelector(selection or SelectionConfig(venues=vs, hold_s=5.0))]
    mon = HealthMonitor(config, bus=bus, clock=clock, rng=random.Random(1), probes=probes, selectors=sel)
    return mon, tape, bus


@pytest.fixture
async def running(manual_clock: ManualClock) -> AsyncIterator[Callable[..., Any]]:
    """Start monitors in a task group that the test owns; they are stopped at the end."""
    async with anyio.create_task_group() as tg:
        started: list[HealthMonitor] = []

        async def start(**kw: Any) -> tuple[HealthMonitor, Tape, Bus]:
            mon, tape, bus = _monitor(manual_clock, **kw)
            await tg.start(mon.run)
            await manual_clock.settle()
            started.append(mon)
            return mon, tape, bus

        yield start
        for mon in started:
            await mon.stop(timeout=1.0)


async def test_first_selection_is_one_failover_to_the_highest_priority_venue(running: Any) -> None:
    mon, tape, _ = await running()
    assert tape.of(Failover) == [mon.failovers[0]] and len(mon.failovers) == 1
    fo = mon.failovers[0]
    assert (fo.from_venue, fo.to_venue) == (None, B) and "no active venue" in fo.cause
    assert mon.active() is B


async def test_ws_closed_on_the_active_venue_fails_over_inside_the_same_handle_call(manual_clock: ManualClock) -> None:
    mon, tape, _ = _monitor(manual_clock)
    mon._refresh(cause="start", detected_ns=None)
    tape.clear()
    await mon.handle(_sig(B, SignalKind.WS_CLOSED, detail="public: 1006", ts=123))
    # No settle, no time passing: everything is already on the bus.
    assert [type(m) for m in tape.items] == [CircuitChanged, VenueHealth, Failover]
    cc, vh, fo = tape.items
    assert (cc.venue, cc.previous, cc.current) == (B, CircuitState.CLOSED, CircuitState.OPEN)
    assert "ws_closed" in cc.reason and "1006" in cc.reason
    assert (vh.venue, vh.status) == (B, HealthStatus.DOWN)
    assert (fo.from_venue, fo.to_venue, fo.ts_detected) == (B, O, 123) and fo.ts_switched == manual_clock.time_ns()
    assert "binance ineligible" in fo.cause and "1006" in fo.cause
    # A second close of the same socket changes nothing and publishes nothing new.
    await mon.handle(_sig(B, SignalKind.WS_CLOSED, detail="private: 1006"))
    assert len(tape.of(Failover)) == 1 and len(tape.of(CircuitChanged)) == 1
    await mon.stop()


async def test_hard_drop_reaches_failover_subscribers_within_a_millisecond_on_a_real_clock() -> None:
    direct: list[int] = []
    via_bus: list[int] = []
    for _ in range(200):
        mon, tape, _ = _monitor(LiveClock())
        mon._refresh(cause="start", detected_ns=None)
        tape.clear()
        t0 = time.perf_counter_ns()
        await mon.handle(_sig(B, SignalKind.WS_CLOSED, detail="reset"))
        assert isinstance(tape.items[-1], Failover)
        direct.append(tape.at_ns[-1] - t0)
        await mon.stop()
    # End to end: an exchange actor publishes on the bus, the running monitor takes it from its mailbox.
    async with anyio.create_task_group() as tg:
        mon, tape, bus = _monitor(LiveClock(), probe_interval_s=3600.0, publish_interval_s=3600.0)
        await tg.start(mon.run)
        for n in range(200):
            venue = [B, O][n % 2]
            tape.clear()
            t0 = time.perf_counter_ns()
            bus.publish_msg(_sig(venue, SignalKind.WS_CLOSED, detail="reset"))
            while not tape.of(Failover):
                await anyio.lowlevel.checkpoint()
            via_bus.append(tape.at_ns[tape.items.index(tape.of(Failover)[0])] - t0)
            # reset the venue so the next round is a drop again
            tr = mon.trackers[venue]
            tr.ws_closed_since, tr.ws_hard_down = None, False
            tr.breaker.state, tr.breaker.open_until = CircuitState.CLOSED, None
            mon._refresh(cause="reset", detected_ns=None)
        await mon.stop()
    direct.sort()
    via_bus.sort()
    report = (f"signal->Failover direct handle p50 {direct[100] / 1000:.1f} us p99 {direct[197] / 1000:.1f} us; "
              f"via bus+mailbox p50 {via_bus[100] / 1000:.1f} us p99 {via_bus[197] / 1000:.1f} us")
    print(report)
    assert direct[100] < 1_000_000 and via_bus[100] < 1_000_000, report


async def test_actor_gave_up_marks_the_venue_down_and_fails_over_until_it_starts_again(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, bus = await running(circuit={"cooldown_base_s": 2.0, "jitter": 0.0})
    tape.clear()
    bus.publish_msg(ActorGaveUp(name="binance-md", restarts=6, window_s=60.0, ts=55, venue=B))
    bus.publish_msg(ActorGaveUp(name="someone-else", restarts=6, window_s=60.0, ts=56))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DOWN and mon.active() is O
    [fo] = tape.of(Failover)
    assert (fo.from_venue, fo.to_venue, fo.ts_detected) == (B, O, 55) and "gave up on binance-md" in fo.cause
    await manual_clock.advance_and_settle(3.0)  # cool-down over: half-open, but the actor is still gone
    assert mon.status(B) is HealthStatus.DOWN
    bus.publish_msg(ActorStarted(name="binance-md", ts=99, venue=B))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DEGRADED  # half-open until a probe says otherwise
    assert len(tape.of(Failover)) == 1


async def test_consecutive_rest_errors_open_the_breaker_at_the_threshold(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, bus = await running(circuit={"failure_threshold": 3})
    tape.clear()
    for kind in (SignalKind.REST_ERROR, SignalKind.REST_TIMEOUT):
        bus.publish_msg(_sig(B, kind, detail="503"))
    await manual_clock.settle()
    assert tape.of(CircuitChanged) == [] and mon.trackers[B].breaker.failures == 2
    bus.publish_msg(_sig(B, SignalKind.DATA_GAP, value=900.0, detail="books idle"))
    await manual_clock.settle()
    [cc] = tape.of(CircuitChanged)
    assert cc.current is CircuitState.OPEN and "3 consecutive failures" in cc.reason
    [fo] = tape.of(Failover)
    assert (fo.from_venue, fo.to_venue) == (B, O)


async def test_high_latency_p50_degrades_and_an_ok_venue_takes_over_after_the_hold(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, bus = await running()
    tape.clear()
    for ms in (700.0, 800.0, 650.0):
        bus.publish_msg(_sig(B, SignalKind.LATENCY, value=ms))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DEGRADED and "p50 700.0 ms" in mon.trackers[B].reason
    [vh] = [m for m in tape.of(VenueHealth) if m.venue is B]
    assert vh.status is HealthStatus.DEGRADED and vh.latency_p50_us == 700_000.0 and vh.latency_p99_us == 800_000.0
    assert tape.of(Failover) == []
    await manual_clock.advance_and_settle(4.9)
    assert tape.of(Failover) == []
    await manual_clock.advance_and_settle(0.2)  # the timer wakes at the end of the hold, no signal needed
    [fo] = tape.of(Failover)
    assert (fo.from_venue, fo.to_venue) == (B, O) and "better than binance" in fo.cause
    assert fo.ts_switched - fo.ts_detected == pytest.approx(5_000_000_000, abs=100_000_000)


async def test_rising_error_rate_degrades_without_opening_the_breaker(running: Any, manual_clock: ManualClock) -> None:
    mon, _, bus = await running()
    for n in range(8):
        ok = n % 3 != 0  # every third call fails: 3 of 8 = 37 %
        bus.publish_msg(_sig(O, SignalKind.REST_OK if ok else SignalKind.REST_ERROR, value=20.0))
    await manual_clock.settle()
    assert mon.status(O) is HealthStatus.DEGRADED and "error rate" in mon.trackers[O].reason
    assert mon.trackers[O].breaker.state is CircuitState.CLOSED
    await manual_clock.advance_and_settle(31.0)  # the window slides past them
    assert mon.status(O) is HealthStatus.OK


async def test_alternating_latency_between_equal_priority_venues_never_flaps(running: Any, manual_clock: ManualClock) -> None:
    sel = SelectionConfig(venues=[B, O], priority={B: 0, O: 0}, hold_s=5.0, latency_margin=0.2)
    mon, tape, bus = await running(venues=[B, O], selection=sel, window_s=2.0)
    tape.clear()
    for n in range(60):  # every second the other venue looks 3x faster
        fast, slow = (B, O) if n % 2 else (O, B)
        bus.publish_msg(_sig(fast, SignalKind.LATENCY, value=10.0))
        bus.publish_msg(_sig(slow, SignalKind.LATENCY, value=30.0))
        await manual_clock.advance_and_settle(1.0)
    assert tape.of(Failover) == []


async def test_probes_run_on_schedule_and_feed_latency(running: Any, manual_clock: ManualClock) -> None:
    calls: list[float] = []

    async def probe() -> float:
        calls.append(manual_clock.monotonic())
        return 12.0

    mon, _, _ = await running(probes={O: [probe]}, probe_interval_s=5.0)
    for _ in range(3):
        await manual_clock.advance_and_settle(5.0)
    assert calls == [0.0, 5.0, 10.0, 15.0]
    assert [s for _, s in mon.trackers[O].latencies] == [12.0] * 4


async def test_errors_of_an_outage_do_not_hold_a_recovered_venue_degraded(running: Any, manual_clock: ManualClock) -> None:
    """The REST errors seen while the breaker was open (reconnects during an outage) already opened it; once a
    half-open probe closes it, they must not keep the venue DEGRADED by error rate and block the failback."""
    mode = {"ok": False}

    async def probe() -> float:
        if not mode["ok"]:
            raise ConnectionError("refused")
        return 5.0

    mon, tape, bus = await running(probes={B: [probe]}, probe_interval_s=1.0,
                                   circuit={"failure_threshold": 5, "cooldown_base_s": 2.0, "jitter": 0.0})
    bus.publish_msg(_sig(B, SignalKind.WS_CLOSED, detail="dropped"))
    for _ in range(20):  # the actor retrying while the venue is gone
        bus.publish_msg(_sig(B, SignalKind.REST_ERROR, detail="refused"))
    await manual_clock.settle()
    assert mon.trackers[B].breaker.state is CircuitState.OPEN and mon.active() is O
    mode["ok"] = True
    bus.publish_msg(_sig(B, SignalKind.WS_OPEN))
    await manual_clock.advance_and_settle(2.0)  # cool-down elapsed -> half-open -> probe ok -> closed
    assert mon.trackers[B].breaker.state is CircuitState.CLOSED
    assert mon.status(B) is HealthStatus.OK, mon.trackers[B].reason
    await manual_clock.advance_and_settle(5.0)  # the hold
    # B never answered before it failed: the first choice was O (only a venue that answered is chosen); back
    # to B, the preferred venue, once it is healthy and the hold has passed.
    assert [(f.from_venue, f.to_venue) for f in tape.of(Failover)] == [(None, O), (O, B)]


async def test_a_stalled_feed_behind_a_healthy_api_fails_over_once_and_back_once_when_data_flows(
    running: Any, manual_clock: ManualClock
) -> None:
    """DATA_GAP every second while REST calls and probes keep succeeding: the successes reset the breaker's
    failure count and keep the error rate under the threshold, so only the stall itself can hold the venue
    DEGRADED. It does, until DATA_OK; then the venue is preferred again after the hold. No flapping between."""

    async def probe() -> float:
        return 5.0

    mon, tape, bus = await running(probes={B: [probe]}, probe_interval_s=1.0, circuit={"failure_threshold": 3})
    tape.clear()
    for n in range(30):
        bus.publish_msg(_sig(B, SignalKind.DATA_GAP, value=1000.0, detail="no data on public", ts=n + 1) if n % 5 == 0
                        else _sig(B, SignalKind.REST_OK, value=20.0))
        if n == 0:
            gap = tape.of(VenueSignal)[-1]
        await manual_clock.advance_and_settle(1.0)
        if n == 0:
            assert mon.status(B) is HealthStatus.DEGRADED and "market data stalled" in mon.trackers[B].reason
    assert mon.trackers[B].breaker.state is CircuitState.CLOSED  # the stall alone never tripped it
    assert mon.status(B) is HealthStatus.DEGRADED and mon.active() is O
    assert [(f.from_venue, f.to_venue) for f in tape.of(Failover)] == [(B, O)]
    assert gap.kind is SignalKind.DATA_GAP
    bus.publish_msg(VenueSignal(venue=B, kind=SignalKind.DATA_OK, value=29_000.0, detail="data flows", ts=40,
                                stream="other"))  # another stream's recovery does not end this stall
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DEGRADED
    bus.publish_msg(VenueSignal(venue=B, kind=SignalKind.DATA_OK, value=29_000.0, detail="data flows", ts=41))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.OK, mon.trackers[B].reason
    for _ in range(20):
        bus.publish_msg(_sig(B, SignalKind.REST_OK, value=20.0))
        await manual_clock.advance_and_settle(1.0)
    assert [(f.from_venue, f.to_venue) for f in tape.of(Failover)] == [(B, O), (O, B)]


async def test_a_restarted_exchange_actor_starts_without_its_predecessors_stall(running: Any, manual_clock: ManualClock) -> None:
    mon, _, bus = await running()
    bus.publish_msg(VenueSignal(venue=B, kind=SignalKind.DATA_GAP, value=900.0, detail="idle", ts=1, stream="public"))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DEGRADED
    bus.publish_msg(ActorStarted(name="binance", venue=B, ts=2))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.OK and mon.trackers[B].stalled == {}


async def test_failing_and_hung_probes_count_as_failures_and_a_half_open_probe_closes_the_breaker(
    running: Any, manual_clock: ManualClock
) -> None:
    mode = {"v": "fail"}

    async def probe() -> float:
        if mode["v"] == "fail":
            raise ConnectionError("refused")
        if mode["v"] == "hang":
            await manual_clock.sleep(999.0)
        return 15.0

    mon, tape, _ = await running(probes={B: [probe]}, probe_interval_s=1.0, probe_timeout_s=0.5,
                                 circuit={"failure_threshold": 2, "cooldown_base_s": 3.0, "jitter": 0.0})
    assert mon.trackers[B].breaker.failures == 1  # the probe at start failed
    mode["v"] = "hang"
    await manual_clock.advance_and_settle(1.0)
    await manual_clock.advance_and_settle(0.5)  # timed out on the injected clock
    assert mon.trackers[B].breaker.state is CircuitState.OPEN and mon.active() is O
    mode["v"] = "ok"
    await manual_clock.advance_and_settle(3.0)  # cool-down elapsed -> half-open -> probe at once -> closed
    states = [(c.previous, c.current) for c in tape.of(CircuitChanged) if c.venue is B]
    assert states[-2:] == [(CircuitState.OPEN, CircuitState.HALF_OPEN), (CircuitState.HALF_OPEN, CircuitState.CLOSED)]
    assert mon.status(B) is HealthStatus.OK and mon.active() is O
    await manual_clock.advance_and_settle(5.0)  # back to the preferred venue after the hold
    assert mon.active() is B
    # B never answered before it failed: the first choice was O (only a venue that answered is chosen); back
    # to B, the preferred venue, once it is healthy and the hold has passed.
    assert [(f.from_venue, f.to_venue) for f in tape.of(Failover)] == [(None, O), (O, B)]


async def test_venue_health_is_published_on_change_and_every_interval(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, _ = await running(publish_interval_s=1.0)
    tape.clear()
    await manual_clock.advance_and_settle(1.0)
    await manual_clock.advance_and_settle(1.0)
    assert [m.venue for m in tape.of(VenueHealth)] == [B, O, Y, B, O, Y]


async def test_ws_close_within_grace_only_degrades_and_beyond_grace_fails_over(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, bus = await running(ws_grace_s=1.0)
    tape.clear()
    bus.publish_msg(_sig(B, SignalKind.WS_CLOSED))
    await manual_clock.settle()
    await manual_clock.advance_and_settle(0.5)
    assert mon.status(B) is HealthStatus.DEGRADED and tape.of(Failover) == []
    bus.publish_msg(_sig(B, SignalKind.WS_OPEN))
    await manual_clock.settle()
    await manual_clock.advance_and_settle(1.0)
    assert mon.status(B) is HealthStatus.OK and tape.of(Failover) == [] and tape.of(CircuitChanged) == []
    bus.publish_msg(_sig(B, SignalKind.WS_CLOSED))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DEGRADED
    await manual_clock.advance_and_settle(1.0)  # the timer fires at the grace deadline
    assert mon.status(B) is HealthStatus.DOWN
    [fo] = tape.of(Failover)
    assert (fo.from_venue, fo.to_venue) == (B, O)


async def test_ip_ban_is_down_until_it_ends(running: Any, manual_clock: ManualClock) -> None:
    mon, tape, bus = await running()
    tape.clear()
    bus.publish_msg(RateLimited(venue=B, code="418", banned=True, until_ns=manual_clock.time_ns() + 120 * 10**9, ts=5))
    bus.publish_msg(_sig(B, SignalKind.RATE_LIMIT_BAN, value=120.0, detail="418"))  # the same ban, also as a signal
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DOWN and len(tape.of(Failover)) == 1
    assert "banned for" in mon.trackers[B].reason


# -- hysteresis property, driven synchronously (the timer's work is done by calling _on_time) --------

_KINDS = [SignalKind.WS_CLOSED, SignalKind.WS_OPEN, SignalKind.REST_ERROR, SignalKind.REST_OK,
          SignalKind.LATENCY, SignalKind.DATA_GAP, SignalKind.RATE_LIMIT_BAN]
_STEP = st.one_of(
    st.tuples(st.just("sig"), st.sampled_from([B, O, Y]), st.sampled_from(_KINDS), st.sampled_from([5.0, 50.0, 900.0])),
    st.tuples(st.just("wait"), st.just(B), st.just(SignalKind.LATENCY), st.sampled_from([0.1, 1.0, 4.0, 7.0])),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_STEP, max_size=80), equal_priority=st.booleans())
def test_random_signals_never_switch_twice_within_the_hold_unless_the_active_venue_went_down(
    steps: list[tuple[str, Venue, SignalKind, float]], equal_priority: bool
) -> None:
    clock = ManualClock()
    prio = {B: 0, O: 0, Y: 0} if equal_priority else {}
    sel = SelectionConfig(venues=[B, O, Y], priority=prio, hold_s=5.0)
    mon, tape, _ = _monitor(clock, selection=sel, circuit={"failure_threshold": 2, "cooldown_base_s": 3.0})
    mon._refresh(cause="start", detected_ns=None)
    last_switch = -1e9
    seen = len(mon.failovers)
    for op, venue, kind, x in steps:
        if op == "wait":
            clock.advance(x)
            mon._on_time(clock.monotonic())
        else:
            value = x if kind is not SignalKind.RATE_LIMIT_BAN else 2.0
            mon.on_signal(_sig(venue, kind, value=value))
        new = mon.failovers[seen:]
        assert len(new) <= 1  # one change, one Failover
        for fo in new:
            now = clock.monotonic()
            tr = mon.trackers.get(fo.from_venue) if fo.from_venue is not None else None
            forced = tr is None or tr.status is HealthStatus.DOWN or tr.breaker.state is CircuitState.OPEN
            if not forced:
                assert now - last_switch >= 5.0 - 1e-9, (fo, now, last_switch)
            last_switch = now
        seen = len(mon.failovers)
        assert len(tape.of(Failover)) == len(mon.failovers)
    anyio.run(mon.stop)


# -- the first choice, and venues whose actor is down --------------------------------------------------
async def test_no_venue_is_chosen_while_none_has_answered(running: Any, manual_clock: ManualClock) -> None:
    async def refused() -> float:
        raise ConnectionError("name or service not known")

    mon, tape, _ = await running(probes={v: [refused] for v in (B, O, Y)}, probe_interval_s=1.0)
    for _ in range(5):
        await manual_clock.advance_and_settle(1.0)
    assert mon.active() is None and tape.of(Failover) == []  # "no active venue", never a failover to a dead one
    assert all(not tr.reached for tr in mon.trackers.values())


async def test_the_first_choice_waits_for_every_venues_first_probe_not_the_quickest(
    running: Any, manual_clock: ManualClock
) -> None:
    async def slow() -> float:  # the preferred venue answers, just later than the others
        await manual_clock.sleep(0.3)
        return 300.0

    async def quick() -> float:
        return 5.0

    mon, tape, _ = await running(probes={B: [slow], O: [quick], Y: [quick]}, probe_timeout_s=1.0)
    assert tape.of(Failover) == []  # O and Y answered; B is still being asked
    await manual_clock.advance_and_settle(0.3)
    assert [(f.from_venue, f.to_venue) for f in tape.of(Failover)] == [(None, B)]


async def test_a_failed_exchange_actor_takes_its_venue_down_until_it_runs_again(
    running: Any, manual_clock: ManualClock
) -> None:
    mon, tape, bus = await running()
    assert mon.active() is B
    bus.publish_msg(ActorFailed(name="exchange.binance", error_type="VenueUnavailable", error="DNS: no such host",
                                ts=5, venue=B))
    await manual_clock.settle()
    assert mon.status(B) is HealthStatus.DOWN and "DNS: no such host" in mon.trackers[B].reason
    assert mon.active() is O
    bus.publish_msg(ActorStarted(name="exchange.binance", ts=6, venue=B))
    await manual_clock.settle()
    assert mon.trackers[B].not_running == {}
