"""Injected time: a Clock protocol with a live clock and a manual one for tests.

Everything that waits or timestamps (supervisor backoff, circuit breakers, staleness checks, watchdogs)
takes a Clock, so tests move time by hand and never sleep for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "LiveClock", "ManualClock"]


class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time in ns since the epoch (for ts fields)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (for intervals and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class LiveClock:
    """The real clock."""

    __slots__ = ()

    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when a test calls ``advance``.

    Sleepers are woken in deadline order once ``advance`` passes their deadline. ``sleep_calls`` records
    every requested duration so tests can check backoff delays exactly.
    """

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = 0.0
        self._epoch_ns = start_ns
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.sleep_calls: list[float] = []

    def time_ns(self) -> int:
        return self._epoch_ns + int(self._now * 1e9)

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.sleep_calls.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now + 1e-12:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def settle(self, rounds: int = 20) -> None:
        """Let the event loop run the tasks woken so far (a test helper; no time passes)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance_and_settle(self, seconds: float, rounds: int = 20) -> None:
        self.advance(seconds)
        await self.settle(rounds)
