"""Binance USD-M documented shapes, for strict drift detection (venues/drift.py DriftCollector).

Rules:
- Every key listed here is one the USD-M documentation (developers.binance.com, derivatives /
  usds-margined-futures, read 2026-12-06) prints in the example of that frame or answer; a key the live venue
  sends and the page leaves out is listed only with a comment naming the capture that shows it.
- ``frame_kind`` names a frame by its event type ``e`` (``"<e>"``), a combined-stream wrapper
  ``{"stream", "data"}`` by ``"stream:<e>"`` (its shape is the wrapper around the event's); answers to our
  requests are ``"result"`` (``{"result": null | [...], "id": N}``) and ``"error"``. An event type the docs do
  not list, or a frame that is none of these, is ``None``: the collector reports it as an unknown event type.
- ``REST`` is keyed by request path; methods sharing a path share one shape (the union of their documented
  keys, e.g. POST / GET / DELETE /fapi/v1/order). Every endpoint may answer the documented error body
  ``{"code", "msg"}``, so those two keys are part of every answer's shape.
- ``ENUMS``: ``"<kind or path>/<dotted key>"`` -> documented values ("Common Definition" page, and each
  event's page). Only string-valued fields are checked (the collector's rule).
- Pure data and one pure function: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from venues.drift import Shape

__all__ = ["frame_kind", "FRAMES", "REST", "ENUMS", "EVENT_TYPES"]


def _keys(*names: str, **nested: Shape) -> dict[str, Shape | None]:
    """A shape: ``names`` are leaves, ``nested`` keys map to the shape of their object (or list of objects)."""
    shape: dict[str, Shape | None] = dict.fromkeys(names)
    shape.update(nested)
    return shape


# -- market streams (WebSocket Market Streams pages) --------------------------------------------------------------
_DEPTH = _keys("e", "E", "T", "s", "U", "u", "pu", "b", "a")  # Diff. Book Depth / Partial Book Depth Streams
_BOOK_TICKER = _keys("e", "u", "E", "T", "s", "b", "B", "a", "A")  # Individual Symbol Book Ticker Streams
_AGG_TRADE = _keys("e", "E", "s", "a", "p", "q", "f", "l", "T", "m")  # Aggregate Trade Streams
# ``<symbol>@trade`` (on /public since 2026-03-06): e, E, T, s, t, p, q, X (MARKET / INSURANCE_FUND / ADL /
# NA), m.
_TRADE = _keys("e", "E", "T", "s", "t", "p", "q", "X", "m")
_KLINE = _keys("e", "E", "s", k=_keys("t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V",
                                      "Q", "B"))  # Kline/Candlestick Streams
_MARK_PRICE = _keys("e", "E", "s", "p", "ap", "i", "P", "r", "T")  # Mark Price Stream ("ap": 2025 on)

# -- user data stream (User Data Streams pages) ------------------------------------------------------------------
_ORDER = _keys("s", "c", "S", "o", "f", "q", "p", "ap", "sp", "x", "X", "i", "l", "z", "L", "N", "n", "T", "t",
               "b", "a", "m", "R", "wt", "ot", "ps", "cp", "AP", "cr", "pP", "si", "ss", "rp", "V", "pm", "gtd",
               "er")
_ORDER_TRADE_UPDATE = _keys("e", "E", "T", o=_ORDER)
_ACCOUNT_UPDATE = _keys("e", "E", "T", a=_keys(
    "m", B=_keys("a", "wb", "cw", "bc"), P=_keys("s", "pa", "ep", "bep", "cr", "up", "mt", "iw", "ps")))
_TRADE_LITE = _keys("e", "E", "T", "s", "q", "p", "m", "c", "S", "L", "l", "t", "i")
_ACCOUNT_CONFIG_UPDATE = _keys("e", "E", "T", ac=_keys("s", "l"), ai=_keys("j"))
_LISTEN_KEY_EXPIRED = _keys("e", "E", "listenKey")
_MARGIN_CALL = _keys("e", "E", "cw", p=_keys("s", "ps", "pa", "mt", "iw", "mp", "up", "mm"))
_STRATEGY = _keys("si", "st", "ss", "s", "ut", "c")
_STRATEGY_UPDATE = _keys("e", "T", "E", su=_STRATEGY)
_GRID_UPDATE = _keys("e", "T", "E", gu=_keys("si", "st", "ss", "s", "r", "up", "uq", "uf", "mp", "ut"))
_TRIGGER_REJECT = _keys("e", "E", "T", **{"or": _keys("s", "i", "r")})
_ALGO_UPDATE = _keys("e", "T", "E", o=_keys(
    "caid", "aid", "at", "o", "s", "S", "ps", "f", "q", "X", "ai", "ap", "aq", "act", "tp", "p", "V", "wt", "pm",
    "cp", "pP", "R", "tt", "gtd", "rm"))

_EVENTS: dict[str, Shape] = {
    "depthUpdate": _DEPTH,
    "bookTicker": _BOOK_TICKER,
    "aggTrade": _AGG_TRADE,
    "trade": _TRADE,
    "kline": _KLINE,
    "markPriceUpdate": _MARK_PRICE,
    "ORDER_TRADE_UPDATE": _ORDER_TRADE_UPDATE,
    "ACCOUNT_UPDATE": _ACCOUNT_UPDATE,
    "TRADE_LITE": _TRADE_LITE,
    "ACCOUNT_CONFIG_UPDATE": _ACCOUNT_CONFIG_UPDATE,
    "listenKeyExpired": _LISTEN_KEY_EXPIRED,
    "MARGIN_CALL": _MARGIN_CALL,
    "STRATEGY_UPDATE": _STRATEGY_UPDATE,
    "GRID_UPDATE": _GRID_UPDATE,
    "CONDITIONAL_ORDER_TRIGGER_REJECT": _TRIGGER_REJECT,
    "ALGO_UPDATE": _ALGO_UPDATE,
}
EVENT_TYPES = frozenset(_EVENTS)
"""The event types (``e``) the USD-M docs list for the streams we read."""

_CONTROL: dict[str, Shape] = {
    "result": _keys("result", "id"),  # SUBSCRIBE / UNSUBSCRIBE ack (null), LIST_SUBSCRIPTIONS (the names)
    # Error answers: {"code": 2, "msg": ..., "id": N} (Live Subscribing "Error Messages") and the
    # {"error": {"code", "msg"}, "id": N} form the venue sends for unparseable requests.
    "error": _keys("code", "msg", "id", error=_keys("code", "msg")),
}

FRAMES: Mapping[str, Shape] = {
    **_EVENTS,
    **{f"stream:{e}": _keys("stream", data=shape) for e, shape in _EVENTS.items()},
    **_CONTROL,
}

# -- REST answers -------------------------------------------------------------------------------------------------
_ERR = ("code", "msg")
_ORDER_ANSWER = _keys(  # New Order, Query Order, Cancel Order, Current All Open Orders
    "clientOrderId", "cumQty", "cumQuote", "executedQty", "orderId", "avgPrice", "origQty", "price", "reduceOnly",
    "side", "positionSide", "status", "stopPrice", "closePosition", "symbol", "time", "timeInForce", "type",
    "origType", "activatePrice", "priceRate", "updateTime", "workingType", "priceProtect", "priceMatch",
    "selfTradePreventionMode", "goodTillDate", *_ERR)
_FILTER = _keys("filterType", "minPrice", "maxPrice", "tickSize", "stepSize", "maxQty", "minQty", "limit",
                "notional", "multiplierUp", "multiplierDown", "multiplierDecimal")
_SYMBOL = _keys(
    "symbol", "pair", "contractType", "deliveryDate", "onboardDate", "status", "maintMarginPercent",
    "requiredMarginPercent", "baseAsset", "quoteAsset", "marginAsset", "pricePrecision", "quantityPrecision",
    "baseAssetPrecision", "quotePrecision", "underlyingType", "underlyingSubType", "settlePlan", "triggerProtect",
    "liquidationFee", "marketTakeBound", "timeInForce",
    # The page's example prints "OrderType"; the venue sends "orderTypes" (rest_exchange_info_real_trimmed.json).
    "OrderType", "orderTypes",
    filters=_FILTER)
_ACCOUNT_ASSET = _keys(
    "asset", "walletBalance", "unrealizedProfit", "marginBalance", "maintMargin", "initialMargin",
    "positionInitialMargin", "openOrderInitialMargin", "crossWalletBalance", "crossUnPnl", "availableBalance",
    "maxWithdrawAmount", "updateTime", "marginAvailable")
_ACCOUNT_POSITION = _keys(
    "symbol", "positionSide", "positionAmt", "unrealizedProfit", "isolatedMargin", "notional", "isolatedWallet",
    "initialMargin", "maintMargin", "updateTime")

REST: Mapping[str, Shape] = {
    "/fapi/v1/time": _keys("serverTime", *_ERR),
    "/fapi/v1/exchangeInfo": _keys(
        "timezone", "serverTime", "futuresType", "exchangeFilters", *_ERR,
        rateLimits=_keys("rateLimitType", "interval", "intervalNum", "limit"),
        assets=_keys("asset", "marginAvailable", "autoAssetExchange"),
        symbols=_SYMBOL),
    "/fapi/v1/depth": _keys("lastUpdateId", "E", "T", "bids", "asks", *_ERR),
    "/fapi/v1/klines": _keys(*_ERR),  # rows are arrays: nothing keyed to check
    "/fapi/v1/trades": _keys("id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isRPITrade", *_ERR),
    "/fapi/v1/order": _ORDER_ANSWER,
    "/fapi/v1/openOrders": _ORDER_ANSWER,
    "/fapi/v3/balance": _keys(
        "accountAlias", "asset", "balance", "crossWalletBalance", "crossUnPnl", "availableBalance",
        "maxWithdrawAmount", "marginAvailable", "updateTime", *_ERR),
    "/fapi/v3/account": _keys(
        "totalInitialMargin", "totalMaintMargin", "totalWalletBalance", "totalUnrealizedProfit",
        "totalMarginBalance", "totalPositionInitialMargin", "totalOpenOrderInitialMargin", "totalCrossWalletBalance",
        "totalCrossUnPnl", "availableBalance", "maxWithdrawAmount", *_ERR,
        assets=_ACCOUNT_ASSET, positions=_ACCOUNT_POSITION),
    "/fapi/v3/positionRisk": _keys(
        "symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit",
        "liquidationPrice", "isolatedMargin", "notional", "marginAsset", "isolatedWallet", "initialMargin",
        "maintMargin", "positionInitialMargin", "openOrderInitialMargin", "adl", "bidNotional", "askNotional",
        "updateTime", *_ERR),
    "/fapi/v1/positionSide/dual": _keys("dualSidePosition", *_ERR),  # POST answers {"code": 200, "msg": "success"}
    "/fapi/v1/listenKey": _keys("listenKey", *_ERR),
    "/fapi/v1/countdownCancelAll": _keys("symbol", "countdownTime", *_ERR),
    # Futures Account Configuration (USER_DATA), weight 5, new 2024-07-24.
    "/fapi/v1/accountConfig": _keys(
        "feeTier", "canTrade", "canDeposit", "canWithdraw", "dualSidePosition", "updateTime", "multiAssetsMargin",
        "tradeGroupId", *_ERR),
    # Symbol Configuration (USER_DATA), weight 5, new 2024-07-24.
    "/fapi/v1/symbolConfig": _keys("symbol", "marginType", "isAutoAddMargin", "leverage", "maxNotionalValue", *_ERR),
}

# -- enums ("Common Definition" and the event pages) ----------------------------------------------------------
ORDER_STATUS = frozenset({"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED",
                          "EXPIRED_IN_MATCH"})
ORDER_TYPE = frozenset({"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET", "LIQUIDATION"})  # LIQUIDATION: forced orders (user data)
EXECUTION_TYPE = frozenset({"NEW", "CANCELED", "CALCULATED", "EXPIRED", "TRADE", "AMENDMENT"})
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD", "RPI"})  # RPI: Retail Price Improvement (2025)
SYMBOL_STATUS = frozenset({"PENDING_TRADING", "TRADING", "PRE_DELIVERING", "DELIVERING", "DELIVERED",
                           "PRE_SETTLE", "SETTLING", "CLOSE"})
SIDE = frozenset({"BUY", "SELL"})
POSITION_SIDE = frozenset({"BOTH", "LONG", "SHORT"})
WORKING_TYPE = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})
STP_MODE = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})
PRICE_MATCH = frozenset({"NONE", "OPPONENT", "OPPONENT_5", "OPPONENT_10", "OPPONENT_20", "QUEUE", "QUEUE_5",
                         "QUEUE_10", "QUEUE_20"})
MARGIN_TYPE = frozenset({"CROSSED", "ISOLATED"})
ALGO_STATUS = frozenset({"NEW", "CANCELED", "TRIGGERING", "TRIGGERED", "FINISHED", "REJECTED", "EXPIRED"})
UPDATE_REASON = frozenset({  # ACCOUNT_UPDATE a.m, "Event: Balance and Position Update"
    "DEPOSIT", "WITHDRAW", "ORDER", "FUNDING_FEE", "WITHDRAW_REJECT", "ADJUSTMENT", "INSURANCE_CLEAR",
    "ADMIN_DEPOSIT", "ADMIN_WITHDRAW", "MARGIN_TRANSFER", "MARGIN_TYPE_CHANGE", "ASSET_TRANSFER",
    "OPTIONS_PREMIUM_FEE", "OPTIONS_SETTLE_PROFIT", "AUTO_EXCHANGE", "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW"})


def _order_event_enums() -> dict[str, frozenset[str]]:
    return {"o.S": SIDE, "o.o": ORDER_TYPE, "o.ot": ORDER_TYPE, "o.f": TIME_IN_FORCE, "o.x": EXECUTION_TYPE,
            "o.X": ORDER_STATUS, "o.wt": WORKING_TYPE, "o.ps": POSITION_SIDE, "o.V": STP_MODE, "o.pm": PRICE_MATCH}


def _order_answer_enums() -> dict[str, frozenset[str]]:
    return {"status": ORDER_STATUS, "type": ORDER_TYPE, "origType": ORDER_TYPE, "timeInForce": TIME_IN_FORCE,
            "side": SIDE, "positionSide": POSITION_SIDE, "workingType": WORKING_TYPE,
            "selfTradePreventionMode": STP_MODE, "priceMatch": PRICE_MATCH}


def _enums() -> dict[str, frozenset[str]]:
    per_kind: dict[str, dict[str, frozenset[str]]] = {
        "ORDER_TRADE_UPDATE": _order_event_enums(),
        "ACCOUNT_UPDATE": {"a.m": UPDATE_REASON, "a.P.ps": POSITION_SIDE},
        "TRADE_LITE": {"S": SIDE},
        "ALGO_UPDATE": {"o.S": SIDE, "o.X": ALGO_STATUS, "o.o": ORDER_TYPE, "o.f": TIME_IN_FORCE,
                        "o.ps": POSITION_SIDE, "o.wt": WORKING_TYPE, "o.V": STP_MODE, "o.pm": PRICE_MATCH},
        "MARGIN_CALL": {"p.ps": POSITION_SIDE},
    }
    out: dict[str, frozenset[str]] = {}
    for kind, fields in per_kind.items():
        for key, values in fields.items():
            out[f"{kind}/{key}"] = values
            out[f"stream:{kind}/data.{key}"] = values
    for path in ("/fapi/v1/order", "/fapi/v1/openOrders"):
        out.update({f"{path}/{key}": values for key, values in _order_answer_enums().items()})
    out["/fapi/v1/exchangeInfo/symbols.status"] = SYMBOL_STATUS
    out["/fapi/v3/positionRisk/positionSide"] = POSITION_SIDE
    out["/fapi/v1/symbolConfig/marginType"] = MARGIN_TYPE
    return out


ENUMS: Mapping[str, frozenset[str]] = _enums()


def frame_kind(stream: str, obj: Any) -> str | None:
    """The documented kind of a decoded frame of ``stream`` (any of our connections: public, market, private).

    Returns:
        ``"<e>"`` for an event, ``"stream:<e>"`` for one in a combined-stream wrapper, ``"result"`` /
        ``"error"`` for answers to our requests, ``""`` for nothing to check (not an object), None for an
        event type the documentation does not list or a frame that is none of these.
    """
    if not isinstance(obj, dict):
        return ""
    if "stream" in obj and isinstance(obj.get("data"), dict):
        inner = obj["data"].get("e")
        return f"stream:{inner}" if isinstance(inner, str) and inner in _EVENTS else None
    event = obj.get("e")
    if event is not None:
        return event if isinstance(event, str) and event in _EVENTS else None
    if "id" in obj and "result" in obj:
        return "result"
    if "id" in obj and ("error" in obj or "code" in obj):
        return "error"
    return None
