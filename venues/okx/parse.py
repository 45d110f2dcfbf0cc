"""OKX v5 wire structs -> ``messages/`` types.

Rules for this module:
- Pure functions, no state: the codec (codec.py) and the REST parsers (rest.py) call them.
- Market data stays float; order and account values become Decimal from OKX's original strings.
- Timestamps: OKX sends epoch ms; messages carry int ns (``ms * 1_000_000``).
- Sizes stay in OKX's unit (contracts for SWAP/FUTURES); Instrument.contract_size (= ctVal) converts.
- Anything that does not fit the documented shape raises DecodeError naming the field and the value.
"""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal, InvalidOperation

from messages.account import Balance, Position, PositionMode
from messages.base import (
    ClientOrderId,
    ContractType,
    InstrumentId,
    InstrumentKind,
    OrderType,
    Side,
    Venue,
    VenueOrderId,
)
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Quote, Trade
from messages.orders import Fill, OrderUpdate
from venues.errors import DecodeError
from venues.okx.codes import VENUE, order_status
from venues.okx.wire import (
    AccountData,
    BboData,
    CandleRow,
    InstrumentData,
    OrderData,
    PositionData,
    TickerData,
    TradeData,
)
from venues.symbols import perp_id

__all__ = [
    "MS",
    "side",
    "decimal",
    "quote_from_bbo",
    "snapshot_from_bbo",
    "quote_from_ticker",
    "trade",
    "kline",
    "interval_close_ms",
    "order_update",
    "fill",
    "position",
    "balances",
    "position_mode",
    "POS_MODES",
    "instrument",
]

MS = 1_000_000  # ns per ms
_OKX = Venue.OKX
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_MARKET_TYPES = frozenset({"market", "optimal_limit_ioc"})
_UNIT_MS = {"s": 1_000, "m": 60_000, "H": 3_600_000, "D": 86_400_000, "W": 604_800_000}
_ZERO = Decimal(0)


def side(raw: str, what: str = "side") -> Side:
    """OKX ``side`` ("buy"/"sell") -> Side.

    Raises:
        DecodeError: any other value.
    """
    try:
        return _SIDES[raw]
    except KeyError:
        raise DecodeError(VENUE, what, f"expected 'buy' or 'sell', got {raw!r}") from None


def decimal(raw: str, what: str) -> Decimal:
    """A Decimal from one of OKX's numeric strings.

    Raises:
        DecodeError: the string is not a finite number.
    """
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DecodeError(VENUE, what, f"expected a decimal string, got {raw!r}") from None
    if not value.is_finite():
        raise DecodeError(VENUE, what, f"expected a finite number, got {raw!r}")
    return value


def _opt_decimal(raw: str, what: str) -> Decimal | None:
    return decimal(raw, what) if raw else None


def _ms(raw: str, fallback: int = 0) -> int:
    try:
        return int(raw) if raw else fallback
    except ValueError:
        raise DecodeError(VENUE, "timestamp", f"expected epoch ms digits, got {raw!r}") from None


def quote_from_bbo(instrument: InstrumentId, data: BboData, ts_recv: int) -> Quote | None:
    """Best bid/ask of a bbo-tbt or books5 item; None when a side is empty."""
    if not data.bids or not data.asks:
        return None
    bid = data.bids[0]
    ask = data.asks[0]
    return Quote(
        venue=_OKX,
        instrument=instrument,
        bid_px=bid.px,
        bid_sz=bid.sz,
        ask_px=ask.px,
        ask_sz=ask.sz,
        ts_event=data.ts * MS,
        ts_recv=ts_recv,
    )


def snapshot_from_bbo(instrument: InstrumentId, data: BboData, ts_recv: int) -> BookSnapshot:
    """A books5 / bbo-tbt item as a top-N BookSnapshot (``sequence`` is seqId, or -1 when absent)."""
    return BookSnapshot(
        venue=_OKX,
        instrument=instrument,
        bids=tuple((lv.px, lv.sz) for lv in data.bids),
        asks=tuple((lv.px, lv.sz) for lv in data.asks),
        sequence=data.seqId if data.seqId is not None else -1,
        ts_event=data.ts * MS,
        ts_recv=ts_recv,
    )


