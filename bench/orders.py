"""Order round trips through the ExchangeActor at a venue's round-trip latency, next to a bare aiohttp client.

Per venue (binance, bybit, okx, deribit) on its twin, with a ``--rtt-ms`` (200) round trip on every REST
request and WebSocket frame (the twins' LatencyProfile, half each way):

- bursts of N limit placements (N = 1, 8, 32; post-only GTC buys ``--away-pct`` under the mid, so they rest)
  asked of the actor all at once (``ref.ask(PlaceOrder)`` from N tasks started together): the time until each
  is acknowledged, from the moment they were asked (p50, p99/max, the last ack);
- in the largest burst, in the middle of it (after the first half of the placements): a cancel of an order
  placed just before the burst (``ask(CancelOrder)``) and a health probe (``ask(HealthCheck)``), each timed
  to its answer;
- during that burst, the real HealthMonitor (actors/health.py, built as daemon/wiring.py builds it: probes
  asking the actor for HealthCheck, daemon defaults for thresholds, breaker and hold) with a backup venue
  that has no actor and no probes (so it stays OK and a selector has somewhere to fail over to). The burst
  is started 50 ms before the monitor's next probe is due, so at least one monitor probe lands in it. The
  bench records every VenueHealth and Failover it publishes from the burst's start until every answer is in
  and the monitor has no probe in flight.

The floor, in the same run, on the same twin, with the same account: the same requests built by a second
adapter instance (the venue's sans-IO request builders in venues/<venue>/rest.py behind it, the same
signing, the actor's measured clock offset) and sent all at once by a bare ``aiohttp.ClientSession`` (one
task per request, no limiter, no mailbox). Deribit's orders go over JSON-RPC on HTTP (``private/buy``,
``private/cancel``), exactly as actors/exchanges/deribit.py sends them. Every answer, the actor's and the
floor's, is checked after the clock stops (venue errors, rejected placements are reported as errors).

Budgets: N is capped at what the adapter's own rate buckets let placements take at once, counting the
pre-placed order and leaving the actor limiter's reserve for the cancel and the probes (Bybit 10 orders/s,
OKX 30 per 2 s, Deribit's matching-engine burst of 20: N = 8, 26, 17 of 32 today), so the bench measures
the actor and not its rate limiter; the row name shows the N used, and ``limiter_waits`` counts requests the
actor's limiter still held back during a burst. Between bursts the bench
waits until every bucket a burst draws on has room in a sliding window of the bucket's period (the actor's
and the floor's requests share one account on the twin), and the actor's own limiter has room. After each
burst its resting orders are cancelled on the twin's matching engine directly (out of band: no request,
no budget).

Targets (printed with pass/miss): 8 concurrent placements all acknowledged within 1.3x the floor's last ack;
the mid-burst cancel answered within 1.5 round trips; the mid-burst health probe within 1.2 round trips; no
DEGRADED and no Failover from the monitor during the burst.

    python bench/orders.py --quick --venues binance,okx --json bench/results/orders.json
    python bench/orders.py --reps 10 --rtt-ms 50
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import anyio  # noqa: E402
import yarl  # noqa: E402

from actors import topics  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.circuit import CircuitConfig  # noqa: E402
from actors.clock import LiveClock  # noqa: E402
from actors.exchanges.adapter import Endpoints, VenueAdapter  # noqa: E402
from actors.exchanges.base import ExchangeActor, ExchangeConfig  # noqa: E402
from actors.health import HealthConfig, HealthMonitor  # noqa: E402
from actors.ref import ActorRef  # noqa: E402
from actors.selection import SelectionConfig, VenueSelector  # noqa: E402
from bench.profiles import parse_rtt  # noqa: E402
from bench.report import percentile, print_table, write_json  # noqa: E402
from daemon.config import HealthSection, VenueSection  # noqa: E402
from daemon.wiring import adapter_for  # noqa: E402
from messages import (  # noqa: E402
    CancelOrder,
    ClientOrderId,
    Failover,
    HealthCheck,
    HealthReport,
    HealthStatus,
    Instrument,
    InstrumentId,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    PositionMode,  # noqa: E402
    Side,
    TimeInForce,
    Venue,
    VenueHealth,
)
from simulator import LatencyProfile  # noqa: E402
from simulator.runner import Twins, start_twins  # noqa: E402
from venues import Credentials  # noqa: E402
from venues.http import RequestSpec, Response  # noqa: E402
from venues.symbols import InstrumentRegistry  # noqa: E402

VENUES = ("binance", "bybit", "okx", "deribit")
INSTRUMENT = {"binance": "BTC-USDT-PERP", "bybit": "BTC-USDT-PERP", "okx": "BTC-USDT-PERP", "deribit": "BTC-USD-PERP"}
SIZES = (1, 8, 32)
MONITOR_PROBE_UNITS = 2  # health-monitor probes that may land on a burst's window (budgeted like the bench's own)
_ACKED = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED})


# -- the round trip ------------------------------------------------------------------------------------------
def latency_setup(rtt_ms: float) -> LatencyProfile | None:
    """The twins' round trip: ``rtt_ms`` split half each way, REST and WebSocket, no jitter."""
    return parse_rtt(f"{rtt_ms:g}")


