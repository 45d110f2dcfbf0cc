"""Small, allocation-free statistics kept by actors for health, status and metrics. Pure; no I/O."""

from __future__ import annotations

import bisect
from collections import deque

__all__ = ["Histogram", "Window"]

DEFAULT_MS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)


class Histogram:
    """A cumulative histogram (Prometheus semantics: counts never go down)."""

    __slots__ = ("bounds", "counts", "count", "total")

    def __init__(self, bounds: tuple[float, ...] = DEFAULT_MS_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, cumulative count) pairs, the last bound being +inf."""
        out = []
        acc = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            acc += n
            out.append((bound, acc))
        return out


class Window:
    """The last ``size`` samples, for sliding p50/p99."""

    __slots__ = ("_values",)

    def __init__(self, size: int = 1000) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._values.append(value)

    def __len__(self) -> int:
        return len(self._values)

    def quantile(self, q: float) -> float:
        if not self._values:
            return float("nan")
        s = sorted(self._values)
        k = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
        return s[k]
