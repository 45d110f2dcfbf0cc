"""OKX v5 documented shapes, for ``venues.drift.DriftCollector`` (the doctor's strict second reading).

Rules for this module:
- Every key listed here is one OKX's v5 documentation lists (or shows in its own example) for that frame or
  answer, as of the docs read in 2026-12 (okx.com/docs-v5 pages dated 2026-06/07 through a markdown mirror:
  WS order book / trades / candlesticks / tickers channels, WS order / positions / account channels, GET
  order details, Get balance, Get positions, Get account configuration, Get leverage, Get instruments,
  POST Cancel All After; the OKX API changelog entry of 2026-02-12 for the REST books' ``seqId``).
  Nothing is added because our twin or our client happens to send or read it.
- ``frame_kind``: ``event:<event>`` for a documented event frame (subscribe, unsubscribe, login, error, notice,
  channel-conn-count, channel-conn-count-error), ``push:<family>`` for a documented channel's push, "" for
  OKX's text ``pong`` (not JSON: the collector counts it unreadable before asking), None for anything else:
  an event or a channel the documentation does not list.
- A documented difference kept as it is: the ``account`` channel's detail rows say ``maxSpotInUseAmt`` and
  carry ``coinUsdPrice``; GET /api/v5/account/balance says ``maxSpotInUse`` and has no ``coinUsdPrice``.
- ``ENUMS`` holds the documented values of the fields whose new values matter to us (order state, ordType,
  side, posSide, instrument state, books action, posMode, mgnMode, eventType). OKX's orders channel sends
  ``posSide`` "" for spot (its own example) and ``execType`` "" when the push is not a fill.
- Sans-IO and pure data: nothing here reads a clock or a socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from venues.drift import Shape

__all__ = ["FRAMES", "REST", "ENUMS", "EVENTS", "CANDLE_CHANNELS", "frame_kind"]


def _leaves(*names: str) -> dict[str, Shape | None]:
    return dict.fromkeys(names)


# -- WebSocket ---------------------------------------------------------------------------------------
_ARG = _leaves("channel", "instId", "instType", "instFamily", "uid", "ccy", "extraParams")
"""The ``arg`` of acks and pushes (``uid`` only in private pushes, ``ccy`` on the account channel)."""

EVENTS = frozenset({"subscribe", "unsubscribe", "login", "error", "notice", "channel-conn-count",
                    "channel-conn-count-error"})
_EVENT: Shape = {**_leaves("id", "event", "code", "msg", "connId", "channel", "connCount"), "arg": _ARG}

_LEVELS = None  # [px, sz, "0" (deprecated), numOrders]: arrays of strings, a leaf
_BOOKS_ROW: Shape = {"asks": _LEVELS, "bids": _LEVELS, **_leaves("ts", "checksum", "prevSeqId", "seqId")}
_BOOKS5_ROW: Shape = {"asks": _LEVELS, "bids": _LEVELS, **_leaves("instId", "ts", "seqId")}  # instId: doc example
_BBO_ROW: Shape = {"asks": _LEVELS, "bids": _LEVELS, **_leaves("ts", "seqId")}
_TRADE_ROW = _leaves("instId", "tradeId", "px", "sz", "side", "ts", "count", "source", "seqId")
_TICKER_ROW = _leaves("instType", "instId", "last", "lastSz", "askPx", "askSz", "bidPx", "bidSz", "open24h",
                      "high24h", "low24h", "volCcy24h", "vol24h", "sodUtc0", "sodUtc8", "ts")

_ATTACH_ALGO = _leaves(
    "attachAlgoId", "attachAlgoClOrdId", "tpOrdKind", "tpTriggerPx", "tpTriggerRatio", "tpTriggerPxType", "tpOrdPx",
    "slTriggerPx", "slTriggerRatio", "slTriggerPxType", "slOrdPx", "sz", "amendPxOnTriggerType", "callbackRatio",
    "callbackSpread", "activePx", "failCode", "failReason",
)
_ORDER_COMMON = _leaves(
    "instType", "instId", "tgtCcy", "ccy", "ordId", "clOrdId", "tag", "px", "pxUsd", "pxVol", "pxType", "sz",
    "pnl", "ordType", "side", "posSide", "tdMode", "accFillSz", "fillPx", "tradeId", "fillSz", "fillTime", "avgPx",
    "state", "stpId", "stpMode", "lever", "attachAlgoClOrdId", "tpTriggerPx", "tpTriggerPxType", "tpOrdPx",
    "slTriggerPx", "slTriggerPxType", "slOrdPx", "feeCcy", "fee", "rebateCcy", "rebate", "source", "category",
    "reduceOnly", "isTpLimit", "cancelSource", "quickMgnType", "algoClOrdId", "algoId", "uTime", "cTime",
    "tradeQuoteCcy", "outcome",
)
_ORDER_PUSH_ROW: Shape = {
    **_ORDER_COMMON,
    **_leaves("notionalUsd", "fillPnl", "fillFee", "fillFeeCcy", "fillPxVol", "fillPxUsd", "fillMarkVol", "fillFwdPx",
              "fillMarkPx", "fillIdxPx", "execType", "fillNotionalUsd", "amendSource", "reqId", "amendResult", "lastPx",
              "code", "msg"),
    "attachAlgoOrds": _ATTACH_ALGO,
    "linkedAlgoOrd": _leaves("algoId"),
}
_ORDER_DETAILS_ROW: Shape = {
    **_ORDER_COMMON, "cancelSourceReason": None, "attachAlgoOrds": _ATTACH_ALGO, "linkedAlgoOrd": _leaves("algoId"),
}

_POSITION_ROW: Shape = {
    **_leaves(
        "instType", "mgnMode", "posId", "posSide", "pos", "hedgedPos", "baseBal", "quoteBal", "baseBorrowed",
        "baseInterest", "quoteBorrowed", "quoteInterest", "posCcy", "availPos", "avgPx", "upl", "uplRatio",
        "uplLastPx", "uplRatioLastPx", "instId", "lever", "liqPx", "markPx", "imr", "margin", "mgnRatio", "mmr",
        "liab", "liabCcy", "interest", "tradeId", "notionalUsd", "optVal", "pendingCloseOrdLiabVal", "adl",
        "bizRefId", "bizRefType", "ccy", "last", "idxPx", "usdPx", "bePx", "deltaBS", "deltaPA", "gammaBS",
        "gammaPA", "thetaBS", "thetaPA", "vegaBS", "vegaPA", "spotInUseAmt", "spotInUseCcy", "clSpotInUseAmt",
        "maxSpotInUseAmt", "realizedPnl", "pnl", "fee", "fundingFee", "liqPenalty", "cTime", "uTime", "pTime",
        "nonSettleAvgPx", "settledPnl",
    ),
    "closeOrderAlgo": _leaves("algoId", "slTriggerPx", "slTriggerPxType", "tpTriggerPx", "tpTriggerPxType",
                              "closeFraction"),
}

_BALANCE_DETAIL = _leaves(
    "ccy", "eq", "cashBal", "uTime", "isoEq", "availEq", "disEq", "fixedBal", "availBal", "frozenBal", "ordFrozen",
    "liab", "upl", "uplLiab", "crossLiab", "rewardBal", "isoLiab", "mgnRatio", "imr", "mmr", "interest", "twap",
    "frpType", "maxLoan", "eqUsd", "borrowFroz", "notionalLever", "stgyEq", "isoUpl", "spotInUseAmt",
    "clSpotInUseAmt", "spotIsoBal", "smtSyncEq", "spotCopyTradingEq", "spotBal", "openAvgPx", "accAvgPx", "spotUpl",
    "spotUplRatio", "totalPnl", "totalPnlRatio", "colRes", "colBorrAutoConversion", "collateralRestrict",
    "collateralEnabled", "autoLendStatus", "autoLendMtAmt",
)
_BALANCE_TOP = _leaves(
    "uTime", "totalEq", "isoEq", "adjEq", "availEq", "ordFroz", "imr", "mmr", "borrowFroz", "mgnRatio", "notionalUsd",
    "notionalUsdForBorrow", "notionalUsdForSwap", "notionalUsdForFutures", "notionalUsdForOption", "upl", "delta",
    "deltaLever", "deltaNeutralStatus",
)
_BALANCE_ROW: Shape = {**_BALANCE_TOP, "details": {**_BALANCE_DETAIL, "maxSpotInUse": None}}
_ACCOUNT_PUSH_ROW: Shape = {**_BALANCE_TOP,
                            "details": {**_BALANCE_DETAIL, "maxSpotInUseAmt": None, "coinUsdPrice": None}}


def _push(row: Shape | None, *top: str) -> Shape:
    return {"arg": _ARG, "data": row, **_leaves(*top)}


FRAMES: Mapping[str, Shape] = {
    **{f"event:{e}": _EVENT for e in EVENTS},
    "push:books": _push(_BOOKS_ROW, "action"),
    "push:books5": _push(_BOOKS5_ROW),
    "push:bbo-tbt": _push(_BBO_ROW),
    "push:trades": _push(_TRADE_ROW),
    "push:tickers": _push(_TICKER_ROW),
    "push:candle": _push(None),  # rows are arrays [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]
    "push:orders": _push(_ORDER_PUSH_ROW),
    "push:positions": _push(_POSITION_ROW, "eventType", "curPage", "lastPage"),
    "push:account": _push(_ACCOUNT_PUSH_ROW, "eventType", "curPage", "lastPage"),
}
"""Frame kind -> documented shape of the whole frame."""

_BOOK_CHANNELS = {"books": "push:books", "books-l2-tbt": "push:books", "books50-l2-tbt": "push:books",
                  "books5": "push:books5", "bbo-tbt": "push:bbo-tbt", "trades": "push:trades",
                  "tickers": "push:tickers", "orders": "push:orders", "positions": "push:positions",
                  "account": "push:account"}
_BARS = ("1s", "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "2D", "3D", "5D", "1W", "1M",
         "3M")
_UTC_BARS = ("6H", "12H", "1D", "2D", "3D", "5D", "1W", "1M", "3M")
CANDLE_CHANNELS = frozenset({f"candle{b}" for b in _BARS} | {f"candle{b}utc" for b in _UTC_BARS})
"""The documented candlestick channels (Hong Kong-aligned bars and their ``utc`` variants)."""


def frame_kind(stream: str, obj: Any) -> str | None:
    """The documented kind of a decoded OKX frame ("" to skip it; None: undocumented event or channel)."""
    if obj == "pong":
        return ""
    if not isinstance(obj, dict):
        return None
    event = obj.get("event")
    if event is not None:
        return f"event:{event}" if event in EVENTS else None
    arg = obj.get("arg")
    if not isinstance(arg, dict) or "data" not in obj:
        return None
    channel = arg.get("channel")
    if not isinstance(channel, str):
        return None
    if channel in CANDLE_CHANNELS:
        return "push:candle"
    return _BOOK_CHANNELS.get(channel)


# -- REST --------------------------------------------------------------------------------------------
def _answer(row: Shape | None, *top: str) -> Shape:
    return {"code": None, "msg": None, "data": row, **_leaves(*top)}


_INSTRUMENT_ROW: Shape = {
    **_leaves(
        "instType", "seriesId", "instId", "uly", "groupId", "instFamily", "baseCcy", "quoteCcy", "settleCcy", "ctVal",
        "ctMult", "ctValCcy", "optType", "stk", "listTime", "auctionEndTime", "contTdSwTime", "preMktSwTime",
        "openType", "elp", "expTime", "lever", "tickSz", "lotSz", "minSz", "ctType", "state", "ruleType", "posLmtAmt",
        "posLmtPct", "maxPlatOILmt", "maxPlatOICoinLmt", "longPosRemainingQuota", "shortPosRemainingQuota",
        "maxLmtSz", "maxMktSz", "maxLmtAmt", "maxMktAmt", "maxTwapSz", "maxIcebergSz", "maxTriggerSz", "maxStopSz",
        "futureSettlement", "tradeQuoteCcyList", "instIdCode", "instCategory", "initPxLmtPct", "floatPxLmtPct",
        "maxPxLmtPct", "alias", "category",
    ),
    "upcChg": _leaves("param", "newValue", "effTime"),
}
_ACK_ROW = _leaves("clOrdId", "ordId", "tag", "ts", "sCode", "sMsg", "subCode")
_CONFIG_ROW = _leaves(
    "uid", "mainUid", "acctLv", "acctStpMode", "posMode", "autoLoan", "greeksType", "feeType", "level", "levelTmp",
    "ctIsoMode", "mgnIsoMode", "spotOffsetType", "stgyType", "roleType", "traderInsts", "spotRoleType",
    "spotTraderInsts", "opAuth", "kycLv", "label", "ip", "perm", "liquidationGear", "enableSpotBorrow",
    "spotBorrowAutoRepay", "type", "settleCcy", "settleCcyList",
)

REST: Mapping[str, Shape] = {
    "/api/v5/public/time": _answer(_leaves("ts")),
    "/api/v5/public/instruments": _answer(_INSTRUMENT_ROW),
    # seqId: OKX API changelog "Delist initial snapshot and checksum field in order book channels" (2026-02-12)
    "/api/v5/market/books": _answer({"asks": _LEVELS, "bids": _LEVELS, **_leaves("ts", "seqId")}),
    "/api/v5/market/candles": _answer(None),
    "/api/v5/market/trades": _answer(_leaves("instId", "tradeId", "px", "sz", "side", "source", "ts")),
    "/api/v5/market/ticker": _answer(_TICKER_ROW),
    # one path, two methods: GET order details and POST place order (the answer of each is documented)
    "/api/v5/trade/order": _answer({**_ORDER_DETAILS_ROW, **_ACK_ROW}, "inTime", "outTime"),
    "/api/v5/trade/cancel-order": _answer(_ACK_ROW, "inTime", "outTime"),
    "/api/v5/trade/orders-pending": _answer(_ORDER_DETAILS_ROW),
    "/api/v5/trade/cancel-all-after": _answer(_leaves("triggerTime", "tag", "ts")),
    "/api/v5/account/balance": _answer(_BALANCE_ROW),
    "/api/v5/account/positions": _answer(_POSITION_ROW),
    "/api/v5/account/config": _answer(_CONFIG_ROW),
    "/api/v5/account/leverage-info": _answer(_leaves("instId", "ccy", "mgnMode", "posSide", "lever")),
}
"""Request path -> documented shape of its JSON answer (errors: the same envelope with ``data`` [])."""

# -- enums -------------------------------------------------------------------------------------------
_STATES = frozenset({"live", "partially_filled", "filled", "canceled", "mmp_canceled"})
_ORD_TYPES = frozenset({"market", "limit", "post_only", "fok", "ioc", "optimal_limit_ioc", "mmp",
                        "mmp_and_post_only", "op_fok", "elp"})
_SIDES = frozenset({"buy", "sell"})
_POS_SIDES = frozenset({"net", "long", "short"})
_MGN_MODES = frozenset({"cross", "isolated"})
_INSTRUMENT_STATES = frozenset({"live", "suspend", "rebase", "post_only", "preopen", "test", "settling"})
_EVENT_TYPES = frozenset({"snapshot", "event_update"})

ENUMS: Mapping[str, frozenset[str]] = {
    "push:books/action": frozenset({"snapshot", "update"}),
    "push:trades/data.side": _SIDES,
    "push:orders/data.state": _STATES,
    "push:orders/data.ordType": _ORD_TYPES,
    "push:orders/data.side": _SIDES,
    "push:orders/data.posSide": _POS_SIDES | {""},
    "push:orders/data.execType": frozenset({"T", "M", ""}),
    "push:positions/data.posSide": _POS_SIDES,
    "push:positions/data.mgnMode": _MGN_MODES,
    "push:positions/eventType": _EVENT_TYPES,
    "push:account/eventType": _EVENT_TYPES,
    "/api/v5/public/instruments/data.state": _INSTRUMENT_STATES,
    "/api/v5/market/trades/data.side": _SIDES,
    **{f"{path}/data.{key}": values for path in ("/api/v5/trade/order", "/api/v5/trade/orders-pending")
       for key, values in (("state", _STATES), ("ordType", _ORD_TYPES), ("side", _SIDES),
                           ("posSide", _POS_SIDES | {""}))},
    "/api/v5/account/positions/data.posSide": _POS_SIDES,
    "/api/v5/account/positions/data.mgnMode": _MGN_MODES,
    "/api/v5/account/config/data.posMode": frozenset({"long_short_mode", "net_mode"}),
    "/api/v5/account/leverage-info/data.posSide": _POS_SIDES,
    "/api/v5/account/leverage-info/data.mgnMode": _MGN_MODES,
}
"""``<kind or path>/<dotted key>`` -> documented values."""
