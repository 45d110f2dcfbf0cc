"""Capped exponential backoff with full jitter, shared by the supervisor and the transports.

``delay(attempt) = uniform(0, min(cap, base * 2**attempt))`` with an injected ``random.Random``. Callers
reset ``attempt`` to 0 once the thing they retry has been stable for ``reset_after_s``, so a mass
disconnect spreads its reconnects over the whole jitter window instead of one burst.
"""

from __future__ import annotations

import random

import msgspec

__all__ = ["Backoff"]


class Backoff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Full-jitter exponential backoff."""

    base_s: float = 0.1
    cap_s: float = 30.0
    reset_after_s: float = 60.0

    def bound(self, attempt: int) -> float:
        """The upper bound of the delay before retry number ``attempt`` (0-based)."""
        return min(self.cap_s, self.base_s * (2.0 ** min(attempt, 64)))

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.bound(attempt))
