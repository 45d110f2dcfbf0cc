"""NATS bridge benchmark: Quote latency and throughput across two OS processes, next to the in-process bus.

    python bench/nats.py [--quick] [--json PATH] [--repeats N] [--no-uvloop]

A nats-server (Debian's package, or $NATS_SERVER_BIN) is started on a free loopback port. The publisher is a
second OS process (this script with ``--publisher``): Bus -> NatsBridge -> core NATS. This process runs
Bus <- NatsBridge and an actor that records ``time.time_ns() - quote.ts_recv`` (the publisher stamps
``ts_recv`` with ``time.time_ns()`` just before ``bus.publish``; one machine, one clock).

- latency: one quote every ~1 ms on one topic (never conflated at that pace), p50/p99/p999.
- throughput: bursts of 1,000 quotes on 1,000 topics; the publisher waits for its bridge to hand each burst
  to NATS before the next one, so nothing is conflated; msgs/s counted at the subscriber, first to last.
- the floor: the in-process bus hop (publish -> actor handler, ``bench/bus.py``'s measurement), same run.
  ``ratio_vs_floor`` = cross-process p50 / in-process p50 (latency) and in-process / cross-process msgs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# Run as a script, this file's folder would come first on sys.path and this module would shadow nats-py.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(_HERE.parent))

import anyio  # noqa: E402
import anyio.lowlevel  # noqa: E402

from actors import topics  # noqa: E402
from actors.base import Actor  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.nats_bridge import NatsBridge, NatsBridgeConfig  # noqa: E402
from bench.bus import _ours_latency, _ours_throughput  # noqa: E402
from bench.report import median_min_max, print_table, summarize_us, write_json  # noqa: E402
from messages import InstrumentId, Quote, Venue  # noqa: E402

BURST = 1000


def _quote(n: int, instrument: InstrumentId) -> Quote:
    t = time.time_ns()
    return Quote(venue=Venue.BINANCE, instrument=instrument, bid_px=96500.0 + n, bid_sz=1.0, ask_px=96500.1 + n,
                 ask_sz=2.0, ts_event=n, ts_recv=t)


# -- the publisher process ------------------------------------------------------------------------
async def _publisher(args: dict[str, Any]) -> None:
    bus = Bus()
    bridge = NatsBridge(NatsBridgeConfig(servers=[args["url"]], node="bench-pub", publish=["md.>"]), bus=bus,
                        name="bench-pub")
    n = int(args["n"])
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        print("ready", flush=True)
        sys.stdin.readline()  # the subscriber says go
        if args["mode"] == "latency":
            inst = InstrumentId("BTC-USDT-PERP")
            for k in range(n):
                bus.publish_msg(_quote(k, inst))
                await anyio.sleep(0.001)
        else:
            insts = [InstrumentId(f"I{i}-USDT-PERP") for i in range(BURST)]
            sent = 0
            while sent < n:
                for i in range(BURST):
                    bus.publish_msg(_quote(sent + i, insts[i]))
                sent += BURST
                while bridge.status().published_core + bridge.status().dropped_core < sent:  # noqa: ASYNC110
                    await anyio.lowlevel.checkpoint()
        await anyio.sleep(0.5)
        st = bridge.status()
        print(json.dumps({"published": st.published_core, "dropped": st.dropped_core}), flush=True)
        await bridge.ref.stop()
    bus.close()


# -- the subscriber (this process) ----------------------------------------------------------------
class _Sink(Actor):
    def __init__(self, bus: Bus) -> None:
        super().__init__("sink", bus=bus)
        self.samples: list[int] = []
        self.first = 0
        self.last = 0

    async def on_start(self) -> None:
        self.subscribe(topics.quote(">"), conflate=False, capacity=2_000_000)

    async def handle(self, msg: Any) -> Any:
        now = time.time_ns()
        self.samples.append(now - msg.ts_recv)
        if not self.first:
            self.first = now
        self.last = now


async def _cross_process(url: str, mode: str, n: int, uvloop: bool) -> tuple[list[int], float, dict[str, Any]]:
    bus = Bus()
    bridge = NatsBridge(NatsBridgeConfig(servers=[url], node="bench-sub", subscribe=["md.>"]), bus=bus,
                        name="bench-sub")
    sink = _Sink(bus)
    cmd = [sys.executable, str(Path(__file__)), "--publisher", json.dumps({"url": url, "mode": mode, "n": n})]
    if not uvloop:
        cmd.append("--no-uvloop")
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        await tg.start(sink.run)
        async with await anyio.open_process(cmd, cwd=_HERE.parent) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            out = b""
            while b"ready\n" not in out:
                chunk = await proc.stdout.receive()
                out += chunk
            await proc.stdin.send(b"go\n")
            with anyio.move_on_after(60):
                while len(sink.samples) < n:  # noqa: ASYNC110 - polling a counter between two processes
                    await anyio.sleep(0.01)
            with anyio.fail_after(30):
                async for chunk in proc.stdout:
                    out += chunk
            await proc.wait()
        await sink.ref.stop()
        await bridge.ref.stop()
    bus.close()
    pub = json.loads(out.decode().strip().splitlines()[-1])
    pub["received"] = len(sink.samples)
    elapsed = (sink.last - sink.first) / 1e9
    rate = (len(sink.samples) - 1) / elapsed if elapsed > 0 else float("nan")
    return sink.samples, rate, pub


class _Server:
    def __init__(self) -> None:
        binary = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(binary).exists():
            sys.exit("nats-server not found: apt-get install nats-server (or set NATS_SERVER_BIN)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="crossbook-bench-nats-")
        self.proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"nats://127.0.0.1:{self.port}"
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.01)
        sys.exit("nats-server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def _row(name: str, runs: list[dict[str, float]]) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name}
    for key in ("p50_us", "p99_us", "p999_us", "max_us"):
        med, lo, hi = median_min_max([r[key] for r in runs])
        row[key], row[key.replace("_us", "_min_us")], row[key.replace("_us", "_max_us")] = med, lo, hi
    return row


async def _run(args: argparse.Namespace, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n_lat = 2_000 if args.quick else 10_000
    n_thr = 50_000 if args.quick else 200_000
    n_bus = 2_000 if args.quick else 20_000
    bus_lat, x_lat, bus_thr, x_thr, pubs = [], [], [], [], []
    for _ in range(args.repeats):
        bus_lat.append(summarize_us(await _ours_latency(n_bus, 1)))
        samples, _rate, pub = await _cross_process(url, "latency", n_lat, not args.no_uvloop)
        x_lat.append(summarize_us(samples))
        pubs.append({"mode": "latency", **pub})
        bus_thr.append(await _ours_throughput(n_thr * 2, BURST))
        _samples, rate, pub = await _cross_process(url, "throughput", n_thr, not args.no_uvloop)
        x_thr.append(rate)
        pubs.append({"mode": "throughput", **pub})
    results = [_row("latency in-process bus+actor (floor)", bus_lat),
               _row("latency cross-process bus>bridge>NATS>bridge>bus>actor", x_lat)]
    results[0]["ratio_vs_floor"] = 1.0
    results[1]["ratio_vs_floor"] = results[1]["p50_us"] / results[0]["p50_us"]
    bm, blo, bhi = median_min_max(bus_thr)
    xm, xlo, xhi = median_min_max(x_thr)
    results.append({"name": "throughput in-process bus+actor (floor), bursts of 1000", "msgs_per_s": bm,
                    "msgs_per_s_min": blo, "msgs_per_s_max": bhi, "ratio_vs_floor": 1.0})
    results.append({"name": "throughput cross-process via NATS, bursts of 1000", "msgs_per_s": xm,
                    "msgs_per_s_min": xlo, "msgs_per_s_max": xhi, "ratio_vs_floor": bm / xm})
    return results, pubs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a run of well under a minute")
    p.add_argument("--json", metavar="PATH", help="write results as JSON")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--no-uvloop", action="store_true")
    p.add_argument("--publisher", metavar="JSON", help=argparse.SUPPRESS)
    args = p.parse_args()
    opts: dict[str, Any] = {}
    if not args.no_uvloop:
        try:
            import uvloop  # noqa: F401

            opts["use_uvloop"] = True
        except ImportError:
            pass
    if args.publisher:
        anyio.run(_publisher, json.loads(args.publisher), backend_options=opts)
        return 0
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    server = _Server()
    try:
        results, pubs = anyio.run(_run, args, server.url, backend_options=opts)
    finally:
        server.close()
    print_table("Quote latency, us (median of repeats)", [r for r in results if "p50_us" in r],
                ["name", "p50_us", "p99_us", "p999_us", "max_us", "ratio_vs_floor"])
    print_table("Quote throughput, msgs/s (median of repeats)", [r for r in results if "msgs_per_s" in r],
                ["name", "msgs_per_s", "msgs_per_s_min", "msgs_per_s_max", "ratio_vs_floor"])
    print("\npublisher side:", "; ".join(f"{x['mode']}: sent {x['published']}, dropped {x['dropped']}, "
                                         f"received {x['received']}" for x in pubs))
    if args.json:
        params = {"quick": args.quick, "repeats": args.repeats, "uvloop": bool(opts), "burst": BURST,
                  "nats_server": server.url.rsplit(":", 1)[0]}
        write_json(args.json, params, results + [{"name": "publisher", "runs": pubs}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