def quote_from_ticker(instrument: InstrumentId, data: TickerData, ts_recv: int) -> Quote | None:
    """Best bid/ask of a tickers item; None when OKX sends an empty side ("")."""
    if not (data.bidPx and data.askPx and data.bidSz and data.askSz):
        return None
    try:
        bid_px, bid_sz = float(data.bidPx), float(data.bidSz)
        ask_px, ask_sz = float(data.askPx), float(data.askSz)
    except ValueError:
        detail = f"expected numeric bidPx/bidSz/askPx/askSz, got {data.bidPx!r}/{data.bidSz!r}/{data.askPx!r}/{data.askSz!r}"
        raise DecodeError(VENUE, "tickers", detail) from None
    return Quote(
        venue=_OKX,
        instrument=instrument,
        bid_px=bid_px,
        bid_sz=bid_sz,
        ask_px=ask_px,
        ask_sz=ask_sz,
        ts_event=data.ts * MS,
        ts_recv=ts_recv,
    )


def trade(instrument: InstrumentId, data: TradeData, ts_recv: int) -> Trade:
    """A trades item (``side`` is the taker's side; ``sz`` in contracts for derivatives)."""
    return Trade(
        venue=_OKX,
        instrument=instrument,
        price=data.px,
        size=data.sz,
        side=side(data.side, "trades side"),
        trade_id=data.tradeId,
        ts_event=data.ts * MS,
        ts_recv=ts_recv,
    )


def interval_close_ms(bar: str, open_ms: int) -> int:
    """Last millisecond of the candle that opens at ``open_ms``.

    Args:
        bar: OKX bar as in the channel name or REST ``bar`` (1s, 1m, 3m, 1H, 4H, 1D, 1W, 1M, 3M, 1Y;
            an optional ``utc`` suffix, e.g. 6Hutc, only changes the alignment).

    Returns:
        ``next open - 1`` in epoch ms (calendar months and years are handled).

    Raises:
        DecodeError: an unknown bar.
    """
    core = bar[:-3] if bar.endswith("utc") else bar
    count_s, unit = core[:-1], core[-1:]
    if not count_s.isdigit() or unit not in {*_UNIT_MS, "M", "Y"}:
        raise DecodeError(VENUE, "candle bar", f"expected e.g. 1m, 1H, 1D, 1M, got {bar!r}")
    count = int(count_s)
    if unit in _UNIT_MS:
        return open_ms + count * _UNIT_MS[unit] - 1
    start = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=open_ms)
    months = count * (12 if unit == "Y" else 1)
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    end = start.replace(year=year, month=month0 + 1, day=day)
    delta = end - start
    return open_ms + (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000) - 1


def kline(instrument: InstrumentId, bar: str, row: CandleRow, ts_recv: int) -> Kline:
    """A candle row; ``closed`` is OKX's ``confirm == "1"``; volume is ``vol`` (contracts for derivatives)."""
    return Kline(
        venue=_OKX,
        instrument=instrument,
        interval=bar,
        open_time=row.ts * MS,
        close_time=interval_close_ms(bar, row.ts) * MS,
        open=row.o,
        high=row.h,
        low=row.l,
        close=row.c,
        volume=row.vol,
        closed=row.confirm == "1",
        ts_event=row.ts * MS,
        ts_recv=ts_recv,
    )


