"""Balances and positions of the one account a twin serves, with PnL arithmetic.

Invariants:
- Positions are keyed by (symbol, position side). In one-way mode (``hedge`` false) each symbol has one net
  position on side BOTH; in hedge mode it has a LONG and a SHORT position, each moved only by orders that
  name that side. ``qty`` is signed (long > 0; a SHORT position's qty is <= 0), ``entry_price`` is the
  average entry of the open quantity and is 0 when flat.
- Realised PnL and fees move the wallet balance of the instrument's settle asset and nothing else.
- Linear PnL = qty x contract_size x (exit - entry); inverse PnL = qty x contract_size x (1/entry - 1/exit),
  in the base currency.
- Pure: no I/O, no clock (timestamps are passed in).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from simulator.instruments import InstrumentSpec

__all__ = ["Account", "Position", "PositionChange", "PositionSide"]

_ZERO = Decimal(0)


class PositionSide(enum.StrEnum):
    """Which position an order moves: the net one (one-way mode) or a hedge-mode side."""

    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


@dataclass(slots=True)
class Position:
    """One position of one instrument (net, or one side in hedge mode)."""

    symbol: str
    side: PositionSide = PositionSide.BOTH
    qty: Decimal = _ZERO
    entry_price: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    updated_ms: int = 0

    def unrealized(self, spec: InstrumentSpec, mark: Decimal) -> Decimal:
        """Unrealised PnL at ``mark`` in the settle asset."""
        if self.qty == 0 or self.entry_price == 0 or mark == 0:
            return _ZERO
        if spec.inverse:
            return self.qty * spec.contract_size * (1 / self.entry_price - 1 / mark)
        return self.qty * spec.contract_size * (mark - self.entry_price)


@dataclass(frozen=True, slots=True)
class PositionChange:
    """What one fill did to a position: realised PnL of the closed part, in the settle asset."""

    realized_pnl: Decimal


@dataclass(slots=True)
class Account:
    """Wallet balances per asset and net positions per symbol.

    Args:
        balances: Initial wallet balance per asset (e.g. ``{"USDT": Decimal(100000)}``).
        leverage: Default leverage used for margin checks.
        hedge: Hedge (long/short) position mode: orders name the LONG or SHORT side they move.
    """

    balances: dict[str, Decimal]
    leverage: int = 20
    positions: dict[tuple[str, PositionSide], Position] = field(default_factory=dict)
    updated_ms: int = 0
    hedge: bool = False

    def position(self, symbol: str, side: PositionSide = PositionSide.BOTH) -> Position:
        """The position of ``symbol`` on ``side`` (a flat one if never traded)."""
        pos = self.positions.get((symbol, side))
        if pos is None:
            pos = self.positions[(symbol, side)] = Position(symbol, side)
        return pos

    def apply_fill(self, spec: InstrumentSpec, signed_qty: Decimal, price: Decimal, fee: Decimal, now_ms: int,
                   side: PositionSide = PositionSide.BOTH) -> PositionChange:
        """Move the position on ``side`` by ``signed_qty`` at ``price`` and book PnL and ``fee`` into the wallet.

        Returns:
            The realised PnL of the part that closed existing exposure.
        """
        pos = self.position(spec.symbol, side)
        realized = _ZERO
        cs = spec.contract_size
        if pos.qty == 0 or (pos.qty > 0) == (signed_qty > 0):
            new_qty = pos.qty + signed_qty
            if spec.inverse:  # harmonic mean of entries for inverse contracts
                value = abs(pos.qty) / pos.entry_price if pos.qty != 0 else _ZERO
                pos.entry_price = abs(new_qty) / (value + abs(signed_qty) / price)
            else:
                pos.entry_price = (abs(pos.qty) * pos.entry_price + abs(signed_qty) * price) / abs(new_qty)
            pos.qty = new_qty
        else:
            closed = min(abs(signed_qty), abs(pos.qty))
            direction = 1 if pos.qty > 0 else -1
            if spec.inverse:
                realized = closed * cs * (1 / pos.entry_price - 1 / price) * direction
            else:
                realized = closed * cs * (price - pos.entry_price) * direction
            pos.qty += signed_qty
            if pos.qty == 0:
                pos.entry_price = _ZERO
            elif (pos.qty > 0) != (direction > 0):  # flipped: the remainder opened at this price
                pos.entry_price = price
        pos.realized_pnl += realized
        pos.updated_ms = now_ms
        asset = spec.settle_asset
        self.balances[asset] = self.balances.get(asset, _ZERO) + realized - fee
        self.updated_ms = now_ms
        return PositionChange(realized)

    def margin_used(self, specs: dict[str, InstrumentSpec], marks: dict[str, Decimal], asset: str) -> Decimal:
        """Initial margin of open positions settled in ``asset`` at current marks."""
        total = _ZERO
        for pos in self.positions.values():
            spec = specs.get(pos.symbol)
            if spec is None or spec.settle_asset != asset or pos.qty == 0:
                continue
            mark = marks.get(pos.symbol, pos.entry_price)
            total += spec.notional(abs(pos.qty), mark) / self.leverage
        return total
