"""Bench-only plotting (matplotlib, not a crossbook dependency): latency percentiles against offered rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_latency_vs_rate"]


def plot_latency_vs_rate(png: str, title: str, series: dict[str, list[dict[str, Any]]],
                         keys: tuple[str, ...] = ("p50_us", "p99_us", "p999_us"),
                         limit_us: float | None = None) -> str | None:
    """One line per (series, percentile): x = offered msgs/s (``offered_msgs_per_s``), y = us, log scale.

    Returns the PNG path, or None (with a printed reason) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: --plot skipped: matplotlib is not installed (pip install matplotlib; bench-only)")
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"p50_us": "-", "p99_us": "--", "p999_us": ":", "max_us": "-."}
    for (name, rows), color in zip(series.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=False):
        rows = sorted(rows, key=lambda r: r["offered_msgs_per_s"])
        xs = [r["offered_msgs_per_s"] for r in rows]
        for k in keys:
            ax.plot(xs, [r[k] for r in rows], styles.get(k, "-"), marker="o", color=color, label=f"{name} {k[:-3]}")
    if limit_us is not None:
        ax.axhline(limit_us, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate, msgs/s (all venues)")
    ax.set_ylabel("latency, us")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    print(f"wrote {png}")
    return png