async def _until(pred: Callable[[], bool], timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll ``pred`` (state another actor owns and signals no event for) until true or ``timeout_s``."""
    for _ in range(max(1, int(timeout_s / poll_s))):
        if pred():
            return True
        await anyio.sleep(poll_s)
    return pred()


# -- rate budget shared by the actor's and the floor's requests ------------------------------------------------
class Budget:
    """The venue's request budget as the adapter counts it (its rate buckets and routes, the way
    actors/ratelimit.py charges them), kept as a sliding window per bucket: a burst waits until every bucket
    it draws on has room for all of it. Stricter than a leaky bucket and than the twins' fixed windows."""

    def __init__(self, adapter: VenueAdapter, actor: ExchangeActor) -> None:
        buckets, routes = adapter.rate_buckets()
        self.buckets = {b.name: b for b in buckets}
        self.routes = routes
        self.spent: list[tuple[float, dict[str, float]]] = []
        self.actor = actor

    def reserve(self, name: str) -> float:
        """Units of ``name`` the actor's limiter keeps for urgent requests (cancels, probes): placements may
        not take them. Read from the limiter's bucket state when it has one (0 when it keeps none)."""
        return float(self.actor.limiter.reserve(name))

    def charges(self, specs: list[RequestSpec]) -> dict[str, float]:
        out: dict[str, float] = {}
        for spec in specs:
            if spec.endpoint in self.routes:
                names: tuple[str, ...] = self.routes[spec.endpoint]
            elif spec.endpoint in self.buckets:
                names = (spec.endpoint,)
            else:
                names = ("default",)
            for name in names:
                b = self.buckets.get(name)
                if b is not None:
                    out[name] = out.get(name, 0.0) + (1.0 if b.per_request else float(spec.weight))
        return out

    def most(self, per_unit: dict[str, float], normal: dict[str, float], urgent: dict[str, float], want: int) -> int:
        """The largest n <= want such that n x per_unit + ``normal`` (other placements) fits in what the actor's
        limiter lets normal requests take at once, and with ``urgent`` (cancel, probes) too in every bucket."""
        n = want
        for name, unit in per_unit.items():
            if unit > 0:
                cap = self.buckets[name].capacity
                n = min(n, int((cap - self.reserve(name) - normal.get(name, 0.0)) // unit),
                        int((cap - normal.get(name, 0.0) - urgent.get(name, 0.0)) // unit))
        return max(0, n)

    def ready_at(self, need: dict[str, float]) -> float:
        """Monotonic time from which ``need`` fits in every bucket's window."""
        now = time.monotonic()
        at = now
        for name, units in need.items():
            b = self.buckets[name]
            recent = sorted((t, c[name]) for t, c in self.spent if name in c and t > now - b.period_s)
            used = sum(u for _, u in recent)
            for t, u in recent:
                if used + units <= b.capacity:
                    break
                used -= u
                at = max(at, t + b.period_s)
        return at

    async def wait(self, need: dict[str, float], for_actor: bool, limit_s: float) -> float:
        """Wait for room (and, for the actor's bursts, for room in its own limiter, reserve left aside);
        returns seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + limit_s
        await anyio.sleep(max(0.0, min(self.ready_at(need), deadline) - time.monotonic()))
        lim = self.actor.limiter

        def room() -> bool:
            return all(lim.headroom(n) * self.buckets[n].capacity - self.reserve(n)
                       >= min(u, self.buckets[n].capacity - self.reserve(n)) for n, u in need.items())

        if for_actor:
            await _until(room, deadline - time.monotonic())
        return time.monotonic() - t0

    def spend(self, need: dict[str, float]) -> None:
        now = time.monotonic()
        self.spent = [(t, c) for t, c in self.spent if t > now - 120.0] + [(now, need)]


# -- one burst --------------------------------------------------------------------------------------------------
@dataclass
class Item:
    kind: str  # place | cancel | probe
    msg: Any = None


@dataclass
class Outcome:
    kind: str
    dt_ns: int
    error: str = ""
    answer: Any = None


@dataclass
class Burst:
    who: str  # actor | floor
    n: int
    want: int = 0  # the size asked for (n may be capped by the venue's budget)
    limiter_waits: int = 0  # requests the actor's rate limiter held back during the burst
    outcomes: list[Outcome] = field(default_factory=list)
    t0_mono: float = 0.0
    t_end_mono: float = 0.0
    monitor: dict[str, Any] = field(default_factory=dict)

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def ok_ns(self, kind: str) -> list[int]:
        return [o.dt_ns for o in self.of(kind) if not o.error]

    def errors(self) -> list[str]:
        return [f"{o.kind}: {o.error}" for o in self.outcomes if o.error]


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


class _Ctx:
    """What the floor's request builders need (the VenueContext subset they read)."""

    def __init__(self, credentials: Credentials, registry: InstrumentRegistry, actor: ExchangeActor) -> None:
        self.credentials = credentials
        self.registry = registry
        self._actor = actor

    def now_ms(self) -> int:
        return int(time.time_ns() // 1_000_000 + self._actor.offset_ms)  # signed with the actor's offset

    def nonce(self) -> str:
        return secrets.token_hex(8)

    @property
    def position_mode(self) -> PositionMode:
        return self._actor.position_mode  # the same orders as the actor's: the same position side


class Floor:
    """The same requests, built by the venue's sans-IO builders, sent by a bare aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, adapter: VenueAdapter, ctx: _Ctx) -> None:
        self.session = session
        self.adapter = adapter
        self.ctx: Any = ctx  # the builders' slice of VenueContext (credentials, now_ms, nonce)
        self.base = adapter.endpoints.rest.rstrip("/")

    def build(self, item: Item) -> RequestSpec:
        if item.kind == "place":
            return self.adapter.place_order(item.msg, self.ctx)
        if item.kind == "cancel":
            return self.adapter.cancel_order(item.msg, self.ctx)
        return self.adapter.server_time_request()

    async def send(self, spec: RequestSpec) -> Response:
        url = yarl.URL(self.base + spec.target, encoded=True)  # sent verbatim: the query string is what was signed
        async with self.session.request(spec.method.value, url, headers=spec.headers, data=spec.body or None) as r:
            body = await r.read()
            return Response(status=r.status, headers={k.lower(): v for k, v in r.headers.items()}, body=body)

    def check(self, item: Item, resp: Response) -> Any:
        """The venue's verdict on an answer (after the clock stopped): raises its typed error."""
        self.adapter.raise_for_error(resp)
        ts = time.time_ns()
        if item.kind == "place":
            upd = self.adapter.parse_place(item.msg, resp, ts)
            if upd.status not in _ACKED:
                msg = f"placement answered {upd.status}"
                raise RuntimeError(msg)
            return upd
        if item.kind == "cancel":
            return self.adapter.parse_cancel(item.msg, resp, ts)
        return self.adapter.parse_server_time(resp)


async def actor_burst(ref: ActorRef, items: list[Item], n: int, timeout: float) -> Burst:
    out = Burst("actor", n)
    answers: list[tuple[Item, int, Any, BaseException | None]] = []

    async def one(item: Item, t0: int) -> None:
        try:
            got = await ref.ask(item.msg, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - reported per request
            answers.append((item, time.perf_counter_ns() - t0, None, exc))
        else:
            answers.append((item, time.perf_counter_ns() - t0, got, None))

    out.t0_mono = time.monotonic()
    t0 = time.perf_counter_ns()
    async with anyio.create_task_group() as tg:
        for item in items:  # started in this order, so they reach the mailbox in this order
            tg.start_soon(one, item, t0)
    out.t_end_mono = time.monotonic()
    for item, dt, got, exc in answers:
        error = _err(exc) if exc is not None else ""
        if not error and item.kind == "place" and (not isinstance(got, OrderUpdate) or got.status not in _ACKED):
            error = f"placement answered {getattr(got, 'status', type(got).__name__)}"
        if not error and item.kind == "probe" and isinstance(got, HealthReport) and got.status == "down":
            error = f"health check: down ({got.detail})"
        out.outcomes.append(Outcome(item.kind, dt, error, got))
    return out


async def floor_burst(fl: Floor, items: list[Item], n: int, timeout: float) -> Burst:
    out = Burst("floor", n)
    answers: list[tuple[Item, int, Response | None, BaseException | None]] = []

    async def one(item: Item, t0: int) -> None:
        try:
            with anyio.fail_after(timeout):
                resp = await fl.send(fl.build(item))  # built (signed) in the timed path, as the actor does
        except Exception as exc:  # noqa: BLE001 - reported per request
            answers.append((item, time.perf_counter_ns() - t0, None, exc))
        else:
            answers.append((item, time.perf_counter_ns() - t0, resp, None))

    out.t0_mono = time.monotonic()
    t0 = time.perf_counter_ns()
    async with anyio.create_task_group() as tg:
        for item in items:
            tg.start_soon(one, item, t0)
    out.t_end_mono = time.monotonic()
    for item, dt, resp, exc in answers:
        got: Any = None
        error = _err(exc) if exc is not None else ""
        if resp is not None:
            try:
                got = fl.check(item, resp)
            except Exception as e:  # noqa: BLE001 - the venue's answer was an error
                error = _err(e)
        out.outcomes.append(Outcome(item.kind, dt, error, got))
    return out


# -- the health monitor during the burst ------------------------------------------------------------------------
class MonitorTape:
    """Everything the monitor publishes about the venue (and every Failover), stamped on arrival."""

    def __init__(self, bus: Bus, venue: Venue) -> None:
        self.events: list[tuple[float, Any]] = []
        for pattern in (topics.venue_health(venue), topics.failover()):
            bus.subscribe(pattern, self, name="bench.orders")

    def deliver(self, topic: str, msg: Any) -> None:
        self.events.append((time.monotonic(), msg))

    def between(self, t0: float, t1: float) -> list[Any]:
        return [m for t, m in self.events if t0 <= t <= t1]


def _probe(ref: ActorRef, venue: Venue) -> Callable[[], Any]:
    """The daemon's probe (daemon/wiring.py ``_probe``): a HealthCheck ask; a "down" report is a failure."""

    async def probe() -> float:
        report = await ref.ask(HealthCheck(venue=venue), timeout=5.0)
        if report.status == "down":
            msg = f"{venue} health check: down ({report.detail})"
            raise RuntimeError(msg)
        return float(report.latency_ms)

    return probe


def make_monitor(bus: Bus, ref: ActorRef, venue: Venue, backup: Venue, args: argparse.Namespace) -> HealthMonitor:
    """Built as daemon/wiring.py builds it (daemon defaults from HealthSection), for the venue plus a backup
    with no actor and no probes, which stays OK: somewhere for the selector to fail over to."""
    h = HealthSection()
    hcfg = HealthConfig(venues=[venue, backup], probe_interval_s=args.probe_s, latency_degraded_ms=h.latency_degraded_ms,
                        circuit=CircuitConfig(failure_threshold=h.breaker_failures, cooldown_base_s=h.breaker_cooldown_s))
    sel = VenueSelector(SelectionConfig(venues=[venue, backup], priority={venue: 1, backup: 2}, hold_s=args.hold_s))
    return HealthMonitor(hcfg, bus=bus, clock=LiveClock(), rng=random.Random(args.seed), probes={venue: [_probe(ref, venue)]},
                         selectors=[sel])


async def burst_with_monitor(bus: Bus, tape: MonitorTape, actor: ExchangeActor, venue: Venue, backup: Venue,
                             items: list[Item], n: int, args: argparse.Namespace) -> Burst:
    mon = make_monitor(bus, actor.ref, venue, backup, args)
    tr = mon.trackers[venue]
    info: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:
        await tg.start(mon.run)
        await _until(lambda: not tr.probing and bool(tr.outcomes), args.ask_timeout_s)  # the first probe runs at start
        info["status_before"] = tr.status.value
        info["reason_before"] = tr.reason
        # Start 50 ms before the monitor's next probe is due: it lands in the burst.
        await anyio.sleep(max(0.0, tr.next_probe_at - 0.05 - time.monotonic()))
        b = await actor_burst(actor.ref, items, n, args.ask_timeout_s)
        await _until(lambda: not tr.probing, mon.config.probe_timeout_s + 1.0)
        t_end = time.monotonic()
        seen = tape.between(b.t0_mono, t_end)
        health = [m for m in seen if isinstance(m, VenueHealth) and m.venue is venue]
        bad = [m for m in health if m.status is not HealthStatus.OK]
        fos = [m for m in seen if isinstance(m, Failover) and m.from_venue is venue]
        probes = [ok for t, ok in tr.outcomes if b.t0_mono <= t <= t_end]
        info.update({
            "window_ms": (t_end - b.t0_mono) * 1000.0,
            "degraded": bool(bad) or tr.status is not HealthStatus.OK,
            "statuses": sorted({m.status.value for m in health} | {tr.status.value}),
            "reason": (bad[0].reason if bad else tr.reason)[:200],
            "failover": bool(fos),
            "failover_to": [f.to_venue.value if f.to_venue else None for f in fos],
            "monitor_probes": len(probes),
            "monitor_probe_failures": sum(1 for ok in probes if not ok),
            "status_after": tr.status.value,
        })
        tg.cancel_scope.cancel()
    b.monitor = info
    return b


# -- one venue ----------------------------------------------------------------------------------------------------
def _order_size(inst: Instrument, price: Decimal) -> Decimal:
    qty = max(inst.min_qty, inst.lot_size)
    if inst.min_notional > 0 and not inst.inverse:
        need = inst.min_notional / (price * inst.contract_size)
        qty = max(qty, (need / inst.lot_size).to_integral_value(ROUND_CEILING) * inst.lot_size)
    return qty


def _cancel_resting(twins: Twins, venue: str) -> int:
    """Cancel every open order on the twin's matching engine (bench clean-up: no request, no budget)."""
    engine = getattr(twins[venue].twin, "engine", None)
    if engine is None:
        return 0
    now_ms = time.time_ns() // 1_000_000
    orders = list(engine.open_orders())
    for o in orders:
        engine.cancel(o.symbol, now_ms, o.order_id)
    return len(orders)


async def run_venue(venue_name: str, twins: Twins, args: argparse.Namespace) -> dict[str, Any]:
    venue = Venue(venue_name)
    backup = next(Venue(v) for v in VENUES if v != venue_name)
    rt = twins[venue_name]
    endpoints = Endpoints(rest=rt.rest, ws=dict(rt.ws))
    creds = Credentials(rt.twin.credentials.api_key, rt.twin.credentials.secret, rt.twin.credentials.passphrase or "")
    stale = max(1.0, 3.0 / args.rate)  # 3 model steps of silence before a stream is called stale
    section = VenueSection(instruments=[INSTRUMENT[venue_name]], stale_after_s=stale, trades=False)
    registry = InstrumentRegistry()
    bus = Bus()
    tape = MonitorTape(bus, venue)
    actor = ExchangeActor(adapter_for(venue, registry, endpoints, section),
                          ExchangeConfig(instruments=[INSTRUMENT[venue_name]], depth_levels=0),
                          bus=bus, credentials=creds, clock=LiveClock(), rng=random.Random(args.seed), name=f"exchange.{venue_name}")
    bursts: list[Burst] = []
    out: dict[str, Any] = {"venue": venue_name, "bursts": bursts, "notes": []}
    counter = 0

    def cid() -> ClientOrderId:
        nonlocal counter
        counter += 1
        return ClientOrderId(actor.adapter.make_client_order_id(f"ob{counter}"))

    async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
        t_start = time.monotonic()
        with anyio.fail_after(60.0):
            await tg.start(actor.run)
        out["actor_start_s"] = time.monotonic() - t_start
        # The actor's concurrency settings, whatever they are called today (recorded, never assumed).
        out["actor_config"] = {k: getattr(actor.config, k) for k in actor.config.__struct_fields__
                               if "flight" in k or "lane" in k or "concurren" in k}
        floor_adapter = adapter_for(venue, registry, endpoints, section)  # a second instance: its own id memory
        fl = Floor(session, floor_adapter, _Ctx(creds, registry, actor))
        iid = InstrumentId(INSTRUMENT[venue_name])
        inst = registry.get(venue, iid)
        mid = Decimal(str(twins.model.venue_mid(venue_name, "BTC")))
        price = (mid * (1 - Decimal(str(args.away_pct)) / 100) / inst.tick_size).to_integral_value(ROUND_FLOOR) * inst.tick_size
        qty = _order_size(inst, price)
        out.update({"price": str(price), "qty": str(qty), "mid": float(mid)})

        def place() -> PlaceOrder:
            return PlaceOrder(venue=venue, instrument=iid, client_order_id=cid(), side=Side.BUY, quantity=qty,
                              order_type=OrderType.LIMIT, price=price, time_in_force=TimeInForce.GTC, post_only=True)

        budget = Budget(floor_adapter, actor)
        sample = place()
        per_place = budget.charges([floor_adapter.place_order(sample, fl.ctx)])
        cancel_spec = floor_adapter.cancel_order(CancelOrder(venue=venue, instrument=iid, client_order_id=sample.client_order_id), fl.ctx)
        probe_spec = floor_adapter.server_time_request()
        urgent = budget.charges([cancel_spec] + [probe_spec] * (1 + MONITOR_PROBE_UNITS))
        extras = {k: per_place.get(k, 0.0) + urgent.get(k, 0.0) for k in set(per_place) | set(urgent)}  # + the pre-placed order
        sizes: dict[int, int] = {}
        for want in args.sizes:
            big = want == max(args.sizes)
            sizes[want] = budget.most(per_place, per_place if big else {}, urgent if big else {}, want)
        out["sizes"] = sizes
        if any(sizes[w] < w for w in sizes):
            out["notes"].append("N capped by the adapter's rate buckets: "
                                + ", ".join(f"{w} -> {sizes[w]}" for w in sizes if sizes[w] < w))

        async def run(who: str, want: int) -> Burst:
            n = sizes[want]
            big = want == max(args.sizes)
            orders = [place() for _ in range(n)]
            items = [Item("place", o) for o in orders]
            need = budget.charges([floor_adapter.place_order(o, fl.ctx) for o in orders[:1]] * n)
            pre: PlaceOrder | None = None
            if big:
                pre = place()
                cancel = CancelOrder(venue=venue, instrument=iid, client_order_id=pre.client_order_id)
                probe = HealthCheck(venue=venue)
                items = items[: n // 2] + [Item("cancel", cancel), Item("probe", probe)] + items[n // 2:]
                need = {k: need.get(k, 0.0) + extras.get(k, 0.0) for k in set(need) | set(extras)}
            await budget.wait(need, who == "actor", args.budget_wait_s)
            waits_before = actor.limiter.waits
            if pre is not None:  # the order the cancel is for, acknowledged before the burst starts
                try:
                    if who == "actor":
                        await actor.ref.ask(pre, timeout=args.ask_timeout_s)
                    else:
                        item = Item("place", pre)
                        fl.check(item, await fl.send(fl.build(item)))  # the floor adapter learns its venue id
                except Exception as exc:  # noqa: BLE001 - the cancel will fail and say why
                    out["notes"].append(f"{who} pre-placement failed: {_err(exc)}")
            if who == "actor" and big:
                b = await burst_with_monitor(bus, tape, actor, venue, backup, items, n, args)
            elif who == "actor":
                b = await actor_burst(actor.ref, items, n, args.ask_timeout_s)
            else:
                b = await floor_burst(fl, items, n, args.ask_timeout_s)
            b.want = want
            b.limiter_waits = actor.limiter.waits - waits_before if who == "actor" else 0
            budget.spend(need)
            await anyio.sleep(args.settle_s)
            _cancel_resting(twins, venue_name)
            if args.verbose:
                last = max((o.dt_ns for o in b.of("place")), default=0) / 1e6
                print(f"  {venue_name} {who} N={n}: last ack {last:.1f} ms, errors {b.errors()[:3]} {b.monitor or ''}", flush=True)
            return b

        # Warm-up (untimed): one placement each way, so first-use costs are not in the first burst.
        for who in ("floor", "actor"):
            await run(who, min(args.sizes))
        for rep in range(args.reps):
            for want in args.sizes:
                order = ("floor", "actor") if rep % 2 == 0 else ("actor", "floor")
                for who in order:
                    b = await run(who, want)
                    b.monitor.setdefault("rep", rep)
                    bursts.append(b)
        await actor.ref.stop(timeout=10.0)
        tg.cancel_scope.cancel()
    bus.close()
    return out


# -- summary --------------------------------------------------------------------------------------------------
def _us(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)
    return {"p50_us": percentile(s, 50) / 1e3, "p99_us": percentile(s, 99) / 1e3, "max_us": (s[-1] / 1e3) if s else float("nan")}


def summarize(v: dict[str, Any], rtt_ms: float, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    venue = v["venue"]
    bursts: list[Burst] = v["bursts"]
    rows: list[dict[str, Any]] = []
    big = max(sizes)

    def of(who: str, want: int) -> list[Burst]:
        return [b for b in bursts if b.who == who and b.want == want]

    for want in sizes:
        a, f = of("actor", want), of("floor", want)
        n = v["sizes"][want]
        a_ns = [x for b in a for x in b.ok_ns("place")]
        f_ns = [x for b in f for x in b.ok_ns("place")]
        a_last = [max(b.ok_ns("place")) for b in a if b.ok_ns("place")]
        f_last = [max(b.ok_ns("place")) for b in f if b.ok_ns("place")]
        label = f"{venue} place N={n}" + (f" (of {want})" if n != want else "")
        row: dict[str, Any] = {"name": label, "venue": venue, "kind": "place", "n": n, "n_asked_for": want,
                               "reps": len(a)}
        row.update(_us(a_ns))
        row["last_ack_us"] = statistics.median(a_last) / 1e3 if a_last else float("nan")
        row["last_ack_max_us"] = max(a_last) / 1e3 if a_last else float("nan")
        fs = _us(f_ns)
        row.update({"floor_p50_us": fs["p50_us"], "floor_p99_us": fs["p99_us"],
                    "floor_last_ack_us": statistics.median(f_last) / 1e3 if f_last else float("nan")})
        row["ratio_vs_floor"] = row["last_ack_us"] / row["floor_last_ack_us"] if a_last and f_last else None
        row["last_ack_rtts"] = row["last_ack_us"] / (rtt_ms * 1e3)
        row["msgs_per_s"] = n / (row["last_ack_us"] / 1e6) if a_last else None
        row["floor_msgs_per_s"] = n / (row["floor_last_ack_us"] / 1e6) if f_last else None
        row["errors"] = sum(len([o for o in b.of("place") if o.error]) for b in a)
        row["limiter_waits"] = sum(b.limiter_waits for b in a)
        row["floor_errors"] = sum(len([o for o in b.of("place") if o.error]) for b in f)
        row["first_errors"] = [e for b in a + f for e in b.errors()][:3]
        if want == 8:
            row["target"] = "last ack <= 1.3 x floor"
            row["met"] = row["ratio_vs_floor"] is not None and row["ratio_vs_floor"] <= 1.3 and row["errors"] == 0
        rows.append(row)

    a, f = of("actor", big), of("floor", big)
    for kind, factor, label in (("cancel", 1.5, "cancel mid-burst"), ("probe", 1.2, "health probe mid-burst")):
        a_ns = [x for b in a for x in b.ok_ns(kind)]
        f_ns = [x for b in f for x in b.ok_ns(kind)]
        row = {"name": f"{venue} {label}", "venue": venue, "kind": kind, "n": v["sizes"][big], "reps": len(a)}
        row.update(_us(a_ns))
        fs = _us(f_ns)
        row.update({"floor_p50_us": fs["p50_us"], "floor_p99_us": fs["p99_us"]})
        row["ratio_vs_floor"] = row["p50_us"] / fs["p50_us"] if a_ns and f_ns else None
        row["msgs_per_s"] = None
        row["answer_rtts"] = row["max_us"] / (rtt_ms * 1e3) if a_ns else None
        row["errors"] = sum(len([o for o in b.of(kind) if o.error]) for b in a)
        row["floor_errors"] = sum(len([o for o in b.of(kind) if o.error]) for b in f)
        row["first_errors"] = [o.error for b in a + f for o in b.of(kind) if o.error][:3]
        row["target"] = f"every answer <= {factor} RTT ({factor * rtt_ms:.0f} ms)"
        row["met"] = bool(a_ns) and row["errors"] == 0 and row["max_us"] <= factor * rtt_ms * 1e3
        if kind == "probe":
            reports = [o.answer for b in a for o in b.of(kind) if isinstance(o.answer, HealthReport)]
            row["probe_statuses"] = sorted({r.status for r in reports})
            row["probe_latency_ms"] = [round(r.latency_ms, 1) for r in reports]
        rows.append(row)

    mons = [b.monitor for b in a]
    degraded = any(m.get("degraded") for m in mons)
    failover = any(m.get("failover") for m in mons)
    rows.append({
        "name": f"{venue} health monitor", "venue": venue, "kind": "monitor", "n": v["sizes"][big], "reps": len(mons),
        "p50_us": None, "p99_us": None, "msgs_per_s": None, "ratio_vs_floor": None,
        "degraded": degraded, "failover": failover,
        "statuses": sorted({s for m in mons for s in m.get("statuses", [])}),
        "status_before": sorted({m.get("status_before", "?") for m in mons}),
        "reasons": sorted({m["reason"] for m in mons if m.get("degraded") and m.get("reason")})[:3],
        "monitor_probes": sum(m.get("monitor_probes", 0) for m in mons),
        "monitor_probe_failures": sum(m.get("monitor_probe_failures", 0) for m in mons),
        "window_ms": [round(m.get("window_ms", 0.0), 1) for m in mons],
        "target": "no DEGRADED, no Failover during the burst",
        "met": bool(mons) and not degraded and not failover,
    })
    return rows


async def amain(args: argparse.Namespace, lat: LatencyProfile | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with start_twins(list(args.venues), seed=args.seed, symbols=["BTC"], rate=args.rate, latency=lat) as twins:
        for v in args.venues:
            t0 = time.monotonic()
            try:
                res = await run_venue(v, twins, args)
            except Exception as exc:  # noqa: BLE001 - one venue failing does not stop the others
                print(f"  {v}: failed: {_err(exc)}", flush=True)
                out.append({"venue": v, "error": _err(exc)})
                continue
            res["wall_s"] = time.monotonic() - t0
            out.append(res)
    return out


def _ms(x: Any) -> Any:
    return None if x is None or not isinstance(x, (int, float)) else x / 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 repetition (under a minute for the four venues)")
    ap.add_argument("--venues", default=",".join(VENUES))
    ap.add_argument("--reps", type=int, default=None, help="bursts per size and side (default 5, 1 with --quick)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="burst sizes; the largest carries the cancel, "
                    "the probe and the monitor (default 1,8,32)")
    ap.add_argument("--rtt-ms", type=float, default=200.0, help="round trip added by the twins (default 200)")
    ap.add_argument("--rate", type=float, default=10.0, help="twin model steps/s (default 10)")
    ap.add_argument("--probe-s", type=float, default=1.0, help="health monitor probe interval (daemon default 5)")
    ap.add_argument("--hold-s", type=float, default=HealthSection().hold_s, help="selector hold (daemon default)")
    ap.add_argument("--away-pct", type=float, default=3.0, help="placements rest this far under the mid (%%)")
    ap.add_argument("--ask-timeout-s", type=float, default=30.0)
    ap.add_argument("--budget-wait-s", type=float, default=30.0, help="longest wait for rate-limit room before a burst")
    ap.add_argument("--settle-s", type=float, default=0.1, help="pause after a burst before its orders are cleaned up")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    bad = [v for v in args.venues if v not in VENUES]
    if bad or not args.venues:
        ap.error(f"--venues: expected a subset of {','.join(VENUES)}, got {','.join(bad) or 'nothing'}")
    try:
        args.sizes = tuple(sorted({int(s) for s in args.sizes.split(",") if s.strip()}))
    except ValueError:
        ap.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if not args.sizes or min(args.sizes) < 1:
        ap.error("--sizes: expected positive integers")
    args.reps = args.reps or (1 if args.quick else 5)
    lat = latency_setup(args.rtt_ms)
    rtt = args.rtt_ms
    t_start = time.monotonic()
    venues = anyio.run(amain, args, lat, backend="asyncio", backend_options={"use_uvloop": True})
    wall = round(time.monotonic() - t_start, 1)

    results: list[dict[str, Any]] = []
    for v in venues:
        if "error" in v:
            results.append({"name": f"{v['venue']} (failed)", "venue": v["venue"], "error": v["error"], "p50_us": None,
                            "p99_us": None, "msgs_per_s": None, "ratio_vs_floor": None, "met": False})
            continue
        rows = summarize(v, rtt, args.sizes)
        for r in rows:
            r["actor_start_s"] = round(v["actor_start_s"], 2)
            r["price"], r["qty"] = v["price"], v["qty"]
        results.extend(rows)

    params = {"rtt_ms": rtt, "latency": repr(lat), "rate_steps_per_s": args.rate, "reps": args.reps, "sizes": list(args.sizes),
              "sizes_used": {v["venue"]: v.get("sizes") for v in venues},
              "actor_config": {v["venue"]: v.get("actor_config") for v in venues}, "probe_interval_s": args.probe_s,
              "hold_s": args.hold_s, "away_pct": args.away_pct, "venues": args.venues, "loop": "uvloop",
              "quick": args.quick, "wall_s": wall, "notes": {v["venue"]: v.get("notes", []) for v in venues}}
    cols = ["name", "reps", "p50_ms", "p99_ms", "max_ms", "last_ack_ms", "floor_p50_ms", "floor_last_ack_ms",
            "ratio_vs_floor", "msgs_per_s", "errors", "limiter_waits", "met"]
    table = []
    for r in results:
        d = dict(r)
        for k in ("p50", "p99", "max", "last_ack", "floor_p50", "floor_last_ack"):
            d[f"{k}_ms"] = _ms(r.get(f"{k}_us"))
        if r.get("kind") == "monitor":
            d["p50_ms"] = "DEGRADED" if r["degraded"] else "ok"
            d["p99_ms"] = "FAILOVER" if r["failover"] else "no failover"
        table.append(d)
    print_table(f"orders through the ExchangeActor vs a bare aiohttp client, twins at {rtt:g} ms RTT "
                f"({args.reps} rep(s), {wall} s); latency: {lat!r}", table, cols)
    print("\ntargets:")
    for r in results:
        if "error" in r:
            print(f"  {r['name']}: {r['error']}  MISS")
            continue
        if "target" not in r:
            continue
        verdict = "pass" if r["met"] else "MISS"
        if r["kind"] == "place":
            ratio = r["ratio_vs_floor"]
            got = (f"last ack {r['last_ack_us'] / 1e3:.0f} ms ({r['last_ack_rtts']:.1f} RTT) vs floor "
                   f"{r['floor_last_ack_us'] / 1e3:.0f} ms = {ratio:.2f}x" if ratio is not None else "no acks")
        elif r["kind"] in ("cancel", "probe"):
            got = f"max {r['max_us'] / 1e3:.0f} ms, floor p50 {r['floor_p50_us'] / 1e3:.0f} ms"
        else:
            got = (f"statuses {', '.join(r['statuses'])}; failover {'yes' if r['failover'] else 'no'}; monitor probes "
                   f"{r['monitor_probes']} ({r['monitor_probe_failures']} failed)"
                   + (f"; {r['reasons'][0]}" if r["reasons"] else ""))
        print(f"  {r['name']}: {got}; target {r['target']}: {verdict}")
        if r.get("first_errors"):
            for e in r["first_errors"]:
                print(f"      error: {e}")
    for v, notes in params["notes"].items():
        for note in notes:
            print(f"  note {v}: {note}")
    if args.json:
        write_json(args.json, params, results)
    return 0 if all("error" not in v for v in venues) else 2


if __name__ == "__main__":
    sys.exit(main())
