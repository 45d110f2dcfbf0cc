"""Bybit v5 wire structs: shaped exactly like the venue's JSON, limited to the fields we read.

Rules for this module:
- Field names are the venue's own (``bid1Price``, ``cumExecQty``); cryptic keys carry a comment.
- Structs have no methods and never travel on the bus; ``venues/bybit/parse.py`` maps them to messages.
- Market data decodes numeric strings straight into ``float`` (decoders built with ``strict=False``);
  order and account fields decode into ``Decimal`` where the venue always sends a number, and into
  ``str`` where it may send ``""`` (e.g. ``avgPrice`` of an unfilled order), converted in parse.py.
- Levels are ``tuple[float, float]``: the venue sends ``["price", "size"]`` arrays, and a tuple is the
  ``Level`` type of the book and of ``messages.market`` (measured faster than an array_like Struct).
- Every decoder is built once, here, at import.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from msgspec import Raw, Struct

__all__ = [
    "WsEnvelope",
    "BookData",
    "BookFrame",
    "TradeItem",
    "TickerData",
    "KlineItem",
    "OrderItem",
    "ExecutionItem",
    "PositionItem",
    "WalletCoin",
    "WalletItem",
    "CommandRespData",
    "RestEnvelope",
    "ServerTime",
    "PriceFilter",
    "LotSizeFilter",
    "InstrumentItem",
    "InstrumentsResult",
    "RestOrderbook",
    "KlineResult",
    "RecentTrade",
    "ListResult",
    "ItemResult",
    "RetExtInfo",
    "BatchExt",
    "OrderIds",
    "RestPositionItem",
    "DcpInfo",
    "DcpInfos",
]

Level = tuple[float, float]


# -- WebSocket ---------------------------------------------------------------------------------------
class WsEnvelope(Struct):
    """Every WebSocket frame: a data push (topic/type/data), an op ack, a pong or a COMMAND_RESP.

    ``data`` stays raw: it is decoded once, by the decoder of the topic it belongs to.
    """

    topic: str = ""
    type: str = ""  # "snapshot" | "delta" on data pushes; "COMMAND_RESP" on option/spread acks
    ts: int = 0  # ms, when the venue generated the push
    cts: int = 0  # ms, matching-engine time (orderbook pushes)
    creationTime: int = 0  # ms, private pushes
    data: Raw = Raw(b"null")
    op: str = ""  # "subscribe" | "unsubscribe" | "auth" | "ping" | "pong" | "order.create" ...
    success: bool | None = None  # op acks on /v5/public and /v5/private (false: an error reply)
    ret_msg: str = ""
    req_id: str | int | None = ""  # echoed client request id (ours are strings; absent when none was sent)
    args: list[str | int] = []  # pong: [server ms as string]
    retCode: int | None = None  # op acks on the order-entry socket /v5/trade
    retMsg: str = ""
    reqId: str = ""


# gc=False on the book structs: decoded JSON cannot form cycles; untracked structs decode ~10 % faster.
class BookData(Struct, gc=False):
    s: str  # symbol
    b: list[Level]  # bids [price, size], best first; size 0 deletes
    a: list[Level]  # asks [price, size], best first; size 0 deletes
    u: int  # update id; u == 1 means a snapshot after a service restart
    seq: int = 0  # cross sequence, comparable across depths of one symbol


class BookFrame(Struct, gc=False):
    """An ``orderbook.{depth}.{symbol}`` push, decoded in one pass on the hot path."""

    topic: str
    type: str  # "snapshot" | "delta"
    ts: int  # ms
    data: BookData
    cts: int = 0  # ms, matching-engine time


class TradeItem(Struct):
    T: int  # ms, trade time
    s: str  # symbol
    S: str  # taker side "Buy" | "Sell"
    v: float  # size
    p: float  # price
    i: str  # trade id
    seq: int = 0  # cross sequence


class TickerData(Struct):
    """A tickers push; a linear ``delta`` carries only the fields that changed (all optional)."""

    symbol: str
    bid1Price: str | None = None
    bid1Size: str | None = None
    ask1Price: str | None = None
    ask1Size: str | None = None


class KlineItem(Struct):
    start: int  # ms, candle open time
    end: int  # ms, candle close time
    interval: str  # "1".."720", "D", "W", "M"
    open: float
    close: float
    high: float
    low: float
    volume: float
    confirm: bool  # true once the candle is closed
    timestamp: int  # ms, push time


class OrderItem(Struct):
    """One order in the private ``order`` topic and in GET /v5/order/realtime."""

    symbol: str
    orderId: str
    orderLinkId: str  # our client order id ("" when none)
    side: str  # "Buy" | "Sell"
    orderType: str  # "Limit" | "Market"
    price: str  # "" or "0" for market orders
    qty: Decimal
    orderStatus: str
    avgPrice: str  # "" or "0" until filled
    cumExecQty: Decimal
    updatedTime: str  # ms as a string
    reduceOnly: bool = False
    category: str = ""  # absent in REST rows (the category is in the result)
    timeInForce: str = ""
    rejectReason: str = ""  # "EC_NoError" unless rejected


class ExecutionItem(Struct):
    category: str  # "linear" | "inverse" | "spot" | "option"
    symbol: str
    execId: str
    execPrice: Decimal
    execQty: Decimal
    execFee: Decimal
    execType: str  # "Trade" | "AdlTrade" | "Funding" | "BustTrade" | "Settle" | ...
    orderId: str
    orderLinkId: str
    side: str
    execTime: str  # ms as a string
    isMaker: bool
    feeCurrency: str = ""  # newer field; "" on older pushes


class PositionItem(Struct):
    """One position in the private ``position`` topic."""

    symbol: str
    side: str  # "Buy" | "Sell" | "" (flat)
    size: Decimal
    entryPrice: str  # "" possible when flat
    leverage: str
    unrealisedPnl: str
    liqPrice: str  # "" when no liquidation price
    updatedTime: str  # ms as a string
    positionIdx: int = 0  # 0 one-way, 1 hedge buy side, 2 hedge sell side
    category: str = ""


class WalletCoin(Struct):
    coin: str
    walletBalance: str  # the coin's wallet balance, without unrealised PnL
    equity: str = ""  # walletBalance + unrealisedPnl (+ option value)
    usdValue: str = ""  # USD value of equity; "0" for a coin that cannot be collateral
    unrealisedPnl: str = ""
    availableToWithdraw: str = ""  # "" on UNIFIED accounts since 2025-01-09 (changelog); a classic account's


class WalletItem(Struct):
    accountType: str  # "UNIFIED" | "CONTRACT"
    coin: list[WalletCoin]
    totalAvailableBalance: str = ""  # USD, UNIFIED only: totalMarginBalance - totalInitialMargin ("" otherwise)


class CommandRespData(Struct):
    """``data`` of a COMMAND_RESP ack (option/spread sockets)."""

    successTopics: list[str] = []
    failTopics: list[str] = []


# -- REST --------------------------------------------------------------------------------------------
class RestEnvelope(Struct):
    """Every REST body: HTTP 200 with ``retCode != 0`` is a business error."""

    retCode: int
    retMsg: str = ""
    result: Raw = Raw(b"null")
    time: int = 0  # ms, server time of the response


class ServerTime(Struct):
    timeSecond: str
    timeNano: str


class PriceFilter(Struct):
    tickSize: Decimal


class LotSizeFilter(Struct):
    minOrderQty: Decimal
    qtyStep: Decimal | None = None  # linear/inverse
    basePrecision: Decimal | None = None  # spot: the quantity step
    minNotionalValue: Decimal | None = None  # linear
    minOrderAmt: Decimal | None = None  # spot: minimum order value in quote


class InstrumentItem(Struct):
    symbol: str
    status: str  # "Trading" | "PreLaunch" | "Settling" | "Delivering" | "Closed"
    baseCoin: str
    quoteCoin: str
    priceFilter: PriceFilter
    lotSizeFilter: LotSizeFilter
    contractType: str = (
        ""  # "LinearPerpetual" | "LinearFutures" | "InversePerpetual" | "InverseFutures"; absent on spot
    )
    settleCoin: str = ""
    deliveryTime: str = "0"  # ms as a string; "0" for perpetuals


class InstrumentsResult(Struct):
    category: str
    items: list[InstrumentItem] = msgspec.field(name="list")
    nextPageCursor: str = ""


class RestOrderbook(Struct):
    s: str  # symbol
    b: list[Level]  # bids, best first
    a: list[Level]  # asks, best first
    ts: int  # ms
    u: int  # update id
    seq: int = 0
    cts: int = 0


class KlineResult(Struct):
    symbol: str
    category: str
    # [start ms, open, high, low, close, volume, turnover], newest first
    items: list[tuple[str, float, float, float, float, float, float]] = msgspec.field(name="list")


class RecentTrade(Struct):
    execId: str
    symbol: str
    price: float
    size: float
    side: str
    time: str  # ms as a string


class ListResult(Struct):
    """A ``{"list": [...], "nextPageCursor": ...}`` result whose rows are decoded by the caller.

    Fields named ``list`` are renamed ``items`` here (a ``list`` attribute would shadow the builtin).
    """

    items: Raw = msgspec.field(name="list")
    nextPageCursor: str = ""
    category: str = ""


class ItemResult(Struct):
    code: int
    msg: str = ""


class RetExtInfo(Struct):
    items: list[ItemResult] = msgspec.field(name="list", default_factory=list)


class BatchExt(Struct):
    """A batch response's per-item outcomes; top-level ``retCode`` 0 does not mean every item succeeded."""

    retExtInfo: RetExtInfo = msgspec.field(default_factory=RetExtInfo)


