from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from actors.clock import ManualClock
from messages import ActorFailed, ActorGaveUp, ActorRestarted, ActorStarted, ActorStopped
from supervisor import Backoff, ChildSpec, Intensity, RestartPolicy, Supervisor


class Crasher(Actor):
    """Fails on start-up while ``fail`` is true; otherwise runs until stopped or told to crash."""

    def __init__(self, name: str, control: dict[str, Any]) -> None:
        super().__init__(name)
        self.control = control

    async def on_start(self) -> None:
        self.control["starts"] = self.control.get("starts", 0) + 1
        if self.control.get("fail"):
            raise RuntimeError(f"start {self.control['starts']} failed")

    async def handle(self, msg: Any) -> Any:
        if msg == "crash":
            raise ValueError("told to crash")
        return msg

    async def on_stop(self) -> None:
        self.control.setdefault("stops", []).append(self.name)


def _events(bus: Bus) -> Any:
    return bus.subscribe_events(topics.actor(), name="test-events", capacity=100_000)


def _drain(sub: Any) -> list[Any]:
    out = []
    while sub.receiver.has_items():
        out.append(sub.receiver.receive_nowait())
    return out


async def _wait_for(pred: Any, clock: ManualClock, rounds: int = 200) -> None:
    for _ in range(rounds):
        if pred():
            return
        await clock.settle(5)
    raise AssertionError("condition not reached")


@pytest.mark.anyio
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), base=st.floats(0.01, 2.0), cap=st.floats(0.5, 30.0))
async def test_crashing_child_restarts_with_delays_inside_full_jitter_bounds(seed: int, base: float, cap: float) -> None:
    clock = ManualClock()
    bus = Bus()
    events = _events(bus)
    control: dict[str, Any] = {"fail": True}
    backoff = Backoff(base_s=base, cap_s=cap, reset_after_s=1e9)
    spec = ChildSpec(name="c", factory=lambda: Crasher("c", control), backoff=backoff,
                     intensity=Intensity(max_restarts=6, window_s=1e9))
    sup = Supervisor("sup", [spec], bus=bus, clock=clock, rng=random.Random(seed))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        for _ in range(7):
            await _wait_for(lambda: clock.sleepers > 0 or sup.child("c").gave_up, clock)
            if sup.child("c").gave_up:
                break
            clock.advance(cap + 1)
        await _wait_for(lambda: sup.child("c").finished, clock)
        await sup.stop()
    restarts = [e for e in _drain(events) if isinstance(e, ActorRestarted)]
    assert len(restarts) == 6
    rng = random.Random(seed)
    for n, ev in enumerate(restarts):
        assert 0.0 <= ev.delay_s <= min(cap, base * 2**n)
        assert ev.delay_s == pytest.approx(rng.uniform(0, min(cap, base * 2**n)))
        assert ev.attempt == n + 1
    assert clock.sleep_calls == [e.delay_s for e in restarts]
    bus.close()


@pytest.mark.anyio
async def test_backoff_resets_after_the_child_ran_stably() -> None:
    clock = ManualClock()
    bus = Bus()
    events = _events(bus)
    control: dict[str, Any] = {"fail": False}
    spec = ChildSpec(name="c", factory=lambda: Crasher("c", control),
                     backoff=Backoff(base_s=1.0, cap_s=100.0, reset_after_s=10.0),
                     intensity=Intensity(max_restarts=100, window_s=1.0))
    sup = Supervisor("sup", [spec], bus=bus, clock=clock, rng=random.Random(1))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        for _ in range(3):  # three quick crashes: attempts 1, 2, 3
            ref = sup.child("c").ref
            assert ref is not None
            await ref.tell("crash")
            await _wait_for(lambda: clock.sleepers > 0, clock)
            clock.advance(200)
            await _wait_for(lambda: sup.child("c").running, clock)
        assert sup.child("c").attempt == 3
        clock.advance(11.0)  # runs stably past reset_after_s
        ref = sup.child("c").ref
        assert ref is not None
        await ref.tell("crash")
        await _wait_for(lambda: clock.sleepers > 0, clock)
        assert sup.child("c").attempt == 1
        clock.advance(200)
        await _wait_for(lambda: sup.child("c").running, clock)
        await sup.stop()
    restarts = [e for e in _drain(events) if isinstance(e, ActorRestarted)]
    assert [e.attempt for e in restarts] == [1, 2, 3, 1]
    assert restarts[-1].delay_s <= 1.0  # bound went back to base * 2**0
    bus.close()


