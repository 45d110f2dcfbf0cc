"""Failover timeline: a fault on the ACTIVE venue -> detection -> Failover event -> first order accepted on
the backup venue, with the whole system (``build_graph``: four exchange actors, router, health monitor,
aggregator, account view under one supervisor) on the four venue twins, in this process, on uvloop.

Per fault kind, repeated ``--reps`` times (fewer with ``--quick``):

- ``drop``: ``refuse_connections`` for ``--fault-s`` + ``drop_ws`` (every WebSocket aborted, no close frame)
- ``stall``: sockets stay open, the venue sends nothing (cleared after ``--fault-s``)
- ``http_5xx``: REST answers 503 for ``--fault-s``
- ``ban``: the venue's IP ban for ``--fault-s`` (REST only)
- ``refuse``: new HTTP/WS requests aborted for ``--fault-s`` (open sockets keep streaming)

Measured (wall clock ns, taken synchronously in a bus subscriber, so no mailbox hop is added):

- detection: the first VenueSignal (a failure kind: ws_closed, data_gap, rest_error, rest_timeout,
  rate_limit_ban, heartbeat_missed, frame_dropped), CircuitChanged or RateLimited for that venue after the
  injection;
- failover: ``Failover.ts_switched`` - injection (and ``ts_switched`` - detection);
- first order: a probe asks the router for an OrderIntent without a venue (post-only buy 10 % under the
  market) as soon as the Failover is seen, until its OrderUpdate SUBMITTED/FILLED arrives from the backup.

Floors (same run): for ``drop``, a bare aiohttp WebSocket on the same twin sees its connection end
(injection -> receive() returns); for ``stall``, the configured liveness limit (``stale_after_s`` = 2.5 x the
twin's update interval) is the earliest a silent socket can be called stale.

Between repetitions the fault is cleared and the bench waits until every venue is OK with a closed
breaker, every stream connected and every book live, and the highest-priority venue is active again.
Failback speed is not what is measured, so the bench sets the breaker cool-down growth to 1 (a constant
cool-down) on the running health monitor; everything else is the production wiring.

    python bench/failover.py --quick --json bench/results/failover.json     # + failover.png
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import topics  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.clock import LiveClock  # noqa: E402
from actors.exchanges.adapter import Endpoints  # noqa: E402
from actors.exchanges.base import ExchangeActor  # noqa: E402
from actors.health import HealthMonitor  # noqa: E402
from actors.router import OrderRouter  # noqa: E402
from bench.profiles import parse_rtt, rtt_label, rtt_list  # noqa: E402
from bench.report import percentile, print_table, write_json  # noqa: E402
from daemon.config import (  # noqa: E402
    AggregatorSection,
    Config,
    DaemonSection,
    GroupSection,
    HealthSection,
    VenueSection,
)
from daemon.wiring import build_graph  # noqa: E402
from messages import (  # noqa: E402
    CancelOrder,
    CircuitChanged,
    CircuitState,
    Failover,
    HealthStatus,
    InstrumentId,
    OrderIntent,
    OrderRejected,
    OrderStatus,
    OrderType,
    OrderUpdate,
    RateLimited,
    Side,
    SignalKind,
    Venue,
    VenueSignal,
)
from simulator.runner import Twins, start_twins  # noqa: E402
from venues import Credentials  # noqa: E402

VENUES = [Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.DERIBIT]
BTC = {Venue.BINANCE: "BTC-USDT-PERP", Venue.BYBIT: "BTC-USDT-PERP", Venue.OKX: "BTC-USDT-PERP",
       Venue.DERIBIT: "BTC-USD-PERP"}
ETH = {v: i.replace("BTC", "ETH") for v, i in BTC.items()}
FAULTS = ("drop", "stall", "http_5xx", "ban", "refuse")
_FAILURE_SIGNALS = frozenset({SignalKind.WS_CLOSED, SignalKind.DATA_GAP, SignalKind.REST_ERROR, SignalKind.REST_TIMEOUT,
                              SignalKind.RATE_LIMIT_BAN, SignalKind.HEARTBEAT_MISSED, SignalKind.FRAME_DROPPED,
                              SignalKind.BOOK_INTEGRITY})
_ACCEPTED = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED})



STALE_FACTOR = 2.5  # stale_after_s = 2.5 x the twin's update interval

def bench_config(journal: str, rate: float, args: argparse.Namespace) -> Config:
    stale = STALE_FACTOR / rate  # detection (with the watchdog's 10 % slack) within 3 x the update interval
    venues = {v.value: VenueSection(instruments=[BTC[v], ETH[v]], priority=i + 1, stale_after_s=stale)
              for i, v in enumerate(VENUES)}
    groups = [GroupSection(name="BTC-PERP", members=[f"{v.value}:{BTC[v]}" for v in VENUES]),
              GroupSection(name="ETH-PERP", members=[f"{v.value}:{ETH[v]}" for v in VENUES])]
    health = HealthSection(probe_interval_s=args.probe_s, hold_s=args.hold_s, breaker_cooldown_s=args.cooldown_s,
                           breaker_failures=5)
    return Config(daemon=DaemonSection(journal=journal, metrics=""), venues=venues, groups=groups,
                  aggregator=AggregatorSection(threshold_bps=10.0), health=health)


class Recorder:
    """A plain bus target: stamps and keeps the events that matter, synchronously in the publisher's call."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[tuple[int, Any]] = []
        self._waiters: list[tuple[Any, anyio.Event, list[tuple[int, Any]]]] = []
        for pattern in (topics.venue_signal("*"), topics.circuit("*"), topics.rate_limit("*"), topics.failover(),
                        topics.order_update("*"), topics.order_rejected()):
            bus.subscribe(pattern, self, name="bench.failover")

    def deliver(self, topic: str, msg: Any) -> None:
        t = time.time_ns()
        if isinstance(msg, VenueSignal) and msg.kind not in _FAILURE_SIGNALS:
            return
        if isinstance(msg, RateLimited) and not msg.banned:
            pass  # kept: a rate-limit answer is a signal too
        self.events.append((t, msg))
        for w in list(self._waiters):
            pred, ev, box = w
            if pred(msg):
                box.append((t, msg))
                ev.set()
                self._waiters.remove(w)

    async def wait(self, pred: Any, since_ns: int, timeout: float) -> tuple[int, Any] | None:
        for t, m in self.events:
            if t >= since_ns and pred(m):
                return t, m
        ev, box = anyio.Event(), []
        w = (pred, ev, box)
        self._waiters.append(w)
        with anyio.move_on_after(timeout):
            await ev.wait()
        if w in self._waiters:
            self._waiters.remove(w)
        return box[0] if box else None

    def first(self, pred: Any, since_ns: int) -> tuple[int, Any] | None:
        for t, m in self.events:
            if t >= since_ns and pred(m):
                return t, m
        return None

    def trim(self) -> None:
        self.events.clear()


