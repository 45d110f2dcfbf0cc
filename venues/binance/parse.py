"""Binance USD-M wire structs -> crossbook messages.

Rules:
- Pure functions: the caller resolves the venue symbol to a unified InstrumentId and passes ``ts_recv``.
- Venue milliseconds become nanoseconds (``ts_event``, kline open/close times).
- Quantities stay in the venue's unit (Binance USD-M: base asset; contract_size 1).
- A zero "price"/"avgPrice" from the venue means "none" and becomes None, never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from messages.account import Balance, Position
from messages.base import (
    ClientOrderId,
    ContractType,
    InstrumentId,
    InstrumentKind,
    Side,
    Venue,
    VenueOrderId,
)
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Quote, Trade
from messages.orders import Fill, OrderUpdate
from venues.binance import codes
from venues.binance.wire import (
    AggTrade,
    AlgoOrder,
    BookTicker,
    DepthSnapshot,
    KlineEvent,
    OrderData,
    PositionData,
    RestBalance,
    RestKline,
    RestOrder,
    RestPosition,
    RestTrade,
    SymbolInfo,
    TradeEvent,
)
from venues.errors import DecodeError
from venues.symbols import perp_id

__all__ = [
    "MS",
    "quote_from_book_ticker",
    "trade_from_agg_trade",
    "trade_from_trade",
    "kline_from_event",
    "order_update_from_event",
    "fill_from_event",
    "order_update_from_algo",
    "position_from_account",
    "book_snapshot",
    "kline_from_rest",
    "trade_from_rest",
    "order_update_from_rest",
    "balance_from_rest",
    "position_from_rest",
    "instrument_from_symbol",
    "instrument_id_for",
]

MS = 1_000_000  # ns per ms
_V = Venue.BINANCE
_ZERO = Decimal(0)
# Perpetual contract types and the dated ones (unified id carries the delivery date).
_PERPETUAL = "PERPETUAL"
_DATED = frozenset({"CURRENT_MONTH", "NEXT_MONTH", "CURRENT_QUARTER", "NEXT_QUARTER"})
# Quote/margin assets seen on USD-M, longest first so "FDUSD" wins over "USD" suffix matches.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD")


def instrument_id_for(symbol: str) -> InstrumentId:
    """Unified id of a Binance USD-M symbol that is not in the registry (positions, open orders).

    ``BTCUSDT`` -> ``BTC-USDT-PERP``; ``BTCUSDT_240628`` -> ``BTC-USDT-20240628``.

    Raises:
        DecodeError: the symbol does not end in a known quote asset.
    """
    pair, _, expiry = symbol.partition("_")
    for q in _QUOTES:
        if pair.endswith(q) and len(pair) > len(q):
            base = pair[: -len(q)]
            if expiry:
                return InstrumentId(f"{base}-{q}-20{expiry}")
            return perp_id(base, q)
    detail = f"cannot derive a unified id from symbol {symbol!r}; expected a suffix in {', '.join(_QUOTES)}"
    raise DecodeError(codes.VENUE, "symbol", detail)


# -- market data -----------------------------------------------------------------------------------------
def quote_from_book_ticker(ev: BookTicker, iid: InstrumentId, ts_recv: int) -> Quote:
    """@bookTicker -> Quote (``ts_event`` is the transaction time T)."""
    return Quote(
        venue=_V,
        instrument=iid,
        bid_px=ev.b,
        bid_sz=ev.B,
        ask_px=ev.a,
        ask_sz=ev.A,
        ts_event=ev.T * MS,
        ts_recv=ts_recv,
    )


def trade_from_agg_trade(ev: AggTrade, iid: InstrumentId, ts_recv: int) -> Trade:
    """@aggTrade -> Trade; ``m`` (buyer is maker) means the aggressor sold."""
    return Trade(
        venue=_V,
        instrument=iid,
        price=ev.p,
        size=ev.q,
        side=Side.SELL if ev.m else Side.BUY,
        trade_id=str(ev.a),
        ts_event=ev.T * MS,
        ts_recv=ts_recv,
    )


def trade_from_trade(ev: TradeEvent, iid: InstrumentId, ts_recv: int) -> Trade:
    """@trade -> Trade."""
    return Trade(
        venue=_V,
        instrument=iid,
        price=ev.p,
        size=ev.q,
        side=Side.SELL if ev.m else Side.BUY,
        trade_id=str(ev.t),
        ts_event=ev.T * MS,
        ts_recv=ts_recv,
    )


def kline_from_event(ev: KlineEvent, iid: InstrumentId, ts_recv: int) -> Kline:
    """@kline_<interval> -> Kline; ``closed`` is the venue's ``x``."""
    k = ev.k
    return Kline(
        venue=_V,
        instrument=iid,
        interval=k.i,
        open_time=k.t * MS,
        close_time=k.T * MS,
        open=k.o,
        high=k.h,
        low=k.l,
        close=k.c,
        volume=k.v,
        closed=k.x,
        ts_event=ev.E * MS,
        ts_recv=ts_recv,
    )