class OrderIds(Struct):
    orderId: str
    orderLinkId: str


class RestPositionItem(Struct):
    """One row of GET /v5/position/list (``avgPrice`` where the WS push says ``entryPrice``)."""

    symbol: str
    side: str
    size: Decimal
    avgPrice: str
    leverage: str
    unrealisedPnl: str
    liqPrice: str
    updatedTime: str
    positionIdx: int = 0


class DcpInfo(Struct):
    """One product of GET /v5/account/query-dcp-info (docs/v5/account/dcp-info.mdx)."""

    product: str  # "SPOT" | "DERIVATIVES" | "OPTIONS"
    dcpStatus: str  # "ON" (the only documented value)
    timeWindow: str  # the window in whole seconds, as a string ("10")


class DcpInfos(Struct):
    """The ``result`` of query-dcp-info: one entry per product DCP is enabled for (none: not enabled)."""

    dcpInfos: list[DcpInfo] = []


# -- decoders, built once ----------------------------------------------------------------------------
ENVELOPE = msgspec.json.Decoder(WsEnvelope)
BOOK_FRAME = msgspec.json.Decoder(BookFrame, strict=False)
BOOK_DATA = msgspec.json.Decoder(BookData, strict=False)
TRADES = msgspec.json.Decoder(list[TradeItem], strict=False)
TICKER = msgspec.json.Decoder(TickerData)
KLINES = msgspec.json.Decoder(list[KlineItem], strict=False)
ORDERS = msgspec.json.Decoder(list[OrderItem])
EXECUTIONS = msgspec.json.Decoder(list[ExecutionItem])
POSITIONS = msgspec.json.Decoder(list[PositionItem])
WALLETS = msgspec.json.Decoder(list[WalletItem])
COMMAND_RESP = msgspec.json.Decoder(CommandRespData)

REST_ENVELOPE = msgspec.json.Decoder(RestEnvelope)
SERVER_TIME = msgspec.json.Decoder(ServerTime)
INSTRUMENTS = msgspec.json.Decoder(InstrumentsResult)
REST_ORDERBOOK = msgspec.json.Decoder(RestOrderbook, strict=False)
KLINE_RESULT = msgspec.json.Decoder(KlineResult, strict=False)
RECENT_TRADE_ROWS = msgspec.json.Decoder(list[RecentTrade], strict=False)
LIST_RESULT = msgspec.json.Decoder(ListResult)
ROWS = msgspec.json.Decoder(list[Raw])  # a list's rows, left undecoded (counted)
TICKER_ROWS = msgspec.json.Decoder(list[TickerData])
BATCH_EXT = msgspec.json.Decoder(BatchExt)
ORDER_IDS = msgspec.json.Decoder(OrderIds)
REST_POSITIONS = msgspec.json.Decoder(list[RestPositionItem])
DCP_INFOS = msgspec.json.Decoder(DcpInfos)
