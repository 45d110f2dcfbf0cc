"""CrossArb: trade the aggregator's cross-venue opportunities, both legs at once, and never stay exposed.

Rules:
- An attempt starts on an OPENED/UPDATED ArbOpportunity whose net spread clears ``min_net_bps``, when the
  group is out of its cool-down and fewer than ``max_concurrent`` attempts are in flight.
- Size: the opportunity's executable size, capped by ``max_qty_base`` and by the position and notional
  limits (per venue and total; orders in flight count as if filled), then converted per venue with
  venues.symbols.from_base (rounded down to the lot) so both legs carry the same base quantity.
- Both legs are IOC limit orders at the quoted prices, sent through the router with our client ids.
- Positions are tracked in each venue's own unit from OrderUpdates (cumulative filled quantity), so
  "flat" is exact, also for inverse contracts.
- When both legs are done, a residual (one leg filled more than the other in base units) is unwound on
  the venue that filled with a reduce-only market IOC order: that venue has just answered, the other has
  just failed. An unwind that does not fill is retried up to ``max_hedge_attempts`` times, then the
  residual is logged as an error and counted in ``stats`` (``unhedged``): never silently kept.
"""

from __future__ import annotations

import enum
import itertools
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from actors import topics
from actors.aggregation import InstrumentGroup
from actors.bus import Bus
from actors.clock import Clock
from actors.ref import ActorRef
from actors.strategies.base import Strategy, StrategyControl
from messages import (
    ArbOpportunity,
    ArbPhase,
    ArbPosition,
    ArbStats,
    ClientOrderId,
    GetArbPositions,
    GetStats,
    Instrument,
    InstrumentId,
    OrderIntent,
    OrderRejected,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    Venue,
)
from venues.symbols import InstrumentRegistry, from_base, round_price, to_base

__all__ = ["CrossArb", "CrossArbSettings"]

CrossArbMessage = ArbOpportunity | OrderUpdate | OrderRejected | GetStats | GetArbPositions | StrategyControl
"""What the cross-venue arbitrage strategy takes."""

log = logging.getLogger(__name__)
_ZERO = Decimal(0)


class CrossArbSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    min_net_bps: float = 10.0
    max_qty_base: float = 0.01  # per attempt
    max_position_base: dict[Venue, float] = {}  # |position| per venue, base units
    default_max_position_base: float = 0.05
    max_notional: dict[Venue, float] = {}  # |position| x price per venue, quote currency
    default_max_notional: float = 10_000.0
    max_total_notional: float = 20_000.0
    cooldown_s: float = 1.0  # per group, after an attempt ends
    max_concurrent: int = 1
    max_hedge_attempts: int = 3
    groups: list[str] = []  # empty: every group