def inject(twins: Twins, venue: Venue, fault: str, fault_s: float) -> None:
    f = twins[venue.value].twin.faults
    if fault == "drop":
        f.inject("refuse_connections", fault_s)
        f.inject("drop_ws")
    elif fault == "stall":
        f.inject("stall")
    elif fault == "http_5xx":
        f.inject("http_5xx", status=503)
    elif fault == "ban":
        f.inject("ban", fault_s)
    elif fault == "refuse":
        f.inject("refuse_connections", fault_s)
    else:
        raise ValueError(fault)


def clear(twins: Twins, venue: Venue) -> None:
    twins[venue.value].twin.faults.clear()


class Rig:
    def __init__(self, twins: Twins, graph: Any, bus: Bus, rec: Recorder) -> None:
        self.twins = twins
        self.graph = graph
        self.sup = graph.supervisor
        self.bus = bus
        self.rec = rec

    def actor(self, name: str) -> Any:
        h = self.sup.children.get(name)
        return None if h is None else h.actor

    @property
    def health(self) -> HealthMonitor:
        return self.actor("health")

    @property
    def router(self) -> OrderRouter:
        return self.actor("router")

    def why_unstable(self) -> str:
        h = self.health
        if h is None or not h.alive:
            return "health monitor not running"
        for v in VENUES:
            tr = h.trackers[v]
            if tr.status is not HealthStatus.OK or tr.breaker.state is not CircuitState.CLOSED:
                return f"{v} {tr.status.value} circuit {tr.breaker.state.value}: {tr.reason}"
            x = self.actor(self.graph.exchange_names[v])
            if not isinstance(x, ExchangeActor) or not x.alive:
                return f"{v} exchange actor not running"
            st = x.stats()
            if st.connected < st.streams or st.books_live < st.books_total or st.paused:
                return f"{v} streams {st.connected}/{st.streams} books {st.books_live}/{st.books_total}"
        if h.active("all") is not VENUES[0]:
            return f"active is {h.active('all')}, waiting for {VENUES[0]}"
        r = self.router
        if r is None or r.active is not VENUES[0] or r.down:
            return "router has not caught up"
        return ""

    async def wait_stable(self, timeout: float, settle_s: float = 0.3) -> str:
        deadline = time.monotonic() + timeout
        ok_since: float | None = None
        why = "?"
        while time.monotonic() < deadline:
            why = self.why_unstable()
            now = time.monotonic()
            if why:
                ok_since = None
            elif ok_since is None:
                ok_since = now
            elif now - ok_since >= settle_s:
                return ""
            await anyio.sleep(0.02)
        return why


