"""The live status view (a terminal table refreshed about once a second) and structured JSON log lines.

StatusView is an actor fed by the bus only (conflating subscriptions for state, an event subscription for
what must be logged). Exchange-actor counters come in through ``sources`` (name -> callable returning a
dict), read at render time; the NATS bridge's status through ``nats`` (a callable returning a dict), also
read at render time, and each change of its ``state`` is logged as a ``nats.state`` line. Secrets are never rendered: nothing here sees credentials.
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
    AccountView,
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ArbOpportunity,
    ArbPhase,
    BestBidAsk,
    BookIntegrity,
    CircuitChanged,
    Failover,
    Fill,
    MailboxOverflow,
    OrderRejected,
    OrderUpdate,
    RateLimited,
    VenueHealth,
)

__all__ = ["StatusView"]

_LOGGED = (Failover, CircuitChanged, ActorFailed, ActorGaveUp, ActorRestarted, RateLimited, OrderRejected,
           MailboxOverflow, OrderUpdate, Fill)


class StatusView(Actor):
    def __init__(
        self,
        bus: Bus,
        *,
        tty: bool,
        json_logs: bool,
        interval_s: float = 1.0,
        out: TextIO | None = None,
        sources: dict[str, Callable[[], dict[str, Any]]] | None = None,
        nats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__("status", bus=bus)
        self.tty = tty
        self.json_logs = json_logs
        self.interval_s = interval_s
        self.out = out or sys.stdout
        self.sources = sources or {}
        self.nats = nats
        self._nats_state: str | None = None
        self.health: dict[str, VenueHealth] = {}
        self.circuits: dict[str, CircuitChanged] = {}
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
        self.subscribe(topics.arb(), conflate=False, capacity=10_000)
        self.subscribe(topics.failover(), conflate=False)
        self.subscribe(topics.actor(), conflate=False)
        self.subscribe(topics.rate_limit(), conflate=False)
        self.subscribe(topics.order_rejected(), conflate=False)
        self.subscribe(topics.order_update("*"), conflate=False)
        self.subscribe(topics.fill("*"), conflate=False)
        self.start_soon(self._ticker)

    async def handle(self, msg: Any) -> Any:
        match msg:
            case VenueHealth(venue=v):
                self.health[v] = msg
            case CircuitChanged(venue=v):
                self.circuits[v] = msg
                self._log(msg)
            case BookIntegrity(venue=v, instrument=i):
                self.books[(v, i)] = msg
            case AccountView():
                self.account = msg
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
            self._nats_changes()
            if self.tty:
                self.out.write("\x1b[H\x1b[2J" + self.render() + "\n")
                self.out.flush()
            elif self.json_logs:
                self.out.write(json.dumps({"ts": time.time(), "event": "status", **self.snapshot()}, default=str) + "\n")
                self.out.flush()

    def nats_status(self) -> dict[str, Any] | None:
        if self.nats is None:
            return None
        try:
            return dict(self.nats())
        except Exception as exc:  # noqa: BLE001 - a status read must never stop the view
            return {"state": "unknown", "last_error": f"{type(exc).__name__}: {exc}"}

    def _nats_changes(self) -> None:
        st = self.nats_status()
        if st is None or st.get("state") == self._nats_state:
            return
        self._nats_state = st.get("state")
        if self.json_logs:
            line = {"ts": time.time(), "event": "nats.state", "state": self._nats_state, "server": st.get("server"),
                    "last_error": st.get("last_error", "")}
            self.out.write(json.dumps(line, default=str) + "\n")
            self.out.flush()

    def snapshot(self) -> dict[str, Any]:
        venues: dict[str, Any] = {}
        now = time.monotonic()
        for name, src in self.sources.items():
            d = dict(src())
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
        lines.append(f"{'venue':<9}{'state':<10}{'circuit':<10}{'p50 ms':>8}{'p99 ms':>8}{'msg/s':>9}{'books':>9}{'reconn':>8}")
        for v, d in sorted(snap["venues"].items()):
            lines.append(
                f"{v:<9}{str(d.get('health', d.get('state', '-'))):<10}{str(d.get('circuit', '-')):<10}"
                f"{_f(d.get('p50_ms')):>8}{_f(d.get('p99_ms')):>8}{_f(d.get('msgs_per_s')):>9}"
                f"{str(d.get('books', '-')):>9}{str(d.get('reconnects', '-')):>8}"
            )
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
        return "\n".join(lines)


def _f(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)
