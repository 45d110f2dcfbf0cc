"""Prometheus text exposition and a small JSON /health endpoint, on 127.0.0.1 only.

Pull model: collectors are functions called at scrape time that return samples; nothing is computed on
the hot path for metrics. No global registry: the daemon passes its collectors in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from actors.stats import Histogram

__all__ = ["Sample", "HistogramSample", "render", "metrics_app"]


class Sample:
    __slots__ = ("name", "help", "kind", "labels", "value")

    def __init__(self, name: str, value: float, labels: dict[str, str] | None = None, *, help: str = "",
                 kind: str = "gauge") -> None:
        self.name = name
        self.value = value
        self.labels = labels or {}
        self.help = help
        self.kind = kind


class HistogramSample:
    __slots__ = ("name", "help", "labels", "hist")

    def __init__(self, name: str, hist: Histogram, labels: dict[str, str] | None = None, *, help: str = "") -> None:
        self.name = name
        self.hist = hist
        self.labels = labels or {}
        self.help = help


def _labels(labels: dict[str, str], extra: dict[str, str] | None = None) -> str:
    merged = {**labels, **(extra or {})}
    if not merged:
        return ""
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(merged.items()))
    return "{" + inner + "}"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def render(samples: Iterable[Sample | HistogramSample]) -> str:
    """Prometheus text format 0.0.4, one HELP/TYPE header per metric name."""
    lines: list[str] = []
    seen: set[str] = set()
    for s in samples:
        if s.name not in seen:
            seen.add(s.name)
            kind = "histogram" if isinstance(s, HistogramSample) else s.kind
            if s.help:
                lines.append(f"# HELP {s.name} {s.help}")
            lines.append(f"# TYPE {s.name} {kind}")
        if isinstance(s, HistogramSample):
            for bound, count in s.hist.cumulative():
                le = "+Inf" if math.isinf(bound) else _num(bound)
                lines.append(f"{s.name}_bucket{_labels(s.labels, {'le': le})} {count}")
            lines.append(f"{s.name}_sum{_labels(s.labels)} {_num(s.hist.total)}")
            lines.append(f"{s.name}_count{_labels(s.labels)} {s.hist.count}")
        else:
            lines.append(f"{s.name}{_labels(s.labels)} {_num(s.value)}")
    return "\n".join(lines) + "\n"


Collector = Callable[[], Iterable[Sample | HistogramSample]]


def metrics_app(collectors: list[Collector], health: Callable[[], dict[str, Any]]) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        samples: list[Sample | HistogramSample] = []
        for c in collectors:
            samples.extend(c())
        return web.Response(text=render(samples), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Version": "0.0.4"})

    async def health_handler(_: web.Request) -> web.Response:
        body = health()
        status = 200 if body.get("status") in ("ok", "degraded") else 503
        return web.Response(text=json.dumps(body), status=status, content_type="application/json")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health_handler)
    return app
