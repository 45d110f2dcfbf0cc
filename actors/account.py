"""AccountBook actor: one consolidated view of balances, positions and net exposure across venues.

Rules:
- Every venue is asked at once (one anyio task group): a refresh takes as long as the slowest venue, or
  ``timeout_s``, never the sum.
- A venue that does not answer within ``timeout_s`` (or fails) is marked stale in the view and its last
  known balances and positions stay in the totals.
- Exposure per underlying is summed in base units through venues.symbols.to_base (inverse contracts need
  a price: the venue's latest mid, else the underlying's latest mid, else the entry price) and valued at
  the underlying's latest mid from the quotes on the bus.
- A view is published on ``account.view`` every ``interval_s`` and answers ``ask(GetAccount())``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio
import msgspec

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from actors.ref import ActorRef
from messages import (
    AccountView,
    Exposure,
    GetAccount,
    InstrumentId,
    Quote,
    Refresh,
    Side,
    Venue,
    VenueAccount,
)
from venues.symbols import InstrumentRegistry, to_base

__all__ = ["AccountBook", "AccountConfig", "AccountSource"]

AccountMessage = Quote | GetAccount | Refresh
"""What the account book takes: quotes (for marks), GetAccount asks, its own Refresh."""

log = logging.getLogger(__name__)

AccountSource = Callable[[], Awaitable[VenueAccount]] | ActorRef
"""How to get one venue's account: an async callable, or an actor that answers ``ask(GetAccount)``."""

class AccountConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    interval_s: float = 5.0  # 0 disables the periodic refresh
    timeout_s: float = 2.0


class AccountBook(Actor):
    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        sources: Mapping[Venue, AccountSource],
        instruments: InstrumentRegistry,
        config: AccountConfig | None = None,
        *,
        bus: Bus,
        clock: Clock | None = None,
        name: str = "account",
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self._sources = dict(sources)
        self._instruments = instruments
        self.config = config or AccountConfig()
        self._last: dict[Venue, VenueAccount] = {}
        self._mid: dict[tuple[Venue, InstrumentId], Decimal] = {}
        self._underlying_mid: dict[str, Decimal] = {}
        self.view: AccountView | None = None

    async def on_start(self) -> None:
        self.subscribe(topics.quote(topics.ALL), conflate=True)
        if self.config.interval_s > 0:
            self.start_soon(self._periodic)

    async def _periodic(self) -> None:
        while True:
            await self.ref.tell(Refresh())
            await self.clock.sleep(self.config.interval_s)

    async def handle(self, msg: AccountMessage) -> Any:
        match msg:
            case Quote():
                self._on_quote(msg)
            case GetAccount(venue=None):
                return await self.refresh()
            case GetAccount(venue=Venue() as venue):
                return self._last.get(venue)
            case Refresh():
                await self.refresh()
        return None

    def _on_quote(self, q: Quote) -> None:
        if q.bid_px <= 0 or q.ask_px <= 0:
            return
        inst = self._instruments.find(q.venue, q.instrument)
        if inst is None:
            return
        mid = Decimal(repr((q.bid_px + q.ask_px) / 2))
        self._mid[(q.venue, q.instrument)] = mid
        self._underlying_mid[inst.base] = mid

    async def refresh(self) -> AccountView:
        """Gather every venue concurrently, build the view and publish it."""
        answered: set[Venue] = set()

        async def one(venue: Venue, source: AccountSource) -> None:
            timeout = self.config.timeout_s
            try:
                with anyio.fail_after(timeout):
                    if isinstance(source, ActorRef):
                        acct = await source.ask(GetAccount(venue=venue), timeout=timeout)
                    else:
                        acct = await source()
            except TimeoutError:
                log.warning("account: %s did not answer within %s s; keeping its last values", venue, timeout)
                return
            except Exception as exc:  # noqa: BLE001 - one venue's failure makes it stale, not the view
                log.warning("account: %s failed (%s: %s); keeping its last values", venue, type(exc).__name__, exc)
                return
            if not isinstance(acct, VenueAccount) or acct.venue is not venue:
                log.warning("account: %s answered %r, expected its VenueAccount", venue, type(acct).__name__)
                return
            self._last[venue] = acct
            answered.add(venue)

        async with anyio.create_task_group() as tg:
            for venue, source in self._sources.items():
                tg.start_soon(one, venue, source, name=f"{self.name}:{venue}")
        view = self._build(stale=tuple(v for v in self._sources if v not in answered))
        self.view = view
        self.bus.publish(topics.account_view(), view)
        return view

    def _build(self, stale: tuple[Venue, ...]) -> AccountView:
        base_qty: dict[str, Decimal] = {}
        venues: dict[str, list[Venue]] = {}
        for acct in self._last.values():
            for p in acct.positions:
                inst = self._instruments.find(p.venue, p.instrument)
                if inst is None:
                    log.warning("account: no instrument %s on %s; position left out of exposure", p.instrument, p.venue)
                    continue
                px = self._mid.get((p.venue, p.instrument)) or self._underlying_mid.get(inst.base) or p.entry_price
                qty = to_base(inst, p.size, px) if px > 0 or not inst.inverse else Decimal(0)
                base_qty[inst.base] = base_qty.get(inst.base, Decimal(0)) + (qty if p.side is Side.BUY else -qty)
                vs = venues.setdefault(inst.base, [])
                if p.venue not in vs:
                    vs.append(p.venue)
        exposures = tuple(
            Exposure(
                underlying=u,
                base_qty=q,
                quote_value=q * self._underlying_mid.get(u, Decimal(0)),
                venues=tuple(venues[u]),
            )
            for u, q in sorted(base_qty.items())
        )
        return AccountView(
            balances=tuple(b for a in self._last.values() for b in a.balances),
            positions=tuple(p for a in self._last.values() for p in a.positions),
            exposures=exposures,
            stale=stale,
            ts=self.clock.time_ns(),
        )
