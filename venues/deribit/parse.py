"""Deribit wire structs -> crossbook messages.

Rules for this module:
- Pure functions; the only state is SymbolMap's cache of venue symbol -> unified id.
- Units are kept as Deribit sends them: ``amount`` is USD for inverse futures (BTC-PERPETUAL, whose
  Instrument.contract_size is 1 and lot_size the wire contract_size 10) and base coin for linear USDC
  instruments and options. venues/symbols.py converts when needed.
- Timestamps: Deribit sends epoch ms; messages carry ns. Where Deribit gives no event time (positions,
  portfolio, candles) ``ts_event`` is our ``ts_recv``.

Unified ids (venues/symbols.py), derived from the name alone so they never depend on load order:
``BTC-PERPETUAL`` -> ``BTC-USD-PERP``; ``BTC_USDC-PERPETUAL`` -> ``BTC-USDC-PERP``; ``BTC-29SEP23`` ->
``BTC-USD-20230929``; options ``BTC-24SEP21-8000-P`` -> ``BTC-USD-20210924-8000-P``; spot
``BTC_USDC`` -> ``BTC-USDC``. A registered instrument's own id wins over the derived one.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from messages.account import Balance, Position
from messages.base import ClientOrderId, ContractType, InstrumentId, InstrumentKind, Side, Venue, VenueOrderId
from messages.instruments import Instrument
from messages.market import Kline, Level, Quote, Trade
from messages.orders import Fill, OrderUpdate
from venues.deribit import codes, wire
from venues.errors import DecodeError, InstrumentError
from venues.symbols import InstrumentRegistry, perp_id

__all__ = [
    "MS",
    "unified_id",
    "SymbolMap",
    "OPEN_STATE",
    "instrument_state",
    "instrument",
    "quote",
    "trade",
    "kline",
    "resolution_ms",
    "order_update",
    "fill",
    "position",
    "balance",
    "price_of",
    "levels",
]

MS = 1_000_000  # ns per ms
VENUE = Venue.DERIBIT
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
)}  # fmt: skip


def _date(text: str) -> str | None:
    """``24SEP21`` / ``6SEP26`` -> ``20210924`` / ``20260906``; None when it is not a Deribit date."""
    day, mon, year = text[:-5], text[-5:-2], text[-2:]
    month = _MONTHS.get(mon)
    if month is None or not day.isdigit() or not year.isdigit() or not 1 <= len(day) <= 2:
        return None
    return f"20{year}{month:02d}{int(day):02d}"


def unified_id(name: str) -> InstrumentId:
    """The unified id of a Deribit instrument name (see the module docstring).

    Names this scheme does not cover (combos) keep the venue name as their id.
    """
    head, _, rest = name.partition("-")
    base, _, quote_ccy = head.partition("_")
    quote_ccy = quote_ccy or "USD"
    if not rest:
        return InstrumentId(f"{base}-{quote_ccy}") if "_" in head else InstrumentId(name)
    parts = rest.split("-")
    if parts == ["PERPETUAL"]:
        return perp_id(base, quote_ccy)
    date = _date(parts[0])
    if date is None:
        return InstrumentId(name)
    if len(parts) == 1:
        return InstrumentId(f"{base}-{quote_ccy}-{date}")
    if len(parts) == 3 and parts[2] in ("C", "P"):
        return InstrumentId(f"{base}-{quote_ccy}-{date}-{parts[1]}-{parts[2]}")
    return InstrumentId(name)


class SymbolMap:
    """Venue symbol -> unified id: the registry's instrument when there is one, else the derived id."""

    __slots__ = ("_registry", "_cache")

    def __init__(self, registry: InstrumentRegistry | None = None) -> None:
        self._registry = registry
        self._cache: dict[str, InstrumentId] = {}

    def __call__(self, name: str) -> InstrumentId:
        iid = self._cache.get(name)
        if iid is None:
            iid = unified_id(name)
            if self._registry is not None:
                try:
                    iid = self._registry.by_symbol(VENUE, name).id
                except InstrumentError:
                    pass
            self._cache[name] = iid
        return iid


# -- instruments ------------------------------------------------------------------------------------
OPEN_STATE = "open"
"""The one book state that takes new orders (Deribit release of 2026-01-13, "New order book lifecycle":
open, locked, settlement, delivered, inactive, halted, archivized replaced created, started, settled,
closed, deactivated, terminated)."""


