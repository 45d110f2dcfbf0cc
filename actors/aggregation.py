"""The aggregator's pure core: latest quote per (venue, instrument) -> BestBidAsk and ArbOpportunity.

Rules:
- No I/O, no tasks, no clock reads: every call takes ``now_ns``; the Aggregator actor (aggregator.py)
  wraps this class and owns the clock and the bus.
- Instruments are compared only inside a configured InstrumentGroup; a (venue, instrument) outside every
  group is ignored.
- Work per update is O(venues in the group) plus a walk of at most the top-N levels of two books for the
  executable size: no sorting, no scans of whole books. Topics, exclusions and group lookups are cached.
- Sizes are in base units: linear ``sz * contract_size``, inverse ``sz * contract_size / price`` (the
  float form of venues.symbols.to_base; prices of inverse instruments are quoted in USD like linear ones).
- A venue is left out for the first reason that applies, in this order: venue down, circuit open, book
  not live, stale, crossed, locked. A venue never quoted is neither included nor excluded.
- Ties between equal prices go to the venue listed first in the group.
- Spreads are relative to the buy price: gross = (sell - buy) / buy, net = (sell (1 - fee_sell)
  - buy (1 + fee_buy)) / buy. An opportunity is active while net >= threshold and the executable size
  >= min size; its lifecycle is OPENED -> UPDATED (only when something changed) -> CLOSED.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from actors import topics
from messages import (
    ArbOpportunity,
    ArbPhase,
    BestBidAsk,
    BookIntegrity,
    BookSnapshot,
    BookState,
    CircuitChanged,
    CircuitState,
    ContractType,
    Exclusion,
    ExclusionReason,
    HealthStatus,
    InstrumentId,
    Level,
    Message,
    Quote,
    Venue,
    VenueHealth,
)
from venues.symbols import InstrumentRegistry

__all__ = ["InstrumentGroup", "AggregatorConfig", "AggregatorCore", "executable_size"]

Output = tuple[str, Message]


class InstrumentGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Instruments that are the same economic exposure, e.g. BTC perpetuals margined in USDT."""

    name: str
    members: list[tuple[Venue, InstrumentId]]


class AggregatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    groups: list[InstrumentGroup]
    taker_fee_bps: dict[Venue, float] = {}
    stale_after_ms: float = 2_000.0
    arb_threshold_bps: float = 10.0  # net of both taker fees
    min_size_base: float = 0.0
    refresh_interval_s: float = 0.25  # how often the actor re-checks staleness without new data


class _Slot:
    """Latest state of one (venue, instrument)."""

    __slots__ = (
        "venue", "instrument", "cs", "inverse", "fee", "quoted", "bid_px", "bid_sz", "ask_px", "ask_sz",
        "ts_event", "ts_recv", "bids", "asks", "depth_ok", "book_state", "groups", "blocked",
    )

    def __init__(self, venue: Venue, instrument: InstrumentId, cs: float, inverse: bool, fee: float) -> None:
        self.venue = venue
        self.instrument = instrument
        self.cs = cs
        self.inverse = inverse
        self.fee = fee
        self.quoted = False
        self.bid_px = self.bid_sz = self.ask_px = self.ask_sz = 0.0
        self.ts_event = self.ts_recv = 0
        self.bids: tuple[Level, ...] = ()
        self.asks: tuple[Level, ...] = ()
        self.depth_ok = False
        self.book_state = BookState.LIVE  # until an exchange actor says otherwise
        self.groups: list[_Group] = []
        # The venue-state exclusion (venue down, circuit open, book not live), kept up to date when that
        # state changes, so an evaluation checks one field instead of three lookups per slot.
        self.blocked: Exclusion | None = None


class _Group:
    __slots__ = ("name", "slots", "best_topic", "arb_topic", "open", "last", "last_included")

    def __init__(self, name: str, slots: list[_Slot]) -> None:
        self.name = name
        self.slots = slots
        self.best_topic = topics.best(name)
        self.arb_topic = topics.arb(name)
        self.open: ArbOpportunity | None = None
        self.last: BestBidAsk | None = None
        self.last_included: tuple[Venue, ...] = ()