# -- user data stream ------------------------------------------------------------------------------------
def order_update_from_event(o: OrderData, iid: InstrumentId, ts_recv: int) -> OrderUpdate:
    """The ``o`` object of ORDER_TRADE_UPDATE -> OrderUpdate.

    Raises:
        UnknownStatus: ``o.X`` is not a documented status.
        DecodeError: unknown side, order type or execution type.
    """
    codes.execution_type(o.x)  # validated: an unknown execution type is surfaced, not ignored
    filled = o.l > _ZERO
    return OrderUpdate(
        venue=_V,
        instrument=iid,
        client_order_id=ClientOrderId(o.c) if o.c else None,
        venue_order_id=VenueOrderId(str(o.i)),
        status=codes.order_status(o.X),
        raw_status=o.X,
        side=codes.side(o.S),
        order_type=codes.order_type(o.o),
        quantity=o.q,
        filled_qty=o.z,
        avg_price=o.ap if o.z > _ZERO else None,
        price=o.p if o.p > _ZERO else None,
        ts_event=o.T * MS,
        ts_recv=ts_recv,
        last_fill_qty=o.l if filled else None,
        last_fill_px=o.L if filled else None,
        reduce_only=o.R,
    )


def fill_from_event(o: OrderData, iid: InstrumentId, ts_recv: int) -> Fill | None:
    """A Fill when ``o.x`` is TRADE or CALCULATED (liquidation) and something was filled, else None.

    Raises:
        DecodeError: unknown side or execution type.
    """
    if codes.execution_type(o.x) not in codes.FILL_EXECUTION_TYPES or o.l <= _ZERO:
        return None
    return Fill(
        venue=_V,
        instrument=iid,
        client_order_id=ClientOrderId(o.c) if o.c else None,
        venue_order_id=VenueOrderId(str(o.i)),
        trade_id=str(o.t),
        side=codes.side(o.S),
        price=o.L,
        quantity=o.l,
        fee=o.n,
        fee_asset=o.N,
        liquidity="maker" if o.m else "taker",
        ts_event=o.T * MS,
        ts_recv=ts_recv,
    )


def order_update_from_algo(o: AlgoOrder, iid: InstrumentId, ts_event: int, ts_recv: int) -> OrderUpdate:
    """The ``o`` object of ALGO_UPDATE -> OrderUpdate keyed by the client algo id (the router matches it).

    ``venue_order_id`` is the algo id (what GET /fapi/v1/algoOrder takes); fills are those of the triggered
    matching-engine order (``aq`` at ``ap``), whose own ORDER_TRADE_UPDATEs carry the Fills.

    Raises:
        UnknownStatus: ``o.X`` is not a documented algo status.
        DecodeError: unknown side or order type.
    """
    return OrderUpdate(
        venue=_V,
        instrument=iid,
        client_order_id=ClientOrderId(o.caid),
        venue_order_id=VenueOrderId(str(o.aid)),
        status=codes.algo_status(o.X, o.q, o.aq),
        raw_status=o.X,
        side=codes.side(o.S),
        order_type=codes.order_type(o.o),
        quantity=o.q,
        filled_qty=o.aq,
        avg_price=o.ap if o.aq > _ZERO and o.ap > _ZERO else None,
        price=o.p if o.p > _ZERO else None,
        ts_event=ts_event,
        ts_recv=ts_recv,
        reduce_only=o.R,
    )


def _position_side(amount: Decimal, position_side: str) -> Side:
    if position_side == "LONG":
        return Side.BUY
    if position_side == "SHORT":
        return Side.SELL
    return Side.SELL if amount < _ZERO else Side.BUY


def position_from_account(p: PositionData, iid: InstrumentId, ts_event: int, ts_recv: int) -> Position:
    """ACCOUNT_UPDATE ``a.P[i]`` -> Position (unsigned size; side from ``ps``, or the sign in one-way mode)."""
    return Position(
        venue=_V,
        instrument=iid,
        side=_position_side(p.pa, p.ps),
        size=abs(p.pa),
        entry_price=p.ep,
        unrealized_pnl=p.up,
        ts_event=ts_event,
        ts_recv=ts_recv,
    )


# -- REST ------------------------------------------------------------------------------------------------
def book_snapshot(snap: DepthSnapshot, iid: InstrumentId, ts_recv: int) -> BookSnapshot:
    """GET /fapi/v1/depth -> BookSnapshot with ``sequence`` = lastUpdateId (bids/asks best first)."""
    return BookSnapshot(
        venue=_V,
        instrument=iid,
        bids=snap.bids,
        asks=snap.asks,
        sequence=snap.lastUpdateId,
        ts_event=(snap.T or snap.E) * MS,
        ts_recv=ts_recv,
    )


def kline_from_rest(k: RestKline, iid: InstrumentId, interval: str, ts_recv: int) -> Kline:
    """A GET /fapi/v1/klines row -> Kline; closed when its close time is before ``ts_recv``."""
    close_ns = k.close_time * MS
    return Kline(
        venue=_V,
        instrument=iid,
        interval=interval,
        open_time=k.open_time * MS,
        close_time=close_ns,
        open=k.open,
        high=k.high,
        low=k.low,
        close=k.close,
        volume=k.volume,
        closed=close_ns < ts_recv,
        ts_event=close_ns,
        ts_recv=ts_recv,
    )


