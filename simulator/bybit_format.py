"""Bybit v5 (linear) JSON payload builders: the keys, JSON types and string-vs-number choices of the venue
(checked against shared/fixtures/wire/bybit by the tests).

Invariants:
- Prices and quantities are strings printed with the instrument's tick / qtyStep exponent; money values are
  strings; ``createdTime``/``updatedTime``/``execTime`` are strings of ms; ``ts``/``cts``/``T``/``u``/``seq``
  are JSON numbers; flags are JSON booleans.
- Order ids are UUID strings derived one-to-one from the engine's int ids (``order_uuid`` / ``order_int``).
- The British spelling ``Cancelled`` is used for every closed-without-fill-complete derivatives order.
- ``positionIdx`` names the position an order or a row belongs to: 0 the net position of one-way mode,
  1 the buy-side (long) and 2 the sell-side (short) position of hedge mode (``POSITION_IDX``).
- Wallet rows of a UNIFIED account send ``availableToWithdraw`` as ``""`` (deprecated 2025-01-09, V5
  changelog); free margin is the account's ``totalAvailableBalance`` (USD; stablecoins count 1 USD each).
- Pure functions of their arguments: no clock, no I/O.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from simulator.account import PositionSide
from simulator.book import Level, PublicTrade
from simulator.instruments import InstrumentSpec
from simulator.klines import Kline
from simulator.matching import ExecType, Order, OrderEvent, OrderStatus, OrderType, TimeInForce

__all__ = [
    "px", "qty", "money", "levels", "order_uuid", "order_int", "STATUS", "TIF", "instrument_json", "order_json",
    "ws_order_json", "execution_json", "position_json", "ws_position_json", "wallet_json", "public_trade_json",
    "recent_trade_json", "kline_row", "kline_json", "envelope", "trade_uuid", "POSITION_IDX", "POSITION_SIDE",
    "NO_LINK", "link_id", "with_field",
]

_UUID_NS = 0x5EEDB7B1_0000_4000  # high 64 bits of every order UUID (version-4 nibble set)
STATUS = {
    OrderStatus.NEW: "New", OrderStatus.PARTIALLY_FILLED: "PartiallyFilled", OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELED: "Cancelled", OrderStatus.EXPIRED: "Cancelled",
}
TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK", TimeInForce.POST_ONLY: "PostOnly"}
NO_LINK = "~"
"""Prefix of the engine client id of an order placed without ``orderLinkId`` (never a valid one: the venue's
ids are ``[A-Za-z0-9_-]``); such an order's ``orderLinkId`` is printed ``""``."""
POSITION_IDX = {PositionSide.BOTH: 0, PositionSide.LONG: 1, PositionSide.SHORT: 2}
POSITION_SIDE = {idx: side for side, idx in POSITION_IDX.items()}
_E8 = Decimal("0.00000001")


def link_id(client_id: str) -> str:
    """The ``orderLinkId`` of an engine order (``""`` for one placed without)."""
    return "" if client_id.startswith(NO_LINK) else client_id


def with_field(data: Any, name: str, value: Any) -> Any:
    """``data`` (an object, or a list of row objects) with ``name: value`` added to the object / each row: where
    an UNKNOWN_FIELD fault puts its field, in a REST ``result`` and in a push's ``data`` alike."""
    if isinstance(data, dict):
        return data | {name: value}
    if isinstance(data, list):
        return [row | {name: value} if isinstance(row, dict) else row for row in data]
    return data


