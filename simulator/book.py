"""L2 order books for the twins: a generated venue book, a mirror of what a twin has published, and the
``Depth`` record (mirror plus last pushed top of book) the Binance, OKX and Deribit twins keep per instrument.

Invariants:
- ``VenueBook`` is never crossed: after every mutation, best bid < best ask (both sides non-empty after
  ``apply_step``).
- Every level price is a multiple of the instrument tick (Decimal with the tick's exponent) and every size a
  multiple of the lot; a size of zero in a change means "delete this level".
- Every mutation (market step, liquidity taken by an order, public trade) is recorded as a pending change;
  ``drain_changes()`` hands the net changes (last size per price) since the previous drain, in order.
- Public trades always print at the best price of the side they hit and consume that much size.
- Pure: no I/O, no clock. Randomness comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.instruments import InstrumentSpec

__all__ = ["Side", "Level", "PublicTrade", "BookChanges", "VenueBook", "BookMirror", "Depth", "Fill"]

Level = tuple[Decimal, Decimal]
"""(price, size); size 0 in a change deletes the level."""

_MIN_DEPTH = 60  # levels per side kept after every step (>= 50 as the twins promise)
_MAX_DEPTH = 120  # levels beyond this are trimmed from the far end
_ZERO = Decimal(0)


class Side(enum.StrEnum):
    """Order / aggressor side."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A print on the public tape. ``taker_side`` BUY means the buyer was the aggressor (hit the ask)."""

    trade_id: int
    price: Decimal
    qty: Decimal
    taker_side: Side


@dataclass(frozen=True, slots=True)
class Fill:
    """One level's worth of an order filled against the book."""

    price: Decimal
    qty: Decimal


@dataclass(slots=True)
class BookChanges:
    """Net level changes and trades since the previous drain. Empty lists mean "nothing changed"."""

    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    trades: list[PublicTrade] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.bids or self.asks or self.trades)

    def merged(self, later: BookChanges) -> BookChanges:
        """Combine with changes that happened after these; a later size for a price wins."""
        bids = dict(self.bids)
        bids.update(later.bids)
        asks = dict(self.asks)
        asks.update(later.asks)
        return BookChanges(list(bids.items()), list(asks.items()), self.trades + later.trades)


