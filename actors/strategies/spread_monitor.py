"""SpreadMonitor: logs every arbitrage opportunity and keeps statistics per group (``ask("stats")``).

It never trades. Opportunities come on an event subscription (OPENED/UPDATED/CLOSED must all be seen,
so they are not conflated).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from actors import topics
from actors.bus import Bus
from actors.clock import Clock
from actors.ref import ActorRef
from actors.strategies.base import Strategy, StrategyControl
from messages import ArbOpportunity, ArbPhase, GetStats, GroupStats, SpreadStats

__all__ = ["SpreadMonitor", "SpreadMonitorSettings"]

SpreadMonitorMessage = ArbOpportunity | GetStats | StrategyControl
"""What the spread monitor takes."""

log = logging.getLogger(__name__)


class SpreadMonitorSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    log_updates: bool = False  # UPDATED events are frequent; log them only when asked


class _Acc:
    __slots__ = ("opened", "closed", "updated", "total_ns", "max_ns", "max_net_bps")

    def __init__(self) -> None:
        self.opened = self.closed = self.updated = self.total_ns = self.max_ns = 0
        self.max_net_bps = float("-inf")


class SpreadMonitor(Strategy[SpreadMonitorSettings]):
    subscriptions = ((topics.arb(topics.ALL), False),)

    def __init__(
        self,
        name: str = "spread_monitor",
        settings: SpreadMonitorSettings | None = None,
        *,
        router: ActorRef,
        bus: Bus,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, settings or SpreadMonitorSettings(), router=router, bus=bus, clock=clock)
        self._acc: dict[str, _Acc] = {}

    async def handle(self, msg: SpreadMonitorMessage) -> Any:
        match msg:
            case ArbOpportunity():
                self._record(msg)
                return None
            case GetStats():
                return SpreadStats(groups=self.stats())
        return await super().handle(msg)

    def _record(self, o: ArbOpportunity) -> None:
        acc = self._acc.get(o.group)
        if acc is None:
            acc = self._acc[o.group] = _Acc()
        if o.net_bps > acc.max_net_bps and o.phase is not ArbPhase.CLOSED:
            acc.max_net_bps = o.net_bps
        fields = {
            "group": o.group, "phase": o.phase.value, "buy_venue": o.buy_venue.value, "buy_px": o.buy_px,
            "sell_venue": o.sell_venue.value, "sell_px": o.sell_px, "size_base": o.size_base,
            "net_bps": round(o.net_bps, 3), "net_quote": o.net_quote, "duration_s": o.duration_ns / 1e9,
        }
        if o.phase is ArbPhase.OPENED:
            acc.opened += 1
            log.info("arb opened", extra={"arb": fields})
        elif o.phase is ArbPhase.UPDATED:
            acc.updated += 1
            if self.settings.log_updates:
                log.debug("arb updated", extra={"arb": fields})
        else:
            acc.closed += 1
            acc.total_ns += o.duration_ns
            acc.max_ns = max(acc.max_ns, o.duration_ns)
            log.info("arb closed", extra={"arb": fields})

    def stats(self) -> dict[str, GroupStats]:
        """Per group: opened/updated/closed counts, mean and max duration of closed ones, max net bps."""
        return {
            group: GroupStats(
                opened=a.opened,
                closed=a.closed,
                updated=a.updated,
                mean_duration_s=(a.total_ns / a.closed / 1e9) if a.closed else 0.0,
                max_duration_s=a.max_ns / 1e9,
                max_net_bps=a.max_net_bps if a.opened else 0.0,
            )
            for group, a in self._acc.items()
        }
