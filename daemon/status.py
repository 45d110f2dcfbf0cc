"""The live status view (a terminal table refreshed about once a second) and structured JSON log lines.

StatusView is an actor fed by the bus only (conflating subscriptions for state, an event subscription for
what must be logged); it never reaches into another actor, so it never waits on one. The exchange actors'
counters (ExchangeStats), the router's (RouterStats) and the NATS bridge's status (NatsBridgeStatus) arrive
every second on ``stats.*``; what the supervisor does to each actor (started, failed and why, the next try,
given up) arrives as actor events. Each row says how old its numbers are. Each change of the bridge's state
is logged as a ``nats.state`` line. Secrets are never rendered: nothing here sees credentials.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

import msgspec

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from messages import (
    AccountConfig,
    AccountView,
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    ArbOpportunity,
    ArbPhase,
    BestBidAsk,
    BookIntegrity,
    CircuitChanged,
    DeadMansSwitch,
    ExchangeStats,
    Failover,
    Fill,
    MailboxOverflow,
    NatsBridgeStatus,
    OrderRejected,
    OrderUpdate,
    RateLimited,
    RouterStats,
    VenueHealth,
)

__all__ = ["StatusView", "ChildView"]

StatusMessage = (ExchangeStats | RouterStats | NatsBridgeStatus | ActorStarted | ActorFailed | ActorRestarted | ActorGaveUp
                 | ActorStopped | VenueHealth | CircuitChanged | BookIntegrity | AccountView | AccountConfig | BestBidAsk
                 | ArbOpportunity | Failover | RateLimited | OrderRejected | MailboxOverflow | OrderUpdate | Fill | DeadMansSwitch)
"""What the status view takes: everything from its subscriptions (stats, actor events, health, books, prices, orders)."""

_LOGGED = (Failover, CircuitChanged, ActorFailed, ActorGaveUp, ActorRestarted, RateLimited, OrderRejected,
           MailboxOverflow, OrderUpdate, Fill, DeadMansSwitch)


class ChildView:
    """One actor as the supervisor's events tell it: running or not, its last error, restarts, the next try,
    given up."""

    __slots__ = ("up", "last_error", "restarts", "next_try_ns", "gave_up")

    def __init__(self) -> None:
        self.up = False
        self.last_error = ""
        self.restarts = 0
        self.next_try_ns = 0
        self.gave_up = False

    def take(self, ev: ActorStarted | ActorFailed | ActorRestarted | ActorGaveUp | ActorStopped) -> None:
        match ev:
            case ActorStarted():
                self.up, self.next_try_ns = True, 0
            case ActorFailed(error_type=kind, error=error):
                self.up, self.last_error = False, f"{kind}: {error}"
            case ActorRestarted(delay_s=delay, ts=ts):
                self.restarts += 1
                self.next_try_ns = ts + int(delay * 1e9)
            case ActorGaveUp():
                self.up, self.gave_up, self.next_try_ns = False, True, 0
            case ActorStopped():
                self.up = False


class StatusView(Actor):
    def __init__(
        self,
        bus: Bus,
        *,
        tty: bool,
        json_logs: bool,
        interval_s: float = 1.0,
        out: TextIO | None = None,
        venues: dict[str, str] | None = None,
        nats: bool = False,
        warnings: Callable[[], list[str]] | None = None,
    ) -> None:
        """``venues``: venue -> the name of its exchange actor (the rows of the table); ``nats``: show the NATS
        bridge."""
        super().__init__("status", bus=bus)
        self.tty = tty
        self.json_logs = json_logs
        self.interval_s = interval_s
        self.out = out or sys.stdout
        self.venues = venues or {}
        self.nats = nats
        self.warnings = warnings
        self.exchange: dict[str, ExchangeStats] = {}  # venue -> its actor's last counters
        self.router: RouterStats | None = None
        self.bridge: NatsBridgeStatus | None = None
        self.children: dict[str, ChildView] = {}  # actor name -> what the supervisor did to it
        self._nats_state: str | None = None
        self.health: dict[str, VenueHealth] = {}
        self.circuits: dict[str, CircuitChanged] = {}
        self.configs: dict[str, AccountConfig] = {}  # venue -> account settings (position mode), as last read
        self.books: dict[tuple[str, str], BookIntegrity] = {}
        self.best: dict[str, BestBidAsk] = {}
        self.arbs: deque[ArbOpportunity] = deque(maxlen=8)
        self.failovers: deque[Failover] = deque(maxlen=5)
        self.best_updates = 0
        self.arb_opened = 0
        self.failovers_seen: list[Failover] = []
        self._frames: dict[str, tuple[float, int]] = {}
        self.account: AccountView | None = None

    async def on_start(self) -> None:
        self.subscribe(topics.venue_health(), conflate=True)
        self.subscribe(topics.circuit(), conflate=True)
        self.subscribe(topics.book_integrity("*", "*"), conflate=True)
        self.subscribe(topics.best(), conflate=True)
        self.subscribe(topics.account_view(), conflate=True)
        self.subscribe(topics.account_config(), conflate=True)
        self.subscribe(topics.switch(), conflate=False)
        self.subscribe(topics.arb(), conflate=False, capacity=10_000)
        self.subscribe(topics.failover(), conflate=False)
        self.subscribe(topics.actor(), conflate=False)
        self.subscribe(topics.exchange_stats(), conflate=True)
        self.subscribe(topics.router_stats(), conflate=True)
        self.subscribe(topics.bridge_stats(), conflate=True)
        self.subscribe(topics.rate_limit(), conflate=False)
        self.subscribe(topics.order_rejected(), conflate=False)
        self.subscribe(topics.order_update("*"), conflate=False)
        self.subscribe(topics.fill("*"), conflate=False)
        self.start_soon(self._ticker)

    async def handle(self, msg: StatusMessage) -> Any:
        match msg:
            case ExchangeStats(venue=v):
                self.exchange[v] = msg
            case RouterStats():
                self.router = msg
            case NatsBridgeStatus():
                self._bridge_changed(msg)
            case ActorStarted() | ActorFailed() | ActorRestarted() | ActorGaveUp() | ActorStopped():
                self.children.setdefault(msg.name, ChildView()).take(msg)
                if isinstance(msg, _LOGGED):
                    self._log(msg)
            case VenueHealth(venue=v):
                self.health[v] = msg
            case CircuitChanged(venue=v):
                self.circuits[v] = msg
                self._log(msg)
            case BookIntegrity(venue=v, instrument=i):
                self.books[(v, i)] = msg
            case AccountView():
                self.account = msg
            case AccountConfig(venue=v):
                if v in self.configs and self.configs[v].position_mode is not msg.position_mode:
                    self._log(msg)  # a mode change while running is worth a line
                self.configs[v] = msg
            case BestBidAsk(group=g):
                self.best[g] = msg
                self.best_updates += 1
            case ArbOpportunity():
                if msg.phase is not ArbPhase.UPDATED:
                    self.arbs.append(msg)
                    self._log(msg)
                if msg.phase is ArbPhase.OPENED:
                    self.arb_opened += 1
            case Failover():
                self.failovers.append(msg)
                self.failovers_seen.append(msg)
                del self.failovers_seen[:-10_000]
                self._log(msg)
            case _ if isinstance(msg, _LOGGED):
                self._log(msg)
        return None

    def _log(self, msg: msgspec.Struct) -> None:
        if not self.json_logs:
            return
        fields = msgspec.to_builtins(msg)
        fields.pop("type", None)
        line = {"event": type(msg).__name__, **fields, "logged_at": time.time()}
        self.out.write(json.dumps(line, default=str) + "\n")
        self.out.flush()

    async def _ticker(self) -> None:
        while True:
            await self.clock.sleep(self.interval_s)
            if self.tty:
                self.out.write("\x1b[H\x1b[2J" + self.render() + "\n")
                self.out.flush()
            elif self.json_logs:
                self.out.write(json.dumps({"ts": time.time(), "event": "status", **self.snapshot()}, default=str) + "\n")
                self.out.flush()

    def nats_status(self) -> dict[str, Any] | None:
        if not self.nats:
            return None
        if self.bridge is None:
            return {"state": "down"}
        st: dict[str, Any] = msgspec.to_builtins(self.bridge)
        st.pop("type", None)
        st["age_s"] = self.age_s(self.bridge.ts)
        return st

    def _bridge_changed(self, st: NatsBridgeStatus) -> None:
        self.bridge = st
        if st.state.value == self._nats_state:
            return
        self._nats_state = st.state.value
        if self.json_logs:
            line = {"ts": time.time(), "event": "nats.state", "state": self._nats_state, "server": st.server,
                    "last_error": st.last_error}
            self.out.write(json.dumps(line, default=str) + "\n")
            self.out.flush()

    def age_s(self, ts_ns: int) -> float:
        return round(max(0.0, (self.clock.time_ns() - ts_ns) / 1e9), 1)

    def venue_row(self, venue: str) -> dict[str, Any]:
        """The venue's counters while its actor runs (with their age); while it does not: down, why, and when
        the next try is (from the supervisor's events)."""
        child = self.children.get(self.venues.get(venue, ""), ChildView())
        st = self.exchange.get(venue)
        if child.up and st is not None:
            d: dict[str, Any] = msgspec.to_builtins(st)
            for key in ("type", "venue", "rest_latency", "ts"):
                d.pop(key, None)
            if st.switch is None:
                for key in ("switch", "switch_window_s", "switch_detail", "switch_age_s"):
                    d.pop(key, None)
            d["age_s"] = self.age_s(st.ts)
            return d
        down: dict[str, Any] = {"state": "down", "last_error": child.last_error}
        if child.next_try_ns:
            down["next_try_in_s"] = round(max(0.0, (child.next_try_ns - self.clock.time_ns()) / 1e9), 1)
        return down

    def snapshot(self) -> dict[str, Any]:
        venues: dict[str, Any] = {}
        now = time.monotonic()
        for name in self.venues:
            d = self.venue_row(name)
            frames = d.get("frames")
            if isinstance(frames, int):
                prev = self._frames.get(name)
                if prev is not None and now > prev[0]:
                    d["msgs_per_s"] = round((frames - prev[1]) / (now - prev[0]), 1)
                self._frames[name] = (now, frames)
            if "books_live" in d:
                d["books"] = f"{d['books_live']}/{d['books_total']}"
            d.setdefault("circuit", "closed")
            venues[name] = d
        for v, h in self.health.items():
            venues.setdefault(v, {}).update(health=h.status.value, p50_ms=round(h.latency_p50_us / 1000, 2),
                                            p99_ms=round(h.latency_p99_us / 1000, 2))
        for v, c in self.circuits.items():
            venues.setdefault(v, {})["circuit"] = c.current.value
        for v, cfg in self.configs.items():
            venues.setdefault(v, {})["position_mode"] = cfg.position_mode.value
        best = {
            g: {"bid": b.bid_px, "bid_venue": b.bid_venue, "ask": b.ask_px, "ask_venue": b.ask_venue,
                "included": list(b.included), "excluded": [f"{e.venue}:{e.reason}" for e in b.excluded]}
            for g, b in self.best.items()
        }
        account = None
        if self.account is not None:
            account = {
                "exposures": {e.underlying: {"base": float(e.base_qty), "quote": float(e.quote_value),
                                             "venues": [str(v) for v in e.venues]} for e in self.account.exposures},
                "stale": [str(v) for v in self.account.stale],
                "positions": len(self.account.positions),
            }
        snap = {"venues": venues, "best": best, "account": account, "arb_opened": self.arb_opened,
                "failovers": [f"{f.from_venue}->{f.to_venue} ({f.cause})" for f in self.failovers]}
        nats = self.nats_status()
        if nats is not None:
            snap["nats"] = nats
        return snap

    def render(self) -> str:
        snap = self.snapshot()
        lines = [f"crossbook  {time.strftime('%H:%M:%S')}", ""]
        lines.append(f"{'venue':<9}{'state':<10}{'circuit':<10}{'p50 ms':>8}{'p99 ms':>8}{'msg/s':>9}{'books':>9}{'reconn':>8}"
                     f"  {'positions':<10}{'switch':<9}")
        for v, d in sorted(snap["venues"].items()):
            switch = f"{d['switch']} {d['switch_window_s']:.0f}s" if "switch" in d else "off"
            lines.append(
                f"{v:<9}{str(d.get('health', d.get('state', '-'))):<10}{str(d.get('circuit', '-')):<10}"
                f"{_f(d.get('p50_ms')):>8}{_f(d.get('p99_ms')):>8}{_f(d.get('msgs_per_s')):>9}"
                f"{str(d.get('books', '-')):>9}{str(d.get('reconnects', '-')):>8}  {str(d.get('position_mode', '-')):<10}"
                f"{switch:<9}"
            )
        for v, d in sorted(snap["venues"].items()):
            if d.get("state") == "down":
                nxt = f" (next try in {d['next_try_in_s']} s)" if "next_try_in_s" in d else ""
                lines.append(f"  {v} down: {str(d.get('last_error') or 'not running')[:90]}{nxt}")
            elif d.get("switch") not in (None, "armed"):
                lines.append(f"  {v} dead-man's switch {d['switch']}: {str(d.get('switch_detail', ''))[:90]}")
        lines += ["", f"{'group':<12}{'best bid':>14}{'':<10}{'best ask':>14}{'':<10}excluded"]
        for g, b in sorted(snap["best"].items()):
            lines.append(f"{g:<12}{_f(b['bid']):>14} {str(b['bid_venue'] or '-'):<9}{_f(b['ask']):>14} "
                         f"{str(b['ask_venue'] or '-'):<9}{', '.join(b['excluded']) or '-'}")
        acct = snap.get("account")
        if acct is not None:
            lines += ["", "net exposure (all venues)" + (f"   stale: {', '.join(acct['stale'])}" if acct["stale"] else "")]
            for u, e in sorted(acct["exposures"].items()):
                lines.append(f"  {u:<8}{e['base']:>14,.4f} base {e['quote']:>16,.2f} quote   ({', '.join(e['venues'])})")
            if not acct["exposures"]:
                lines.append("  flat")
        lines += ["", "arbitrage (latest)"]
        for a in list(self.arbs)[-5:]:
            lines.append(f"  {a.group:<10} {a.phase.value:<7} buy {a.buy_venue} {a.buy_px:.2f} sell {a.sell_venue} "
                         f"{a.sell_px:.2f}  net {a.net_bps:.1f} bps  size {a.size_base:.4f}  {a.duration_ns / 1e6:.0f} ms")
        n = snap.get("nats")
        if n is not None:
            lines += ["", f"nats {n.get('state', '-')} {n.get('server') or ''}  out {n.get('published_core', 0)}+"
                          f"{n.get('published_js', 0)}js  in {n.get('received_core', 0)}+{n.get('received_js', 0)}js  "
                          f"dropped {n.get('dropped_core', 0)}/{n.get('dropped_orders', 0)}js  "
                          f"pending {n.get('pending_orders', 0)}  {n.get('last_error', '')[:60]}"]
        lines += ["", "failovers (latest)"]
        lines += [f"  {f}" for f in snap["failovers"]] or ["  -"]
        recent = self.warnings() if self.warnings is not None else []
        if recent:
            lines += ["", "recent warnings"] + [f"  {w[:150]}" for w in recent]
        return "\n".join(lines)


def _f(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)
