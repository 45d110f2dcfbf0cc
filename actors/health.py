"""HealthMonitor: per-venue health from passive signals and periodic probes, circuit breakers, and the
active-venue choice.

Rules:
- Inputs: VenueSignal (``venue.signal.<venue>``), ActorGaveUp/ActorStarted (``control.actor.*``),
  RateLimited with ``banned`` (``venue.ratelimit.*``), BookIntegrity resyncs (``venue.book.*.*``), and the
  results of the probes it runs itself. All are handled synchronously: a hard signal (ws closed with no
  grace, actor gave up, ban) opens the breaker, marks the venue down and publishes CircuitChanged,
  VenueHealth and the Failover inside the same ``handle`` call. Nothing waits for a tick.
- Per venue: status is DOWN (breaker open, ws closed beyond ``ws_grace_s``, the venue's actor gave up,
  banned), DEGRADED (breaker half-open, ws closed within grace, a stream stalled: a DATA_GAP with no
  DATA_OK since, latency p50 over the window above ``latency_degraded_ms``, or error rate over the window
  at or above ``error_rate_degraded``), else OK. A stall holds the venue DEGRADED until its data flows
  again, however healthy its REST calls are: REST successes reset the breaker's failure count and a
  passing probe closes it, so without this a dead feed behind a live API would flap in and out.
- Publishes VenueHealth on every status change and every ``publish_interval_s``; CircuitChanged for every
  breaker transition; one Failover per change of each selector's active venue.
- One timer task sleeps until the earliest deadline (probe due, cool-down end, ws grace end, ban end,
  selector hold end, periodic publish) and is woken early when an earlier one appears. Probes run in the
  actor's task group; their results are applied between awaits, so state is never seen half-updated.
- Time and randomness are injected (Clock, random.Random); probe timeouts use the Clock too.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import msgspec

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from actors.circuit import CircuitBreaker, CircuitConfig, Transition
from actors.clock import Clock
from actors.selection import SelectionConfig, VenueSelector, VenueView
from messages import (
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    BookIntegrity,
    BookState,
    CircuitState,
    Failover,
    GetActiveVenue,
    HealthStatus,
    MailboxOverflow,
    RateLimited,
    SignalKind,
    Venue,
    VenueHealth,
    VenueSignal,
)

__all__ = ["HealthConfig", "HealthMonitor", "Probe", "VenueTracker", "percentile"]

HealthMessage = (GetActiveVenue | VenueSignal | ActorGaveUp | ActorFailed | ActorStarted | ActorRestarted | ActorStopped
                 | RateLimited | BookIntegrity | MailboxOverflow)
"""What the health monitor takes: the active-venue question, and from its subscriptions venue signals, the supervisor's actor events, rate limits and book integrity."""

Probe = Callable[[], Awaitable[float]]
"""A cheap call to the venue (public endpoint; a private one too when keys are configured). Returns the
latency in ms, or raises; e.g. ``lambda: ref.ask(HealthCheck(venue=v))`` mapped to its ``latency_ms``."""

_FAILURES = frozenset(
    {SignalKind.DATA_GAP, SignalKind.HEARTBEAT_MISSED, SignalKind.REST_ERROR, SignalKind.REST_TIMEOUT,
     SignalKind.BOOK_INTEGRITY}
)


class HealthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Health-monitor settings (TOML section). Latencies are in ms, like VenueSignal's LATENCY value."""

    venues: list[Venue]
    probe_interval_s: float = 5.0
    probe_timeout_s: float = 2.0
    publish_interval_s: float = 1.0
    window_s: float = 30.0  # sliding window for latency percentiles and the error rate
    max_samples: int = 2048
    latency_degraded_ms: float = 500.0
    min_latency_samples: int = 3
    error_rate_degraded: float = 0.25
    min_outcomes: int = 4
    ws_grace_s: float = 0.0  # 0: a ws close is a hard down at once; >0: down only if not reopened in time
    circuit: CircuitConfig = CircuitConfig()


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values; nan when empty."""
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


class VenueTracker:
    """Everything the monitor knows about one venue. No I/O; the monitor feeds it and reads it."""

    def __init__(self, venue: Venue, config: HealthConfig, clock: Clock, rng: random.Random) -> None:
        self.venue = venue
        self.config = config
        self.breaker = CircuitBreaker(venue, clock, rng, config.circuit)
        self.latencies: deque[tuple[float, float]] = deque(maxlen=config.max_samples)  # (t, ms)
        self.outcomes: deque[tuple[float, bool]] = deque(maxlen=config.max_samples)  # (t, ok)
        self.ws_closed_since: float | None = None
        self.ws_closed_reason = ""
        self.ws_hard_down = False  # this closure has already been fed to the breaker as hard_down
        self.gave_up: set[str] = set()  # actor names the supervisor gave up on
        self.not_running: dict[str, str] = {}  # exchange actor name -> why it failed (until it starts again)
        self.reached = False  # it has answered once (a probe, a REST call, an open stream): only then chosen
        self.banned_until: float | None = None
        self.stalled: dict[str, tuple[float, str]] = {}  # stream -> (since, reason): DATA_GAP, no DATA_OK yet
        self.status = HealthStatus.OK
        self.reason = "no signal yet"
        self.published_status: HealthStatus | None = None
        self.next_probe_at = 0.0
        self.probing = False

    def prune(self, now: float) -> None:
        horizon = now - self.config.window_s
        while self.latencies and self.latencies[0][0] < horizon:
            self.latencies.popleft()
        while self.outcomes and self.outcomes[0][0] < horizon:
            self.outcomes.popleft()

    def latency_stats(self) -> tuple[float, float]:
        ordered = sorted(ms for _, ms in self.latencies)
        return percentile(ordered, 0.5), percentile(ordered, 0.99)

    def error_rate(self) -> float:
        if not self.outcomes:
            return 0.0
        return sum(1 for _, ok in self.outcomes if not ok) / len(self.outcomes)

    def evaluate(self, now: float) -> tuple[HealthStatus, str]:
        """Work out the status and the reason for it (the first cause found, most severe first)."""
        self.prune(now)
        cfg = self.config
        if self.gave_up:
            return HealthStatus.DOWN, f"supervisor gave up on {', '.join(sorted(self.gave_up))}"
        if self.not_running:
            name, why = next(iter(self.not_running.items()))
            return HealthStatus.DOWN, f"{name} not running: {why}"
        if self.banned_until is not None and now < self.banned_until:
            return HealthStatus.DOWN, f"banned for {self.banned_until - now:.1f} s more"
        if self.ws_closed_since is not None and now - self.ws_closed_since >= cfg.ws_grace_s:
            return HealthStatus.DOWN, f"ws closed for {now - self.ws_closed_since:.3f} s: {self.ws_closed_reason}"
        if self.breaker.state is CircuitState.OPEN:
            return HealthStatus.DOWN, "circuit open"
        if self.breaker.state is CircuitState.HALF_OPEN:
            return HealthStatus.DEGRADED, "circuit half-open, waiting for a probe"
        if self.ws_closed_since is not None:
            return HealthStatus.DEGRADED, f"ws closed {now - self.ws_closed_since:.3f} s ago (grace {cfg.ws_grace_s} s)"
        if self.stalled:
            stream, (since, why) = min(self.stalled.items(), key=lambda kv: kv[1][0])
            return HealthStatus.DEGRADED, f"market data stalled on {stream or 'a stream'} for {now - since:.1f} s ({why})"
        if len(self.latencies) >= cfg.min_latency_samples:
            p50, _ = self.latency_stats()
            if p50 > cfg.latency_degraded_ms:
                return HealthStatus.DEGRADED, f"latency p50 {p50:.1f} ms > {cfg.latency_degraded_ms:.1f} ms"
        if len(self.outcomes) >= cfg.min_outcomes:
            rate = self.error_rate()
            if rate >= cfg.error_rate_degraded:
                n = len(self.outcomes)
                return HealthStatus.DEGRADED, f"error rate {rate:.0%} of {n} calls >= {cfg.error_rate_degraded:.0%}"
        return HealthStatus.OK, "ok"

    def view(self) -> VenueView:
        p50, _ = self.latency_stats()
        return VenueView(self.status, self.breaker.state, 0.0 if math.isnan(p50) else p50, self.reason, self.reached)

    def health(self, ts: int) -> VenueHealth:
        p50, p99 = self.latency_stats()
        return VenueHealth(
            venue=self.venue,
            status=self.status,
            latency_p50_us=0.0 if math.isnan(p50) else p50 * 1000.0,
            latency_p99_us=0.0 if math.isnan(p99) else p99 * 1000.0,
            error_rate=self.error_rate(),
            reason=self.reason,
            ts=ts,
        )

    def deadlines(self) -> list[float]:
        out = []
        if self.breaker.open_until is not None:
            out.append(self.breaker.open_until)
        if self.ws_closed_since is not None and not self.ws_hard_down:
            out.append(self.ws_closed_since + self.config.ws_grace_s)
        if self.banned_until is not None:
            out.append(self.banned_until)
        return out


class HealthMonitor(Actor):
    """Watches every configured venue, keeps their breakers and health, and drives the selectors."""

    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        config: HealthConfig,
        *,
        bus: Bus,
        clock: Clock,
        rng: random.Random,
        probes: Mapping[Venue, Sequence[Probe]] | None = None,
        selectors: Sequence[VenueSelector] | None = None,
        name: str = "health",
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self.config = config
        self.rng = rng
        self.trackers = {v: VenueTracker(v, config, clock, rng) for v in config.venues}
        self.probes: dict[Venue, list[Probe]] = {v: list(p) for v, p in (probes or {}).items() if v in self.trackers}
        for v, tr in self.trackers.items():
            # A venue we can probe is chosen only once it has answered; one we cannot is judged on its signals.
            tr.reached = v not in self.probes
        self._first_choice_at = math.inf  # the first active venue waits for every venue's first probe, until then
        self.selectors = list(selectors) if selectors is not None else [VenueSelector(SelectionConfig(venues=list(config.venues)))]
        self.failovers: list[Failover] = []
        self._next_publish = 0.0
        self._wake: anyio.CancelScope | None = None
        self._sleeping_until = math.inf

    # -- public read-outs (for tests and the status line) ------------------------------------------
    def status(self, venue: Venue) -> HealthStatus:
        return self.trackers[venue].status

    def active(self, scope: str = "all") -> Venue | None:
        for sel in self.selectors:
            if sel.name == scope:
                return sel.active
        msg = f"no selector named {scope!r}; have {[s.name for s in self.selectors]}"
        raise KeyError(msg)

    # -- actor hooks -------------------------------------------------------------------------------
    async def on_start(self) -> None:
        # Event mailboxes, never conflating: every signal counts (a conflated ws_closed could be lost).
        self.subscribe(topics.venue_signal("*"), conflate=False)
        self.subscribe(topics.actor("*"), conflate=False)
        self.subscribe(topics.rate_limit("*"), conflate=False)
        self.subscribe(topics.book_integrity("*", "*"), conflate=False)
        now = self.clock.monotonic()
        for tr in self.trackers.values():
            tr.next_probe_at = now  # first probe at once, then every probe_interval_s
        self._next_publish = now
        self._first_choice_at = now + self.config.probe_timeout_s
        self._refresh(cause="start", detected_ns=None)
        self.start_soon(self._timer, name=f"{self.name}:timer")

    async def handle(self, msg: HealthMessage) -> Any:
        match msg:
            case GetActiveVenue(scope=scope):
                return self.active(scope)  # for a late starter (a restarted router) that missed the Failover
            case VenueSignal():
                self.on_signal(msg)
            case ActorGaveUp(venue=v, name=n) if v in self.trackers:
                tr = self.trackers[v]
                tr.gave_up.add(n)
                self._circuit(tr, tr.breaker.hard_down(f"supervisor gave up on {n} ({msg.restarts} restarts)"))
                self._refresh(cause=f"supervisor gave up on {n}", detected_ns=msg.ts)
            case ActorFailed(venue=v, name=n) if v in self.trackers:
                # The venue's actor is down (a start that failed, a crash): so is the venue, until it runs again.
                tr = self.trackers[v]
                tr.not_running[n] = f"{msg.error_type}: {msg.error}"[:200]
                self._circuit(tr, tr.breaker.hard_down(f"{n} failed: {msg.error_type}"))
                self._refresh(cause=f"{n} failed", detected_ns=msg.ts)
            case ActorStarted(venue=v, name=n) if v in self.trackers:
                # A fresh actor has fresh streams: an old stall is its predecessor's (a new one is signalled anew).
                tr = self.trackers[v]
                if n in tr.gave_up or tr.stalled or n in tr.not_running:
                    tr.gave_up.discard(n)
                    tr.not_running.pop(n, None)
                    tr.stalled.clear()
                    tr.next_probe_at = self.clock.monotonic()  # is it really back? ask at once
                    self._refresh(cause=f"{n} started again", detected_ns=msg.ts)
            case RateLimited(venue=v, banned=True) if v in self.trackers:
                wait = max(0.0, (msg.until_ns - self.clock.time_ns()) / 1e9)
                self._ban(self.trackers[v], wait, f"banned ({msg.code})", msg.ts)
            case BookIntegrity(venue=v, state=BookState.RESYNCING) if v in self.trackers:
                tr = self.trackers[v]
                tr.outcomes.append((self.clock.monotonic(), False))
                self._circuit(tr, tr.breaker.record_failure(f"book {msg.instrument} resync: {msg.reason}"))
                self._refresh(cause=f"book {msg.instrument} resync", detected_ns=msg.ts, only=tr)
            case _:
                pass  # MailboxOverflow notices, other venues' or other actors' events
        return None

    def on_signal(self, sig: VenueSignal) -> None:
        """Apply one passive signal and publish whatever it changed, synchronously."""
        tr = self.trackers.get(sig.venue)
        if tr is None:
            return
        now = self.clock.monotonic()
        kind = sig.kind
        what = f"{sig.venue} {kind.value}" + (f": {sig.detail}" if sig.detail else "")
        if kind is SignalKind.WS_CLOSED:
            if tr.ws_closed_since is None:
                tr.ws_closed_since = now
                tr.ws_closed_reason = sig.detail or "ws closed"
                tr.ws_hard_down = False
            if self.config.ws_grace_s <= 0.0 and not tr.ws_hard_down:
                tr.ws_hard_down = True
                self._circuit(tr, tr.breaker.hard_down(what))
            self._refresh(cause=what, detected_ns=sig.ts)
            return
        if kind is SignalKind.WS_OPEN:
            tr.ws_closed_since = None
            tr.ws_hard_down = False
            tr.reached = True
        elif kind is SignalKind.RATE_LIMIT_BAN:
            self._ban(tr, sig.value if sig.value > 0 else 60.0, what, sig.ts)
            return
        elif kind is SignalKind.DATA_OK:
            tr.stalled.pop(sig.stream, None)
        elif kind is SignalKind.LATENCY:
            tr.latencies.append((now, sig.value))
            tr.reached = True
        elif kind is SignalKind.REST_OK:
            tr.reached = True
            tr.outcomes.append((now, True))
            if sig.value > 0:
                tr.latencies.append((now, sig.value))
            self._circuit(tr, tr.breaker.record_success(what))
        elif kind in _FAILURES:
            if kind is SignalKind.DATA_GAP:
                tr.stalled.setdefault(sig.stream, (now, sig.detail or "no data"))
            tr.outcomes.append((now, False))
            self._circuit(tr, tr.breaker.record_failure(what))
        self._refresh(cause=what, detected_ns=sig.ts, only=tr)

    # -- internals -----------------------------------------------------------------------------------
    def _ban(self, tr: VenueTracker, wait_s: float, why: str, detected_ns: int) -> None:
        until = self.clock.monotonic() + wait_s
        tr.banned_until = until if tr.banned_until is None else max(tr.banned_until, until)
        self._circuit(tr, tr.breaker.hard_down(why))
        self._refresh(cause=why, detected_ns=detected_ns)


    def _circuit(self, tr: VenueTracker, tn: Transition | None) -> None:
        if tn is not None:
            if tn.new is CircuitState.CLOSED:
                # Recovered (a probe passed half-open): the outage's errors already opened the breaker; left in
                # the window they would hold the venue DEGRADED (error rate) for up to window_s and block the
                # failback. The error rate counts again from here.
                tr.outcomes.clear()
            self.bus.publish_msg(tn.event(tr.venue, self.clock.time_ns()))

    def _refresh(self, *, cause: str, detected_ns: int | None, only: VenueTracker | None = None) -> None:
        """Re-evaluate statuses (all, or one venue), publish changes, then run the selectors."""
        now = self.clock.monotonic()
        ts = self.clock.time_ns()
        for tr in (only,) if only is not None else self.trackers.values():
            tr.status, tr.reason = tr.evaluate(now)
            if tr.status is not tr.published_status:
                tr.published_status = tr.status
                self.bus.publish_msg(tr.health(ts))
        views = {v: tr.view() for v, tr in self.trackers.items()}
        if now < self._first_choice_at and any(not tr.reached and not tr.outcomes for tr in self.trackers.values()):
            self._poke()  # the first choice waits for every venue's first probe (not the quickest to answer)
            return
        for sel in self.selectors:
            fo = sel.update(views, now, ts, detected_ns, cause)
            if fo is not None:
                self.failovers.append(fo)
                self.bus.publish_msg(fo)
        self._poke()

    def _next_deadline(self) -> float:
        when = [self._next_publish]
        if self._first_choice_at < math.inf and self.clock.monotonic() < self._first_choice_at:
            when.append(self._first_choice_at)
        for v, tr in self.trackers.items():
            when += tr.deadlines()
            if v in self.probes and not tr.probing:
                when.append(tr.next_probe_at)
        when += [d for s in self.selectors if (d := s.next_deadline()) is not None]
        return min(when)

    def _poke(self) -> None:
        """Wake the timer early if a deadline earlier than the one it sleeps for appeared."""
        if self._wake is not None and self._next_deadline() < self._sleeping_until:
            self._wake.cancel()

    async def _timer(self) -> None:
        clock = self.clock
        while True:
            self._on_time(clock.monotonic())
            until = self._next_deadline()
            delay = until - clock.monotonic()
            with anyio.CancelScope() as scope:
                self._wake = scope
                self._sleeping_until = until
                await clock.sleep(max(0.0, delay))
            self._wake = None
            self._sleeping_until = math.inf

    def _on_time(self, now: float) -> None:
        """Everything that is due: cool-downs, ws grace, bans, probes, the periodic publish, selector holds."""
        for v, tr in self.trackers.items():
            tn = tr.breaker.poll()
            if tn is not None:
                self._circuit(tr, tn)
                tr.next_probe_at = now  # probe a half-open venue at once
            if tr.ws_closed_since is not None and not tr.ws_hard_down and now - tr.ws_closed_since >= self.config.ws_grace_s:
                tr.ws_hard_down = True
                why = f"{v} ws closed beyond grace of {self.config.ws_grace_s} s: {tr.ws_closed_reason}"
                self._circuit(tr, tr.breaker.hard_down(why))
            if tr.banned_until is not None and now >= tr.banned_until:
                tr.banned_until = None
            if v in self.probes and not tr.probing and now >= tr.next_probe_at:
                tr.probing = True
                # On schedule: the next probe is due one interval after this one was due, not after it ends.
                tr.next_probe_at = max(tr.next_probe_at + self.config.probe_interval_s, now)
                self.start_soon(self._probe, tr, name=f"{self.name}:probe:{v}")
        publish = now >= self._next_publish
        self._refresh(cause="timer", detected_ns=None)
        if publish:
            ts = self.clock.time_ns()
            for tr in self.trackers.values():
                self.bus.publish_msg(tr.health(ts))
            self._next_publish = max(self._next_publish + self.config.publish_interval_s, now)

    async def _probe(self, tr: VenueTracker) -> None:
        try:
            for n, probe in enumerate(self.probes[tr.venue]):
                ok, latency_ms, detail = await self._run_probe(probe)
                self._probe_result(tr, ok, latency_ms, f"probe {n} {detail}")
                if not ok:
                    break
        finally:
            tr.probing = False
            self._poke()

    async def _run_probe(self, probe: Probe) -> tuple[bool, float, str]:
        """One probe with a timeout measured on the injected clock."""
        result: list[tuple[bool, float, str]] = []
        timeout = self.config.probe_timeout_s

        async def call(scope: anyio.CancelScope) -> None:
            try:
                ms = await probe()
            except Exception as exc:  # noqa: BLE001 - any failure of the probe is the signal
                result.append((False, 0.0, f"failed: {type(exc).__name__}: {exc}"[:200]))
            else:
                result.append((True, ms, f"ok in {ms:.1f} ms"))
            scope.cancel()

        async def guard(scope: anyio.CancelScope) -> None:
            await self.clock.sleep(timeout)
            result.append((False, 0.0, f"timed out after {timeout} s"))
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, tg.cancel_scope)
            tg.start_soon(guard, tg.cancel_scope)
        return result[0]

    def _probe_result(self, tr: VenueTracker, ok: bool, latency_ms: float, detail: str) -> None:
        now = self.clock.monotonic()
        tr.outcomes.append((now, ok))
        if ok:
            tr.reached = True
            tr.latencies.append((now, latency_ms))
        self._circuit(tr, tr.breaker.record_probe(ok, f"{tr.venue} {detail}"))
        self._refresh(cause=f"{tr.venue} {detail}", detected_ns=None, only=tr)