async def bare_ws_floor(url: str, session: aiohttp.ClientSession, task_status: Any = anyio.TASK_STATUS_IGNORED) -> int:
    """A bare client socket on the same twin: returns when its connection ends (time.time_ns)."""
    async with session.ws_connect(url, autoping=True) as ws:
        task_status.started()
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.ERROR):
                return time.time_ns()


async def one_rep(rig: Rig, fault: str, args: argparse.Namespace, session: aiohttp.ClientSession) -> dict[str, Any]:
    active = rig.health.active("all")
    assert active is not None
    rig.rec.trim()
    floor_box: list[int] = []
    out: dict[str, Any] = {"fault": fault, "venue": active.value}
    async with anyio.create_task_group() as tg:
        if fault == "drop":
            async def floor() -> None:
                url = rig.twins[active.value].ws["public"] + ("/ws" if active is Venue.BINANCE else "")
                floor_box.append(await bare_ws_floor(url, session))

            tg.start_soon(floor)
            await anyio.sleep(0.05)  # the bare socket is open
        t0 = time.time_ns()
        inject(rig.twins, active, fault, args.fault_s)
        fo = await rig.rec.wait(lambda m: isinstance(m, Failover) and m.from_venue is active, t0, args.timeout_s)
        if fo is None:
            out["error"] = f"no Failover from {active} within {args.timeout_s} s"
        else:
            t_seen, ev = fo
            out["to_venue"] = ev.to_venue.value if ev.to_venue else None
            out["failover_ms"] = (ev.ts_switched - t0) / 1e6
            det = rig.rec.first(lambda m: isinstance(m, (VenueSignal, CircuitChanged, RateLimited)) and m.venue is active, t0)
            if det is not None:
                out["detect_ms"] = (det[0] - t0) / 1e6
                out["detect_to_failover_us"] = (ev.ts_switched - det[0]) / 1e3
                m = det[1]
                out["detected_by"] = (m.kind.value if isinstance(m, VenueSignal) else type(m).__name__)
            # The probe: an intent without a venue, right after the Failover.
            backup = ev.to_venue
            if backup is not None:
                mid = rig.twins.model.venue_mid(backup.value, "BTC")
                price = Decimal(int(mid * 0.9))
                intent = OrderIntent(strategy="failover-probe", instrument=InstrumentId(BTC[backup]), side=Side.BUY,
                                     quantity=Decimal(args.qty), order_type=OrderType.LIMIT, price=price, post_only=True)
                try:
                    cid = await rig.router.ref.ask(intent, timeout=5.0)
                except Exception as exc:  # noqa: BLE001 - reported in the row
                    out["order_error"] = f"{type(exc).__name__}: {exc}"[:200]
                else:
                    got = await rig.rec.wait(
                        lambda m: (isinstance(m, OrderUpdate) and m.client_order_id == cid
                                   and (m.status in _ACCEPTED or m.status.is_terminal))
                        or (isinstance(m, OrderRejected) and m.client_order_id == cid), t0, 10.0)
                    if got is None:
                        out["order_error"] = "no answer from the venue within 10 s"
                    elif isinstance(got[1], OrderRejected) or got[1].status not in _ACCEPTED:
                        out["order_error"] = f"{type(got[1]).__name__} {getattr(got[1], 'status', '')} {getattr(got[1], 'text', '')}"[:200]
                    else:
                        out["first_order_ms"] = (got[0] - t0) / 1e6
                        out["order_venue"] = got[1].venue.value
                        out["after_failover_ms"] = (got[0] - ev.ts_switched) / 1e6
                        with anyio.move_on_after(5.0):
                            try:
                                await rig.router.ref.ask(CancelOrder(venue=got[1].venue, instrument=intent.instrument,
                                                                     client_order_id=cid), timeout=5.0)
                            except Exception:  # noqa: BLE001 - a leftover resting order does not matter here
                                pass
        # Keep the fault for its duration, then clear it.
        left = args.fault_s - (time.time_ns() - t0) / 1e9
        if left > 0:
            await anyio.sleep(left)
        clear(rig.twins, active)
        if fault == "drop":
            with anyio.move_on_after(1.0):
                while not floor_box:
                    await anyio.sleep(0.01)
            if floor_box:
                out["floor_ms"] = (floor_box[0] - t0) / 1e6
        tg.cancel_scope.cancel()
    return out


