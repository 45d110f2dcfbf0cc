"""Soak: the daemon graph on the four venue twins for a bounded time, at a high market rate, with periodic
faults and a strategy placing and cancelling small orders through the router; memory, mailboxes and order
accounting are checked.

- Twins: binance, bybit, okx, deribit; BTC and ETH; ``--rate`` model steps per second per instrument.
- The graph is ``build_graph`` (four exchange actors, router + journal, health monitor, aggregator, account
  view under one supervisor) in this process on uvloop, with the demo config's health/aggregator settings.
- Faults: every ``--fault-every-s`` a random fault (drop_ws + refuse_connections, stall, http_5xx, ban,
  refuse_connections, latency 300 ms) on a random venue, cleared after 2-4 s.
- Strategy (a task of this script, talking to the router only through ``ask`` like a strategy actor): every
  ``--order-interval-s`` a post-only buy 5-10 % under the market on the active venue (no venue in the
  intent), cancelled after ``--rest-s``; every ``--ioc-every``-th order a marketable IOC (alternating
  buy/sell, so the position stays near flat).
- Sampled every second: RSS (/proc/self/statm), bus messages published, every bus subscription's mailbox
  statistics (depth, peak, overflowed).
- At the end: strategy stopped, open orders cancelled (router SettleOrders), router settled; then the
  accounting: every journaled intent in exactly one final state (exactly one terminal event in the journal
  log), every client order id the router answered is in the journal, no client order id twice on any twin's
  matching engine, every one of our ids a twin holds is in the journal, nothing left open on the twins.

Retention: the router keeps ``--keep-orders`` final orders in memory (daemon ``keep_finished_orders``; the
journal keeps all) and each twin's matching engine forgets its oldest closed orders past the same number, as
venues do; a run longer than that many orders then shows whether anything else grows. The accounting
counts the twins' forgotten orders too.

RSS: growth over the first half and over the second half of the run after warm-up (``--warmup-s``), each
from the median of the first and last 10 % of that half's samples. Target: second half < 5 %.

    python bench/soak.py --quick --json bench/results/soak.json     # + soak.png (RSS over time)
    python bench/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import msgspec

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.bus import Bus  # noqa: E402
from actors.clock import LiveClock  # noqa: E402
from actors.exchanges.adapter import Endpoints  # noqa: E402
from actors.journal import JournalState  # noqa: E402
from actors.router import IntentRejected, OrderRouter, SettleOrders  # noqa: E402
from bench.profiles import parse_rtt, rtt_label, rtt_list  # noqa: E402
from bench.report import print_table, write_json  # noqa: E402
from daemon.config import Config, DaemonSection, default_config  # noqa: E402
from daemon.wiring import build_graph  # noqa: E402
from messages import CancelOrder, InstrumentId, OrderIntent, OrderType, Side, TimeInForce, Venue  # noqa: E402
from simulator.runner import Twins, start_twins  # noqa: E402
from venues import Credentials  # noqa: E402

VENUES = [Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.DERIBIT]
INSTRUMENTS = {v: {"BTC": f"BTC-{'USD' if v is Venue.DERIBIT else 'USDT'}-PERP",
                   "ETH": f"ETH-{'USD' if v is Venue.DERIBIT else 'USDT'}-PERP"} for v in VENUES}
QTY = {"BTC": Decimal("0.002"), "ETH": Decimal("0.05")}
FAULTS = ("drop", "stall", "http_5xx", "ban", "refuse", "latency")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 1e6


def inject(twins: Twins, venue: Venue, fault: str, seconds: float) -> None:
    f = twins[venue.value].twin.faults
    if fault == "drop":
        f.inject("refuse_connections", seconds)
        f.inject("drop_ws")
    elif fault == "stall":
        f.inject("stall", seconds)
    elif fault == "http_5xx":
        f.inject("http_5xx", seconds, status=503)
    elif fault == "ban":
        f.inject("ban", seconds)
    elif fault == "refuse":
        f.inject("refuse_connections", seconds)
    elif fault == "latency":
        f.inject("latency", seconds, ms=300)


class Soak:
    def __init__(self, args: argparse.Namespace, twins: Twins, graph: Any, bus: Bus) -> None:
        self.args = args
        self.twins = twins
        self.graph = graph
        self.sup = graph.supervisor
        self.bus = bus
        self.rng = random.Random(args.seed)
        self.t0 = time.monotonic()
        self.samples: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.acked: set[str] = set()  # client order ids the router answered with
        self.forgotten: dict[Venue, Counter[str]] = {v: Counter() for v in VENUES}  # the twins' forgotten orders
        self.counts: Counter[str] = Counter()
        self.peaks: dict[str, int] = {}
        self.overflowed: dict[str, int] = {}
        self.stop = anyio.Event()

    @property
    def router(self) -> OrderRouter:
        return self.sup.children["router"].actor

    def mailboxes(self) -> list[Any]:
        out = []
        for s in self.bus.subscriptions():
            target = s.receiver if s.receiver is not None else s.target
            st = target.statistics() if hasattr(target, "statistics") else None
            if st is not None:
                out.append(st)
        return out

    async def sampler(self) -> None:
        last_pub = self.bus.published
        last_t = time.monotonic()
        while not self.stop.is_set():
            await anyio.sleep(1.0)
            now = time.monotonic()
            depth = 0
            for st in self.mailboxes():
                self.peaks[st.name] = max(self.peaks.get(st.name, 0), st.peak)
                self.overflowed[st.name] = max(self.overflowed.get(st.name, 0), st.overflowed)
                depth += st.depth
            pub = self.bus.published
            self.samples.append({"t_s": round(now - self.t0, 2), "rss_mb": round(rss_mb(), 2),
                                 "bus_msgs_per_s": round((pub - last_pub) / (now - last_t), 1), "mailbox_depth": depth,
                                 "open_orders": len(self.router.open_orders()) if self.router else None})
            last_pub, last_t = pub, now

    async def faulter(self) -> None:
        while not self.stop.is_set():
            with anyio.move_on_after(self.args.fault_every_s):
                await self.stop.wait()
            if self.stop.is_set():
                return
            venue = self.rng.choice(VENUES)
            fault = self.rng.choice(FAULTS)
            seconds = self.rng.uniform(2.0, 4.0)
            inject(self.twins, venue, fault, seconds)
            self.faults.append({"t_s": round(time.monotonic() - self.t0, 2), "venue": venue.value, "fault": fault,
                                "seconds": round(seconds, 2)})
            await anyio.sleep(seconds)
            self.twins[venue.value].twin.faults.clear()

    async def strategy(self) -> None:
        resting: list[tuple[float, str, Venue, InstrumentId]] = []
        n = 0
        async with anyio.create_task_group() as tg:
            while not self.stop.is_set():
                await anyio.sleep(self.args.order_interval_s)
                now = time.monotonic()
                while resting and now - resting[0][0] >= self.args.rest_s:
                    _, cid, venue, inst = resting.pop(0)
                    tg.start_soon(self._cancel, cid, venue, inst)
                n += 1
                active = self.router.active if self.router else None
                if active is None:
                    self.counts["skipped_no_active_venue"] += 1
                    continue
                und = "BTC" if n % 2 else "ETH"
                inst = InstrumentId(INSTRUMENTS[active][und])
                mid = Decimal(str(self.twins.model.venue_mid(active.value, und)))
                if n % self.args.ioc_every == 0:
                    side = Side.BUY if (n // self.args.ioc_every) % 2 else Side.SELL
                    px = mid * (Decimal("1.02") if side is Side.BUY else Decimal("0.98"))
                    intent = OrderIntent(strategy="soak", instrument=inst, side=side, quantity=QTY[und],
                                         order_type=OrderType.LIMIT, price=px.quantize(Decimal(1)),
                                         time_in_force=TimeInForce.IOC)
                    kind = "ioc"
                else:
                    px = mid * Decimal(str(1 - self.rng.uniform(0.05, 0.10)))
                    intent = OrderIntent(strategy="soak", instrument=inst, side=Side.BUY, quantity=QTY[und],
                                         order_type=OrderType.LIMIT, price=px.quantize(Decimal(1)), post_only=True)
                    kind = "resting"
                try:
                    cid = await self.router.ref.ask(intent, timeout=10.0)
                except IntentRejected as exc:
                    self.counts[f"refused_by_router:{exc.code}"] += 1
                    continue
                except Exception as exc:  # noqa: BLE001 - counted; a soak goes on
                    self.counts[f"ask_failed:{type(exc).__name__}"] += 1
                    continue
                self.acked.add(str(cid))
                self.counts[f"intents_{kind}"] += 1
                if kind == "resting":
                    resting.append((time.monotonic(), str(cid), self.router.orders[cid].venue, inst))
            tg.cancel_scope.cancel()

    async def _cancel(self, cid: str, venue: Venue, inst: InstrumentId) -> None:
        try:
            await self.router.ref.ask(CancelOrder(venue=venue, instrument=inst, client_order_id=cid), timeout=10.0)
            self.counts["cancels_ok"] += 1
        except Exception as exc:  # noqa: BLE001 - a failed cancel is settled at the end
            self.counts[f"cancel_failed:{type(exc).__name__}"] += 1


def accounting(soak: Soak) -> dict[str, Any]:
    journal = soak.graph.journal
    entries = {str(e.client_order_id): e for e in journal.entries()}
    states = Counter(e.state.value for e in entries.values())
    final_events = Counter()
    for ev in journal.events():
        if ev.state.is_final:
            final_events[str(ev.client_order_id)] += 1
    not_final = [c for c, e in entries.items() if not e.state.is_final]
    bad_final = [c for c in entries if entries[c].state.is_final and final_events[c] != 1]
    missing_acked = sorted(soak.acked - set(entries))
    dupes: dict[str, int] = {}
    unknown_on_twin: list[str] = []
    open_on_twins = 0
    twin_orders = 0
    for v in VENUES:
        twin = soak.twins[v.value].twin
        engine = twin.engine
        ids = Counter(o.client_id for o in engine.orders.values()) + soak.forgotten[v]
        twin_orders += sum(ids.values())
        # Placements the twin received, refused duplicates included: a re-sent order shows here even when
        # the venue refused the copy.
        received = Counter(twin.received.to_json())
        dupes.update({f"{v.value}:{c}": k for c, k in received.items() if k > 1})
        unknown_on_twin += [f"{v.value}:{c}" for c in ids if c not in entries]
        open_on_twins += len(engine.open_orders())
    return {
        "journaled": len(entries), "acked_by_router": len(soak.acked), "journal_states": dict(states),
        "statuses": dict(Counter(e.status.value if e.status else "-" for e in entries.values())),
        "not_final": len(not_final), "final_events_not_exactly_one": len(bad_final),
        "acked_missing_from_journal": len(missing_acked), "twin_orders": twin_orders,
        "client_ids_received_twice": len(dupes), "twin_ids_not_in_journal": len(unknown_on_twin),
        "open_on_twins_at_end": open_on_twins,
        "examples": {"not_final": not_final[:3], "bad_final": bad_final[:3], "missing": missing_acked[:3],
                     "dupes": list(dupes)[:3], "unknown_on_twin": unknown_on_twin[:3]},
    }


def growth(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, float]:
    s = [x for x in samples if x["t_s"] >= warmup_s]
    if len(s) < 8:
        return {"first_half_growth_pct": float("nan"), "second_half_growth_pct": float("nan")}
    half = len(s) // 2

    def g(part: list[dict[str, Any]]) -> float:
        k = max(1, len(part) // 10)
        a = statistics.median(x["rss_mb"] for x in part[:k])
        b = statistics.median(x["rss_mb"] for x in part[-k:])
        return (b - a) / a * 100.0

    return {"first_half_growth_pct": g(s[:half + 1]), "second_half_growth_pct": g(s[half:])}


async def amain(args: argparse.Namespace, rtt: str) -> dict[str, Any]:
    bus = Bus()
    tmp = tempfile.mkdtemp(prefix="crossbook-soak-")
    base = default_config()
    cfg = Config(daemon=DaemonSection(journal=str(Path(tmp) / "journal.sqlite"), metrics="",
                                      keep_finished_orders=args.keep_orders), venues=base.venues,
                 groups=base.groups, aggregator=base.aggregator, health=base.health)
    async with start_twins([v.value for v in VENUES], seed=args.seed, symbols=["BTC", "ETH"], rate=args.rate,
                           latency=parse_rtt(rtt, args.seed)) as twins:
        endpoints = {Venue(v): Endpoints(rest=rt.rest, ws=dict(rt.ws)) for v, rt in twins.running.items()}
        creds = {Venue(v): Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret,
                                       rt.twin.credentials.passphrase or "") for v, rt in twins.running.items()}
        graph = build_graph(cfg, bus, LiveClock(), random.Random(args.seed), endpoints=endpoints, credentials=creds,
                            with_strategies=False)
        soak = Soak(args, twins, graph, bus)
        for v in VENUES:  # the twins forget old closed orders like the router: memory plateaus within the run
            engine = twins[v.value].twin.engine
            engine.keep_orders = args.keep_orders
            engine.on_forget.append(lambda o, v=v: soak.forgotten[v].update((o.client_id,)))
        settle: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:
            await tg.start(graph.supervisor.run)
            soak.t0 = time.monotonic()
            tg.start_soon(soak.sampler)
            tg.start_soon(soak.faulter)
            tg.start_soon(soak.strategy)
            await anyio.sleep(args.seconds)
            soak.stop.set()
            twins_faults_cleared = [rt.twin.faults.clear() for rt in twins.running.values()]
            del twins_faults_cleared
            await anyio.sleep(0.5)
            t_settle = time.monotonic()
            try:
                settle = await soak.router.ref.ask(SettleOrders(policy="cancel", timeout_s=20.0), timeout=25.0)
                await soak.router.wait_settled(timeout=args.settle_s)
                # a cancel refused while a venue was failing is retried once it is back
                for _ in range(3):
                    if not any(o.state is JournalState.OPEN for o in soak.router.orders.values()):
                        break
                    await anyio.sleep(2.0)
                    settle = await soak.router.ref.ask(SettleOrders(policy="cancel", timeout_s=20.0), timeout=25.0)
                    await soak.router.wait_settled(timeout=args.settle_s)
            except Exception as exc:  # noqa: BLE001 - reported; the accounting shows what is left
                settle = {"error": f"{type(exc).__name__}: {exc}"}
            settle["settle_s"] = round(time.monotonic() - t_settle, 2)
            acct = accounting(soak)
            xs = {v.value: msgspec.to_builtins(graph.supervisor.children[graph.exchange_names[v]].actor.stats())
                  for v in VENUES}
            restarts = {n: getattr(h, "restarts", None) for n, h in graph.supervisor.children.items()}
            await graph.supervisor.stop()
            tg.cancel_scope.cancel()
        graph.journal.close()
    bus.close()
    return {"soak": soak, "accounting": acct, "settle": settle, "exchanges": xs, "restarts": restarts}


def plot_rss(png: str, samples: list[dict[str, Any]], faults: list[dict[str, Any]], warmup_s: float) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: --plot skipped: matplotlib is not installed (pip install matplotlib; bench-only)")
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot([s["t_s"] for s in samples], [s["rss_mb"] for s in samples], color="tab:blue", label="RSS, MB")
    for f in faults:
        ax.axvspan(f["t_s"], f["t_s"] + f["seconds"], color="tab:red", alpha=0.12)
        ax.annotate(f"{f['fault']}@{f['venue']}", (f["t_s"], ax.get_ylim()[0]), fontsize=6, rotation=90, va="bottom")
    ax.axvline(warmup_s, color="grey", linestyle=":", label="end of warm-up")
    ax2 = ax.twinx()
    ax2.plot([s["t_s"] for s in samples], [s["bus_msgs_per_s"] for s in samples], color="tab:green", alpha=0.4,
             linewidth=0.8, label="bus msgs/s")
    ax2.set_ylabel("bus msgs/s")
    ax.set_xlabel("s since start (red: fault windows)")
    ax.set_ylabel("RSS, MB")
    ax.set_title("crossbook soak on the twins: RSS over time", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    ax2.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    print(f"wrote {png}")
    return png


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="about 45 s")
    ap.add_argument("--rate", type=float, default=50.0, help="twin model steps per second per instrument")
    ap.add_argument("--fault-every-s", type=float, default=20.0)
    ap.add_argument("--order-interval-s", type=float, default=0.1)
    ap.add_argument("--rest-s", type=float, default=2.0, help="resting orders are cancelled after this")
    ap.add_argument("--ioc-every", type=int, default=10, help="every n-th order is a marketable IOC")
    ap.add_argument("--warmup-s", type=float, default=None, help="excluded from the RSS growth (default 60, 10 with --quick)")
    ap.add_argument("--settle-s", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-orders", type=int, default=1000,
                    help="final orders the router and each twin keep in memory (the journal keeps all)")
    ap.add_argument("--rtt", default="0,20-80", help="comma list of venue round trips in ms, one soak each: 0 "
                    "(loopback), 200 (fixed) or 20-80 (fixed 20 + jitter) (default 0,20-80)")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None)
    args = ap.parse_args()
    rtts = rtt_list(ap, args.rtt)
    if args.quick:
        args.seconds = 36.0 / len(rtts)  # + start and settle: under a minute in all
        args.fault_every_s = min(args.fault_every_s, 6.0)
    else:
        args.seconds = args.minutes * 60.0
    args.warmup_s = args.warmup_s if args.warmup_s is not None else (5.0 if args.quick else 60.0)
    rows = [soak_once(args, rtt) for rtt in rtts]
    if args.json:
        params = {"seconds": args.seconds, "rate_per_s": args.rate, "fault_every_s": args.fault_every_s,
                  "order_interval_s": args.order_interval_s, "rest_s": args.rest_s, "ioc_every": args.ioc_every,
                  "warmup_s": args.warmup_s, "keep_orders": args.keep_orders, "venues": [v.value for v in VENUES],
                  "rtt_profiles_ms": rtts, "loop": "uvloop", "quick": args.quick}
        write_json(args.json, params, rows)
        if args.plot is not False:
            for row in rows:
                png = Path(args.json).with_name(f"{Path(args.json).stem}-rtt-{row['rtt']}.png")
                plot_rss(str(png), row["samples"], row["faults_injected"], args.warmup_s)
    elif args.plot:
        for row in rows:
            plot_rss(f"soak-rtt-{row['rtt']}.png", row["samples"], row["faults_injected"], args.warmup_s)


def soak_once(args: argparse.Namespace, rtt: str) -> dict[str, Any]:
    """One soak at one round-trip profile: run, print its tables, and return its result row."""
    t_start = time.monotonic()
    out = anyio.run(amain, args, rtt, backend="asyncio", backend_options={"use_uvloop": True})
    soak: Soak = out["soak"]
    acct = out["accounting"]
    g = growth(soak.samples, args.warmup_s)
    rss = [s["rss_mb"] for s in soak.samples]
    rates = [s["bus_msgs_per_s"] for s in soak.samples if s["t_s"] >= 2]
    top = sorted(soak.peaks.items(), key=lambda kv: -kv[1])[:5]
    drops = sum(soak.overflowed.values())
    ok = (acct["not_final"] == 0 and acct["final_events_not_exactly_one"] == 0 and acct["acked_missing_from_journal"] == 0
          and acct["client_ids_received_twice"] == 0 and acct["twin_ids_not_in_journal"] == 0)
    row = {
        "name": f"soak @ {rtt_label(rtt)}", "rtt": rtt, "duration_s": args.seconds, "rate_per_s": args.rate,
        "rss_start_mb": rss[0] if rss else None, "rss_end_mb": rss[-1] if rss else None, "rss_max_mb": max(rss) if rss else None,
        **g, "rss_target_met": g["second_half_growth_pct"] < 5.0,
        "msgs_per_s": statistics.median(rates) if rates else None,
        "mailbox_peak_max": top[0][1] if top else 0, "mailbox_peak_name": top[0][0] if top else "",
        "mailbox_overflowed": drops, "faults": len(soak.faults),
        "intents": acct["journaled"], "orders_ok": ok, "ratio_vs_floor": None,
    }
    print_table(f"soak on the twins at {rtt_label(rtt)}: {args.seconds:.0f} s, 4 venues x BTC+ETH at {args.rate:.0f} steps/s, "
                f"a fault every {args.fault_every_s:.0f} s ({time.monotonic() - t_start:.0f} s wall)", [row],
                ["name", "duration_s", "msgs_per_s", "rss_start_mb", "rss_end_mb", "first_half_growth_pct",
                 "second_half_growth_pct", "rss_target_met", "mailbox_peak_max", "mailbox_overflowed", "faults",
                 "intents", "orders_ok"])
    print("\nmailbox peaks (top 5): " + ", ".join(f"{n}={p}" for n, p in top))
    print("overflowed (dropped) per mailbox: " + (", ".join(f"{n}={k}" for n, k in soak.overflowed.items() if k) or "none"))
    print("faults: " + ", ".join(f"{f['t_s']:.0f}s {f['fault']}@{f['venue']} {f['seconds']:.1f}s" for f in soak.faults))
    print("strategy: " + ", ".join(f"{k}={v}" for k, v in sorted(soak.counts.items())))
    print(f"settle: {out['settle']}")
    acc_rows = [{k: v for k, v in acct.items() if k not in ("examples", "journal_states", "statuses")}]
    print_table("order accounting", acc_rows, list(acc_rows[0]))
    print(f"journal states: {acct['journal_states']}; venue statuses: {acct['statuses']}")
    if any(acct["examples"].values()):
        print(f"examples: {acct['examples']}")
    print("exchanges: " + "; ".join(f"{v}: reconnects {s['reconnects']} resyncs {s['resyncs']} dropped {s['dropped']}"
                                    for v, s in out["exchanges"].items()))
    row.update({"accounting": acct, "settle": out["settle"], "strategy": dict(soak.counts), "faults_injected": soak.faults,
                "mailbox_peaks": soak.peaks, "mailbox_overflowed_by_name": soak.overflowed, "samples": soak.samples,
                "exchanges": out["exchanges"]})
    return row


if __name__ == "__main__":
    main()