class _Role(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"
    UNWIND = "unwind"


@dataclass(slots=True, eq=False)
class _Order:
    cid: ClientOrderId
    attempt: _Attempt
    role: _Role
    inst: Instrument
    side: Side
    qty: Decimal
    px: Decimal
    filled: Decimal = _ZERO
    status: OrderStatus = OrderStatus.PENDING

    @property
    def done(self) -> bool:
        return self.status.is_terminal

    @property
    def signed_open(self) -> Decimal:
        left = _ZERO if self.done else self.qty - self.filled
        return left if self.side is Side.BUY else -left


class _Attempt:
    __slots__ = ("n", "group", "buy", "sell", "unwinds", "hedge_tries")

    def __init__(self, n: int, group: str) -> None:
        self.n = n
        self.group = group
        self.buy: _Order | None = None
        self.sell: _Order | None = None
        self.unwinds: list[_Order] = []
        self.hedge_tries = 0


class CrossArb(Strategy[CrossArbSettings]):
    subscriptions = ((topics.arb(topics.ALL), False),)

    def __init__(
        self,
        name: str,
        settings: CrossArbSettings,
        *,
        groups: list[InstrumentGroup],
        instruments: InstrumentRegistry,
        router: ActorRef,
        bus: Bus,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, settings, router=router, bus=bus, clock=clock)
        self._members: dict[str, dict[Venue, Instrument]] = {
            g.name: {v: instruments.get(v, i) for v, i in g.members} for g in groups
        }
        self.positions: dict[tuple[Venue, InstrumentId], Decimal] = {}  # venue units, signed
        self._last_px: dict[tuple[Venue, InstrumentId], Decimal] = {}
        self._orders: dict[ClientOrderId, _Order] = {}
        self._attempts: dict[int, _Attempt] = {}
        self._cooldown_until: dict[str, float] = {}
        self._seq = itertools.count(1)
        self.counters = {"attempts": 0, "completed": 0, "unwinds": 0, "unhedged": 0}
        self._slug = "".join(ch for ch in name.split(".")[-1] if ch.isalnum())[:8] or "arb"
        self._run = f"{self.clock.time_ns() // 1_000_000 % 100_000_000:08d}"

    # -- messages ---------------------------------------------------------------------------------
    async def handle(self, msg: CrossArbMessage) -> Any:
        match msg:
            case ArbOpportunity(phase=ArbPhase.OPENED | ArbPhase.UPDATED):
                await self._on_opportunity(msg)
                return None
            case ArbOpportunity():
                return None
            case OrderUpdate(client_order_id=cid) if cid is not None and cid in self._orders:
                await self._on_update(self._orders[cid], msg)
                return None
            case OrderUpdate():
                return None
            case OrderRejected(client_order_id=cid) if cid is not None and cid in self._orders:
                order = self._orders[cid]
                order.status = OrderStatus.REJECTED  # nothing filled: the leg is over
                log.warning("arb leg %s refused: %s %s", cid, msg.code, msg.text)
                await self._after_leg(order.attempt)
                return None
            case GetStats():
                return ArbStats(**self.counters, in_flight=len(self._attempts))
            case GetArbPositions():
                return [ArbPosition(venue=v, instrument=i, quantity=q) for (v, i), q in self.positions.items()]
        return await super().handle(msg)

    async def _on_opportunity(self, o: ArbOpportunity) -> None:
        s = self.settings
        if o.net_bps < s.min_net_bps or (s.groups and o.group not in s.groups):
            return
        if len(self._attempts) >= s.max_concurrent or any(a.group == o.group for a in self._attempts.values()):
            return
        if self.clock.monotonic() < self._cooldown_until.get(o.group, float("-inf")):
            return
        members = self._members.get(o.group)
        if members is None or o.buy_venue not in members or o.sell_venue not in members:
            return
        b_inst, s_inst = members[o.buy_venue], members[o.sell_venue]
        b_px = round_price(b_inst, Decimal(repr(o.buy_px)), Side.BUY)
        s_px = round_price(s_inst, Decimal(repr(o.sell_px)), Side.SELL)
        base = Decimal(repr(min(o.size_base, s.max_qty_base, self._room(b_inst, b_px, s_inst, s_px))))
        if base <= 0:
            return
        b_qty, s_qty = from_base(b_inst, base, b_px), from_base(s_inst, base, s_px)
        # Both legs must carry the same base quantity: round both down to the smaller one.
        common = min(to_base(b_inst, b_qty, b_px), to_base(s_inst, s_qty, s_px))
        b_qty, s_qty = from_base(b_inst, common, b_px), from_base(s_inst, common, s_px)
        if b_qty <= 0 or s_qty <= 0 or b_qty < b_inst.min_qty or s_qty < s_inst.min_qty:
            return
        att = _Attempt(next(self._seq), o.group)
        self._attempts[att.n] = att
        self.counters["attempts"] += 1
        att.buy = self._new_order(att, _Role.BUY, b_inst, Side.BUY, b_qty, b_px)
        att.sell = self._new_order(att, _Role.SELL, s_inst, Side.SELL, s_qty, s_px)
        log.info("arb attempt", extra={"arb": {"attempt": att.n, "group": o.group, "buy": o.buy_venue.value,
                                                "sell": o.sell_venue.value, "base": str(common)}})
        for leg in (att.buy, att.sell):
            await self._send(leg, OrderType.LIMIT, reduce_only=False)

    def _room(self, b_inst: Instrument, b_px: Decimal, s_inst: Instrument, s_px: Decimal) -> float:
        """The largest base quantity the position and notional limits allow for this pair."""
        s = self.settings
        exposure = self._exposure_base()
        pos_b = exposure.get((b_inst.venue, b_inst.id), 0.0)
        pos_s = exposure.get((s_inst.venue, s_inst.id), 0.0)
        fb, fs = float(b_px), float(s_px)
        total = sum(abs(q) * float(self._last_px.get(k, b_px)) for k, q in exposure.items())
        return min(
            s.max_position_base.get(b_inst.venue, s.default_max_position_base) - pos_b,
            s.max_position_base.get(s_inst.venue, s.default_max_position_base) + pos_s,
            s.max_notional.get(b_inst.venue, s.default_max_notional) / fb - pos_b,
            s.max_notional.get(s_inst.venue, s.default_max_notional) / fs + pos_s,
            (s.max_total_notional - total) / (fb + fs),
        )

    def _exposure_base(self) -> dict[tuple[Venue, InstrumentId], float]:
        """Positions plus what orders in flight could still add, in base units."""
        units = dict(self.positions)
        insts: dict[tuple[Venue, InstrumentId], tuple[Instrument, Decimal]] = {}
        for order in self._orders.values():
            key = (order.inst.venue, order.inst.id)
            units[key] = units.get(key, _ZERO) + order.signed_open
            insts[key] = (order.inst, order.px)
        out: dict[tuple[Venue, InstrumentId], float] = {}
        for key, qty in units.items():
            inst, px = insts[key] if key in insts else (self._inst(key), self._last_px.get(key))
            if inst is None or px is None or qty == 0:
                continue
            out[key] = float(to_base(inst, qty, px))
        return out

    def _inst(self, key: tuple[Venue, InstrumentId]) -> Instrument | None:
        for members in self._members.values():
            inst = members.get(key[0])
            if inst is not None and inst.id == key[1]:
                return inst
        return None

    def _new_order(self, att: _Attempt, role: _Role, inst: Instrument, side: Side, qty: Decimal,
                   px: Decimal) -> _Order:
        # Letters and digits only, at most 32: valid on every venue (OKX allows nothing else); the run id keeps
        # ids unique across restarts of this strategy (the router refuses a client id it has journaled).
        suffix = f"{role.value[0]}{len(att.unwinds) if role is _Role.UNWIND else ''}"
        cid = ClientOrderId(f"{self._slug}{self._run}n{att.n}{suffix}"[:32])
        order = _Order(cid, att, role, inst, side, qty, px)
        self._orders[cid] = order
        return order

    async def _send(self, order: _Order, order_type: OrderType, *, reduce_only: bool) -> None:
        await self.submit(
            OrderIntent(
                strategy=self.name,
                instrument=order.inst.id,
                side=order.side,
                quantity=order.qty,
                order_type=order_type,
                price=order.px if order_type is OrderType.LIMIT else None,
                time_in_force=TimeInForce.IOC,
                reduce_only=reduce_only,
                venue=order.inst.venue,
                client_order_id=order.cid,
            )
        )

    # -- order updates ----------------------------------------------------------------------------
    async def _on_update(self, order: _Order, u: OrderUpdate) -> None:
        delta = u.filled_qty - order.filled
        if delta > 0:
            key = (order.inst.venue, order.inst.id)
            signed = delta if order.side is Side.BUY else -delta
            self.positions[key] = self.positions.get(key, _ZERO) + signed
            self._last_px[key] = u.last_fill_px or u.avg_price or order.px
            order.filled = u.filled_qty
        order.status = u.status
        if order.done:
            await self._after_leg(order.attempt)

    async def _after_leg(self, att: _Attempt) -> None:
        assert att.buy is not None and att.sell is not None
        if not (att.buy.done and att.sell.done and all(o.done for o in att.unwinds)):
            return
        b, s = att.buy, att.sell
        unwound = {Side.BUY: _ZERO, Side.SELL: _ZERO}  # base units closed by unwinds, per leg side
        for o in att.unwinds:
            unwound[o.side.opposite] += to_base(o.inst, o.filled, o.px)
        long_base = to_base(b.inst, b.filled, b.px) - unwound[Side.BUY]
        short_base = to_base(s.inst, s.filled, s.px) - unwound[Side.SELL]
        excess = long_base - short_base
        # Unwind on the leg that filled more; the quantity is that leg's own units, capped at what is left.
        leg = b if excess > 0 else s
        qty = min(from_base(leg.inst, abs(excess), leg.px), self._left(leg, att)) if excess != 0 else _ZERO
        if qty <= 0:
            self._finish(att, unhedged=False)
            return
        if att.hedge_tries >= self.settings.max_hedge_attempts:
            log.error("arb residual not unwound", extra={"arb": {"attempt": att.n, "venue": leg.inst.venue.value,
                                                                 "base": str(excess)}})
            self._finish(att, unhedged=True)
            return
        att.hedge_tries += 1
        self.counters["unwinds"] += 1
        order = self._new_order(att, _Role.UNWIND, leg.inst, leg.side.opposite, qty, leg.px)
        att.unwinds.append(order)
        log.warning("arb leg failed, unwinding", extra={"arb": {"attempt": att.n, "venue": leg.inst.venue.value,
                                                                "qty": str(qty), "side": order.side.value}})
        await self._send(order, OrderType.MARKET, reduce_only=True)

    @staticmethod
    def _left(leg: _Order, att: _Attempt) -> Decimal:
        """What is left of ``leg``'s fill after the unwinds done on its venue (venue units)."""
        return leg.filled - sum((o.filled for o in att.unwinds if o.inst is leg.inst), _ZERO)

    def _finish(self, att: _Attempt, *, unhedged: bool) -> None:
        del self._attempts[att.n]
        for o in (att.buy, att.sell, *att.unwinds):
            if o is not None:
                self._orders.pop(o.cid, None)
        self.counters["unhedged" if unhedged else "completed"] += 1
        self._cooldown_until[att.group] = self.clock.monotonic() + self.settings.cooldown_s