class VenueBook:
    """A generated L2 book for one (venue, instrument), moved toward a target mid each step.

    Args:
        spec: Tick, lot and contract sizing chosen by the twin.
        mid: Initial mid price.
        rng: Randomness for the initial levels.
        level_notional: Typical quote value of one level (sizes are exponential around it).
        trade_prob: Probability of a public trade per step.
    """

    def __init__(
        self,
        spec: InstrumentSpec,
        mid: float,
        rng: random.Random,
        *,
        level_notional: float = 40_000.0,
        trade_prob: float = 0.35,
    ) -> None:
        self.spec = spec
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._pending_bids: dict[Decimal, Decimal] = {}
        self._pending_asks: dict[Decimal, Decimal] = {}
        self._pending_trades: list[PublicTrade] = []
        self._level_notional = level_notional
        self._trade_prob = trade_prob
        self._next_trade_id = 1
        self.trades: list[PublicTrade] = []
        """Trades of the most recent ``apply_step`` (including prints caused by orders since the last one)."""
        self.apply_step(rng, mid)
        self.drain_changes()

    # -- reading ------------------------------------------------------------------------------------------
    def bids(self, limit: int | None = None) -> list[Level]:
        """Bid levels, best (highest) first."""
        return sorted(self._bids.items(), key=lambda lv: lv[0], reverse=True)[:limit]

    def asks(self, limit: int | None = None) -> list[Level]:
        """Ask levels, best (lowest) first."""
        return sorted(self._asks.items(), key=lambda lv: lv[0])[:limit]

    def best_bid(self) -> Level | None:
        if not self._bids:
            return None
        p = max(self._bids)
        return p, self._bids[p]

    def best_ask(self) -> Level | None:
        if not self._asks:
            return None
        p = min(self._asks)
        return p, self._asks[p]

    def mid(self) -> Decimal:
        """Mid of the best prices (requires both sides, which ``apply_step`` guarantees)."""
        bb, ba = self.best_bid(), self.best_ask()
        assert bb is not None and ba is not None, "book has an empty side"
        return (bb[0] + ba[0]) / 2

    # -- mutation -----------------------------------------------------------------------------------------
    def _set(self, side: Side, price: Decimal, size: Decimal) -> None:
        levels = self._bids if side is Side.BUY else self._asks
        pending = self._pending_bids if side is Side.BUY else self._pending_asks
        if size <= 0:
            if price in levels:
                del levels[price]
                pending[price] = _ZERO.quantize(self.spec.lot)
        else:
            size = size.quantize(self.spec.lot)
            if levels.get(price) != size:
                levels[price] = size
                pending[price] = size

    def _random_size(self, rng: random.Random, price: Decimal) -> Decimal:
        lot_value = self.spec.lot_value_quote(float(price))
        units = max(1, int(rng.expovariate(1.0) * self._level_notional / max(lot_value, 1e-12)))
        return self.spec.lot * units

    def _print(self, side_hit: Side, price: Decimal, qty: Decimal) -> None:
        taker = side_hit.opposite
        trade = PublicTrade(self._next_trade_id, price, qty, taker)
        self._next_trade_id += 1
        self._pending_trades.append(trade)

    def apply_step(self, rng: random.Random, mid: float) -> BookChanges:
        """Move the book toward ``mid``: re-centre the touch, jiggle sizes, maybe print a trade, refill depth.

        Returns:
            Every change since the previous drain (so liquidity taken by orders is included), with
            ``trades`` holding the public prints.
        """
        tick = self.spec.tick
        target_bb = self.spec.price_down(mid - float(tick) / 2)
        if target_bb <= 0:
            target_bb = tick
        target_ba = target_bb + tick * rng.choice((1, 1, 1, 2))
        # 1. Remove levels on the wrong side of the new touch (never crossed).
        for p in [p for p in self._bids if p > target_bb]:
            self._set(Side.BUY, p, _ZERO)
        for p in [p for p in self._asks if p < target_ba]:
            self._set(Side.SELL, p, _ZERO)
        # 2. Make sure the touch exists and fill any hole left by a jump (bounded by _MIN_DEPTH levels).
        self._fill_from(rng, Side.BUY, target_bb)
        self._fill_from(rng, Side.SELL, target_ba)
        # 3. A public trade at the touch, consuming size.
        if rng.random() < self._trade_prob:
            side_hit = Side.BUY if rng.random() < 0.5 else Side.SELL
            best = self.best_bid() if side_hit is Side.BUY else self.best_ask()
            if best is not None:
                units = int(best[1] / self.spec.lot)
                qty = self.spec.lot * rng.randint(1, max(1, units))
                self._set(side_hit, best[0], best[1] - qty)
                self._print(side_hit, best[0], qty)
        # 4. Size changes on random levels, weighted toward the touch.
        for side in (Side.BUY, Side.SELL):
            ladder = self.bids() if side is Side.BUY else self.asks()
            for _ in range(rng.randint(1, 5)):
                idx = min(len(ladder) - 1, int(rng.expovariate(1 / 8)))
                price = ladder[idx][0]
                new = _ZERO if (idx > 0 and rng.random() < 0.1) else self._random_size(rng, price)
                self._set(side, price, new)
        # 5. Refill / trim depth at the far end.
        self._maintain_depth(rng)
        changes = self.drain_changes()
        self.trades = changes.trades
        return changes

    def _fill_from(self, rng: random.Random, side: Side, touch: Decimal) -> None:
        levels = self._bids if side is Side.BUY else self._asks
        tick = self.spec.tick
        if touch not in levels:
            self._set(side, touch, self._random_size(rng, touch))
        direction = -1 if side is Side.BUY else 1
        price = touch
        for _ in range(_MIN_DEPTH):
            price = price + direction * tick * rng.choice((1, 1, 2))
            if price <= 0 or price in levels:
                break
            self._set(side, price, self._random_size(rng, price))

    def _maintain_depth(self, rng: random.Random) -> None:
        tick = self.spec.tick
        for side in (Side.BUY, Side.SELL):
            levels = self._bids if side is Side.BUY else self._asks
            direction = -1 if side is Side.BUY else 1
            for _ in range(_MAX_DEPTH):  # bounded refill
                if len(levels) >= _MIN_DEPTH:
                    break
                worst = min(levels) if side is Side.BUY else max(levels)
                price = worst + direction * tick * rng.choice((1, 1, 2))
                if price <= 0:
                    break
                self._set(side, price, self._random_size(rng, price))
            excess = len(levels) - _MAX_DEPTH
            if excess > 0:
                ladder = self.bids() if side is Side.BUY else self.asks()
                for price, _size in ladder[-excess:]:
                    self._set(side, price, _ZERO)

    def take(self, taker_side: Side, qty: Decimal, limit: Decimal | None = None, *, dry_run: bool = False) -> list[Fill]:
        """Fill an aggressive order against the book, best level first, printing public trades.

        Args:
            taker_side: BUY consumes asks, SELL consumes bids.
            qty: Quantity wanted (venue unit).
            limit: Worst acceptable price (None = market).
            dry_run: Only compute the fills; change nothing.

        Returns:
            Fills across levels (may be partial or empty).
        """
        ladder = self.asks() if taker_side is Side.BUY else self.bids()
        side_hit = taker_side.opposite
        fills: list[Fill] = []
        left = qty
        for price, size in ladder:
            if left <= 0:
                break
            if limit is not None and ((taker_side is Side.BUY and price > limit) or (taker_side is Side.SELL and price < limit)):
                break
            q = min(left, size)
            fills.append(Fill(price, q))
            left -= q
            if not dry_run:
                self._set(side_hit, price, size - q)
                self._print(side_hit, price, q)
        return fills

    def drain_changes(self) -> BookChanges:
        """Net changes since the last drain; clears the pending record."""
        changes = BookChanges(list(self._pending_bids.items()), list(self._pending_asks.items()), self._pending_trades)
        self._pending_bids = {}
        self._pending_asks = {}
        self._pending_trades = []
        return changes