def summarize(fault: str, rows: list[dict[str, Any]], stale_s: float, update_ms: float) -> dict[str, Any]:
    def ms(key: str) -> list[float]:
        return sorted(r[key] for r in rows if key in r)

    fo, det, d2f, first, floor = ms("failover_ms"), ms("detect_ms"), ms("detect_to_failover_us"), ms("first_order_ms"), ms("floor_ms")
    res: dict[str, Any] = {
        "name": fault,
        "reps": len(rows),
        "ok_reps": sum(1 for r in rows if "first_order_ms" in r),
        "detect_p50_ms": percentile(det, 50), "detect_p99_ms": percentile(det, 99),
        "p50_us": percentile(fo, 50) * 1000, "p99_us": percentile(fo, 99) * 1000,
        "failover_p50_ms": percentile(fo, 50), "failover_p99_ms": percentile(fo, 99), "failover_max_ms": fo[-1] if fo else float("nan"),
        "detect_to_failover_p50_us": percentile(d2f, 50), "detect_to_failover_p99_us": percentile(d2f, 99),
        "first_order_p50_ms": percentile(first, 50), "first_order_p99_ms": percentile(first, 99),
        "detected_by": sorted({r["detected_by"] for r in rows if "detected_by" in r}),
        "errors": [r.get("error") or r.get("order_error") for r in rows if "error" in r or "order_error" in r][:5],
        "msgs_per_s": None,
    }
    if fault == "drop":
        res["floor_p50_ms"] = percentile(floor, 50)
        res["floor_p99_ms"] = percentile(floor, 99)
        res["ratio_vs_floor"] = res["failover_p50_ms"] / res["floor_p50_ms"] if floor else None
        res["target"] = "inject->Failover p99 <= 5 ms"
        res["met"] = bool(fo) and res["failover_p99_ms"] <= 5.0
    elif fault == "stall":
        res["floor_p50_ms"] = stale_s * 1000
        res["ratio_vs_floor"] = res["detect_p50_ms"] / (stale_s * 1000)
        res["target"] = f"detect <= 3 x {update_ms:.0f} ms, then Failover <= 5 ms"
        res["met"] = bool(det) and res["detect_p99_ms"] <= 3 * update_ms and res["detect_to_failover_p99_us"] <= 5000
    else:
        res["ratio_vs_floor"] = None
        res["target"] = "-"
        res["met"] = None
    return res