def executable_size(
    asks: Iterable[Level], buy_fee: float, bids: Iterable[Level], sell_fee: float, threshold: float
) -> tuple[float, float, float, float, float]:
    """Walk two books (levels in base units, best first) while each pair of levels clears ``threshold``.

    Args:
        asks: levels of the buy venue, lowest first. bids: levels of the sell venue, highest first.
        buy_fee, sell_fee, threshold: fractions (5 bps = 0.0005).

    Returns:
        (size_base, gross_quote, net_quote, last ask price used, last bid price used); zeros if the top
        pair does not clear the threshold.
    """
    ia, ib = iter(asks), iter(bids)
    a_px, a_left = next(ia, (0.0, 0.0))
    b_px, b_left = next(ib, (0.0, 0.0))
    size = gross = net = last_a = last_b = 0.0
    kb, ka = 1.0 - sell_fee, 1.0 + buy_fee
    while a_left > 0.0 and b_left > 0.0:
        unit_net = b_px * kb - a_px * ka
        if unit_net < threshold * a_px:
            break
        q = a_left if a_left <= b_left else b_left
        size += q
        gross += q * (b_px - a_px)
        net += q * unit_net
        last_a, last_b = a_px, b_px
        a_left -= q
        b_left -= q
        if a_left <= 0.0:
            a_px, a_left = next(ia, (0.0, 0.0))
        if b_left <= 0.0:
            b_px, b_left = next(ib, (0.0, 0.0))
    return size, gross, net, last_a, last_b