def envelope(result: Any, now_ms: int, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    """``{"retCode", "retMsg", "result", "retExtInfo", "time"}`` as every v5 REST reply."""
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def px(spec: InstrumentSpec, value: Decimal) -> str:
    return str(value.quantize(spec.tick))


def qty(spec: InstrumentSpec, value: Decimal) -> str:
    return str(value.quantize(spec.lot))


def money(value: Decimal) -> str:
    """A money amount with at most 8 decimals and no trailing zeros beyond them ("0" for zero)."""
    v = value.quantize(_E8).normalize()
    return "0" if v == 0 else format(v, "f")


def levels(spec: InstrumentSpec, rows: list[Level]) -> list[list[str]]:
    return [[px(spec, p), qty(spec, s) if s != 0 else "0"] for p, s in rows]


def order_uuid(order_id: int) -> str:
    """The venue order id (UUID string) of an engine order id."""
    return str(uuid.UUID(int=(_UUID_NS << 64) | order_id))


def order_int(order_id: str) -> int | None:
    """The engine id of a venue order id, or None if it is not one of ours."""
    try:
        value = uuid.UUID(order_id).int
    except ValueError:
        return None
    return value & ((1 << 64) - 1) if value >> 64 == _UUID_NS else None


def instrument_json(spec: InstrumentSpec, min_notional: Decimal, launch_ms: int) -> dict[str, Any]:
    """One ``instruments-info`` linear row (the fixture's keys)."""
    scale = max(0, -int(spec.tick.as_tuple().exponent))
    max_qty = (spec.lot * 1_000_000).quantize(spec.lot)
    return {
        "symbol": spec.symbol, "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": spec.underlying, "quoteCoin": spec.quote, "launchTime": str(launch_ms), "deliveryTime": "0",
        "deliveryFeeRate": "", "priceScale": str(scale),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": px(spec, spec.tick), "maxPrice": px(spec, spec.tick * 19_999_998),
                        "tickSize": px(spec, spec.tick)},
        "lotSizeFilter": {"maxOrderQty": str(max_qty), "minOrderQty": qty(spec, spec.min_order_qty),
                          "qtyStep": qty(spec, spec.lot), "postOnlyMaxOrderQty": str(max_qty),
                          "maxMktOrderQty": str((max_qty / 2).quantize(spec.lot)), "minNotionalValue": str(min_notional)},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": spec.settle_asset, "copyTrading": "both",
        "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}, "symbolType": "",
    }


def _order_fields(spec: InstrumentSpec, o: Order, reject_reason: str, cancelled_by: str) -> dict[str, Any]:
    open_ = o.status.is_open
    leaves = o.remaining if open_ else Decimal(0)
    cancel_type = "UNKNOWN"
    if o.status is OrderStatus.CANCELED:
        cancel_type = cancelled_by
    price = px(spec, o.price) if o.price is not None else "0"
    return {
        "orderId": order_uuid(o.order_id), "orderLinkId": link_id(o.client_id), "blockTradeId": "", "symbol": o.symbol,
        "price": price, "qty": qty(spec, o.qty), "side": "Buy" if o.side.value == "BUY" else "Sell",
        "isLeverage": "", "positionIdx": POSITION_IDX[o.position_side], "orderStatus": STATUS[o.status],
        "cancelType": cancel_type,
        "rejectReason": reject_reason, "avgPrice": px(spec, o.avg_price) if o.filled else "",
        "leavesQty": qty(spec, leaves), "leavesValue": money(leaves * (o.price or Decimal(0)) * spec.contract_size),
        "cumExecQty": qty(spec, o.filled), "cumExecValue": money(o.cum_quote * spec.contract_size),
        "cumExecFee": money(o.fees), "closedPnl": money(o.realized_pnl),
        "timeInForce": "IOC" if o.type is OrderType.MARKET else TIF[o.tif],
        "orderType": "Market" if o.type is OrderType.MARKET else "Limit", "stopOrderType": "",
        "orderIv": "", "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "",
        "triggerDirection": 0, "triggerBy": "", "lastPriceOnCreated": "", "reduceOnly": o.reduce_only,
        "closeOnTrigger": False, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
        "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms), "cumFeeDetail": {spec.settle_asset: money(o.fees)} if o.fees else {},
        "category": "linear", "feeCurrency": "", "rpiTakerAccess": False, "rpiMatchedQty": "0",
    }


