from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.circuit import CIRCUIT_TABLE, CircuitBreaker, CircuitConfig, CircuitInput, next_circuit_state
from actors.clock import ManualClock
from messages import CircuitChanged, CircuitState, Venue
from venues.machine import IllegalTransition

S = CircuitState
I = CircuitInput  # noqa: E741


def _breaker(clock: ManualClock, seed: int = 7, **kw: float) -> CircuitBreaker:
    return CircuitBreaker(Venue.OKX, clock, random.Random(seed), CircuitConfig(**kw))  # type: ignore[arg-type]


@given(state=st.sampled_from(list(CircuitState)), event=st.sampled_from(list(CircuitInput)))
def test_every_state_and_input_pair_is_in_the_table_or_raises_naming_both(state: CircuitState, event: CircuitInput) -> None:
    if (state, event) in CIRCUIT_TABLE:
        assert next_circuit_state(state, event) is CIRCUIT_TABLE[(state, event)]
        return
    with pytest.raises(IllegalTransition) as info:
        next_circuit_state(state, event)
    assert info.value.machine == "circuit breaker" and info.value.state is state and info.value.event is event
    assert "circuit breaker" in str(info.value) and repr(event.value) in str(info.value) and repr(state.value) in str(info.value)


def test_table_edges_match_the_documented_machine() -> None:
    opens = {k for k, v in CIRCUIT_TABLE.items() if v is S.OPEN and k[0] is not S.OPEN}
    assert opens == {(S.CLOSED, I.TRIP), (S.CLOSED, I.HARD_DOWN), (S.HALF_OPEN, I.FAILURE),
                     (S.HALF_OPEN, I.HARD_DOWN), (S.HALF_OPEN, I.PROBE_FAILED)}
    assert {k for k, v in CIRCUIT_TABLE.items() if v is S.HALF_OPEN and k[0] is not S.HALF_OPEN} == {
        (S.OPEN, I.COOLDOWN_ELAPSED)}
    assert {k for k, v in CIRCUIT_TABLE.items() if v is S.CLOSED and k[0] is not S.CLOSED} == {
        (S.HALF_OPEN, I.PROBE_OK)}


def test_breaker_opens_on_the_fifth_consecutive_failure_and_a_success_resets_the_count() -> None:
    clock = ManualClock()
    b = _breaker(clock)
    for _ in range(4):
        assert b.record_failure("5xx") is None
    assert b.record_success() is None and b.failures == 0
    for _ in range(4):
        assert b.record_failure("5xx") is None
    tn = b.record_failure("timeout")
    assert tn is not None and (tn.old, tn.new, tn.input) == (S.CLOSED, S.OPEN, I.TRIP)
    assert tn.reason == "5 consecutive failures, last: timeout"
    ev = tn.event(Venue.OKX, 42)
    assert ev == CircuitChanged(venue=Venue.OKX, previous=S.CLOSED, current=S.OPEN, reason=tn.reason, ts=42)


def test_hard_down_opens_at_once_and_late_successes_do_not_close_it() -> None:
    clock = ManualClock()
    b = _breaker(clock)
    tn = b.hard_down("ws closed 1006")
    assert tn is not None and (tn.old, tn.new, tn.reason) == (S.CLOSED, S.OPEN, "ws closed 1006")
    assert b.record_success("late ok") is None and b.state is S.OPEN
    assert b.record_probe(True, "probe while open") is None and b.state is S.OPEN


def test_cool_down_then_half_open_then_probe_decides() -> None:
    clock = ManualClock()
    b = _breaker(clock, cooldown_base_s=5.0, jitter=0.2)
    b.hard_down("x")
    assert b.open_until is not None and 4.0 <= b.open_until <= 5.0
    clock.advance(b.open_until - 0.001)
    assert b.poll() is None and b.state is S.OPEN
    clock.advance(0.001)
    tn = b.poll()
    assert tn is not None and (tn.old, tn.new, tn.input) == (S.OPEN, S.HALF_OPEN, I.COOLDOWN_ELAPSED)
    tn = b.record_probe(False, "probe timed out")
    assert tn is not None and tn.new is S.OPEN and b.opens == 2
    assert b.open_until is not None and 8.0 <= b.open_until - clock.monotonic() <= 10.0  # grew
    clock.advance(10.0)
    assert b.poll() is not None
    tn = b.record_probe(True, "probe ok")
    assert tn is not None and (tn.old, tn.new) == (S.HALF_OPEN, S.CLOSED) and b.open_until is None