def order_update(instrument: InstrumentId, data: OrderData, ts_recv: int) -> OrderUpdate:
    """An orders-channel item or REST order row -> OrderUpdate (sizes in contracts for derivatives).

    Raises:
        UnknownStatus: an undocumented ``state``.
        DecodeError: a malformed number or side.
    """
    fill_sz = _opt_decimal(data.fillSz, "fillSz")
    has_fill = fill_sz is not None and fill_sz != _ZERO
    avg = _opt_decimal(data.avgPx, "avgPx")
    return OrderUpdate(
        venue=_OKX,
        instrument=instrument,
        client_order_id=ClientOrderId(data.clOrdId) if data.clOrdId else None,
        venue_order_id=VenueOrderId(data.ordId) if data.ordId else None,
        status=order_status(data.state),
        raw_status=data.state,
        side=side(data.side, "order side"),
        order_type=OrderType.MARKET if data.ordType in _MARKET_TYPES else OrderType.LIMIT,
        quantity=decimal(data.sz, "sz"),
        filled_qty=decimal(data.accFillSz or "0", "accFillSz"),
        avg_price=avg if avg else None,
        price=_opt_decimal(data.px, "px"),
        ts_event=_ms(data.uTime, _ms(data.cTime)) * MS,
        ts_recv=ts_recv,
        last_fill_qty=fill_sz if has_fill else None,
        last_fill_px=_opt_decimal(data.fillPx, "fillPx") if has_fill else None,
        reduce_only=data.reduceOnly == "true",
    )


def fill(instrument: InstrumentId, data: OrderData, ts_recv: int) -> Fill | None:
    """The latest fill carried by an orders-channel item, or None when the push is not a fill.

    OKX reports only the latest fill per push (fillSz/fillPx/tradeId/fillFee); ``fee`` here is the
    cost to us (OKX's negative fillFee becomes a positive fee; a rebate is negative).
    """
    if not data.tradeId or not data.fillSz:
        return None
    qty = decimal(data.fillSz, "fillSz")
    if qty == _ZERO:
        return None
    return Fill(
        venue=_OKX,
        instrument=instrument,
        client_order_id=ClientOrderId(data.clOrdId) if data.clOrdId else None,
        venue_order_id=VenueOrderId(data.ordId),
        trade_id=data.tradeId,
        side=side(data.side, "order side"),
        price=decimal(data.fillPx, "fillPx"),
        quantity=qty,
        fee=-decimal(data.fillFee or "0", "fillFee"),
        fee_asset=data.fillFeeCcy,
        liquidity="maker" if data.execType == "M" else "taker",
        ts_event=_ms(data.fillTime, _ms(data.uTime)) * MS,
        ts_recv=ts_recv,
    )


def position(instrument: InstrumentId, data: PositionData, ts_recv: int) -> Position:
    """A positions item. In net mode ``pos`` is signed; in long/short mode ``posSide`` gives the side."""
    pos = decimal(data.pos or "0", "pos")
    if data.posSide == "long":
        pos_side = Side.BUY
    elif data.posSide == "short":
        pos_side = Side.SELL
    else:
        pos_side = Side.SELL if pos < 0 else Side.BUY
    return Position(
        venue=_OKX,
        instrument=instrument,
        side=pos_side,
        size=abs(pos),
        entry_price=decimal(data.avgPx or "0", "avgPx"),
        unrealized_pnl=decimal(data.upl or "0", "upl"),
        ts_event=_ms(data.uTime) * MS,
        ts_recv=ts_recv,
        leverage=_opt_decimal(data.lever, "lever"),
        liquidation_price=_opt_decimal(data.liqPx, "liqPx"),
    )


def balances(data: AccountData, ts_recv: int) -> list[Balance]:
    """One Balance per currency in ``details``, one meaning per field (messages.account.Balance):

    - ``total`` = ``cashBal``, the wallet without unrealised PnL (``eq`` = cashBal + upl is not it);
    - ``available`` = ``availEq``, what OKX says can open positions (futures, multi-currency and portfolio
      margin modes), or ``availBal`` where ``availEq`` is "" (spot mode);
    - ``unrealized_pnl`` = ``upl``.
    (OKX v5 docs, GET /api/v5/account/balance; PROTOCOLS.md "Account modes and balances".)
    """
    out: list[Balance] = []
    for d in data.details:
        available = ("availEq", d.availEq) if d.availEq else ("availBal", d.availBal or "0")
        out.append(
            Balance(
                venue=_OKX,
                asset=d.ccy,
                total=decimal(d.cashBal or "0", "cashBal"),
                available=decimal(available[1], available[0]),
                unrealized_pnl=decimal(d.upl or "0", "upl"),
                ts_event=_ms(d.uTime, _ms(data.uTime)) * MS,
                ts_recv=ts_recv,
            )
        )
    return out


