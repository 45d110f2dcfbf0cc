"""End to end on the twins: a fault injected on the ACTIVE venue moves its breaker and the active venue as
specified (issue #6), with one Failover per change, and a hard drop produces the Failover within ms.

Whole system (``build_graph``: exchange actors, router, health monitor, aggregator under one supervisor) on
three venue twins (binance priority 1, bybit 2, okx 3), with fast health settings. One graph per fault kind:
the breaker's cool-down grows with repeated opens in a row, so a fresh graph keeps each case independent.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from actors import topics
from actors.bus import Bus
from actors.clock import LiveClock
from actors.exchanges.adapter import Endpoints
from actors.exchanges.base import ExchangeActor
from daemon.config import AggregatorSection, Config, DaemonSection, GroupSection, HealthSection, VenueSection
from daemon.wiring import build_graph
from messages import CircuitChanged, CircuitState, Failover, HealthStatus, Venue, VenueHealth
from simulator.runner import Twins, start_twins
from venues import Credentials

VENUES = [Venue.BINANCE, Venue.BYBIT, Venue.OKX]  # priority 1, 2, 3
BTC = "BTC-USDT-PERP"
RATE = 25.0  # twin model steps per second: update interval 40 ms
FAULT_S = 2.0
DROP_BOUND_MS = 50.0  # injection -> Failover for an abrupt drop (measured ~1 ms when the machine is quiet)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def config(journal: str) -> Config:
    venues = {v.value: VenueSection(instruments=[BTC], priority=i + 1, stale_after_s=2.5 / RATE)
              for i, v in enumerate(VENUES)}
    return Config(
        daemon=DaemonSection(journal=journal, metrics=""),
        venues=venues,
        groups=[GroupSection(name="BTC-PERP", members=[f"{v.value}:{BTC}" for v in VENUES])],
        aggregator=AggregatorSection(threshold_bps=10.0),
        health=HealthSection(probe_interval_s=0.25, hold_s=0.5, breaker_cooldown_s=0.5),
    )


class Recorder:
    """A plain bus target: keeps Failover, CircuitChanged and VenueHealth with the wall-clock ns they were
    published at (stamped synchronously in the publisher's call)."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[tuple[int, Any]] = []
        for pattern in (topics.failover(), topics.circuit("*"), topics.venue_health("*")):
            bus.subscribe(pattern, self, name="test.failover")

    def deliver(self, topic: str, msg: Any) -> None:
        self.events.append((time.time_ns(), msg))

    def since(self, t0: int, kind: type) -> list[tuple[int, Any]]:
        return [(t, m) for t, m in self.events if t >= t0 and isinstance(m, kind)]

    async def wait(self, pred: Any, since_ns: int, timeout: float) -> tuple[int, Any] | None:
        with anyio.move_on_after(timeout):
            while True:
                for t, m in self.events:
                    if t >= since_ns and pred(m):
                        return t, m
                await anyio.sleep(0.005)
        return None


def inject(twins: Twins, venue: Venue, fault: str) -> None:
    f = twins[venue.value].twin.faults
    if fault == "drop":
        f.inject("refuse_connections", FAULT_S)
        f.inject("drop_ws")
    elif fault == "stall":
        f.inject("stall", FAULT_S)
    elif fault == "http_5xx":
        f.inject("http_5xx", FAULT_S, status=503)
    elif fault == "ban":
        f.inject("ban", FAULT_S)
    elif fault == "refuse":
        f.inject("refuse_connections", FAULT_S)
    else:
        raise ValueError(fault)


def why_unstable(graph: Any) -> str:
    """Empty when every venue is OK with a closed breaker, streams connected, books live, binance active."""
    sup = graph.supervisor
    h = sup.children["health"].actor if "health" in sup.children else None
    if h is None or not h.alive:
        return "health monitor not running"
    for v in VENUES:
        tr = h.trackers[v]
        if tr.status is not HealthStatus.OK or tr.breaker.state is not CircuitState.CLOSED:
            return f"{v} {tr.status.value} circuit {tr.breaker.state.value}: {tr.reason}"
        x = sup.children[graph.exchange_names[v]].actor
        if not isinstance(x, ExchangeActor) or not x.alive:
            return f"{v} exchange actor not running"
        st = x.stats()
        if st.connected < st.streams or st.books_live < st.books_total:
            return f"{v} streams {st.connected}/{st.streams} books {st.books_live}/{st.books_total}"
    if h.active("all") is not VENUES[0]:
        return f"active is {h.active('all')}"
    return ""


async def wait_stable(graph: Any, timeout: float, settle_s: float = 0.3) -> str:
    deadline = time.monotonic() + timeout
    ok_since: float | None = None
    why = "?"
    while time.monotonic() < deadline:
        why = why_unstable(graph)
        now = time.monotonic()
        if why:
            ok_since = None
        elif ok_since is None:
            ok_since = now
        elif now - ok_since >= settle_s:
            return ""
        await anyio.sleep(0.02)
    return why


def show(events: list[tuple[int, Any]], t0: int) -> str:
    lines = []
    last: dict[Venue, str] = {}
    for t, m in events:
        if isinstance(m, VenueHealth):  # the periodic re-publish of an unchanged status is noise here
            if last.get(m.venue) == m.status.value:
                continue
            last[m.venue] = m.status.value
        if isinstance(m, Failover):
            lines.append(f"{(t - t0) / 1e6:9.1f} ms Failover {m.from_venue} -> {m.to_venue}: {m.cause}")
        elif isinstance(m, CircuitChanged):
            lines.append(f"{(t - t0) / 1e6:9.1f} ms Circuit {m.venue} {m.previous.value} -> {m.current.value}: {m.reason}")
        elif isinstance(m, VenueHealth):
            lines.append(f"{(t - t0) / 1e6:9.1f} ms Health {m.venue} {m.status.value}: {m.reason}")
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _earlier_tests_frozen_out_of_the_collector() -> Iterator[None]:
    """These tests judge 100 ms liveness limits inside a pytest process that may have run a thousand tests
    before: a full collection of that heap pauses the loop for ~250 ms, and every venue's stream then looks
    stalled at once (seen in CI). What earlier tests left is frozen out of the collector for the test, as the
    daemon freezes its start-up heap."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["drop", "stall", "http_5xx", "ban", "refuse"])
async def test_fault_on_the_active_venue_fails_over_once_and_back_once(fault: str, tmp_path: Path) -> None:
    bus = Bus()
    active, backup = VENUES[0], VENUES[1]
    async with start_twins([v.value for v in VENUES], symbols=["BTC"], rate=RATE, seed=3) as twins:
        endpoints = {Venue(v): Endpoints(rest=rt.rest, ws=dict(rt.ws)) for v, rt in twins.running.items()}
        creds = {Venue(v): Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret,
                                       rt.twin.credentials.passphrase or "") for v, rt in twins.running.items()}
        graph = build_graph(config(str(tmp_path / "j.sqlite")), bus, LiveClock(), random.Random(1),
                            endpoints=endpoints, credentials=creds, with_strategies=False)
        rec = Recorder(bus)
        sup = graph.supervisor
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            why = await wait_stable(graph, 20.0)
            assert not why, f"the system did not come up: {why}"

            t0 = time.time_ns()
            inject(twins, active, fault)
            # Away from the active venue, to the next-priority one.
            away = await rec.wait(lambda m: isinstance(m, Failover) and m.from_venue is active, t0, 10.0)
            assert away is not None, f"no Failover from {active} after {fault}\n{show(rec.since(t0, object), t0)}"
            fo_ms = (away[1].ts_switched - t0) / 1e6
            print(f"\n{fault}: injection -> Failover {fo_ms:.2f} ms (ts_switched), seen {(away[0] - t0) / 1e6:.2f} ms")
            # Keep the fault for its whole duration, then clear it (the timed faults have expired by then).
            await anyio.sleep(max(0.0, FAULT_S - (time.time_ns() - t0) / 1e9))
            twins[active.value].twin.faults.clear()
            t_clear = time.time_ns()
            failovers_during = [m for _, m in rec.since(t0, Failover)]
            # Then back to the priority-1 venue once its breaker has closed again.
            back = await rec.wait(lambda m: isinstance(m, Failover) and m.to_venue is active, t_clear, 20.0)
            assert back is not None, f"no failback to {active}\n{show(rec.since(t0, object), t0)}"
            await anyio.sleep(1.0)  # anything after the failback (a flap) would show here
            h = sup.children["health"].actor
            final_state, final_active = h.trackers[active].breaker.state, h.active("all")
            await sup.stop()
            tg.cancel_scope.cancel()
    bus.close()
    if graph.journal is not None:
        graph.journal.close()

    timeline = show(rec.since(t0, object), t0)
    print(timeline)
    failovers = [m for _, m in rec.since(t0, Failover)]
    circuit = [m for _, m in rec.since(t0, CircuitChanged) if m.venue is active]
    health = [m for _, m in rec.since(t0, VenueHealth) if m.venue is active]

    # The breaker opened (closed -> open) or the venue was reported down.
    opened = any(c.previous is CircuitState.CLOSED and c.current is CircuitState.OPEN for c in circuit)
    down = any(vh.status is HealthStatus.DOWN for vh in health)
    assert opened or down, f"{fault}: breaker never opened and venue never down\n{timeline}"
    # Exactly one Failover while the fault lasted: from the active venue to the next priority, no flapping.
    assert len(failovers_during) == 1, f"{fault}: {len(failovers_during)} Failovers during the fault\n{timeline}"
    fo = failovers_during[0]
    assert (fo.from_venue, fo.to_venue) == (active, backup), timeline
    assert fo.ts_switched >= fo.ts_detected
    # After it cleared: half_open -> closed (the venue's last breaker move, after the clear; during a stall the
    # REST probes pass, so the breaker may also close and reopen while the fault lasts, without a Failover),
    # and exactly one Failover back to the priority-1 venue.
    t_last, last = [(t, c) for t, c in rec.since(t0, CircuitChanged) if c.venue is active][-1]
    assert (last.previous, last.current) == (CircuitState.HALF_OPEN, CircuitState.CLOSED), timeline
    assert t_last >= t_clear, timeline
    assert len(failovers) == 2, f"{fault}: {len(failovers)} Failovers in all, expected 2\n{timeline}"
    assert (failovers[1].from_venue, failovers[1].to_venue) == (backup, active), timeline
    assert failovers[1].ts_switched >= failovers[1].ts_detected
    assert final_state is CircuitState.CLOSED and final_active is active, timeline
    if fault == "drop":
        assert fo_ms <= DROP_BOUND_MS, f"drop -> Failover took {fo_ms:.2f} ms\n{timeline}"