class BookMirror:
    """A book rebuilt only from published changes: what a correct client must hold.

    Twins answer REST snapshots from the mirror (not from the live ``VenueBook``) so a snapshot's update id
    always matches the stream: the mirror at update id N is exactly the state after the event ending at N.
    """

    def __init__(self, book: VenueBook, update_id: int = 0) -> None:
        self.bids_map: dict[Decimal, Decimal] = dict(book.bids())
        self.asks_map: dict[Decimal, Decimal] = dict(book.asks())
        self.update_id = update_id

    def apply(self, changes: BookChanges, update_id: int) -> None:
        """Apply published level changes (size 0 deletes) and record the update id they end at."""
        for levels, target in ((changes.bids, self.bids_map), (changes.asks, self.asks_map)):
            for price, size in levels:
                if size == 0:
                    target.pop(price, None)
                else:
                    target[price] = size
        self.update_id = update_id

    def bids(self, limit: int | None = None) -> list[Level]:
        return sorted(self.bids_map.items(), key=lambda lv: lv[0], reverse=True)[:limit]

    def asks(self, limit: int | None = None) -> list[Level]:
        return sorted(self.asks_map.items(), key=lambda lv: lv[0])[:limit]


@dataclass(slots=True)
class Depth:
    """One instrument's published book as a twin keeps it (Binance, OKX, Deribit).

    ``mirror.update_id`` is the venue's last sequence number (Binance ``u``, OKX ``seqId``, Deribit
    ``change_id``); ``last_top`` is the best bid/ask last pushed, so a top-of-book stream pushes only on a change.
    """

    mirror: BookMirror
    last_top: tuple[Any, ...] = ()