def instrument_state(w: wire.InstrumentWire) -> str:
    """The instrument's book state; a listing without ``state`` (captures before 2026) reads ``open`` while
    ``is_active``, ``inactive`` otherwise."""
    return w.state or (OPEN_STATE if w.is_active else "inactive")


_KINDS = {"future": InstrumentKind.FUTURE, "option": InstrumentKind.OPTION, "spot": InstrumentKind.SPOT}


def instrument(w: wire.InstrumentWire, iid: InstrumentId | None = None) -> Instrument | None:
    """Map one get_instruments element; combos (future_combo, option_combo) give None.

    Inverse futures (``instrument_type``/``future_type`` "reversed", or USD-quoted futures in captures
    that predate those fields): ``amount`` is USD, so contract_size is 1 (USD), lot_size and min_qty are
    the wire's contract_size (10) and min_trade_amount. Linear and options: ``amount`` is base coin, so
    contract_size is 1 (base) and lot_size is the wire contract_size (0.001 BTC for BTC_USDC-PERPETUAL).
    """
    kind = _KINDS.get(w.kind)
    if kind is None:
        return None
    if kind is InstrumentKind.FUTURE and w.settlement_period == "perpetual":
        kind = InstrumentKind.PERPETUAL
    style = w.instrument_type or w.future_type
    if style:
        inverse = style == "reversed" and kind is not InstrumentKind.OPTION
    else:
        inverse = kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL) and w.quote_currency == "USD"
    contract_type = ContractType.INVERSE if inverse else ContractType.LINEAR
    settle = w.settlement_currency or (w.base_currency if inverse else w.quote_currency)
    return Instrument(
        id=iid if iid is not None else unified_id(w.instrument_name),
        venue=VENUE,
        venue_symbol=w.instrument_name,
        kind=kind,
        base=w.base_currency,
        quote=w.quote_currency,
        settle=settle,
        contract_type=contract_type,
        tick_size=w.tick_size,
        lot_size=w.contract_size,
        contract_size=Decimal(1),
        min_qty=w.min_trade_amount,
        min_notional=Decimal(0),
    )


# -- market data ------------------------------------------------------------------------------------
def quote(w: wire.TopOfBook, iid: InstrumentId, ts_recv: int) -> Quote | None:
    """ticker/quote payload -> Quote; None while either side of the book is empty (null or 0)."""
    bid = w.best_bid_price
    ask = w.best_ask_price
    if not bid or not ask:
        return None
    return Quote(
        venue=VENUE,
        instrument=iid,
        bid_px=bid,
        bid_sz=w.best_bid_amount,
        ask_px=ask,
        ask_sz=w.best_ask_amount,
        ts_event=w.timestamp * MS,
        ts_recv=ts_recv,
    )


def trade(w: wire.PublicTrade, iid: InstrumentId, ts_recv: int) -> Trade:
    """Public trade; ``direction`` is the taker's side.

    Raises:
        DecodeError: direction other than buy/sell.
    """
    return Trade(
        venue=VENUE,
        instrument=iid,
        price=w.price,
        size=w.amount,
        side=codes.side(w.direction),
        trade_id=w.trade_id,
        ts_event=w.timestamp * MS,
        ts_recv=ts_recv,
    )


def resolution_ms(resolution: str) -> int:
    """Candle length of a Deribit resolution: minutes as digits, or "1D".

    Raises:
        DecodeError: an unknown resolution.
    """
    if resolution.isdigit() and int(resolution) > 0:
        return int(resolution) * 60_000
    if resolution.upper() == "1D":
        return 86_400_000
    raise DecodeError(codes.VENUE, "chart resolution", f"expected minutes or '1D', got {resolution!r}")


def _interval_name(resolution: str) -> str:
    minutes = resolution_ms(resolution) // 60_000
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def kline(w: wire.Candle, iid: InstrumentId, resolution: str, ts_recv: int, closed: bool = False) -> Kline:
    """One candle; ``close_time`` is the exclusive end (open + length), both in ns.

    Raises:
        DecodeError: an unknown resolution.
    """
    length = resolution_ms(resolution)
    return Kline(
        venue=VENUE,
        instrument=iid,
        interval=_interval_name(resolution),
        open_time=w.tick * MS,
        close_time=(w.tick + length) * MS,
        open=w.open,
        high=w.high,
        low=w.low,
        close=w.close,
        volume=w.volume,
        closed=closed,
        ts_event=ts_recv,
        ts_recv=ts_recv,
    )


def levels(raw: list[wire.PriceLevel]) -> tuple[Level, ...]:
    return tuple((lv.price, lv.amount) for lv in raw)