def trade_from_rest(t: RestTrade, iid: InstrumentId, ts_recv: int) -> Trade:
    """A GET /fapi/v1/trades element -> Trade."""
    return Trade(
        venue=_V,
        instrument=iid,
        price=t.price,
        size=t.qty,
        side=Side.SELL if t.isBuyerMaker else Side.BUY,
        trade_id=str(t.id),
        ts_event=t.time * MS,
        ts_recv=ts_recv,
    )


def order_update_from_rest(o: RestOrder, iid: InstrumentId, ts_recv: int) -> OrderUpdate:
    """A REST order (new / cancel / query / open orders) -> OrderUpdate.

    Raises:
        UnknownStatus: ``status`` is not a documented status.
        DecodeError: unknown side or order type.
    """
    return OrderUpdate(
        venue=_V,
        instrument=iid,
        client_order_id=ClientOrderId(o.clientOrderId) if o.clientOrderId else None,
        venue_order_id=VenueOrderId(str(o.orderId)),
        status=codes.order_status(o.status),
        raw_status=o.status,
        side=codes.side(o.side),
        order_type=codes.order_type(o.type),
        quantity=o.origQty,
        filled_qty=o.executedQty,
        avg_price=o.avgPrice if o.executedQty > _ZERO and o.avgPrice > _ZERO else None,
        price=o.price if o.price > _ZERO else None,
        ts_event=o.updateTime * MS,
        ts_recv=ts_recv,
        reduce_only=o.reduceOnly,
    )


def balance_from_rest(b: RestBalance, ts_recv: int) -> Balance:
    """A GET /fapi/v3/balance element -> Balance.

    total = ``balance`` (the wallet balance, unrealised PnL not included), available = ``availableBalance``
    (what can open new positions), unrealized_pnl = ``crossUnPnl`` of the cross positions (USD-M "Futures Account
    Balance V3"). ``crossWalletBalance`` is not free margin either: it is the cross part of the wallet.
    """
    return Balance(
        venue=_V,
        asset=b.asset,
        total=b.balance,
        available=b.availableBalance,
        ts_event=b.updateTime * MS,
        ts_recv=ts_recv,
        unrealized_pnl=b.crossUnPnl,
    )


def position_from_rest(p: RestPosition, iid: InstrumentId, ts_recv: int) -> Position:
    """A GET /fapi/v3/positionRisk element -> Position (liquidation price "0" -> None)."""
    return Position(
        venue=_V,
        instrument=iid,
        side=_position_side(p.positionAmt, p.positionSide),
        size=abs(p.positionAmt),
        entry_price=p.entryPrice,
        unrealized_pnl=p.unRealizedProfit,
        ts_event=p.updateTime * MS,
        ts_recv=ts_recv,
        liquidation_price=p.liquidationPrice if p.liquidationPrice > _ZERO else None,
    )


def instrument_from_symbol(info: SymbolInfo) -> Instrument | None:
    """An exchangeInfo symbol -> Instrument, or None for contract types crossbook does not trade.

    Raises:
        DecodeError: a PRICE_FILTER tickSize or LOT_SIZE stepSize is missing.
    """
    if info.contractType == _PERPETUAL:
        kind = InstrumentKind.PERPETUAL
        iid = perp_id(info.baseAsset, info.quoteAsset)
    elif info.contractType in _DATED and info.deliveryDate > 0:
        kind = InstrumentKind.FUTURE
        day = datetime.fromtimestamp(info.deliveryDate / 1000, tz=UTC).strftime("%Y%m%d")
        iid = InstrumentId(f"{info.baseAsset.upper()}-{info.quoteAsset.upper()}-{day}")
    else:
        return None
    tick = lot = None
    min_qty = min_notional = _ZERO
    for f in info.filters:
        if f.filterType == "PRICE_FILTER":
            tick = f.tickSize
        elif f.filterType == "LOT_SIZE":
            lot = f.stepSize
            min_qty = f.minQty if f.minQty is not None else _ZERO
        elif f.filterType == "MIN_NOTIONAL":
            min_notional = f.notional if f.notional is not None else _ZERO
    if tick is None or lot is None:
        detail = (
            f"{info.symbol}: expected PRICE_FILTER.tickSize and LOT_SIZE.stepSize, got tick={tick} lot={lot}"
        )
        raise DecodeError(codes.VENUE, "exchangeInfo", detail)
    return Instrument(
        id=iid,
        venue=_V,
        venue_symbol=info.symbol,
        kind=kind,
        base=info.baseAsset,
        quote=info.quoteAsset,
        settle=info.marginAsset,
        contract_type=ContractType.LINEAR,
        tick_size=tick,
        lot_size=lot,
        contract_size=Decimal(1),
        min_qty=min_qty,
        min_notional=min_notional,
    )