_REST_ORDER_KEYS = (
    "orderId", "orderLinkId", "blockTradeId", "symbol", "price", "qty", "side", "isLeverage", "positionIdx",
    "orderStatus", "cancelType", "rejectReason", "avgPrice", "leavesQty", "leavesValue", "cumExecQty",
    "cumExecValue", "cumExecFee", "timeInForce", "orderType", "stopOrderType", "orderIv", "triggerPrice",
    "takeProfit", "stopLoss", "tpTriggerBy", "slTriggerBy", "triggerDirection", "triggerBy", "lastPriceOnCreated",
    "reduceOnly", "closeOnTrigger", "smpType", "smpGroup", "smpOrderId", "tpslMode", "tpLimitPrice",
    "slLimitPrice", "placeType", "createdTime", "updatedTime", "cumFeeDetail",
)
_WS_ORDER_KEYS = (
    "symbol", "orderId", "side", "orderType", "cancelType", "price", "qty", "orderIv", "timeInForce",
    "orderStatus", "orderLinkId", "lastPriceOnCreated", "reduceOnly", "leavesQty", "leavesValue", "cumExecQty",
    "cumExecValue", "avgPrice", "blockTradeId", "positionIdx", "cumExecFee", "closedPnl", "createdTime",
    "updatedTime", "rejectReason", "stopOrderType", "tpslMode", "triggerPrice", "takeProfit", "stopLoss",
    "tpTriggerBy", "slTriggerBy", "tpLimitPrice", "slLimitPrice", "triggerDirection", "triggerBy",
    "closeOnTrigger", "category", "placeType", "smpType", "smpGroup", "smpOrderId", "feeCurrency",
    "cumFeeDetail", "rpiTakerAccess", "rpiMatchedQty",
)


def order_json(spec: InstrumentSpec, o: Order, reject_reason: str = "EC_NoError",
               cancel_type: str = "CancelByUser") -> dict[str, Any]:
    """One ``/v5/order/realtime`` / ``history`` row (``cancel_type``: a cancelled order's ``cancelType``)."""
    f = _order_fields(spec, o, reject_reason, cancel_type)
    return {k: f[k] for k in _REST_ORDER_KEYS}


def ws_order_json(spec: InstrumentSpec, o: Order, reject_reason: str = "EC_NoError",
                  cancel_type: str = "CancelByUser") -> dict[str, Any]:
    """One private ``order`` topic item (``cancel_type``: a cancelled order's ``cancelType``)."""
    f = _order_fields(spec, o, reject_reason, cancel_type)
    return {k: f[k] for k in _WS_ORDER_KEYS}


def execution_json(spec: InstrumentSpec, ev: OrderEvent, mark: Decimal, exec_id: str, seq: int) -> dict[str, Any]:
    """One private ``execution`` topic item for a TRADE event."""
    o = ev.order
    assert ev.exec_type is ExecType.TRADE, "executions are only for fills"
    fee_rate = ev.fee / (ev.last_qty * ev.last_price * spec.contract_size) if ev.last_qty else Decimal(0)
    return {
        "category": "linear", "symbol": o.symbol, "closedSize": "0", "execFee": money(ev.fee), "execId": exec_id,
        "execPrice": px(spec, ev.last_price), "execQty": qty(spec, ev.last_qty), "execType": "Trade",
        "execValue": money(ev.last_qty * ev.last_price * spec.contract_size), "feeRate": money(fee_rate),
        "tradeIv": "", "markIv": "", "blockTradeId": "", "markPrice": px(spec, spec.price_down(mark)),
        "indexPrice": "", "underlyingPrice": "", "leavesQty": qty(spec, o.remaining if o.status.is_open else Decimal(0)),
        "orderId": order_uuid(o.order_id), "orderLinkId": link_id(o.client_id),
        "orderPrice": px(spec, o.price) if o.price is not None else px(spec, ev.last_price), "orderQty": qty(spec, o.qty),
        "orderType": "Market" if o.type is OrderType.MARKET else "Limit", "stopOrderType": "UNKNOWN",
        "side": "Buy" if o.side.value == "BUY" else "Sell", "execTime": str(ev.ts_ms), "isLeverage": "0",
        "isMaker": ev.is_maker, "seq": seq, "marketUnit": "", "execPnl": money(ev.realized_pnl),
        "createType": "CreateByUser", "extraFees": [], "feeCurrency": ev.fee_asset,
    }


