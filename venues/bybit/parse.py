"""Bybit v5 wire structs -> ``messages`` types.

Rules:
- Pure functions: a wire struct and the resolved instrument in, a message out. No I/O, no clock: the
  receive time ``ts_recv`` (ns) is passed in; venue times (ms) become ns here.
- Order/account values stay Decimal; ``""`` means "absent" on Bybit and becomes ``None`` (or zero where
  the message needs a number); anything else unparsable raises ``DecodeError``.
- Instruments: linear quantity is in base coin (contract_size 1); inverse quantity is in USD contracts
  of 1 USD each (contract_size 1, quote units), per ``venues/symbols.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from messages.account import Balance, Position
from messages.base import ClientOrderId, ContractType, InstrumentId, InstrumentKind, Side, Venue, VenueOrderId
from messages.instruments import Instrument
from messages.market import Kline, Trade
from messages.orders import Fill, OrderUpdate
from venues.bybit import codes, wire
from venues.errors import DecodeError
from venues.symbols import perp_id

__all__ = [
    "MS",
    "decimal_or_none",
    "category_of",
    "trade",
    "kline",
    "order_update",
    "fill",
    "position",
    "rest_position",
    "balances",
    "instrument",
    "FILL_EXEC_TYPES",
]

MS = 1_000_000  # ns per ms
_BYBIT = Venue.BYBIT
_ZERO = Decimal(0)

# Executions that are trades of our position; Funding/Settle/Delivery are cash flows, not fills.
FILL_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "BustTrade", "BlockTrade", "MovePosition"})


def decimal_or_none(raw: str, field: str, zero_is_none: bool = False) -> Decimal | None:
    """``""`` -> None; a number -> Decimal (``"0"`` -> None when ``zero_is_none``).

    Raises:
        DecodeError: ``raw`` is neither empty nor a number.
    """
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DecodeError(codes.VENUE, field, f"expected a decimal string, got {raw!r}") from None
    if not value.is_finite():
        raise DecodeError(codes.VENUE, field, f"expected a finite decimal, got {raw!r}")
    if zero_is_none and value == 0:
        return None
    return value


def _ms(raw: str, field: str) -> int:
    if not raw.isdigit():
        raise DecodeError(codes.VENUE, field, f"expected a millisecond timestamp string, got {raw!r}")
    return int(raw) * MS


def category_of(inst: Instrument) -> str:
    """The Bybit ``category`` an instrument trades in (``linear``, ``inverse``, ``spot``, ``option``)."""
    if inst.kind is InstrumentKind.SPOT:
        return "spot"
    if inst.kind is InstrumentKind.OPTION:
        return "option"
    return "inverse" if inst.contract_type is ContractType.INVERSE else "linear"


# -- public ------------------------------------------------------------------------------------------
def trade(item: wire.TradeItem, instrument: InstrumentId, ts_recv: int) -> Trade:
    """One ``publicTrade`` entry -> ``Trade`` (``side`` is the taker's)."""
    return Trade(
        venue=_BYBIT,
        instrument=instrument,
        price=item.p,
        size=item.v,
        side=codes.side(item.S),
        trade_id=item.i,
        ts_event=item.T * MS,
        ts_recv=ts_recv,
    )


def kline(item: wire.KlineItem, instrument: InstrumentId, ts_recv: int) -> Kline:
    """One ``kline`` entry -> ``Kline``; ``closed`` is Bybit's ``confirm``."""
    return Kline(
        venue=_BYBIT,
        instrument=instrument,
        interval=codes.kline_interval(item.interval),
        open_time=item.start * MS,
        close_time=item.end * MS,
        open=item.open,
        high=item.high,
        low=item.low,
        close=item.close,
        volume=item.volume,
        closed=item.confirm,
        ts_event=item.timestamp * MS,
        ts_recv=ts_recv,
    )


# -- private -----------------------------------------------------------------------------------------
def order_update(item: wire.OrderItem, instrument: InstrumentId, ts_recv: int) -> OrderUpdate:
    """An order row (WS ``order`` topic or REST ``/v5/order/realtime``) -> ``OrderUpdate``.

    Raises:
        UnknownStatus: an ``orderStatus`` Bybit does not document.
        DecodeError: a malformed number or timestamp.
    """
    return OrderUpdate(
        venue=_BYBIT,
        instrument=instrument,
        client_order_id=ClientOrderId(item.orderLinkId) if item.orderLinkId else None,
        venue_order_id=VenueOrderId(item.orderId) if item.orderId else None,
        status=codes.order_status(item.orderStatus),
        raw_status=item.orderStatus,
        side=codes.side(item.side),
        order_type=codes.order_type(item.orderType),
        quantity=item.qty,
        filled_qty=item.cumExecQty,
        avg_price=decimal_or_none(item.avgPrice, "order.avgPrice", zero_is_none=True),
        price=decimal_or_none(item.price, "order.price", zero_is_none=True),
        ts_event=_ms(item.updatedTime, "order.updatedTime"),
        ts_recv=ts_recv,
        reduce_only=item.reduceOnly,
    )


def fill(item: wire.ExecutionItem, instrument: Instrument, ts_recv: int) -> Fill | None:
    """An ``execution`` entry -> ``Fill``; ``None`` for cash flows (Funding, Settle, Delivery).

    The fee asset is ``feeCurrency`` when the venue sends it, else the instrument's settle coin.
    """
    if item.execType not in FILL_EXEC_TYPES:
        return None
    return Fill(
        venue=_BYBIT,
        instrument=instrument.id,
        client_order_id=ClientOrderId(item.orderLinkId) if item.orderLinkId else None,
        venue_order_id=VenueOrderId(item.orderId),
        trade_id=item.execId,
        side=codes.side(item.side),
        price=item.execPrice,
        quantity=item.execQty,
        fee=item.execFee,
        fee_asset=item.feeCurrency or instrument.settle,
        liquidity="maker" if item.isMaker else "taker",
        ts_event=_ms(item.execTime, "execution.execTime"),
        ts_recv=ts_recv,
    )


def _position_side(raw: str, position_idx: int) -> Side:
    # A flat position has side "": report it on the hedge leg it belongs to (2 = sell side), else buy.
    if raw:
        return codes.side(raw)
    return Side.SELL if position_idx == 2 else Side.BUY


def position(item: wire.PositionItem, instrument: InstrumentId, ts_recv: int) -> Position:
    """A ``position`` push -> ``Position`` (size unsigned, in the venue's unit; flat = size 0)."""
    return Position(
        venue=_BYBIT,
        instrument=instrument,
        side=_position_side(item.side, item.positionIdx),
        size=item.size,
        entry_price=decimal_or_none(item.entryPrice, "position.entryPrice") or _ZERO,
        unrealized_pnl=decimal_or_none(item.unrealisedPnl, "position.unrealisedPnl") or _ZERO,
        ts_event=_ms(item.updatedTime, "position.updatedTime"),
        ts_recv=ts_recv,
        leverage=decimal_or_none(item.leverage, "position.leverage"),
        liquidation_price=decimal_or_none(item.liqPrice, "position.liqPrice", zero_is_none=True),
    )


def rest_position(item: wire.RestPositionItem, instrument: InstrumentId, ts_recv: int) -> Position:
    """A ``/v5/position/list`` row -> ``Position``."""
    return Position(
        venue=_BYBIT,
        instrument=instrument,
        side=_position_side(item.side, item.positionIdx),
        size=item.size,
        entry_price=decimal_or_none(item.avgPrice, "position.avgPrice") or _ZERO,
        unrealized_pnl=decimal_or_none(item.unrealisedPnl, "position.unrealisedPnl") or _ZERO,
        ts_event=_ms(item.updatedTime, "position.updatedTime"),
        ts_recv=ts_recv,
        leverage=decimal_or_none(item.leverage, "position.leverage"),
        liquidation_price=decimal_or_none(item.liqPrice, "position.liqPrice", zero_is_none=True),
    )


def balances(items: list[wire.WalletItem], ts_event: int, ts_recv: int) -> list[Balance]:
    """Wallet accounts -> one ``Balance`` per coin, one meaning per field (``messages.account.Balance``).

    - ``total`` is the coin's ``walletBalance`` (without unrealised PnL) and ``unrealized_pnl`` its
      ``unrealisedPnl``.
    - ``available``, what can open new positions: a unified account pools its margin in USD, and the venue
      says how much is free account-wide in ``totalAvailableBalance`` (totalMarginBalance -
      totalInitialMargin, docs/v5/account/wallet-balance.mdx). Each coin's ``available`` is that amount in
      the coin's own unit, at the venue's own valuation of the coin (``usdValue / equity``): the same free
      margin seen from each coin, so the values of several coins must not be added up. A coin the venue
      values at 0 (not collateral, or nothing held) gets 0, except a stablecoin settle coin (USDT, USDC),
      valued at 1 USD. An account without ``totalAvailableBalance`` (classic, or the unified account's
      inverse CONTRACT wallet) reports the coin's ``availableToWithdraw``. Never ``walletBalance - locked``:
      that ignores the margin of positions and orders.
    """
    out: list[Balance] = []
    for account in items:
        pooled = decimal_or_none(account.totalAvailableBalance, "wallet.totalAvailableBalance")
        for c in account.coin:
            total = decimal_or_none(c.walletBalance, "wallet.walletBalance") or _ZERO
            if pooled is None:
                available = decimal_or_none(c.availableToWithdraw, "wallet.availableToWithdraw") or _ZERO
            else:
                available = _in_coin(pooled, c)
            out.append(
                Balance(
                    venue=_BYBIT,
                    asset=c.coin,
                    total=total,
                    available=available,
                    ts_event=ts_event,
                    ts_recv=ts_recv,
                    unrealized_pnl=decimal_or_none(c.unrealisedPnl, "wallet.unrealisedPnl") or _ZERO,
                )
            )
    return out


_USD_PEGGED = frozenset({"USDT", "USDC"})


def _in_coin(usd: Decimal, c: wire.WalletCoin) -> Decimal:
    """``usd`` in units of ``c``, priced as the venue values it (usdValue per unit of equity)."""
    equity = decimal_or_none(c.equity, "wallet.equity") or _ZERO
    usd_value = decimal_or_none(c.usdValue, "wallet.usdValue") or _ZERO
    if equity > 0 and usd_value > 0:
        return usd * equity / usd_value
    return usd if c.coin in _USD_PEGGED else _ZERO


# -- instruments -------------------------------------------------------------------------------------
def _expiry(delivery_ms: str, symbol: str) -> str:
    if not delivery_ms.isdigit() or int(delivery_ms) == 0:
        raise DecodeError(
            codes.VENUE, "instrument", f"{symbol}: expected a deliveryTime for a future, got {delivery_ms!r}"
        )
    return datetime.fromtimestamp(int(delivery_ms) / 1000, tz=UTC).strftime("%Y%m%d")


def instrument(item: wire.InstrumentItem, category: str) -> Instrument:
    """An ``instruments-info`` row -> ``Instrument`` with its unified id.

    Unified ids: ``BTC-USDT-PERP`` (LinearPerpetual BTCUSDT), ``BTC-USDC-PERP`` (BTCPERP),
    ``BTC-USDT-20250221`` (LinearFutures BTCUSDT-21FEB25), ``BTC-USD-PERP`` (InversePerpetual BTCUSD),
    ``BTC-USDT`` (spot).

    Raises:
        DecodeError: an unknown category/contractType or a missing lot step.
    """
    base, quote = item.baseCoin, item.quoteCoin
    lot = item.lotSizeFilter
    if category == "spot":
        if lot.basePrecision is None:
            raise DecodeError(
                codes.VENUE, "instrument", f"{item.symbol}: expected lotSizeFilter.basePrecision for spot"
            )
        return Instrument(
            id=InstrumentId(f"{base}-{quote}"),
            venue=_BYBIT,
            venue_symbol=item.symbol,
            kind=InstrumentKind.SPOT,
            base=base,
            quote=quote,
            settle=quote,
            contract_type=ContractType.LINEAR,
            tick_size=item.priceFilter.tickSize,
            lot_size=lot.basePrecision,
            min_qty=lot.minOrderQty,
            min_notional=lot.minOrderAmt or _ZERO,
        )
    if category not in ("linear", "inverse"):
        raise DecodeError(
            codes.VENUE,
            "instrument",
            f"{item.symbol}: expected category linear, inverse or spot, got {category!r}",
        )
    if lot.qtyStep is None:
        raise DecodeError(codes.VENUE, "instrument", f"{item.symbol}: expected lotSizeFilter.qtyStep")
    if item.contractType in ("LinearPerpetual", "InversePerpetual"):
        kind, uid = InstrumentKind.PERPETUAL, perp_id(base, quote)
    elif item.contractType in ("LinearFutures", "InverseFutures"):
        kind = InstrumentKind.FUTURE
        uid = InstrumentId(f"{base.upper()}-{quote.upper()}-{_expiry(item.deliveryTime, item.symbol)}")
    else:
        raise DecodeError(
            codes.VENUE, "instrument", f"{item.symbol}: unknown contractType {item.contractType!r}"
        )
    inverse = item.contractType.startswith("Inverse")
    return Instrument(
        id=uid,
        venue=_BYBIT,
        venue_symbol=item.symbol,
        kind=kind,
        base=base,
        quote=quote,
        settle=item.settleCoin or (base if inverse else quote),
        contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
        tick_size=item.priceFilter.tickSize,
        lot_size=lot.qtyStep,
        contract_size=Decimal(1),
        min_qty=lot.minOrderQty,
        min_notional=lot.minNotionalValue or _ZERO,
    )