async def amain(args: argparse.Namespace, rtt: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    bus = Bus()
    tmp = tempfile.mkdtemp(prefix="crossbook-failover-")
    cfg = bench_config(str(Path(tmp) / "journal.sqlite"), args.rate, args)
    stale_s = STALE_FACTOR / args.rate
    rows: list[dict[str, Any]] = []
    async with start_twins([v.value for v in VENUES], seed=args.seed, symbols=["BTC", "ETH"], rate=args.rate,
                           latency=parse_rtt(rtt, args.seed)) as twins:
        endpoints = {Venue(v): Endpoints(rest=rt.rest, ws=dict(rt.ws)) for v, rt in twins.running.items()}
        creds = {Venue(v): Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret,
                                       rt.twin.credentials.passphrase or "") for v, rt in twins.running.items()}
        graph = build_graph(cfg, bus, LiveClock(), random.Random(args.seed), endpoints=endpoints, credentials=creds,
                            with_strategies=False)
        rec = Recorder(bus)
        rig = Rig(twins, graph, bus, rec)
        async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
            await tg.start(graph.supervisor.run)
            h = rig.health
            for tr in h.trackers.values():  # constant cool-down: failback between repetitions stays short
                tr.breaker.config = msgspec.structs.replace(tr.breaker.config, cooldown_growth=1.0)
            why = await rig.wait_stable(60.0)
            if why:
                raise SystemExit(f"the system did not come up: {why}")
            for rep in range(args.reps):
                for fault in args.faults:
                    why = await rig.wait_stable(args.stable_timeout_s)
                    if why:
                        rows.append({"fault": fault, "rep": rep, "error": f"not stable before the rep: {why}"})
                        continue
                    r = await one_rep(rig, fault, args, session)
                    r["rep"] = rep
                    rows.append(r)
                    if args.verbose:
                        print(r, flush=True)
            await graph.supervisor.stop()
            tg.cancel_scope.cancel()
        if graph.journal is not None:
            graph.journal.close()
    bus.close()
    update_ms = 1000.0 / args.rate
    results = [summarize(f, [r for r in rows if r["fault"] == f], stale_s, update_ms) for f in args.faults]
    for r in results:
        r["rtt"] = rtt
        r["name"] = f"{r['name']} @ {rtt_label(rtt)}"
    for r in rows:
        r["rtt"] = rtt
    params = {"rate_per_s": args.rate, "update_interval_ms": update_ms, "stale_after_s": stale_s, "reps": args.reps,
              "fault_s": args.fault_s, "probe_interval_s": args.probe_s, "hold_s": args.hold_s,
              "breaker_cooldown_s": args.cooldown_s, "breaker_failures": 5, "ws_grace_s": 0.0,
              "venues": [v.value for v in VENUES], "loop": "uvloop", "quick": args.quick}
    return results, rows, params


