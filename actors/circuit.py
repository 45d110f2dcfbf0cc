"""Per-venue circuit breaker: a table-driven state machine plus the counts and deadlines it needs.

Rules:
- The machine is ``CIRCUIT_TABLE``; a pair not in it raises IllegalTransition naming the input, the state
  and the machine. Everything else here only decides *which* input to feed it.
- Pure: no I/O, no sleeping. Time comes from the injected Clock, jitter from the injected random.Random.
- The breaker never publishes. Each call returns the Transition (old, new, input, reason), or None when
  the state did not change, and the caller publishes CircuitChanged.

    CLOSED --trip (N-th consecutive failure) / hard_down--> OPEN
    OPEN --cooldown_elapsed (jittered, growing per repeated open, capped)--> HALF_OPEN
    HALF_OPEN --probe_ok--> CLOSED        HALF_OPEN --probe_failed / failure / hard_down--> OPEN

``TRIP`` is the guard input: ``record_failure`` feeds ``FAILURE`` until the count reaches the threshold
and ``TRIP`` on the failure that reaches it, so the table stays a plain (state, input) -> state map.
"""

from __future__ import annotations

import enum
import random
from typing import NamedTuple

import msgspec

from actors.clock import Clock
from messages import CircuitChanged, CircuitState, Venue
from venues.machine import step, table

__all__ = [
    "CircuitInput",
    "CIRCUIT_TABLE",
    "next_circuit_state",
    "CircuitConfig",
    "CircuitBreaker",
    "Transition",
]


class CircuitInput(enum.StrEnum):
    FAILURE = "failure"  # one failed request / error signal
    TRIP = "trip"  # the failure that made the consecutive count reach the threshold
    SUCCESS = "success"
    HARD_DOWN = "hard_down"  # ws closed beyond grace, actor gave up, IP ban: open at once
    COOLDOWN_ELAPSED = "cooldown_elapsed"
    PROBE_OK = "probe_ok"
    PROBE_FAILED = "probe_failed"


_S = CircuitState
_I = CircuitInput
CIRCUIT_TABLE: dict[tuple[CircuitState, CircuitInput], CircuitState] = table({
    _S.CLOSED: {_I.FAILURE: _S.CLOSED, _I.TRIP: _S.OPEN, _I.SUCCESS: _S.CLOSED, _I.HARD_DOWN: _S.OPEN},
    # open: late results of requests already in flight change nothing; probes are not allowed
    _S.OPEN: {_I.FAILURE: _S.OPEN, _I.SUCCESS: _S.OPEN, _I.HARD_DOWN: _S.OPEN, _I.COOLDOWN_ELAPSED: _S.HALF_OPEN},
    # half-open: only the probe decides; any failure or hard signal sends it back
    _S.HALF_OPEN: {
        _I.FAILURE: _S.OPEN, _I.SUCCESS: _S.HALF_OPEN, _I.HARD_DOWN: _S.OPEN,
        _I.PROBE_OK: _S.CLOSED, _I.PROBE_FAILED: _S.OPEN,
    },
})
# Illegal by design: TRIP outside CLOSED (no count is kept there), COOLDOWN_ELAPSED outside OPEN (no
# cool-down is running), PROBE_* outside HALF_OPEN (a probe in CLOSED is a plain success/failure, and no
# probe decides anything while OPEN).


def next_circuit_state(state: CircuitState, event: CircuitInput) -> CircuitState:
    """The circuit-breaker machine: the state after ``event`` in ``state``.

    Raises:
        IllegalTransition: the pair is not in the table.
    """
    return step(CIRCUIT_TABLE, "circuit breaker", state, event)


class CircuitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Breaker settings (a section of the health config in TOML)."""

    failure_threshold: int = 5
    cooldown_base_s: float = 5.0
    cooldown_growth: float = 2.0  # each repeated open multiplies the bound
    cooldown_cap_s: float = 120.0
    jitter: float = 0.2  # cool-down drawn from [bound * (1 - jitter), bound]
    reset_after_s: float = 60.0  # closed this long: the next open counts as the first again

    def cooldown_bound(self, opens: int) -> float:
        """Upper bound of the cool-down after the ``opens``-th open in a row (1-based)."""
        return min(self.cooldown_cap_s, self.cooldown_base_s * self.cooldown_growth ** min(max(opens - 1, 0), 64))

    def cooldown(self, opens: int, rng: random.Random) -> float:
        bound = self.cooldown_bound(opens)
        return bound * (1.0 - self.jitter * rng.random())


class Transition(NamedTuple):
    old: CircuitState
    new: CircuitState
    input: CircuitInput
    reason: str

    def event(self, venue: Venue, ts: int) -> CircuitChanged:
        return CircuitChanged(venue=venue, previous=self.old, current=self.new, reason=self.reason, ts=ts)


class CircuitBreaker:
    """One venue's breaker. Holds the consecutive-failure count, the open streak and the cool-down deadline."""

    __slots__ = ("venue", "config", "_clock", "_rng", "state", "failures", "opens", "open_until", "_closed_since")

    def __init__(self, venue: Venue, clock: Clock, rng: random.Random, config: CircuitConfig | None = None) -> None:
        self.venue = venue
        self.config = config or CircuitConfig()
        self._clock = clock
        self._rng = rng
        self.state = CircuitState.CLOSED
        self.failures = 0  # consecutive, counted while CLOSED
        self.opens = 0  # opens in a row (reset once CLOSED has held for reset_after_s)
        self.open_until: float | None = None  # monotonic deadline of the cool-down while OPEN
        self._closed_since: float | None = None

    @property
    def is_open(self) -> bool:
        return self.state is CircuitState.OPEN

    def apply(self, event: CircuitInput, reason: str) -> Transition | None:
        """Feed one input to the table and update counts and deadlines.

        Returns:
            The Transition when the state changed, else None.
        Raises:
            IllegalTransition: ``event`` is not allowed in the current state.
        """
        old = self.state
        new = next_circuit_state(old, event)
        now = self._clock.monotonic()
        if event is CircuitInput.SUCCESS and old is CircuitState.CLOSED:
            self.failures = 0
        if new is old:
            return None
        self.state = new
        if new is CircuitState.OPEN:
            if old is CircuitState.CLOSED and (
                self._closed_since is None or now - self._closed_since >= self.config.reset_after_s
            ):
                self.opens = 0
            self.opens += 1
            self.open_until = now + self.config.cooldown(self.opens, self._rng)
            self.failures = 0
        elif new is CircuitState.HALF_OPEN:
            self.open_until = None
        else:
            self.failures = 0
            self._closed_since = now
        return Transition(old, new, event, reason)

    # -- what callers actually report; each maps to a legal input for the current state ----------------
    def record_failure(self, reason: str) -> Transition | None:
        if self.state is CircuitState.CLOSED:
            self.failures += 1
            if self.failures >= self.config.failure_threshold:
                n = self.failures
                return self.apply(CircuitInput.TRIP, f"{n} consecutive failures, last: {reason}")
        return self.apply(CircuitInput.FAILURE, reason)

    def record_success(self, reason: str = "success") -> Transition | None:
        return self.apply(CircuitInput.SUCCESS, reason)

    def hard_down(self, reason: str) -> Transition | None:
        return self.apply(CircuitInput.HARD_DOWN, reason)

    def record_probe(self, ok: bool, reason: str) -> Transition | None:
        """A probe result: decides HALF_OPEN; counts as a plain success/failure when CLOSED; ignored when OPEN."""
        if self.state is CircuitState.HALF_OPEN:
            return self.apply(CircuitInput.PROBE_OK if ok else CircuitInput.PROBE_FAILED, reason)
        return self.record_success(reason) if ok else self.record_failure(reason)

    def poll(self) -> Transition | None:
        """Move OPEN -> HALF_OPEN once the cool-down has elapsed (call when ``open_until`` is reached)."""
        if self.state is CircuitState.OPEN and self.open_until is not None:
            if self._clock.monotonic() >= self.open_until:
                return self.apply(CircuitInput.COOLDOWN_ELAPSED, f"cool-down of open #{self.opens} elapsed")
        return None

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.venue.value} {self.state.value} failures={self.failures} opens={self.opens}>"