@pytest.mark.anyio
async def test_supervisor_gives_up_after_intensity_and_keeps_other_children() -> None:
    clock = ManualClock()
    bus = Bus()
    events = _events(bus)
    bad: dict[str, Any] = {"fail": True}
    good: dict[str, Any] = {"fail": False}
    specs = [
        ChildSpec(name="good", factory=lambda: Crasher("good", good)),
        ChildSpec(name="bad", factory=lambda: Crasher("bad", bad), backoff=Backoff(base_s=0.1, cap_s=0.1),
                  intensity=Intensity(max_restarts=3, window_s=60.0)),
    ]
    sup = Supervisor("sup", specs, bus=bus, clock=clock, rng=random.Random(7))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        for _ in range(10):
            await _wait_for(lambda: clock.sleepers > 0 or sup.child("bad").finished, clock)
            if sup.child("bad").finished:
                break
            clock.advance(1.0)
        assert sup.child("bad").gave_up
        assert bad["starts"] == 4  # first start + 3 restarts, then the 4th restart would exceed 3 in 60 s
        good_ref = sup.child("good").ref
        assert good_ref is not None and sup.child("good").running
        assert await good_ref.ask("still here") == "still here"
        await sup.stop()
    evs = _drain(events)
    gave_up = [e for e in evs if isinstance(e, ActorGaveUp)]
    assert len(gave_up) == 1 and gave_up[0].name == "bad" and gave_up[0].restarts == 4
    failed = [e for e in evs if isinstance(e, ActorFailed)]
    assert failed[0].error_type == "RuntimeError" and failed[0].error == "start 1 failed"
    bus.close()


@pytest.mark.anyio
async def test_a_child_without_intensity_is_never_given_up_and_comes_back_when_it_can() -> None:
    """A venue connection: restarted with capped full-jitter delays far past any intensity, its handle saying
    why it is down and when the next try is, until the venue answers again."""
    clock = ManualClock()
    bus = Bus()
    events = _events(bus)
    venue: dict[str, Any] = {"fail": True}
    cap = 60.0
    spec = ChildSpec(name="exchange.x", factory=lambda: Crasher("exchange.x", venue),
                     backoff=Backoff(base_s=0.2, cap_s=cap, reset_after_s=30.0), intensity=None)
    sup = Supervisor("sup", [spec], bus=bus, clock=clock, rng=random.Random(3))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        h = sup.child("exchange.x")
        for _ in range(40):  # four times the daemon's default intensity (10 in 60 s), over hours of clock
            await _wait_for(lambda: clock.sleepers > 0, clock)
            assert h.next_try_ns > clock.time_ns() and "start" in h.last_error and not h.gave_up
            clock.advance(cap)
        await _wait_for(lambda: clock.sleepers > 0, clock)
        venue["fail"] = False  # the venue is reachable again
        clock.advance(cap)
        await _wait_for(lambda: h.running, clock)
        assert not h.gave_up and h.next_try_ns == 0
        await sup.stop()
    evs = _drain(events)
    assert not any(isinstance(e, ActorGaveUp) for e in evs)
    delays = [e.delay_s for e in evs if isinstance(e, ActorRestarted)]
    assert len(delays) >= 40 and all(0 <= d <= cap for d in delays)
    assert max(delays) > 10  # the backoff grew towards its cap: no tight loop
    bus.close()