def _position_fields(spec: InstrumentSpec, side: PositionSide, qty_: Decimal, entry: Decimal, mark: Decimal,
                     realized: Decimal, upnl: Decimal, leverage: int, updated_ms: int, seq: int) -> dict[str, Any]:
    value = abs(qty_) * entry * spec.contract_size
    im = abs(qty_) * mark * spec.contract_size / leverage
    return {
        "positionIdx": POSITION_IDX[side], "riskId": 1, "riskLimitValue": "2000000", "symbol": spec.symbol,
        "side": "" if qty_ == 0 else ("Buy" if qty_ > 0 else "Sell"), "size": qty(spec, abs(qty_)),
        "avgPrice": money(entry), "entryPrice": money(entry), "positionValue": money(value), "tradeMode": 0,
        "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 2 if qty_ else 0,
        "leverage": str(leverage), "breakEvenPrice": money(entry), "positionBalance": money(im),
        "markPrice": px(spec, spec.price_down(mark)), "liqPrice": "", "bustPrice": "",
        "positionMM": money(im / 10), "positionMMByMp": money(im / 10), "positionIM": money(im),
        "positionIMByMp": money(im), "tpslMode": "Full", "takeProfit": "0", "stopLoss": "0",
        "trailingStop": "0", "unrealisedPnl": money(upnl), "curRealisedPnl": money(realized),
        "cumRealisedPnl": money(realized), "seq": seq, "isReduceOnly": False, "mmrSysUpdateTime": "",
        "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "sessionAvgPrice": "",
        "createdTime": str(updated_ms), "updatedTime": str(updated_ms), "category": "linear",
    }


_REST_POS_KEYS = (
    "positionIdx", "riskId", "riskLimitValue", "symbol", "side", "size", "avgPrice", "positionValue", "tradeMode",
    "positionStatus", "autoAddMargin", "adlRankIndicator", "leverage", "breakEvenPrice", "positionBalance",
    "markPrice", "liqPrice", "bustPrice", "positionMM", "positionMMByMp", "positionIM", "positionIMByMp",
    "tpslMode", "takeProfit", "stopLoss", "trailingStop", "unrealisedPnl", "curRealisedPnl", "cumRealisedPnl",
    "seq", "isReduceOnly", "mmrSysUpdateTime", "leverageSysUpdatedTime", "sessionAvgPrice", "createdTime",
    "updatedTime",
)
_WS_POS_KEYS = (
    "positionIdx", "tradeMode", "riskId", "riskLimitValue", "symbol", "side", "size", "entryPrice", "leverage",
    "breakEvenPrice", "positionValue", "positionBalance", "markPrice", "positionIM", "positionIMByMp",
    "positionMM", "positionMMByMp", "takeProfit", "stopLoss", "trailingStop", "unrealisedPnl", "curRealisedPnl",
    "cumRealisedPnl", "sessionAvgPrice", "createdTime", "updatedTime", "tpslMode", "liqPrice", "bustPrice",
    "category", "positionStatus", "adlRankIndicator", "autoAddMargin", "leverageSysUpdatedTime",
    "mmrSysUpdatedTime", "seq", "isReduceOnly",
)


def position_json(spec: InstrumentSpec, *args: Any) -> dict[str, Any]:
    """One ``/v5/position/list`` row; args as ``_position_fields`` after ``spec``."""
    f = _position_fields(spec, *args)
    return {k: f[k] for k in _REST_POS_KEYS}


def ws_position_json(spec: InstrumentSpec, *args: Any) -> dict[str, Any]:
    """One private ``position`` topic item."""
    f = _position_fields(spec, *args)
    return {k: f[k] for k in _WS_POS_KEYS}


