"""Bybit v5 (linear) as documented: every frame our streams receive and every REST answer we read, for the
doctor's strict second reading (``venues.drift.DriftCollector``).

Sources (bybit-exchange/docs ``docs/v5``, as published at bybit-exchange.github.io/docs/v5, checked 2026-12-06;
the V5 change log read up to its 2026-02-12 entry, see PROTOCOL.md): ws/connect (acks, pongs),
websocket/public/{orderbook,trade,kline,ticker}, websocket/private/{order,execution,position,wallet,dcp},
market/{time,instrument,orderbook,kline,recent-trade,tickers}, order/{create-order,cancel-order,open-order,
order-list,dcp}, position/{position,position-mode}, account/{wallet-balance,account-info,dcp-info},
user/apikey-info; enums from enum.mdx. Fields a change-log entry added are in (2026-01-13 ``breakEvenPrice``,
2026-01-07 ``parentOrderLinkId``, 2025-09-18 ``feeCurrency`` / ``cumFeeDetail``).

Rules:
- ``frame_kind`` names a frame by its ``topic`` (``orderbook.{depth}.{symbol}`` -> "orderbook", ``order`` and
  ``order.{category}`` -> "order", ...) or, without a topic, by its ``op`` (an ack -> "ack", a private pong ->
  "pong"). A ``dcp.*`` push is "" (Bybit documents no content for it: nothing to check). Any other topic or
  op, or a frame that is neither, is None: an event type the documentation does not list.
- Shapes list every documented key, whether or not our codec reads it: a key missing from the wire is never
  a finding, a key the documentation does not list always is.
- A field documented for another category only (option ``mP`` / ``iv``, spot ``usdIndexPrice``) is listed:
  the pages document one shape for all categories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from venues.drift import Shape

__all__ = ["frame_kind", "FRAMES", "REST", "ENUMS"]


def _leaves(*keys: str) -> dict[str, Shape | None]:
    return dict.fromkeys(keys)


# -- public pushes -------------------------------------------------------------------------------------------
_PUSH = ("topic", "type", "ts")

_BOOK_DATA = _leaves("s", "b", "a", "u", "seq")

_TRADE_ROW = _leaves(
    "T",  # trade time (ms)
    "s", "S", "v", "p",  # symbol, taker side, size, price
    "L",  # tick direction
    "i",  # trade id
    "BT",  # block trade
    "RPI",  # retail price improvement trade
    "seq",  # cross sequence
    "mP", "iP", "mIv", "iv",  # option only: mark / index price, mark / implied volatility
)

_KLINE_ROW = _leaves("start", "end", "interval", "open", "close", "high", "low", "volume", "turnover", "confirm",
                     "timestamp")

_TICKER = _leaves(
    "symbol", "tickDirection", "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h", "lowPrice24h",
    "prevPrice1h", "markPrice", "indexPrice", "openInterest", "openInterestValue", "turnover24h", "volume24h",
    "nextFundingTime", "fundingRate", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "deliveryTime",
    "basisRate", "deliveryFeeRate", "predictedDeliveryPrice", "basis", "basisRateYear", "preOpenPrice", "preQty",
    "curPreListingPhase", "fundingIntervalHour", "fundingCap",
    "usdIndexPrice",  # spot
)

# -- private pushes and the rows REST lists -----------------------------------------------------------------
_PRIVATE = ("id", "topic", "creationTime")

_ORDER_COMMON = (
    "orderId", "orderLinkId", "blockTradeId", "symbol", "price", "qty", "side", "isLeverage", "positionIdx",
    "orderStatus", "createType", "cancelType", "rejectReason", "avgPrice", "leavesQty", "leavesValue",
    "cumExecQty", "cumExecValue", "cumExecFee", "cumFeeDetail", "timeInForce", "orderType", "stopOrderType",
    "ocoTriggerBy", "orderIv", "marketUnit", "slippageToleranceType", "slippageTolerance", "triggerPrice",
    "takeProfit", "stopLoss", "tpslMode", "tpLimitPrice", "slLimitPrice", "tpTriggerBy", "slTriggerBy",
    "triggerDirection", "triggerBy", "lastPriceOnCreated", "basePrice", "reduceOnly", "closeOnTrigger",
    "placeType", "smpType", "smpGroup", "smpOrderId", "brokerOrderPrice", "parentOrderLinkId", "createdTime",
    "updatedTime",
)
_REST_ORDER = _leaves(*_ORDER_COMMON, "extraFees")
_WS_ORDER = _leaves(*_ORDER_COMMON, "category", "closedPnl", "feeCurrency", "rpiTakerAccess", "rpiMatchedQty")

_FEE = _leaves("feeCoin", "feeType", "subFeeType", "feeRate", "fee")
_EXECUTION: dict[str, Shape | None] = {
    **_leaves(
        "category", "symbol", "isLeverage", "orderId", "orderLinkId", "side", "orderPrice", "orderQty",
        "leavesQty", "createType", "orderType", "stopOrderType", "execFee", "execId", "execPrice", "execQty",
        "execPnl", "execType", "execValue", "execTime", "isMaker", "feeRate", "tradeIv", "markIv", "markPrice",
        "indexPrice", "underlyingPrice", "blockTradeId", "closedSize", "seq", "marketUnit", "feeCurrency",
    ),
    "extraFees": _FEE,
}

_POSITION_COMMON = (
    "positionIdx", "tradeMode", "riskId", "riskLimitValue", "symbol", "side", "size", "leverage",
    "breakEvenPrice", "positionValue", "positionBalance", "markPrice", "positionIM", "positionIMByMp",
    "positionMM", "positionMMByMp", "takeProfit", "stopLoss", "trailingStop", "unrealisedPnl", "curRealisedPnl",
    "cumRealisedPnl", "sessionAvgPrice", "createdTime", "updatedTime", "tpslMode", "liqPrice", "bustPrice",
    "positionStatus", "adlRankIndicator", "autoAddMargin", "leverageSysUpdatedTime", "mmrSysUpdatedTime", "seq",
    "isReduceOnly",
)
# The REST example spells ``mmrSysUpdateTime`` where its table and the push say ``mmrSysUpdatedTime``: both.
_REST_POSITION = _leaves(*_POSITION_COMMON, "avgPrice", "mmrSysUpdateTime")
_WS_POSITION = _leaves(*_POSITION_COMMON, "entryPrice", "category")

_WALLET_COIN = _leaves(
    "coin", "equity", "usdValue", "walletBalance", "free", "locked", "spotHedgingQty", "borrowAmount",
    "availableToBorrow", "availableToWithdraw", "accruedInterest", "totalOrderIM", "totalPositionIM",
    "totalPositionMM", "unrealisedPnl", "cumRealisedPnl", "bonus", "marginCollateral", "collateralSwitch",
    "spotBorrow",
)
_WALLET: dict[str, Shape | None] = {
    **_leaves(
        "accountType", "accountLTV", "accountIMRate", "accountIMRateByMp", "accountMMRate", "accountMMRateByMp",
        "totalEquity", "totalWalletBalance", "totalMarginBalance", "totalAvailableBalance", "totalPerpUPL",
        "totalInitialMargin", "totalInitialMarginByMp", "totalMaintenanceMargin", "totalMaintenanceMarginByMp",
    ),
    "coin": _WALLET_COIN,
}

FRAMES: Mapping[str, Shape] = {
    "orderbook": {**_leaves(*_PUSH, "cts"), "data": _BOOK_DATA},
    "publicTrade": {**_leaves(*_PUSH), "data": _TRADE_ROW},
    "kline": {**_leaves(*_PUSH), "data": _KLINE_ROW},
    "tickers": {**_leaves(*_PUSH, "cs"), "data": _TICKER},
    "order": {**_leaves(*_PRIVATE), "data": _WS_ORDER},
    "execution": {**_leaves(*_PRIVATE), "data": _EXECUTION},
    "position": {**_leaves(*_PRIVATE), "data": _WS_POSITION},
    "wallet": {**_leaves(*_PRIVATE), "data": _WALLET},
    # subscribe / unsubscribe / auth acks, the public pong (op "ping"), and every refusal
    "ack": _leaves("success", "ret_msg", "conn_id", "req_id", "op"),
    # the private stream's pong
    "pong": _leaves("req_id", "op", "args", "conn_id"),
}
"""Frame kind -> documented shape."""

_PUBLIC_TOPICS = {"orderbook": "orderbook", "publicTrade": "publicTrade", "kline": "kline", "tickers": "tickers"}
_PRIVATE_TOPICS = {"order": "order", "execution": "execution", "position": "position", "wallet": "wallet"}
_CATEGORIES = frozenset({"spot", "linear", "inverse", "option"})
_DCP_TOPICS = frozenset({"dcp.future", "dcp.spot", "dcp.option"})
_ACK_OPS = frozenset({"subscribe", "unsubscribe", "auth", "ping"})


def frame_kind(stream: str, obj: Any) -> str | None:
    """The documented kind of a decoded frame of ``stream`` ("public" or "private"): see the module rules.

    Returns:
        A key of ``FRAMES``; "" for a ``dcp.*`` push (undocumented content, not checked); None for a topic,
        op or frame the documentation does not list.
    """
    if not isinstance(obj, dict):
        return None
    topic = obj.get("topic")
    if isinstance(topic, str):
        if topic in _DCP_TOPICS:
            return "" if stream == "private" else None
        head, _, rest = topic.partition(".")
        if stream == "private":
            if head in _PRIVATE_TOPICS and (not rest or (rest in _CATEGORIES and head != "wallet")):
                return _PRIVATE_TOPICS[head]
            return None
        return _PUBLIC_TOPICS.get(head) if rest else None
    op = obj.get("op")
    if op in _ACK_OPS and "success" in obj:
        return "ack"
    if op == "pong":
        return "pong"
    return None


# -- REST answers --------------------------------------------------------------------------------------------
def _envelope(result: Shape) -> Shape:
    """``{"retCode", "retMsg", "result", "retExtInfo", "time"}``; batch answers list per item codes in
    ``retExtInfo.list``."""
    return {**_leaves("retCode", "retMsg", "time"), "result": result,
            "retExtInfo": {"list": _leaves("code", "msg")}}


_INSTRUMENT: dict[str, Shape | None] = {
    **_leaves(
        "symbol", "symbolId", "contractType", "status", "baseCoin", "quoteCoin", "launchTime", "deliveryTime",
        "deliveryFeeRate", "priceScale", "unifiedMarginTrade", "fundingInterval", "settleCoin", "copyTrading",
        "upperFundingRate", "lowerFundingRate", "isPreListing", "symbolType", "forbidUplWithdrawal",
        # spot rows (same page)
        "innovation", "marginTrading", "stTag",
    ),
    "leverageFilter": _leaves("minLeverage", "maxLeverage", "leverageStep"),
    "priceFilter": _leaves("minPrice", "maxPrice", "tickSize"),
    "lotSizeFilter": _leaves(
        "maxOrderQty", "minOrderQty", "qtyStep", "postOnlyMaxOrderQty", "maxMktOrderQty", "minNotionalValue",
        "basePrecision", "quotePrecision", "minOrderAmt", "maxOrderAmt", "maxLimitOrderQty", "maxMarketOrderQty",
        "postOnlyMaxLimitOrderSize",
    ),
    "preListingInfo": {
        "curAuctionPhase": None,
        "phases": _leaves("phase", "startTime", "endTime"),
        "auctionFeeInfo": _leaves("auctionFeeRate", "takerFeeRate", "makerFeeRate"),
    },
    "riskParameters": _leaves("priceLimitRatioX", "priceLimitRatioY"),
}

_RECENT_TRADE = _leaves("execId", "symbol", "price", "size", "side", "time", "isBlockTrade", "isRPITrade", "seq",
                        "mP", "iP", "mIv", "iv")

_API_KEY: dict[str, Shape | None] = {
    **_leaves(
        "id", "note", "apiKey", "readOnly", "secret", "ips", "type", "deadlineDay", "expiredAt", "createdAt",
        "unified", "uta", "userID", "inviterID", "vipLevel", "mktMakerLevel", "affiliateID", "rsaPublicKey",
        "isMaster", "parentUid", "kycLevel", "kycRegion",
    ),
    "permissions": _leaves(
        "ContractTrade", "Spot", "Wallet", "Options", "Derivatives", "CopyTrading", "BlockTrade", "Exchange",
        "NFT", "Affiliate", "Earn", "FiatP2P", "FiatBybitPay", "FiatConvertBroker",
    ),
}

_ORDER_IDS = _leaves("orderId", "orderLinkId")
_ORDER_LIST: Shape = {"list": _REST_ORDER, "nextPageCursor": None, "category": None}

REST: Mapping[str, Shape] = {
    "/v5/market/time": _envelope(_leaves("timeSecond", "timeNano")),
    "/v5/market/instruments-info": _envelope({"category": None, "list": _INSTRUMENT, "nextPageCursor": None}),
    "/v5/market/orderbook": _envelope(_leaves("s", "a", "b", "ts", "u", "seq", "cts")),
    "/v5/market/kline": _envelope(_leaves("symbol", "category", "list")),  # rows are arrays of strings
    "/v5/market/recent-trade": _envelope({"category": None, "list": _RECENT_TRADE}),
    "/v5/market/tickers": _envelope({"category": None, "list": _TICKER}),
    "/v5/order/create": _envelope(_ORDER_IDS),
    "/v5/order/cancel": _envelope(_ORDER_IDS),
    "/v5/order/realtime": _envelope(_ORDER_LIST),
    "/v5/order/history": _envelope(_ORDER_LIST),
    "/v5/order/disconnected-cancel-all": _envelope({}),  # documented answer: retCode / retMsg only
    "/v5/position/list": _envelope({"list": _REST_POSITION, "nextPageCursor": None, "category": None}),
    "/v5/position/switch-mode": _envelope({}),
    "/v5/account/wallet-balance": _envelope({"list": _WALLET}),
    "/v5/account/info": _envelope(_leaves(
        "unifiedMarginStatus", "marginMode", "isMasterTrader", "spotHedgingStatus", "updatedTime",
        "dcpStatus", "timeWindow", "smpGroup",  # deprecated (always OFF / 0 / 0), still sent
    )),
    "/v5/account/query-dcp-info": _envelope({"dcpInfos": _leaves("product", "dcpStatus", "timeWindow")}),
    "/v5/user/query-api": _envelope(_API_KEY),
}
"""Request path -> documented shape of its JSON answer."""

# -- enums (enum.mdx) ----------------------------------------------------------------------------------------
_ORDER_STATUS = frozenset({"New", "PartiallyFilled", "Untriggered", "Rejected", "PartiallyFilledCanceled", "Filled",
                           "Cancelled", "Triggered", "Deactivated"})
_ORDER_TYPE = frozenset({"Market", "Limit"})
_TIF = frozenset({"GTC", "IOC", "FOK", "PostOnly", "RPI"})
_SIDE = frozenset({"Buy", "Sell"})
_POSITION_SIDE = frozenset({"Buy", "Sell", ""})  # "" for an empty position
_INSTRUMENT_STATUS = frozenset({"PreLaunch", "Trading", "Delivering", "Closed"})
_PUSH_TYPE = frozenset({"snapshot", "delta"})
_MARGIN_MODE = frozenset({"ISOLATED_MARGIN", "REGULAR_MARGIN", "PORTFOLIO_MARGIN"})


def _enums() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {
        "orderbook/type": _PUSH_TYPE,
        "tickers/type": _PUSH_TYPE,
        "publicTrade/data.S": _SIDE,
        "execution/data.side": _SIDE,
        "execution/data.orderType": _ORDER_TYPE,
        "position/data.side": _POSITION_SIDE,
        "/v5/position/list/result.list.side": _POSITION_SIDE,
        "/v5/market/recent-trade/result.list.side": _SIDE,
        "/v5/market/instruments-info/result.list.status": _INSTRUMENT_STATUS,
        "/v5/account/info/result.marginMode": _MARGIN_MODE,
    }
    for where in ("order/data", "/v5/order/realtime/result.list", "/v5/order/history/result.list"):
        out[f"{where}.orderStatus"] = _ORDER_STATUS
        out[f"{where}.orderType"] = _ORDER_TYPE
        out[f"{where}.timeInForce"] = _TIF
        out[f"{where}.side"] = _SIDE
    return out


ENUMS: Mapping[str, frozenset[str]] = _enums()
"""``"<kind or path>/<dotted key>"`` -> documented values."""
