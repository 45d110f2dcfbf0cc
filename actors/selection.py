"""Active-venue selection with hysteresis. Pure: no I/O, no clock; time is passed in.

Rules:
- Eligible venues are those not DOWN and whose circuit is not OPEN. Among them the best is chosen by
  health (ok > degraded), then configured priority (lower first), then latency p50.
- The active venue is left at once when it stops being eligible (down, circuit open): no hold time.
- Otherwise a challenger replaces it only after being *better* without a break for ``hold_s``:
  better health, or the same health and a better priority, or the same health and priority and a latency
  lower by more than ``latency_margin`` (a fraction of the active venue's p50). A new challenger, or a
  moment when it is not better, starts the hold again. A switch restarts every hold, so two switches are
  never closer than ``hold_s`` unless the second one leaves a venue that became ineligible.
- Each change of the active venue returns exactly one Failover; no change returns None.
- Several selectors may exist (one per instrument group); each only knows its own ``venues``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import msgspec

from messages import CircuitState, Failover, HealthStatus, Venue

__all__ = ["SelectionConfig", "VenueView", "VenueSelector"]

_HEALTH_RANK = {HealthStatus.OK: 0, HealthStatus.DEGRADED: 1, HealthStatus.DOWN: 2}


class SelectionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One selector's scope and settings. ``venues`` is in priority order unless ``priority`` says
    otherwise (lower is preferred; equal values tie and fall through to latency)."""

    venues: list[Venue]
    name: str = "all"
    priority: dict[Venue, int] = {}
    hold_s: float = 10.0
    latency_margin: float = 0.2

    def priority_of(self, venue: Venue) -> int:
        return self.priority.get(venue, self.venues.index(venue))


class VenueView(NamedTuple):
    """What the selector needs to know about one venue right now."""

    status: HealthStatus
    circuit: CircuitState
    latency_p50_ms: float  # 0.0 (or nan) when there are no samples: treated as unknown, i.e. worst
    reason: str = ""
    reached: bool = True  # the venue has answered at least once (a venue never reached is never chosen)

    @property
    def eligible(self) -> bool:
        return self.reached and self.status is not HealthStatus.DOWN and self.circuit is not CircuitState.OPEN


def _latency(view: VenueView) -> float:
    lat = view.latency_p50_ms
    return lat if lat > 0.0 else float("inf")  # nan and 0 (no samples) sort last


class VenueSelector:
    """Keeps one active venue for a scope. Call ``update`` after anything that may change the choice."""

    def __init__(self, config: SelectionConfig) -> None:
        self.config = config
        self.active: Venue | None = None
        self.switches = 0
        self._challenger: Venue | None = None
        self._since: float = 0.0  # monotonic time the challenger started being better
        self._since_ns: int = 0
        self._switched_at: float | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def _key(self, venue: Venue, view: VenueView) -> tuple[int, int, float]:
        return (_HEALTH_RANK[view.status], self.config.priority_of(venue), _latency(view))

    def _better(self, cand: Venue, cv: VenueView, cur: Venue, av: VenueView) -> bool:
        ch, cp, cl = self._key(cand, cv)
        ah, ap, al = self._key(cur, av)
        if ch != ah:
            return ch < ah
        if cp != ap:
            return cp < ap
        return cl < al * (1.0 - self.config.latency_margin)

    def best(self, views: Mapping[Venue, VenueView]) -> Venue | None:
        """The top-ranked eligible venue (no hysteresis)."""
        eligible = [v for v in self.config.venues if v in views and views[v].eligible]
        if not eligible:
            return None
        return min(eligible, key=lambda v: self._key(v, views[v]))

    def next_deadline(self) -> float | None:
        """When a pending challenger's hold ends (monotonic seconds), so the caller can wake up then."""
        if self._challenger is None:
            return None
        return self._since + self.config.hold_s

    def update(
        self, views: Mapping[Venue, VenueView], now: float, ts_ns: int, detected_ns: int | None = None, cause: str = ""
    ) -> Failover | None:
        """Re-evaluate the choice.

        Args:
            views: the current view of (at least) this selector's venues.
            now: monotonic seconds. ts_ns: wall-clock ns of this decision (``ts_switched``).
            detected_ns: when the condition that prompted this update was detected (``ts_detected`` of a
                forced switch); defaults to ``ts_ns``.
            cause: what prompted this update, for the Failover's cause text.
        Returns:
            The Failover when the active venue changed, else None.
        """
        cur = self.active
        best = self.best(views)
        detected = ts_ns if detected_ns is None else detected_ns
        if cur is None or cur not in views or not views[cur].eligible:
            self._challenger = None
            if best == cur:
                return None
            if cur is None:
                why = f"{best} selected: no active venue"
            else:
                v = views.get(cur)
                state = f"{v.status.value}, circuit {v.circuit.value}" if v is not None else "unknown"
                why = f"{cur} ineligible ({state}): {cause or (v.reason if v else '')}".rstrip(": ")
            return self._switch(best, why, now, detected, ts_ns)
        # The active venue is usable: a challenger must stay better for hold_s.
        cv = views[cur]
        challenger = None
        if best is not None and best != cur and self._better(best, views[best], cur, cv):
            challenger = best
        if challenger is None:
            self._challenger = None
            return None
        if challenger != self._challenger:
            self._challenger = challenger
            self._since = now
            self._since_ns = ts_ns
        if now - self._since + 1e-9 < self.config.hold_s:
            return None
        bv = views[challenger]
        why = (
            f"{challenger} better than {cur} for {now - self._since:.3f} s: {bv.status.value} prio "
            f"{self.config.priority_of(challenger)} p50 {bv.latency_p50_ms:.1f} ms vs {cv.status.value} prio "
            f"{self.config.priority_of(cur)} p50 {cv.latency_p50_ms:.1f} ms"
        )
        return self._switch(challenger, why, now, self._since_ns, ts_ns)

    def _switch(self, to: Venue | None, why: str, now: float, detected_ns: int, ts_ns: int) -> Failover:
        frm = self.active
        self.active = to
        self.switches += 1
        self._challenger = None
        self._switched_at = now
        return Failover(from_venue=frm, to_venue=to, cause=f"[{self.name}] {why}", ts_detected=detected_ns, ts_switched=ts_ns)
