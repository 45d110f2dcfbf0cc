"""Bus benchmark: publish -> actor handler latency and burst throughput, against a bare asyncio.Queue hop.

    python bench/bus.py [--quick] [--json PATH] [--repeats N]

For each case the same work runs through (a) crossbook's Bus + Actor (publish = synchronous put into the
subscriber's mailbox; the actor's loop takes it and calls ``handle``) and (b) the floor: a bare
asyncio.Queue between two tasks. Latency is one message in flight (publisher yields until it is handled);
throughput is bursts of 1,000 messages. Runs on uvloop when installed. Reported: medians over repeats with
min and max, and ours/floor ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio  # noqa: E402

from actors import topics  # noqa: E402
from actors.base import Actor  # noqa: E402
from actors.bus import Bus  # noqa: E402
from bench.report import median_min_max, print_table, summarize_us, write_json  # noqa: E402
from messages import InstrumentId, Quote, Venue  # noqa: E402

perf_ns = time.perf_counter_ns
INST = InstrumentId("BTC-USDT-PERP")


class LatencyActor(Actor):
    def __init__(self, name: str, bus: Bus, conflate: bool, n_expected: int) -> None:
        super().__init__(name, bus=bus)
        self.samples: list[int] = []
        self.count = 0
        self.conflate = conflate
        self.done = asyncio.Event()
        self.n_expected = n_expected

    async def on_start(self) -> None:
        self.subscribe(topics.quote(">"), conflate=self.conflate, capacity=100_000)

    async def handle(self, msg: Any) -> Any:
        self.samples.append(perf_ns() - msg.ts_recv)
        self.count += 1
        if self.count >= self.n_expected:
            self.done.set()


def _quote(t: int) -> Quote:
    return Quote(venue=Venue.BINANCE, instrument=INST, bid_px=96500.0, bid_sz=1.0, ask_px=96500.1, ask_sz=2.0,
                 ts_event=t, ts_recv=t)


async def _ours_latency(n: int, subs: int) -> list[int]:
    bus = Bus()
    actors = [LatencyActor(f"lat{i}", bus, True, n) for i in range(subs)]
    topic = topics.quote(Venue.BINANCE, INST)
    async with anyio.create_task_group() as tg:
        for a in actors:
            await tg.start(a.run)
        for _ in range(n):
            bus.publish(topic, _quote(perf_ns()))
            while actors[-1].count < _ + 1:
                await asyncio.sleep(0)
        for a in actors:
            await a.ref.stop()
    bus.close()
    return [s for a in actors for s in a.samples]


async def _floor_latency(n: int, subs: int) -> list[int]:
    queues: list[asyncio.Queue[Quote]] = [asyncio.Queue() for _ in range(subs)]
    samples: list[int] = []
    counts = [0] * subs

    async def consumer(i: int) -> None:
        q = queues[i]
        while True:
            msg = await q.get()
            samples.append(perf_ns() - msg.ts_recv)
            counts[i] += 1

    async with anyio.create_task_group() as tg:
        for i in range(subs):
            tg.start_soon(consumer, i)
        await asyncio.sleep(0)
        for k in range(n):
            m = _quote(perf_ns())
            for q in queues:
                q.put_nowait(m)
            while counts[-1] < k + 1:
                await asyncio.sleep(0)
        tg.cancel_scope.cancel()
    return samples


async def _ours_throughput(n: int, burst: int) -> float:
    bus = Bus()
    actor = LatencyActor("thr", bus, False, n)
    topic = topics.quote(Venue.BINANCE, INST)
    msg = _quote(0)
    async with anyio.create_task_group() as tg:
        await tg.start(actor.run)
        t0 = perf_ns()
        sent = 0
        while sent < n:
            for _ in range(burst):
                bus.publish(topic, msg)
            sent += burst
            while actor.count < sent:
                await asyncio.sleep(0)
        elapsed = perf_ns() - t0
        await actor.ref.stop()
    bus.close()
    return n / (elapsed / 1e9)


async def _floor_throughput(n: int, burst: int) -> float:
    q: asyncio.Queue[Quote] = asyncio.Queue()
    count = 0
    sink: list[int] = []

    async def consumer() -> None:
        nonlocal count
        while True:
            m = await q.get()
            sink.append(perf_ns() - m.ts_recv)
            count += 1

    msg = _quote(0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await asyncio.sleep(0)
        t0 = perf_ns()
        sent = 0
        while sent < n:
            for _ in range(burst):
                q.put_nowait(msg)
            sent += burst
            while count < sent:
                await asyncio.sleep(0)
        elapsed = perf_ns() - t0
        tg.cancel_scope.cancel()
    return n / (elapsed / 1e9)


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    n_lat = 2_000 if args.quick else 20_000
    n_thr = 50_000 if args.quick else 300_000
    results: list[dict[str, Any]] = []
    for subs in (1, 10):
        ours_runs, floor_runs = [], []
        for _ in range(args.repeats):
            floor_runs.append(summarize_us(await _floor_latency(n_lat, subs)))
            ours_runs.append(summarize_us(await _ours_latency(n_lat, subs)))
        for label, runs in (("floor asyncio.Queue", floor_runs), ("crossbook bus+actor", ours_runs)):
            row: dict[str, Any] = {"name": f"latency {label}, {subs} sub"}
            for key in ("p50_us", "p99_us", "p999_us", "max_us"):
                med, lo, hi = median_min_max([r[key] for r in runs])
                row[key] = med
                row[key.replace("_us", "_min_us")] = lo
                row[key.replace("_us", "_max_us")] = hi
            results.append(row)
        floor_p50 = results[-2]["p50_us"]
        results[-1]["ratio_vs_floor"] = results[-1]["p50_us"] / floor_p50
        results[-2]["ratio_vs_floor"] = 1.0
    ours_t, floor_t = [], []
    for _ in range(args.repeats):
        floor_t.append(await _floor_throughput(n_thr, 1000))
        ours_t.append(await _ours_throughput(n_thr, 1000))
    fm, flo, fhi = median_min_max(floor_t)
    om, olo, ohi = median_min_max(ours_t)
    results.append({"name": "throughput floor asyncio.Queue, bursts of 1000", "msgs_per_s": fm,
                    "msgs_per_s_min": flo, "msgs_per_s_max": fhi, "ratio_vs_floor": 1.0})
    results.append({"name": "throughput crossbook bus+actor, bursts of 1000", "msgs_per_s": om,
                    "msgs_per_s_min": olo, "msgs_per_s_max": ohi, "ratio_vs_floor": fm / om})
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a run of well under a minute")
    p.add_argument("--json", metavar="PATH", help="write results as JSON")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args()
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    opts: dict[str, Any] = {}
    if not args.no_uvloop:
        try:
            import uvloop  # noqa: F401

            opts["use_uvloop"] = True
        except ImportError:
            pass
    results = anyio.run(_run, args, backend="asyncio", backend_options=opts)
    cols = ["name", "p50_us", "p99_us", "p999_us", "max_us", "msgs_per_s", "ratio_vs_floor"]
    print_table(f"bus benchmark (uvloop={bool(opts)}, repeats={args.repeats}, medians; ratio = ours/floor, time)",
                results, cols)
    if args.json:
        write_json(args.json, {"quick": args.quick, "repeats": args.repeats, "uvloop": bool(opts)}, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