def plot_timeline(png: str, results: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str | None:
    """Per fault kind: injection (0) -> detection -> Failover -> first order on the backup (medians as bars,
    every repetition as dots)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: --plot skipped: matplotlib is not installed (pip install matplotlib; bench-only)")
        return None
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.8 * len(results)))
    colors = {"detect_ms": "tab:orange", "failover_ms": "tab:red", "first_order_ms": "tab:green"}
    labels = {"detect_ms": "detection", "failover_ms": "Failover event", "first_order_ms": "first order accepted on backup"}
    for y, res in enumerate(results):
        mine = [r for r in rows if f"{r['fault']} @ {rtt_label(r['rtt'])}" == res["name"]]
        prev = 0.0
        for key in ("detect_ms", "failover_ms", "first_order_ms"):
            vals = sorted(r[key] for r in mine if key in r)
            if not vals:
                continue
            med = percentile(vals, 50)
            ax.barh(y, max(med - prev, 1e-3), left=prev, height=0.5, color=colors[key], alpha=0.45,
                    label=labels[key] if y == 0 else None)
            ax.scatter(vals, [y + 0.3] * len(vals), s=8, color=colors[key])
            prev = max(prev, med)
    ax.set_yticks(range(len(results)))
    ax.set_yticklabels([r["name"] for r in results])
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("ms after the fault was injected on the active venue (symlog; bars = medians, dots = repetitions)")
    ax.set_title("crossbook failover timeline: injection -> detection -> Failover -> first order on the backup", fontsize=9)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    print(f"wrote {png}")
    return png


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 repetitions per fault, short faults (< 1 minute)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per fault (default 20, 3 with --quick)")
    ap.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    ap.add_argument("--rate", type=float, default=20.0, help="twin model steps per second (update interval = 1/rate)")
    ap.add_argument("--fault-s", type=float, default=None, help="how long each fault lasts (default 2, 0.8 with --quick)")
    ap.add_argument("--probe-s", type=float, default=0.25, help="health probe interval")
    ap.add_argument("--hold-s", type=float, default=0.3, help="selector hold before failing back")
    ap.add_argument("--cooldown-s", type=float, default=0.5, help="breaker cool-down")
    ap.add_argument("--timeout-s", type=float, default=10.0, help="give up waiting for a Failover after this")
    ap.add_argument("--stable-timeout-s", type=float, default=30.0)
    ap.add_argument("--qty", default="0.002", help="probe order quantity (base units)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rtt", default="0,20-80", help="comma list of venue round trips in ms, each run in turn: 0 "
                    "(loopback), 200 (fixed) or 20-80 (fixed 20 + jitter) (default 0,20-80)")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None, help="PNG next to the JSON (default on with --json)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.reps = args.reps or (max(1, 2 // len(args.rtt.split(","))) if args.quick else 20)
    args.fault_s = args.fault_s or (0.8 if args.quick else 2.0)
    args.faults = [f for f in args.faults.split(",") if f]
    for f in args.faults:
        if f not in FAULTS:
            ap.error(f"unknown fault {f!r}; expected {', '.join(FAULTS)}")
    rtts = rtt_list(ap, args.rtt)
    t_start = time.monotonic()
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for rtt in rtts:
        res, got, params = anyio.run(amain, args, rtt, backend="asyncio", backend_options={"use_uvloop": True})
        results.extend(res)
        rows.extend(got)
    params["rtt_profiles_ms"] = rtts
    params["wall_s"] = round(time.monotonic() - t_start, 1)
    cols = ["name", "reps", "ok_reps", "detect_p50_ms", "detect_p99_ms", "failover_p50_ms", "failover_p99_ms",
            "detect_to_failover_p99_us", "first_order_p50_ms", "first_order_p99_ms", "ratio_vs_floor", "met"]
    print_table(f"failover on the twins: fault on the active venue, {params['reps']} reps, "
                f"rate {params['rate_per_s']:.0f}/s, stale_after {params['stale_after_s'] * 1000:.0f} ms, "
                f"probes every {params['probe_interval_s']} s ({params['wall_s']} s)", results, cols)
    for r in results:
        extra = f"  floor p50 {r['floor_p50_ms']:.2f} ms" if "floor_p50_ms" in r else ""
        print(f"  {r['name']}: detected by {', '.join(r['detected_by']) or '-'}; target: {r['target']}{extra}")
        for e in r["errors"]:
            print(f"    error: {e}")
    if args.json:
        for r in results:
            r["runs"] = [x for x in rows if f"{x['fault']} @ {rtt_label(x['rtt'])}" == r["name"]]
        write_json(args.json, params, results)
        if args.plot is not False:
            plot_timeline(str(Path(args.json).with_suffix(".png")), results, rows)
    elif args.plot:
        plot_timeline("failover.png", results, rows)


if __name__ == "__main__":
    main()
