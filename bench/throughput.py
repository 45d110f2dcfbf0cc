"""Throughput benchmark: raise the offered rate until frame -> best p99 passes 1 ms; the sustained msgs/s.

    python bench/throughput.py [--quick] [--json PATH] [--plot/--no-plot] [--rates 2500,5000,...] [--floor]

The same rig as bench/latency.py (bench/pipeline.py): the source process (bench/replay.py) pinned to CPU 1
paces every venue's depth stream at RATE frames/s; crossbook's full pipeline (aiohttp receive, codec
decode + book, bus, conflating mailbox, Aggregator) runs in this process pinned to CPU 0, on uvloop. The
ramp goes up the rates (frames/s per venue) and stops after the first rate whose p99 passes 1 ms or whose
achieved rate falls below 90 % of the offered one (the pipeline no longer keeps up). msgs_per_s = Quotes
published by the exchange actors per second of the window (every frame gives one); the sustained figure is
the highest achieved msgs/s among the rates that held p99 <= 1 ms. Target >= 60 k msgs/s. ``--floor``
adds the hand-written floor at each rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio  # noqa: E402

from bench.latency import cpus, measure, pin  # noqa: E402
from bench.pipeline import VENUES  # noqa: E402
from bench.replay import FrameSource  # noqa: E402
from bench.report import print_table, write_json  # noqa: E402

LIMIT_P99_US = 1000.0
TARGET_MSGS = 60_000.0


async def ramp(src: FrameSource, rates: list[float], repeats: int, warm: float, seconds: float,
               floor: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for rate in rates:
        got = await measure(src, [rate], repeats, warm, seconds, floor=floor, log=False, phasings=("random",))
        frame_rows = [r for r in got if r["path"] == "frame"]
        o = frame_rows[0]
        o["keeps_up"] = o["msgs_per_s"] >= 0.9 * o["offered_msgs_per_s"]
        print(f"  offered {o['offered_msgs_per_s']:,.0f}/s: achieved {o['msgs_per_s']:,.0f}/s, "
              f"p50 {o['p50_us']:.0f} us, p99 {o['p99_us']:.0f} us", flush=True)
        rows += frame_rows
        if o["p99_us"] > LIMIT_P99_US or not o["keeps_up"]:
            break
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a run of under a minute")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--rates", default="1000,2500,5000,7500,10000,12500,15000,20000,25000",
                   help="frames/s per venue, ascending")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--floor", action="store_true", help="also run the floor at each rate")
    p.add_argument("--no-pin", action="store_true")
    args = p.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    warm = 0.5
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    ours_cpu, src_cpu = cpus(args.no_pin)
    t_start = time.perf_counter()
    src = FrameSource(list(VENUES), int(max(rates) * (seconds + warm + 1.5)), src_cpu)
    pin(ours_cpu)
    try:
        rows = anyio.run(ramp, src, rates, repeats, warm, seconds, args.floor, backend="asyncio",
                         backend_options={"use_uvloop": True})
    finally:
        src.stop()
    ours = [r for r in rows if r["case"] == "ours"]
    ok = [r for r in ours if r["p99_us"] <= LIMIT_P99_US and r["keeps_up"]]
    sustained = max((r["msgs_per_s"] for r in ok), default=0.0)
    cols = ["name", "offered_msgs_per_s", "msgs_per_s", "p50_us", "p99_us", "p999_us", "max_us", "ratio_vs_floor"]
    print_table(f"throughput ramp (one core: ours CPU{ours_cpu}, source CPU{src_cpu}; uvloop; repeats={repeats}, "
                f"{seconds:g} s windows; medians)", rows, cols)
    summary = {"name": "sustained msgs/s with frame->best p99 <= 1 ms", "msgs_per_s": sustained,
               "case": "summary", "path": "frame", "offered_msgs_per_s": None}
    print(f"\n{'PASS' if sustained >= TARGET_MSGS else 'FAIL'}  sustained {sustained:,.0f} msgs/s with p99 <= 1 ms "
          f">= {TARGET_MSGS:,.0f} (source sent up to {max(rates) * len(VENUES):,.0f}/s offered)")
    elapsed = time.perf_counter() - t_start
    print(f"({elapsed:.1f} s)")
    if args.json:
        write_json(args.json, {"quick": args.quick, "repeats": repeats, "seconds": seconds, "rates_per_venue": rates,
                               "pin": {"ours": ours_cpu, "source": src_cpu}, "limit_p99_us": LIMIT_P99_US,
                               "target_msgs_per_s": TARGET_MSGS, "elapsed_s": round(elapsed, 1)}, rows + [summary])
    if args.plot if args.plot is not None else bool(args.json):
        from bench.plot import plot_latency_vs_rate

        png = str(Path(args.json).with_suffix(".png")) if args.json else "bench/results/throughput.png"
        series = {c: [r for r in rows if r["case"] == c] for c in ("ours", "floor") if any(r["case"] == c for r in rows)}
        plot_latency_vs_rate(png, "frame -> best percentiles vs offered rate (throughput ramp)", series,
                             keys=("p50_us", "p99_us", "p999_us"), limit_us=LIMIT_P99_US)
    return 0


if __name__ == "__main__":
    sys.exit(main())