@pytest.mark.anyio
async def test_restart_policies_decide_what_comes_back() -> None:
    clock = ManualClock()
    bus = Bus()
    controls = {n: {"fail": False} for n in ("perm", "trans", "temp")}
    policy = {"perm": RestartPolicy.PERMANENT, "trans": RestartPolicy.TRANSIENT, "temp": RestartPolicy.TEMPORARY}
    specs = [ChildSpec(name=n, factory=(lambda n=n: Crasher(n, controls[n])), restart=policy[n],
                       backoff=Backoff(base_s=0.0, cap_s=0.0)) for n in policy]
    sup = Supervisor("sup", specs, bus=bus, clock=clock, rng=random.Random(0))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        for n in ("perm", "trans", "temp"):  # a normal stop
            h = sup.child(n)
            assert h.actor is not None
            await h.actor.stop()
        await _wait_for(lambda: sup.child("perm").running and sup.child("trans").finished and sup.child("temp").finished, clock)
        assert sup.child("temp").finished
        assert controls["perm"]["starts"] == 2 and controls["trans"]["starts"] == 1
        await sup.stop()
    bus.close()


@pytest.mark.anyio
async def test_shutdown_stops_children_in_reverse_start_order() -> None:
    bus = Bus()
    events = _events(bus)
    control: dict[str, Any] = {}
    specs = [ChildSpec(name=n, factory=(lambda n=n: Crasher(n, control))) for n in ("a", "b", "c")]
    sup = Supervisor("sup", specs, bus=bus)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        assert [e.name for e in _drain(events) if isinstance(e, ActorStarted)] == ["a", "b", "c"]
        await sup.stop()
    assert control["stops"] == ["c", "b", "a"]
    assert {e.name for e in _drain(events) if isinstance(e, ActorStopped)} == {"a", "b", "c"}
    bus.close()


@settings(max_examples=200)
@given(attempt=st.integers(0, 200), base=st.floats(0.001, 10), cap=st.floats(0.001, 600), seed=st.integers(0, 99))
def test_backoff_delay_is_within_zero_and_the_capped_exponential(attempt: int, base: float, cap: float, seed: int) -> None:
    b = Backoff(base_s=base, cap_s=cap)
    d = b.delay(attempt, random.Random(seed))
    assert 0.0 <= d <= min(cap, base * 2.0 ** min(attempt, 64))


def test_help_works_from_the_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "supervisor", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "--simulate" in out.stdout and "--duration" in out.stdout and "--config" in out.stdout


def test_daemon_starts_and_stops_cleanly_with_duration() -> None:
    out = subprocess.run([sys.executable, "-m", "supervisor", "--simulate", "--duration", "1", "--log-format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line)["event"] for line in out.stdout.splitlines() if line.startswith("{")]
    assert "daemon.started" in events and events[-1] == "daemon.stopped"


def test_simulate_starts_the_four_venue_twins_and_stops_cleanly() -> None:
    out = subprocess.run([sys.executable, "-m", "supervisor", "--simulate", "--duration", "0.5", "--log-format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    twins = [line for line in out.stdout.splitlines() if '"twin.started"' in line]
    assert [v for v in ("binance", "bybit", "okx", "deribit") if any(f'"{v}"' in t for t in twins)] == [
        "binance", "bybit", "okx", "deribit"]
    assert '"daemon.stopped"' in out.stdout.splitlines()[-1]


@pytest.mark.anyio
async def test_proxy_ref_follows_a_child_across_restarts() -> None:
    from actors.errors import ActorDead

    clock = ManualClock()
    bus = Bus()
    control: dict[str, Any] = {"fail": False}
    spec = ChildSpec(name="c", factory=lambda: Crasher("c", control), backoff=Backoff(base_s=1.0, cap_s=1.0))
    sup = Supervisor("sup", [spec], bus=bus, clock=clock, rng=random.Random(3))
    proxy = sup.child_ref("c")
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        first = sup.child("c").actor
        assert await proxy.ask("one") == "one"
        await proxy.tell("crash")
        await _wait_for(lambda: clock.sleepers > 0, clock)
        with pytest.raises(ActorDead, match="between restarts"):
            await proxy.ask("during backoff")
        clock.advance(2.0)
        await _wait_for(lambda: sup.child("c").running, clock)
        assert sup.child("c").actor is not first
        assert await proxy.ask("two") == "two"
        await sup.stop()
    bus.close()
