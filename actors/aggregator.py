"""Aggregator actor: feeds market data and venue state into AggregatorCore and publishes its results.

Rules:
- Market data and venue state arrive on conflating subscriptions (state, not events): a slow aggregator
  sees the newest quote per (venue, instrument), never a backlog.
- All logic lives in the pure AggregatorCore (aggregation.py); this actor only reads the clock, feeds
  messages in and publishes what comes out on ``agg.best.<group>`` / ``agg.arb.<group>``.
- A timer re-checks staleness every ``refresh_interval_s`` so a venue that goes quiet is dropped (and an
  opportunity that depended on it closes) without waiting for the next quote.
"""

from __future__ import annotations

from typing import Any

from actors import topics
from actors.aggregation import AggregatorConfig, AggregatorCore
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from messages import BookIntegrity, BookSnapshot, CircuitChanged, MailboxOverflow, Quote, Refresh, VenueHealth
from venues.symbols import InstrumentRegistry

__all__ = ["Aggregator"]

AggregatorMessage = Quote | BookSnapshot | BookIntegrity | CircuitChanged | VenueHealth | MailboxOverflow | Refresh
"""What the aggregator takes: quotes, books, book integrity, circuits and venue health from its subscriptions,
its own Refresh."""

_REFRESH_MSG = Refresh()

class Aggregator(Actor):
    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        config: AggregatorConfig,
        instruments: InstrumentRegistry,
        *,
        bus: Bus,
        clock: Clock | None = None,
        name: str = "aggregator",
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self.core = AggregatorCore(config, instruments)
        self._interval = config.refresh_interval_s

    async def on_start(self) -> None:
        any_ = topics.ALL
        self.subscribe(topics.quote(any_), conflate=True)
        self.subscribe(topics.book(any_), conflate=True)
        self.subscribe(topics.book_integrity("*", "*"), conflate=True)
        self.subscribe(topics.circuit("*"), conflate=True)
        self.subscribe(topics.venue_health("*"), conflate=True)
        if self._interval > 0:
            self.start_soon(self._refresher)

    async def _refresher(self) -> None:
        while True:
            await self.clock.sleep(self._interval)
            await self.ref.tell(_REFRESH_MSG)

    async def handle(self, msg: AggregatorMessage) -> Any:
        now = self.clock.time_ns()
        if msg.__class__ is Refresh:
            out = self.core.refresh(now)
        else:
            out = self.core.on_message(msg, now)
        publish = self.bus.publish
        for topic, result in out:
            publish(topic, result)
        return None