POS_MODES: dict[str, PositionMode] = {"net_mode": PositionMode.ONE_WAY, "long_short_mode": PositionMode.HEDGE}
"""OKX ``posMode`` (account config) -> PositionMode."""


def position_mode(raw: str) -> PositionMode:
    """OKX's ``posMode`` -> PositionMode.

    Raises:
        DecodeError: neither ``net_mode`` nor ``long_short_mode``.
    """
    try:
        return POS_MODES[raw]
    except KeyError:
        raise DecodeError(VENUE, "posMode", f"expected 'net_mode' or 'long_short_mode', got {raw!r}") from None


def _pair(data: InstrumentData) -> tuple[str, str]:
    family = data.uly or data.instFamily
    if family:
        base, _, quote = family.partition("-")
    elif data.baseCcy and data.quoteCcy:
        base, quote = data.baseCcy, data.quoteCcy
    else:
        base, _, rest = data.instId.partition("-")
        quote = rest.partition("-")[0]
    if not base or not quote:
        raise DecodeError(VENUE, "instrument", f"cannot tell base/quote of {data.instId!r}")
    return base, quote


def instrument(data: InstrumentData) -> Instrument:
    """An instruments row -> Instrument with the unified id of venues/symbols.py.

    SWAP -> ``{BASE}-{QUOTE}-PERP`` (BTC-USD-SWAP -> BTC-USD-PERP, inverse, contract_size = ctVal USD);
    FUTURES -> ``{BASE}-{QUOTE}-{YYYYMMDD}``; SPOT -> ``{BASE}-{QUOTE}`` (contract_size 1).

    Raises:
        DecodeError: an unsupported instType or malformed numbers.
    """
    base, quote = _pair(data)
    what = f"instrument {data.instId}"
    tick = decimal(data.tickSz, what + " tickSz")
    lot = decimal(data.lotSz, what + " lotSz")
    min_sz = decimal(data.minSz, what + " minSz")
    if data.instType == "SPOT":
        return Instrument(
            id=InstrumentId(f"{base}-{quote}"),
            venue=_OKX,
            venue_symbol=data.instId,
            kind=InstrumentKind.SPOT,
            base=base,
            quote=quote,
            settle=quote,
            contract_type=ContractType.LINEAR,
            tick_size=tick,
            lot_size=lot,
            min_qty=min_sz,
        )
    if data.instType not in ("SWAP", "FUTURES"):
        raise DecodeError(VENUE, what, f"expected instType SPOT, SWAP or FUTURES, got {data.instType!r}")
    if data.ctType not in ("linear", "inverse"):
        raise DecodeError(VENUE, what, f"expected ctType 'linear' or 'inverse', got {data.ctType!r}")
    if data.instType == "SWAP":
        inst_id = perp_id(base, quote)
        kind = InstrumentKind.PERPETUAL
    else:
        expiry = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=_ms(data.expTime))
        inst_id = InstrumentId(f"{base.upper()}-{quote.upper()}-{expiry:%Y%m%d}")
        kind = InstrumentKind.FUTURE
    linear = data.ctType == "linear"
    return Instrument(
        id=inst_id,
        venue=_OKX,
        venue_symbol=data.instId,
        kind=kind,
        base=base,
        quote=quote,
        settle=data.settleCcy or (quote if linear else base),
        contract_type=ContractType.LINEAR if linear else ContractType.INVERSE,
        tick_size=tick,
        lot_size=lot,
        contract_size=decimal(data.ctVal, what + " ctVal"),
        min_qty=min_sz,
    )
