"""Per-venue request budgets: aiolimiter buckets counted the venue's way, corrected from its headers,
and a venue-wide pause for bans and retry-after.

Rules:
- Each bucket is named (``ip``, ``orders``, an endpoint name...) with a capacity per period; a request
  acquires its ``RequestSpec.weight`` from the bucket named by ``RequestSpec.endpoint`` (or ``default``)
  and, when ``also`` names more buckets for it, from those too.
- ``observe_usage(bucket, used)`` moves a bucket's level to what the venue says it has counted (the
  venue is the truth: other processes may share our IP or account).
- ``pause_until(t)`` stops every request to the venue until ``t`` (monotonic seconds): a ban or a
  retry-after. ``acquire`` waits it out; nothing is sent while paused.
"""

from __future__ import annotations

import msgspec
from aiolimiter import AsyncLimiter

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


class VenueLimiter:
    def __init__(self, venue: str, buckets: list[Bucket], *, clock: Clock | None = None,
                 routes: dict[str, tuple[str, ...]] | None = None) -> None:
        """
        Args:
            venue: For messages.
            buckets: The budgets; one named ``default`` catches endpoints with no bucket of their own.
            routes: endpoint -> bucket names to charge (default: the bucket of the same name, else default).
        """
        self.venue = venue
        self._clock = clock or LiveClock()
        self._limiters = {b.name: AsyncLimiter(b.capacity, b.period_s) for b in buckets}
        self._buckets = {b.name: b for b in buckets}
        self._buckets.setdefault("default", Bucket(name="default", capacity=1e9, period_s=1.0))
        self._routes = routes or {}
        if "default" not in self._limiters:
            self._limiters["default"] = AsyncLimiter(1e9, 1.0)
        self.paused_until = 0.0
        self.waits = 0

    def _names(self, spec: RequestSpec) -> tuple[str, ...]:
        if spec.endpoint in self._routes:
            return self._routes[spec.endpoint]
        if spec.endpoint in self._limiters:
            return (spec.endpoint,)
        return ("default",)

    async def acquire(self, spec: RequestSpec) -> None:
        """Wait for any pause to end, then take ``spec.weight`` from each bucket it counts against."""
        now = self._clock.monotonic()
        if self.paused_until > now:
            self.waits += 1
            await self._clock.sleep(self.paused_until - now)
        for name in self._names(spec):
            lim = self._limiters[name]
            cost = 1.0 if self._buckets[name].per_request else float(spec.weight)
            if cost <= 0.0:
                continue
            weight = min(cost, lim.max_rate)
            if not lim.has_capacity(weight):
                self.waits += 1
            await lim.acquire(weight)

    def observe_usage(self, bucket: str, used: float) -> None:
        """The venue says ``used`` units of ``bucket`` are spent in its current window."""
        lim = self._limiters.get(bucket)
        if lim is None:
            return
        # aiolimiter has no public setter; its leaky-bucket level is ``_level`` (see aiolimiter/leakybucket.py).
        lim._leak()  # noqa: SLF001
        lim._level = max(0.0, min(float(used), lim.max_rate))  # noqa: SLF001

    def headroom(self, bucket: str) -> float:
        """Fraction of ``bucket`` still free (1.0 = untouched)."""
        lim = self._limiters.get(bucket)
        if lim is None:
            return 1.0
        lim._leak()  # noqa: SLF001
        return max(0.0, 1.0 - lim._level / lim.max_rate)  # noqa: SLF001

    def pause_until(self, until_mono: float) -> None:
        if until_mono > self.paused_until:
            self.paused_until = until_mono

    @property
    def paused(self) -> bool:
        return self.paused_until > self._clock.monotonic()
