"""Venue-neutral instrument specs and the underlying table the market model starts from.

Invariants:
- A spec only describes sizing (tick, lot, contract size, inverse flag); how a venue *names* or *prints* an
  instrument is the twin's business (``symbol`` is just the key the twin chose).
- Prices are ``Decimal`` multiples of ``tick``; quantities are ``Decimal`` multiples of ``lot`` in the
  venue's own unit (base units for linear contracts, contracts for inverse ones).
- Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

__all__ = ["InstrumentSpec", "Underlying", "UNDERLYINGS", "underlying", "quantize"]


@dataclass(frozen=True, slots=True)
class Underlying:
    """A latent asset the market model prices.

    Attributes:
        name: Asset code, e.g. ``"BTC"``.
        start_price: Initial fair price in USD.
        step_vol: Standard deviation of the relative fair-price move per model step.
    """

    name: str
    start_price: float
    step_vol: float


# Reference data, not a registry: the model copies what it needs; twins never mutate it.
UNDERLYINGS: tuple[Underlying, ...] = (
    Underlying("BTC", 96500.0, 2.0e-5),
    Underlying("ETH", 3400.0, 3.0e-5),
    Underlying("SOL", 190.0, 4.0e-5),
    Underlying("XRP", 2.30, 4.0e-5),
    Underlying("DOGE", 0.38, 5.0e-5),
    Underlying("BNB", 650.0, 3.0e-5),
)


def underlying(name: str) -> Underlying:
    """Look up an underlying by code.

    Raises:
        KeyError: the code is not in ``UNDERLYINGS``; the message lists the known codes.
    """
    for u in UNDERLYINGS:
        if u.name == name.upper():
            return u
    known = ", ".join(u.name for u in UNDERLYINGS)
    msg = f"unknown underlying {name!r}; expected one of {known}"
    raise KeyError(msg)


def quantize(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``value`` to a multiple of ``step`` and keep ``step``'s exponent (so strings print the tick)."""
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step)


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """How one venue sizes one instrument.

    Attributes:
        symbol: The twin's key for this instrument (its own venue symbol, e.g. ``BTCUSDT``).
        underlying: Underlying code the model prices (``BTC``).
        quote: Quote currency (``USDT``, ``USD``, ``USDC``).
        tick: Price increment.
        lot: Quantity increment (venue unit).
        contract_size: Value of one quantity unit: base units (linear) or quote units (inverse, e.g. 10 USD).
        inverse: True for coin-margined inverse contracts (PnL in base currency).
        min_qty: Smallest order quantity (defaults to one lot).
        settle: Settlement / margin currency (``USDT`` for linear, ``BTC`` for inverse).
    """

    symbol: str
    underlying: str
    quote: str
    tick: Decimal
    lot: Decimal
    contract_size: Decimal = Decimal(1)
    inverse: bool = False
    min_qty: Decimal = Decimal(0)
    settle: str = ""

    @property
    def settle_asset(self) -> str:
        """The currency balances and PnL of this instrument are kept in."""
        if self.settle:
            return self.settle
        return self.underlying if self.inverse else self.quote

    @property
    def min_order_qty(self) -> Decimal:
        return self.min_qty if self.min_qty > 0 else self.lot

    def price_down(self, price: float | Decimal) -> Decimal:
        """Largest tick multiple <= price."""
        return quantize(Decimal(str(price)), self.tick, ROUND_DOWN)

    def price_up(self, price: float | Decimal) -> Decimal:
        """Smallest tick multiple >= price."""
        return quantize(Decimal(str(price)), self.tick, ROUND_UP)

    def qty(self, value: float | Decimal) -> Decimal:
        """Round a quantity down to the lot (never below zero)."""
        q = quantize(Decimal(str(value)), self.lot, ROUND_DOWN)
        return max(q, Decimal(0).quantize(self.lot))

    def notional(self, qty: Decimal, price: Decimal) -> Decimal:
        """Position value in the settle asset: qty*cs*price (linear) or qty*cs/price (inverse)."""
        if self.inverse:
            return qty * self.contract_size / price
        return qty * self.contract_size * price

    def lot_value_quote(self, price: float) -> float:
        """Value of one lot in quote currency, used to size generated book levels."""
        if self.inverse:
            return float(self.lot * self.contract_size)
        return float(self.lot * self.contract_size) * price
