"""Per-venue request budgets: sliding windows counted the venue's way, corrected from its headers, a reserve
that only urgent requests (cancels, health probes) may spend, and a venue-wide pause for bans and
retry-after.

Rules:
- Each bucket is named (``ip``, ``orders``, an endpoint name...) with a capacity per period; a request
  takes its ``RequestSpec.weight`` (1 for a ``per_request`` bucket) from the bucket named by
  ``RequestSpec.endpoint`` (or ``default``) and, when ``routes`` names more buckets for it, from those too.
- Priorities: a fraction of every bucket (``reserve``, at least one request's worth) is kept for urgent
  requests. A normal request waits while taking it would dip into the reserve; an urgent one only waits
  when the bucket itself is full. So a burst of placements can fill a bucket up to the reserve but never
  make a cancel wait behind it.
- ``observe_usage(bucket, used)`` moves a bucket's level to what the venue says it has counted (the venue
  is the truth: other processes may share our IP or account).
- ``pause_until(t)`` stops every request to the venue until ``t`` (monotonic seconds): a ban or a
  retry-after. ``acquire`` waits it out, urgent or not; nothing is sent while paused.
- A budget is a sliding window (no more than its capacity in any span of its period), which stays under
  venues that count in fixed windows and in rolling ones alike.
- Time comes from the injected clock: a ManualClock moves the windows as it moves the waits.
"""

from __future__ import annotations

from collections import deque

import msgspec

from actors.clock import Clock, LiveClock
from venues.http import RequestSpec

__all__ = ["Bucket", "VenueLimiter"]


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    """``capacity`` units per ``period_s``; with ``per_request`` each request costs 1 whatever its weight
    (order counters count orders, not weight)."""

    name: str
    capacity: float
    period_s: float
    per_request: bool = False


class _Window:
    """One budget as a sliding window: the costs taken in the last ``period`` seconds, oldest first.

    A sliding window never lets more than ``capacity`` into any span of ``period`` seconds, so it keeps
    under a venue that counts in fixed windows (Binance's minute, Bybit's second) as well as one that counts
    in rolling windows. (A leaky bucket of the same size can put twice its capacity into one fixed window.)
    """

    __slots__ = ("capacity", "period", "reserve", "log", "used")

    def __init__(self, bucket: Bucket, reserve: float) -> None:
        self.capacity = float(bucket.capacity)
        self.period = bucket.period_s
        # Normal requests must leave ``reserve`` units free, but can always use at least one unit.
        self.reserve = min(max(1.0, self.capacity * reserve), max(0.0, self.capacity - 1.0))
        self.log: deque[tuple[float, float]] = deque()  # (monotonic time, cost)
        self.used = 0.0

    def expire(self, now: float) -> None:
        log, start = self.log, now - self.period
        while log and log[0][0] <= start:
            self.used -= log.popleft()[1]
        if not log:
            self.used = 0.0  # no float dust

    def wait_for(self, cost: float, urgent: bool, now: float) -> float:
        """Seconds until ``cost`` fits (0.0: it fits now)."""
        self.expire(now)
        ceiling = self.capacity if urgent else self.capacity - self.reserve
        over = self.used + min(cost, ceiling) - ceiling
        if over <= 1e-9:
            return 0.0
        freed = 0.0
        for t, c in self.log:  # the oldest entries leave the window first
            freed += c
            if freed >= over - 1e-9:
                return max(1e-6, t + self.period - now)
        return self.period

    def take(self, cost: float, now: float) -> None:
        self.log.append((now, cost))
        self.used += cost


class VenueLimiter:
    def __init__(self, venue: str, buckets: list[Bucket], *, clock: Clock | None = None,
                 routes: dict[str, tuple[str, ...]] | None = None, reserve: float = 0.1) -> None:
        """
        Args:
            venue: For messages.
            buckets: The budgets; one named ``default`` catches endpoints with no bucket of their own.
            routes: endpoint -> bucket names to charge (default: the bucket of the same name, else default).
            reserve: The fraction of each bucket kept for urgent requests.
        """
        self.venue = venue
        self._clock = clock or LiveClock()
        self._buckets = {b.name: b for b in buckets}
        self._buckets.setdefault("default", Bucket(name="default", capacity=1e9, period_s=1.0))
        self._levels = {name: _Window(b, reserve) for name, b in self._buckets.items()}
        self._routes = routes or {}
        self.paused_until = 0.0
        self.waits = 0

    def _names(self, spec: RequestSpec) -> tuple[str, ...]:
        if spec.endpoint in self._routes:
            return self._routes[spec.endpoint]
        if spec.endpoint in self._levels:
            return (spec.endpoint,)
        return ("default",)

    async def acquire(self, spec: RequestSpec, *, urgent: bool = False) -> None:
        """Wait for any pause to end, then take ``spec``'s cost from each bucket it counts against
        (``urgent``: the reserve may be spent)."""
        clock = self._clock
        waited = False
        while True:
            now = clock.monotonic()
            wait = self.paused_until - now
            if wait <= 0.0:
                costs = [(self._levels[n], 1.0 if self._buckets[n].per_request else float(spec.weight))
                         for n in self._names(spec)]
                wait = max((lv.wait_for(c, urgent, now) for lv, c in costs if c > 0.0), default=0.0)
                if wait <= 0.0:
                    for lv, c in costs:
                        lv.take(c, now)
                    return
            if not waited:
                self.waits += 1
                waited = True
            await clock.sleep(wait)

    def observe_usage(self, bucket: str, used: float) -> None:
        """The venue says ``used`` units of ``bucket`` are spent in its current window: more than we counted
        is added now (others share the IP or account); less (its window turned over) drops our oldest."""
        lv = self._levels.get(bucket)
        if lv is None:
            return
        now = self._clock.monotonic()
        lv.expire(now)
        used = max(0.0, min(float(used), lv.capacity))
        if used > lv.used + 1e-9:
            lv.take(used - lv.used, now)
        while lv.log and lv.used - lv.log[0][1] >= used - 1e-9:
            lv.used -= lv.log.popleft()[1]

    def headroom(self, bucket: str) -> float:
        """Fraction of ``bucket`` still free (1.0 = untouched)."""
        lv = self._levels.get(bucket)
        if lv is None:
            return 1.0
        lv.expire(self._clock.monotonic())
        return max(0.0, 1.0 - lv.used / lv.capacity)

    def reserve(self, bucket: str) -> float:
        """Units of ``bucket`` kept for urgent requests (0.0 for a bucket it does not have)."""
        lv = self._levels.get(bucket)
        return lv.reserve if lv is not None else 0.0

    def pause_until(self, until_mono: float) -> None:
        if until_mono > self.paused_until:
            self.paused_until = until_mono

    @property
    def paused(self) -> bool:
        return self.paused_until > self._clock.monotonic()