# -- private ----------------------------------------------------------------------------------------
def price_of(raw: msgspec.Raw) -> Decimal | None:
    """An order's ``price``: a JSON number -> Decimal; absent, null or "market_price" -> None."""
    text = bytes(raw)
    if not text or text[:1] in (b'"', b"n"):
        return None
    return Decimal(text.decode())


def _cid(label: str) -> ClientOrderId | None:
    return ClientOrderId(label) if label else None


def order_update(w: wire.Order, iid: InstrumentId, ts_recv: int) -> OrderUpdate:
    """An order -> OrderUpdate with the unified status and the raw state kept.

    Raises:
        UnknownStatus: an undocumented order_state.
        DecodeError: an undocumented direction or order type.
    """
    avg = w.average_price if w.average_price else None
    return OrderUpdate(
        venue=VENUE,
        instrument=iid,
        client_order_id=_cid(w.label),
        venue_order_id=VenueOrderId(w.order_id),
        status=codes.order_status(w.order_state, w.filled_amount, w.amount),
        raw_status=w.order_state,
        side=codes.side(w.direction),
        order_type=codes.order_type(w.order_type),
        quantity=w.amount,
        filled_qty=w.filled_amount,
        avg_price=avg,
        price=price_of(w.price),
        ts_event=w.last_update_timestamp * MS,
        ts_recv=ts_recv,
        reduce_only=w.reduce_only,
    )


_LIQUIDITY = {"M": "maker", "T": "taker"}


def fill(w: wire.UserTrade, iid: InstrumentId, ts_recv: int) -> Fill:
    """One of our executions -> Fill.

    Raises:
        DecodeError: direction or liquidity outside Deribit's documented values.
    """
    liquidity = _LIQUIDITY.get(w.liquidity)
    if liquidity is None:
        raise DecodeError(codes.VENUE, "user trade liquidity", f"expected 'M' or 'T', got {w.liquidity!r}")
    return Fill(
        venue=VENUE,
        instrument=iid,
        client_order_id=_cid(w.label),
        venue_order_id=VenueOrderId(w.order_id),
        trade_id=w.trade_id,
        side=codes.side(w.direction),
        price=w.price,
        quantity=w.amount,
        fee=w.fee,
        fee_asset=w.fee_currency,
        liquidity=liquidity,
        ts_event=w.timestamp * MS,
        ts_recv=ts_recv,
    )


def position(w: wire.PositionWire, iid: InstrumentId, ts_recv: int) -> Position:
    """A position; size unsigned, direction in ``side`` ("zero", a flat position, reads as BUY 0).

    Raises:
        DecodeError: direction other than buy/sell/zero.
    """
    if w.direction == "zero":
        side = Side.SELL if w.size < 0 else Side.BUY
    else:
        side = codes.side(w.direction)
    return Position(
        venue=VENUE,
        instrument=iid,
        side=side,
        size=abs(w.size),
        entry_price=w.average_price,
        unrealized_pnl=w.floating_profit_loss,
        ts_event=ts_recv,
        ts_recv=ts_recv,
        leverage=w.leverage,
        liquidation_price=w.estimated_liquidation_price,
    )


def balance(w: wire.Portfolio, ts_recv: int) -> Balance:
    """One currency's money, each field with messages.account.Balance's one meaning.

    - total = ``balance``: the cash balance. It holds no unrealised PnL; ``equity`` (= margin balance +
      options value) does, so it is not used.
    - available = ``available_funds``: margin balance less initial margin (positions and open orders),
      what Deribit lets open new positions.
    - unrealized_pnl = ``session_upl``: the unrealised PnL not yet in ``balance``. ``futures_pl`` /
      ``total_pl`` are the PnL of the open positions since they were opened, partly booked into ``balance``
      at past daily settlements (08:00 UTC), so adding them to ``balance`` would count that part twice.
      The session's realised PnL (``session_rpl``) joins ``balance`` at the next settlement.

    Source: Deribit OpenAPI 2.1.1 ``private/get_account_summary`` (docs.deribit.com), whose example holds
    margin_balance = balance + futures_session_upl + futures_session_rpl and available_funds =
    margin_balance - initial_margin; daily settlement per Deribit's contract specifications.
    """
    return Balance(
        venue=VENUE,
        asset=w.currency.upper(),
        total=w.balance,
        available=w.available_funds,
        ts_event=ts_recv,
        ts_recv=ts_recv,
        unrealized_pnl=w.session_upl,
    )