def wallet_json(coins: list[tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal]]) -> dict[str, Any]:
    """The UNIFIED account object (REST list item and WS ``wallet`` item).

    Args:
        coins: ``(coin, wallet, upnl, position_im, order_im, cum_realised)`` per coin; USD value = equity (stables).
    """
    rows, total_wallet, total_upl, total_im = [], Decimal(0), Decimal(0), Decimal(0)
    for coin, wallet, upnl, pos_im, ord_im, realised in coins:
        equity = wallet + upnl
        total_wallet += wallet
        total_upl += upnl
        total_im += pos_im + ord_im
        rows.append({
            "coin": coin, "equity": money(equity), "usdValue": money(equity), "walletBalance": money(wallet),
            "availableToWithdraw": "", "availableToBorrow": "", "borrowAmount": "0",
            "accruedInterest": "0", "totalOrderIM": money(ord_im), "totalPositionIM": money(pos_im),
            "totalPositionMM": money(pos_im / 10), "unrealisedPnl": money(upnl), "cumRealisedPnl": money(realised),
            "bonus": "0", "collateralSwitch": True, "marginCollateral": True, "locked": "0", "spotHedgingQty": "0",
            "spotBorrow": "0",
        })
    margin = total_wallet + total_upl
    return {
        "accountIMRate": money(total_im / margin) if margin else "0", "accountIMRateByMp": money(total_im / margin) if margin else "0",
        "accountMMRate": money(total_im / 10 / margin) if margin else "0",
        "accountMMRateByMp": money(total_im / 10 / margin) if margin else "0",
        "totalEquity": money(margin), "totalWalletBalance": money(total_wallet), "totalMarginBalance": money(margin),
        "totalAvailableBalance": money(margin - total_im), "totalPerpUPL": money(total_upl),
        "totalInitialMargin": money(total_im), "totalInitialMarginByMp": money(total_im),
        "totalMaintenanceMargin": money(total_im / 10), "totalMaintenanceMarginByMp": money(total_im / 10),
        "coin": rows, "accountLTV": "0", "accountType": "UNIFIED",
    }


def trade_uuid(symbol: str, trade_id: int) -> str:
    """A stable UUID-looking public trade id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bybit/{symbol}/{trade_id}"))


def public_trade_json(spec: InstrumentSpec, t: PublicTrade, ts: int, tick_dir: str, seq: int) -> dict[str, Any]:
    """One ``publicTrade`` topic item."""
    return {"T": ts, "s": spec.symbol, "S": "Buy" if t.taker_side.value == "BUY" else "Sell", "v": qty(spec, t.qty),
            "p": px(spec, t.price), "L": tick_dir, "i": trade_uuid(spec.symbol, t.trade_id), "BT": False, "seq": seq}


def recent_trade_json(spec: InstrumentSpec, t: PublicTrade, ts: int, seq: int) -> dict[str, Any]:
    """One ``/v5/market/recent-trade`` row."""
    return {"execId": trade_uuid(spec.symbol, t.trade_id), "symbol": spec.symbol, "price": px(spec, t.price),
            "size": qty(spec, t.qty), "side": "Buy" if t.taker_side.value == "BUY" else "Sell", "time": str(ts),
            "isBlockTrade": False, "isRPITrade": False, "seq": str(seq)}


def kline_row(spec: InstrumentSpec, k: Kline) -> list[str]:
    """``[start, open, high, low, close, volume, turnover]`` strings."""
    return [str(k.open_time), px(spec, k.open), px(spec, k.high), px(spec, k.low), px(spec, k.close),
            qty(spec, k.volume), money(k.quote_volume)]


def kline_json(spec: InstrumentSpec, k: Kline, interval: str, confirm: bool, ts: int) -> dict[str, Any]:
    """One ``kline`` topic item."""
    return {"start": k.open_time, "end": k.close_time, "interval": interval, "open": px(spec, k.open),
            "close": px(spec, k.close), "high": px(spec, k.high), "low": px(spec, k.low),
            "volume": qty(spec, k.volume), "turnover": money(k.quote_volume), "confirm": confirm, "timestamp": ts}