class AggregatorCore:
    """Cross-venue best bid/ask and arbitrage lifecycle; each ``on_*`` returns the messages to publish."""

    def __init__(self, config: AggregatorConfig, instruments: InstrumentRegistry) -> None:
        """Raises:
            InstrumentError: a group member is not in ``instruments`` (its contract size is unknown).
        """
        self.config = config
        self._stale_ns = int(config.stale_after_ms * 1e6)
        self._threshold = config.arb_threshold_bps / 1e4
        self._min_size = config.min_size_base
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._groups: list[_Group] = []
        self._down: dict[Venue, bool] = {}
        self._circuit_open: dict[Venue, bool] = {}
        self._exclusions: dict[tuple[Venue, ExclusionReason], Exclusion] = {}
        for g in config.groups:
            slots = []
            for venue, inst_id in g.members:
                key = (venue, inst_id)
                slot = self._slots.get(key)
                if slot is None:
                    inst = instruments.get(venue, inst_id)
                    fee = config.taker_fee_bps.get(venue, 0.0) / 1e4
                    slot = _Slot(venue, inst_id, float(inst.contract_size),
                                 inst.contract_type is ContractType.INVERSE, fee)
                    self._slots[key] = slot
                slots.append(slot)
            group = _Group(g.name, slots)
            for slot in slots:
                slot.groups.append(group)
            self._groups.append(group)

    def open_opportunity(self, group: str) -> ArbOpportunity | None:
        """The group's opportunity while it is open (the last OPENED/UPDATED message), else None."""
        for g in self._groups:
            if g.name == group:
                return g.open
        msg = f"no group named {group!r}; configured: {[g.name for g in self._groups]}"
        raise KeyError(msg)

    # -- inputs -----------------------------------------------------------------------------------
    def on_quote(self, q: Quote, now_ns: int) -> list[Output]:
        slot = self._slots.get((q.venue, q.instrument))
        if slot is None:
            return []
        slot.quoted = True
        slot.bid_px, slot.bid_sz, slot.ask_px, slot.ask_sz = q.bid_px, q.bid_sz, q.ask_px, q.ask_sz
        slot.ts_event, slot.ts_recv = q.ts_event, q.ts_recv
        # Depth stays usable only while its top agrees with the newest quote.
        bids, asks = slot.bids, slot.asks
        slot.depth_ok = bool(bids and asks) and bids[0][0] == q.bid_px and asks[0][0] == q.ask_px
        return self._evaluate_groups(slot.groups, now_ns, q.ts_event, q.ts_recv)

    def on_book(self, b: BookSnapshot, now_ns: int) -> list[Output]:
        slot = self._slots.get((b.venue, b.instrument))
        if slot is None or not b.bids or not b.asks:
            return []
        slot.quoted = True
        slot.bids, slot.asks, slot.depth_ok = b.bids, b.asks, True
        slot.bid_px, slot.bid_sz = b.bids[0]
        slot.ask_px, slot.ask_sz = b.asks[0]
        slot.ts_event, slot.ts_recv = b.ts_event, b.ts_recv
        return self._evaluate_groups(slot.groups, now_ns, b.ts_event, b.ts_recv)

    def on_integrity(self, msg: BookIntegrity, now_ns: int) -> list[Output]:
        slot = self._slots.get((msg.venue, msg.instrument))
        if slot is None or slot.book_state is msg.state:
            return []
        slot.book_state = msg.state
        self._update_blocked(slot)
        return self._evaluate_groups(slot.groups, now_ns, msg.ts, msg.ts)

    def on_circuit(self, msg: CircuitChanged, now_ns: int) -> list[Output]:
        return self._set_venue_flag(self._circuit_open, msg.venue, msg.current is CircuitState.OPEN, now_ns, msg.ts)

    def on_health(self, msg: VenueHealth, now_ns: int) -> list[Output]:
        return self._set_venue_flag(self._down, msg.venue, msg.status is HealthStatus.DOWN, now_ns, msg.ts)

    def _set_venue_flag(self, flags: dict[Venue, bool], venue: Venue, value: bool, now_ns: int,
                        ts: int) -> list[Output]:
        """Record one venue-state flag (circuit open, venue down); re-evaluate the venue only if it changed."""
        if flags.get(venue, False) == value:
            return []
        flags[venue] = value
        self._update_venue_blocked(venue)
        return self._evaluate_venue(venue, now_ns, ts)

    def refresh(self, now_ns: int) -> list[Output]:
        """Re-check every group without new data (staleness); publish only where something changed."""
        out: list[Output] = []
        for g in self._groups:
            last = g.last
            if last is None:
                continue
            ev = self._evaluate(g, now_ns, last.ts_event, last.ts_recv, only_if_changed=True)
            out.extend(ev)
        return out

    def on_message(self, msg: Any, now_ns: int) -> list[Output]:
        """Dispatch any input message (the actor's single entry point)."""
        if msg.__class__ is Quote:  # nearly every message: skip the match's isinstance chain
            return self.on_quote(msg, now_ns)
        match msg:
            case Quote():
                return self.on_quote(msg, now_ns)
            case BookSnapshot():
                return self.on_book(msg, now_ns)
            case BookIntegrity():
                return self.on_integrity(msg, now_ns)
            case CircuitChanged():
                return self.on_circuit(msg, now_ns)
            case VenueHealth():
                return self.on_health(msg, now_ns)
        return []

    # -- evaluation -------------------------------------------------------------------------------
    def _evaluate_venue(self, venue: Venue, now_ns: int, ts: int) -> list[Output]:
        groups = [g for g in self._groups if any(s.venue is venue for s in g.slots)]
        return self._evaluate_groups(groups, now_ns, ts, ts)

    def _evaluate_groups(self, groups: list[_Group], now_ns: int, ts_event: int, ts_recv: int) -> list[Output]:
        if len(groups) == 1:
            return self._evaluate(groups[0], now_ns, ts_event, ts_recv)
        out: list[Output] = []
        for g in groups:
            out.extend(self._evaluate(g, now_ns, ts_event, ts_recv))
        return out

    def _exclusion(self, venue: Venue, reason: ExclusionReason) -> Exclusion:
        key = (venue, reason)
        exc = self._exclusions.get(key)
        if exc is None:
            exc = self._exclusions[key] = Exclusion(venue=venue, reason=reason)
        return exc

    def _update_venue_blocked(self, venue: Venue) -> None:
        for s in self._slots.values():
            if s.venue is venue:
                self._update_blocked(s)

    def _update_blocked(self, s: _Slot) -> None:
        """Recompute ``s.blocked``: the first venue-state exclusion (down, circuit open, not live)."""
        if self._down.get(s.venue, False):
            s.blocked = self._exclusion(s.venue, ExclusionReason.VENUE_DOWN)
        elif self._circuit_open.get(s.venue, False):
            s.blocked = self._exclusion(s.venue, ExclusionReason.CIRCUIT_OPEN)
        elif s.book_state is not BookState.LIVE:
            s.blocked = self._exclusion(s.venue, ExclusionReason.BOOK_NOT_LIVE)
        else:
            s.blocked = None

    def _evaluate(
        self, g: _Group, now_ns: int, ts_event: int, ts_recv: int, *, only_if_changed: bool = False
    ) -> list[Output]:
        bid: _Slot | None = None
        ask: _Slot | None = None
        included: list[Venue] = []
        excluded: list[Exclusion] = []
        stale_before = now_ns - self._stale_ns
        # Exclusion order: venue state (s.blocked, kept by _update_blocked), stale, crossed, locked. Inlined:
        # this loop runs per quote.
        for s in g.slots:
            if not s.quoted:
                continue
            blocked = s.blocked
            if blocked is not None:
                excluded.append(blocked)
                continue
            if s.ts_recv < stale_before:
                excluded.append(self._exclusion(s.venue, ExclusionReason.STALE))
                continue
            bpx = s.bid_px
            apx = s.ask_px
            if bpx >= apx:
                reason = ExclusionReason.CROSSED if bpx > apx else ExclusionReason.LOCKED
                excluded.append(self._exclusion(s.venue, reason))
                continue
            included.append(s.venue)
            if bid is None or bpx > bid.bid_px:
                bid = s
            if ask is None or apx < ask.ask_px:
                ask = s
        inc = tuple(included)
        exc = tuple(excluded)
        last = g.last
        if only_if_changed and last is not None and inc == last.included and exc == last.excluded:
            return []
        out: list[Output] = []
        best = BestBidAsk(
            group=g.name,
            bid_venue=bid.venue if bid is not None else None,
            bid_px=bid.bid_px if bid is not None else 0.0,
            bid_sz=_base(bid, bid.bid_sz, bid.bid_px) if bid is not None else 0.0,
            ask_venue=ask.venue if ask is not None else None,
            ask_px=ask.ask_px if ask is not None else 0.0,
            ask_sz=_base(ask, ask.ask_sz, ask.ask_px) if ask is not None else 0.0,
            included=inc,
            excluded=exc,
            ts_event=ts_event,
            ts_recv=ts_recv,
            ts=now_ns,
        )
        g.last = best
        out.append((g.best_topic, best))
        arb = self._arb(g, bid, ask, now_ns)
        if arb is not None:
            out.append((g.arb_topic, arb))
        return out

    def _arb(self, g: _Group, bid: _Slot | None, ask: _Slot | None, now_ns: int) -> ArbOpportunity | None:
        prev = g.open
        if bid is not None and ask is not None and bid is not ask:
            buy_px, sell_px, fb, fs = ask.ask_px, bid.bid_px, ask.fee, bid.fee
            net_unit = sell_px * (1.0 - fs) - buy_px * (1.0 + fb)
            if net_unit >= self._threshold * buy_px:
                size, gross_q, net_q, _, _ = executable_size(
                    _levels(ask, asks=True), fb, _levels(bid, asks=False), fs, self._threshold
                )
                if size > 0.0 and size >= self._min_size:
                    if prev is not None and (
                        prev.buy_venue is ask.venue and prev.sell_venue is bid.venue and prev.buy_px == buy_px
                        and prev.sell_px == sell_px and prev.size_base == size
                    ):
                        return None  # still open, nothing changed
                    opened = prev.opened_ts if prev is not None else now_ns
                    opp = ArbOpportunity(
                        group=g.name,
                        phase=ArbPhase.UPDATED if prev is not None else ArbPhase.OPENED,
                        buy_venue=ask.venue,
                        buy_px=buy_px,
                        sell_venue=bid.venue,
                        sell_px=sell_px,
                        size_base=size,
                        gross_bps=(sell_px - buy_px) / buy_px * 1e4,
                        net_bps=net_unit / buy_px * 1e4,
                        gross_quote=gross_q,
                        net_quote=net_q,
                        opened_ts=opened,
                        duration_ns=now_ns - opened,
                        ts=now_ns,
                    )
                    g.open = opp
                    return opp
        if prev is None:
            return None
        g.open = None
        return msgspec.structs.replace(prev, phase=ArbPhase.CLOSED, duration_ns=now_ns - prev.opened_ts, ts=now_ns)


def _base(s: _Slot, sz: float, px: float) -> float:
    """Venue quantity -> base units (float form of venues.symbols.to_base)."""
    return sz * s.cs / px if s.inverse else sz * s.cs


def _levels(s: _Slot, *, asks: bool) -> Iterable[Level]:
    """The side's levels in base units: top-N depth when it agrees with the quote, else top of book."""
    if not s.depth_ok:
        px, sz = (s.ask_px, s.ask_sz) if asks else (s.bid_px, s.bid_sz)
        return ((px, _base(s, sz, px)),)
    levels = s.asks if asks else s.bids
    if s.inverse:
        k = s.cs
        return ((px, sz * k / px) for px, sz in levels)
    if s.cs == 1.0:
        return levels
    k = s.cs
    return ((px, sz * k) for px, sz in levels)
