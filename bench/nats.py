"""NATS bridge benchmark: Quote latency and throughput across two OS processes, next to the in-process bus.

    python bench/nats.py [--quick] [--json PATH] [--repeats N] [--no-uvloop]

A nats-server (Debian's package, or $NATS_SERVER_BIN) is started on a free loopback port. The publisher is a
second OS process (this script with ``--publisher``): Bus -> NatsBridge -> core NATS. This process runs
Bus <- NatsBridge and an actor that records ``time.time_ns() - quote.ts_recv`` (the publisher stamps
``ts_recv`` with ``time.time_ns()`` just before ``bus.publish``; one machine, one clock).

- latency: one quote every ~1 ms on one topic (never conflated at that pace), p50/p99/p999.
- throughput: bursts of 1,000 quotes on 1,000 topics; the publisher waits for its bridge to hand each burst
  to NATS before the next one, so nothing is conflated; msgs/s counted at the subscriber, first to last.
- the floor: bare nats-py, same process layout, same server, same subjects and the same msgpack payload (a
  publisher process: ``nc.publish`` of the encoded Quote, a flush after each burst; this process: one
  subscription on ``md.>`` decoding each payload), same run. ``ratio_vs_floor`` = bridge p50 / floor p50
  (``ratio_p99_vs_floor``, ``ratio_p999_vs_floor`` likewise) and floor msgs/s / bridge msgs/s.
- JetStream, where the bridge uses it (orders): an OrderUpdate every ~1 ms, each publish acknowledged before
  the next (as the bridge sends orders), against bare nats-py ``js.publish`` to its own stream and a pull
  consumer that fetches and acks; p50/p99/p999 and the ratios.
- for reference: the in-process bus hop (publish -> actor handler, ``bench/bus.py``'s measurement).
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
from decimal import Decimal
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# Run as a script, this file's folder would come first on sys.path and this module would shadow nats-py.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(_HERE.parent))

import anyio  # noqa: E402
import anyio.lowlevel  # noqa: E402
import msgspec  # noqa: E402

from actors import topics  # noqa: E402
from actors.base import Actor  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.nats_bridge import NatsBridge, NatsBridgeConfig  # noqa: E402
from bench.bus import _ours_latency, _ours_throughput  # noqa: E402
from bench.report import median_min_max, print_table, summarize_us, write_json  # noqa: E402
from messages import InstrumentId, OrderStatus, OrderType, OrderUpdate, Quote, Side, Venue  # noqa: E402

BURST = 1000
BARE_JS_SUBJECT = "bare.orders.update"  # the floor's own stream, apart from the bridge's


def _update(n: int) -> OrderUpdate:
    """An order update (the JetStream path), stamped like the quotes."""
    return OrderUpdate(venue=Venue.BINANCE, instrument=InstrumentId("BTC-USDT-PERP"), client_order_id=None,
                       venue_order_id=None, status=OrderStatus.SUBMITTED, raw_status="NEW", side=Side.BUY,
                       order_type=OrderType.LIMIT, quantity=Decimal("0.010"), filled_qty=Decimal(0), avg_price=None,
                       price=Decimal("96500.1"), ts_event=n, ts_recv=time.time_ns())


def _quote(n: int, instrument: InstrumentId) -> Quote:
    t = time.time_ns()
    return Quote(venue=Venue.BINANCE, instrument=instrument, bid_px=96500.0 + n, bid_sz=1.0, ask_px=96500.1 + n,
                 ask_sz=2.0, ts_event=n, ts_recv=t)


# -- the publisher process ------------------------------------------------------------------------
async def _publisher(args: dict[str, Any]) -> None:
    bus = Bus()
    bridge = NatsBridge(NatsBridgeConfig(servers=[args["url"]], node="bench-pub", publish=["md.>", "orders.>"]),
                        bus=bus, name="bench-pub")
    n = int(args["n"])
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        print("ready", flush=True)
        sys.stdin.readline()  # the subscriber says go
        if args["mode"] == "jetstream":
            for k in range(n):  # one at a time: the bridge publishes orders one at a time, each acknowledged
                bus.publish_msg(_update(k))
                await anyio.sleep(0.001)
        elif args["mode"] == "latency":
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
        sent, dropped = ((st.published_js, st.dropped_orders) if args["mode"] == "jetstream"
                         else (st.published_core, st.dropped_core))
        print(json.dumps({"published": sent, "dropped": dropped}), flush=True)
        await bridge.ref.stop()
    bus.close()


# -- the floor: bare nats-py, publisher process and subscriber ------------------------------------
async def _bare_publisher(args: dict[str, Any]) -> None:
    import nats

    nc = await nats.connect(args["url"])
    js = nc.jetstream()
    n = int(args["n"])
    print("ready", flush=True)
    sys.stdin.readline()
    if args["mode"] == "jetstream":
        for k in range(n):  # each acknowledged before the next, as the bridge does
            await js.publish(BARE_JS_SUBJECT, msgspec.msgpack.encode(_update(k)))
            await anyio.sleep(0.001)
    elif args["mode"] == "latency":
        inst = InstrumentId("BTC-USDT-PERP")
        subject = topics.quote(Venue.BINANCE, inst)
        for k in range(n):
            await nc.publish(subject, msgspec.msgpack.encode(_quote(k, inst)))
            await anyio.sleep(0.001)
    else:
        insts = [InstrumentId(f"I{i}-USDT-PERP") for i in range(BURST)]
        subjects = [topics.quote(Venue.BINANCE, i) for i in insts]
        sent = 0
        while sent < n:
            for i in range(BURST):
                await nc.publish(subjects[i], msgspec.msgpack.encode(_quote(sent + i, insts[i])))
            await nc.flush()
            sent += BURST
    await nc.flush()
    await anyio.sleep(0.5)
    print(json.dumps({"published": n, "dropped": 0}), flush=True)
    await nc.close()


async def _bare_cross_process(url: str, mode: str, n: int, uvloop: bool) -> tuple[list[int], float, dict[str, Any]]:
    import nats

    samples: list[int] = []
    first = last = 0
    decode = msgspec.msgpack.Decoder(Quote).decode

    async def on_msg(msg: Any) -> None:
        nonlocal first, last
        now = time.time_ns()
        samples.append(now - decode(msg.data).ts_recv)
        if not first:
            first = now
        last = now

    nc = await nats.connect(url)
    if mode == "jetstream":
        from nats.js.api import StreamConfig

        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="BENCH_BARE", subjects=[BARE_JS_SUBJECT]))
        psub = await js.pull_subscribe(BARE_JS_SUBJECT, durable="bench-bare")
        decode_update = msgspec.msgpack.Decoder(OrderUpdate).decode

        async def pull() -> None:
            nonlocal first, last
            while len(samples) < n:
                try:
                    msgs = await psub.fetch(256, timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                for m in msgs:
                    now = time.time_ns()
                    samples.append(now - decode_update(m.data).ts_recv)
                    first = first or now
                    last = now
                    await m.ack()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pull)
            out = await _drive(["--bare-publisher", json.dumps({"url": url, "mode": mode, "n": n})], uvloop,
                               lambda: len(samples) >= n)
        await js.delete_stream("BENCH_BARE")
    else:
        await nc.subscribe("md.>", cb=on_msg, pending_msgs_limit=2_000_000, pending_bytes_limit=1 << 30)
        await nc.flush()
        out = await _drive(["--bare-publisher", json.dumps({"url": url, "mode": mode, "n": n})], uvloop,
                           lambda: len(samples) >= n)
    await nc.close()
    pub = json.loads(out.decode().strip().splitlines()[-1])
    pub["received"] = len(samples)
    elapsed = (last - first) / 1e9
    return samples, (len(samples) - 1) / elapsed if elapsed > 0 else float("nan"), pub


async def _drive(argv: list[str], uvloop: bool, done: Any) -> bytes:
    """Run this script as the publisher process, say go once it is ready, wait until ``done()`` (bounded),
    and return what it printed."""
    cmd = [sys.executable, str(Path(__file__)), *argv]
    if not uvloop:
        cmd.append("--no-uvloop")
    async with await anyio.open_process(cmd, cwd=_HERE.parent) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        out = b""
        while b"ready\n" not in out:
            out += await proc.stdout.receive()
        await proc.stdin.send(b"go\n")
        with anyio.move_on_after(60):
            while not done():  # noqa: ASYNC110 - polling a counter between two processes
                await anyio.sleep(0.01)
        with anyio.fail_after(30):
            async for chunk in proc.stdout:
                out += chunk
        await proc.wait()
    return out


# -- the subscriber (this process) ----------------------------------------------------------------
class _Sink(Actor):
    def __init__(self, bus: Bus) -> None:
        super().__init__("sink", bus=bus)
        self.samples: list[int] = []
        self.first = 0
        self.last = 0

    async def on_start(self) -> None:
        self.subscribe(topics.quote(">"), conflate=False, capacity=2_000_000)
        self.subscribe(topics.order_update("*"), conflate=False, capacity=2_000_000)

    async def handle(self, msg: Any) -> Any:
        now = time.time_ns()
        self.samples.append(now - msg.ts_recv)
        if not self.first:
            self.first = now
        self.last = now


async def _cross_process(url: str, mode: str, n: int, uvloop: bool) -> tuple[list[int], float, dict[str, Any]]:
    bus = Bus()
    bridge = NatsBridge(NatsBridgeConfig(servers=[url], node="bench-sub", subscribe=["md.>", "orders.>"]), bus=bus,
                        name="bench-sub")
    sink = _Sink(bus)
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        await tg.start(sink.run)
        out = await _drive(["--publisher", json.dumps({"url": url, "mode": mode, "n": n})], uvloop,
                           lambda: len(sink.samples) >= n)
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
    n_js = 500 if args.quick else 2_000
    bus_lat, x_lat, f_lat, bus_thr, x_thr, f_thr, pubs = [], [], [], [], [], [], []
    f_js: list[dict[str, float]] = []
    x_js: list[dict[str, float]] = []
    uv = not args.no_uvloop
    for _ in range(args.repeats):
        bus_lat.append(summarize_us(await _ours_latency(n_bus, 1)))
        for cross, lat, thr, js, who in ((_bare_cross_process, f_lat, f_thr, f_js, "bare"),
                                         (_cross_process, x_lat, x_thr, x_js, "bridge")):
            samples, _rate, pub = await cross(url, "latency", n_lat, uv)
            lat.append(summarize_us(samples))
            pubs.append({"who": who, "mode": "latency", **pub})
            _samples, rate, pub = await cross(url, "throughput", n_thr, uv)
            thr.append(rate)
            pubs.append({"who": who, "mode": "throughput", **pub})
            samples, _rate, pub = await cross(url, "jetstream", n_js, uv)
            js.append(summarize_us(samples))
            pubs.append({"who": who, "mode": "jetstream", **pub})
        bus_thr.append(await _ours_throughput(n_thr * 2, BURST))
    floor, bridge = _row("latency bare nats-py pub>NATS>sub (floor)", f_lat), \
        _row("latency bus>bridge>NATS>bridge>bus>actor", x_lat)
    floor["ratio_vs_floor"] = 1.0
    for key in ("p50_us", "p99_us", "p999_us"):
        bridge[f"ratio_{key.replace('_us', '')}_vs_floor"] = bridge[key] / floor[key]
    bridge["ratio_vs_floor"] = bridge["ratio_p50_vs_floor"]
    js_floor, js_bridge = _row("jetstream order update, bare nats-py publish+ack > pull+ack (floor)", f_js), \
        _row("jetstream order update, bus>bridge>JetStream>bridge>bus>actor", x_js)
    js_floor["ratio_vs_floor"] = 1.0
    for key in ("p50_us", "p99_us", "p999_us"):
        js_bridge[f"ratio_{key.replace('_us', '')}_vs_floor"] = js_bridge[key] / js_floor[key]
    js_bridge["ratio_vs_floor"] = js_bridge["ratio_p50_vs_floor"]
    results = [floor, bridge, js_floor, js_bridge, _row("latency in-process bus+actor (reference)", bus_lat)]
    for name, runs, is_floor in (("throughput bare nats-py (floor), bursts of 1000", f_thr, True),
                                 ("throughput bus>bridge>NATS>bridge>bus, bursts of 1000", x_thr, False),
                                 ("throughput in-process bus+actor (reference), bursts of 1000", bus_thr, None)):
        m, lo, hi = median_min_max(runs)
        row: dict[str, Any] = {"name": name, "msgs_per_s": m, "msgs_per_s_min": lo, "msgs_per_s_max": hi}
        if is_floor is not None:
            row["ratio_vs_floor"] = 1.0 if is_floor else median_min_max(f_thr)[0] / m
        results.append(row)
    return results, pubs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a run of well under a minute")
    p.add_argument("--json", metavar="PATH", help="write results as JSON")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--no-uvloop", action="store_true")
    p.add_argument("--publisher", metavar="JSON", help=argparse.SUPPRESS)
    p.add_argument("--bare-publisher", metavar="JSON", help=argparse.SUPPRESS)
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
    if args.bare_publisher:
        anyio.run(_bare_publisher, json.loads(args.bare_publisher), backend_options=opts)
        return 0
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    server = _Server()
    try:
        results, pubs = anyio.run(_run, args, server.url, backend_options=opts)
    finally:
        server.close()
    print_table("Quote latency, us (median of repeats)", [r for r in results if "p50_us" in r],
                ["name", "p50_us", "p99_us", "p999_us", "max_us", "ratio_vs_floor", "ratio_p99_vs_floor",
                 "ratio_p999_vs_floor"])
    print_table("Quote throughput, msgs/s (median of repeats)", [r for r in results if "msgs_per_s" in r],
                ["name", "msgs_per_s", "msgs_per_s_min", "msgs_per_s_max", "ratio_vs_floor"])
    print("\npublisher side:", "; ".join(f"{x['who']} {x['mode']}: sent {x['published']}, dropped {x['dropped']}, "
                                         f"received {x['received']}" for x in pubs))
    if args.json:
        params = {"quick": args.quick, "repeats": args.repeats, "uvloop": bool(opts), "burst": BURST,
                  "nats_server": server.url.rsplit(":", 1)[0]}
        write_json(args.json, params, results + [{"name": "publisher", "runs": pubs}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