def test_open_streak_is_forgotten_after_the_breaker_stayed_closed_long_enough() -> None:
    clock = ManualClock()
    b = _breaker(clock, reset_after_s=60.0)
    for _ in range(3):
        b.hard_down("x")
        clock.advance(1000.0)
        b.poll()
        b.record_probe(True, "ok")
        clock.advance(1.0)  # closed only briefly: the next open counts as repeated
    assert b.opens == 3
    clock.advance(60.0)
    b.hard_down("x")
    assert b.opens == 1


@given(opens=st.integers(1, 80), seed=st.integers(0, 2**32 - 1))
def test_cool_down_is_jittered_within_bounds_grows_and_is_capped(opens: int, seed: int) -> None:
    cfg = CircuitConfig(cooldown_base_s=2.0, cooldown_growth=2.0, cooldown_cap_s=60.0, jitter=0.25)
    d = cfg.cooldown(opens, random.Random(seed))
    bound = cfg.cooldown_bound(opens)
    assert bound == min(60.0, 2.0 * 2.0 ** (opens - 1))
    assert bound * 0.75 <= d <= bound <= 60.0
    assert cfg.cooldown_bound(opens + 1) >= bound


class _Model:
    """An independent if/else model of the breaker (no table), to compare against."""

    def __init__(self, cfg: CircuitConfig, seed: int) -> None:
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.state = "closed"
        self.failures = 0
        self.opens = 0
        self.until: float | None = None
        self.closed_at: float | None = None

    def _open(self, now: float) -> None:
        if self.state == "closed" and (self.closed_at is None or now - self.closed_at >= self.cfg.reset_after_s):
            self.opens = 0
        self.opens += 1
        bound = min(self.cfg.cooldown_cap_s, self.cfg.cooldown_base_s * self.cfg.cooldown_growth ** (self.opens - 1))
        self.until = now + bound * (1.0 - self.cfg.jitter * self.rng.random())
        self.state = "open"
        self.failures = 0

    def _close(self, now: float) -> None:
        self.state, self.failures, self.closed_at = "closed", 0, now

    def step(self, op: str, now: float) -> None:
        if op == "failure" or op == "probe_fail":
            if self.state == "closed":
                self.failures += 1
                if self.failures >= self.cfg.failure_threshold:
                    self._open(now)
            elif self.state == "half_open":
                self._open(now)
        elif op == "success" or op == "probe_ok":
            if self.state == "closed":
                self.failures = 0
            elif self.state == "half_open" and op == "probe_ok":
                self._close(now)
        elif op == "hard_down":
            if self.state != "open":
                self._open(now)
        elif op == "poll":
            if self.state == "open" and self.until is not None and now >= self.until:
                self.state, self.until = "half_open", None


_OPS = st.sampled_from(["failure", "success", "hard_down", "probe_ok", "probe_fail", "poll"])


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    threshold=st.integers(1, 6),
    steps=st.lists(st.tuples(_OPS, st.sampled_from([0.0, 0.5, 3.0, 30.0, 200.0])), max_size=60),
)
def test_random_sequences_match_the_reference_model(seed: int, threshold: int, steps: list[tuple[str, float]]) -> None:
    clock = ManualClock()
    cfg = CircuitConfig(failure_threshold=threshold, cooldown_base_s=2.0, cooldown_cap_s=50.0, reset_after_s=40.0)
    b = CircuitBreaker(Venue.BYBIT, clock, random.Random(seed), cfg)
    model = _Model(cfg, seed)
    for op, dt in steps:
        clock.advance(dt)
        before = b.state
        match op:
            case "failure":
                tn = b.record_failure("f")
            case "success":
                tn = b.record_success("s")
            case "hard_down":
                tn = b.hard_down("h")
            case "probe_ok":
                tn = b.record_probe(True, "p")
            case "probe_fail":
                tn = b.record_probe(False, "p")
            case _:
                tn = b.poll()
        model.step(op, clock.monotonic())
        assert b.state.value == model.state, (op, before)
        assert (b.failures, b.opens, b.open_until) == (model.failures, model.opens, model.until)
        # a transition is returned exactly when the state changed, and says so
        assert (tn is not None) == (b.state is not before)
        if tn is not None:
            assert (tn.old, tn.new) == (before, b.state)
