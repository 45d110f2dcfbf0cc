"""Shared by every bench script: machine facts, percentiles, the printed table and the JSON file.

JSON shape: {"machine": {...}, "params": {...}, "results": [{"name": ..., "p50_us": ..., "p99_us": ...,
"msgs_per_s": ..., "ratio_vs_floor": ..., ...}, ...]}; metric keys carry their unit.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine", "percentile", "summarize_us", "print_table", "write_json", "median_min_max"]


def machine() -> dict[str, Any]:
    versions = {}
    for pkg in ("msgspec", "aiohttp", "anyio", "uvloop", "aiolimiter"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "packages": versions,
    }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100.0 * (len(sorted_values) - 1)))))
    return float(sorted_values[k])


def summarize_us(samples_ns: Sequence[int]) -> dict[str, float]:
    s = sorted(samples_ns)
    return {
        "p50_us": percentile(s, 50) / 1000.0,
        "p99_us": percentile(s, 99) / 1000.0,
        "p999_us": percentile(s, 99.9) / 1000.0,
        "max_us": (s[-1] / 1000.0) if s else float("nan"),
        "samples": float(len(s)),
    }


def median_min_max(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    print(f"\n{title}")
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"
    return str(v)


def write_json(path: str, params: dict[str, Any], results: list[dict[str, Any]]) -> None:
    doc = {"machine": machine(), "params": params, "results": results}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=2))
    print(f"\nwrote {path}")
