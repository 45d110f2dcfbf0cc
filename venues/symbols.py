"""Unified instrument ids, the instrument registry, and the one path for sizing and rounding.

Unified ids:
- perpetual: ``{BASE}-{QUOTE}-PERP``  (BTCUSDT -> BTC-USDT-PERP; OKX BTC-USD-SWAP and Deribit BTC-PERPETUAL
  -> BTC-USD-PERP; Deribit BTC_USDC-PERPETUAL -> BTC-USDC-PERP)
- dated future: ``{BASE}-{QUOTE}-{YYYYMMDD}``; spot: ``{BASE}-{QUOTE}``.

Quantity units: ``Instrument.contract_size`` is the value of ONE unit of the venue's quantity field:
- linear: in base units (Binance/Bybit 1, OKX ctVal such as 0.01 BTC);
- inverse: in quote units (OKX BTC-USD-SWAP 100 USD per contract; Deribit BTC-PERPETUAL's ``amount`` is
  already USD, so its contract_size is 1 and its lot_size is the venue's contract size, 10).
``to_base``/``from_base`` are the only conversion between venue quantities and base units.
Rounding uses Decimal only; prices round to the tick (buy down / sell up for passive orders by default),
quantities round down to the lot.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from messages.base import ContractType, InstrumentId, Side, Venue
from messages.instruments import Instrument
from venues.errors import InstrumentError, InvalidOrder

__all__ = [
    "InstrumentRegistry",
    "perp_id",
    "round_price",
    "round_qty",
    "to_base",
    "from_base",
    "check_order_size",
]


def perp_id(base: str, quote: str) -> InstrumentId:
    return InstrumentId(f"{base.upper()}-{quote.upper()}-PERP")


class InstrumentRegistry:
    """Instruments of all venues, keyed by (venue, unified id) and by (venue, venue symbol).

    Adding two instruments with the same key is refused: that is how one venue's inverse contract once
    silently overwrote its linear twin in other libraries.
    """

    def __init__(self) -> None:
        self._by_id: dict[tuple[Venue, InstrumentId], Instrument] = {}
        self._by_symbol: dict[tuple[Venue, str], Instrument] = {}

    def add(self, inst: Instrument) -> None:
        """Register ``inst``.

        Raises:
            InstrumentError: another instrument already has the same unified id or venue symbol on
                that venue.
        """
        key_id = (inst.venue, inst.id)
        key_sym = (inst.venue, inst.venue_symbol)
        if key_id in self._by_id and self._by_id[key_id] != inst:
            other = self._by_id[key_id]
            msg = f"{inst.venue} {inst.id}: already registered for {other.venue_symbol}, refusing {inst.venue_symbol}"
            raise InstrumentError(msg)
        if key_sym in self._by_symbol and self._by_symbol[key_sym] != inst:
            other = self._by_symbol[key_sym]
            msg = f"{inst.venue} symbol {inst.venue_symbol}: already registered as {other.id}, refusing {inst.id}"
            raise InstrumentError(msg)
        self._by_id[key_id] = inst
        self._by_symbol[key_sym] = inst

    def get(self, venue: Venue, instrument: InstrumentId) -> Instrument:
        try:
            return self._by_id[(venue, instrument)]
        except KeyError:
            msg = f"no instrument {instrument} on {venue}"
            raise InstrumentError(msg) from None

    def by_symbol(self, venue: Venue, symbol: str) -> Instrument:
        try:
            return self._by_symbol[(venue, symbol)]
        except KeyError:
            msg = f"no instrument with {venue} symbol {symbol!r}"
            raise InstrumentError(msg) from None

    def find(self, venue: Venue, instrument: InstrumentId) -> Instrument | None:
        return self._by_id.get((venue, instrument))

    def venues_for(self, instrument: InstrumentId) -> list[Venue]:
        return [v for (v, i) in self._by_id if i == instrument]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        msg = f"step must be positive, got {step}"
        raise InvalidOrder(msg)
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step) if step == step.normalize() else units * step


def round_price(inst: Instrument, price: Decimal, side: Side | None = None) -> Decimal:
    """Round ``price`` to the instrument's tick.

    With a side, round passively (buy down, sell up) so rounding never makes an order more aggressive;
    without one, round half-even.
    """
    if side is Side.BUY:
        mode = ROUND_FLOOR
    elif side is Side.SELL:
        mode = ROUND_CEILING
    else:
        mode = ROUND_HALF_EVEN
    return _quantize(price, inst.tick_size, mode)


def round_qty(inst: Instrument, qty: Decimal) -> Decimal:
    """Round a venue quantity down to the lot size."""
    return _quantize(qty, inst.lot_size, ROUND_FLOOR)


def to_base(inst: Instrument, qty: Decimal, price: Decimal | float) -> Decimal:
    """Venue quantity -> base units. ``price`` is needed for inverse contracts (quote-denominated)."""
    value = qty * inst.contract_size
    if inst.contract_type is ContractType.INVERSE:
        px = Decimal(str(price)) if isinstance(price, float) else price
        if px <= 0:
            msg = f"{inst.venue} {inst.id}: inverse conversion needs a positive price, got {px}"
            raise InvalidOrder(msg)
        return value / px
    return value


def from_base(inst: Instrument, base_qty: Decimal, price: Decimal | float) -> Decimal:
    """Base units -> venue quantity, rounded down to the lot."""
    if inst.contract_type is ContractType.INVERSE:
        px = Decimal(str(price)) if isinstance(price, float) else price
        raw = base_qty * px / inst.contract_size
    else:
        raw = base_qty / inst.contract_size
    return round_qty(inst, raw)


def check_order_size(inst: Instrument, qty: Decimal, price: Decimal | None) -> None:
    """Refuse quantities that are not a lot multiple or below the venue's minimums.

    Raises:
        InvalidOrder: naming the value, the rule and the instrument.
    """
    if qty <= 0:
        msg = f"{inst.venue} {inst.id}: quantity must be positive, got {qty}"
        raise InvalidOrder(msg)
    if qty % inst.lot_size != 0:
        msg = f"{inst.venue} {inst.id}: quantity {qty} is not a multiple of the lot size {inst.lot_size}"
        raise InvalidOrder(msg)
    if qty < inst.min_qty:
        msg = f"{inst.venue} {inst.id}: quantity {qty} is below the minimum {inst.min_qty}"
        raise InvalidOrder(msg)
    if price is not None:
        if price % inst.tick_size != 0:
            msg = f"{inst.venue} {inst.id}: price {price} is not a multiple of the tick size {inst.tick_size}"
            raise InvalidOrder(msg)
        if inst.contract_type is ContractType.LINEAR and inst.min_notional > 0:
            notional = qty * inst.contract_size * price
            if notional < inst.min_notional:
                msg = f"{inst.venue} {inst.id}: notional {notional} is below the minimum {inst.min_notional}"
                raise InvalidOrder(msg)
