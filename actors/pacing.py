"""Pacing: what a loop that retries after failures needs, held together (the clock it sleeps on, the
random source of its jitter and its backoff curve), so the three travel as one and the wait is one call.

Pure apart from ``sleep``, which sleeps on the injected clock.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from actors.backoff import Backoff
from actors.clock import Clock

__all__ = ["Pacing"]


class Pacing(NamedTuple):
    clock: Clock
    rng: random.Random
    backoff: Backoff

    def delay(self, attempt: int) -> float:
        """A full-jitter delay before retry number ``attempt`` (0-based), drawn from ``rng``."""
        return self.backoff.delay(attempt, self.rng)

    async def sleep(self, attempt: int) -> None:
        """Sleep on ``clock`` for a full-jitter delay before retry number ``attempt``."""
        await self.clock.sleep(self.delay(attempt))
