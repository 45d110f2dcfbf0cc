"""Structs shaped exactly like Binance USD-M JSON, limited to the fields crossbook reads.

Rules:
- Field names are the venue's own keys (single letters included); each cryptic key is commented.
- Market data decodes to floats (msgspec turns the venue's numeric strings into floats with
  ``strict=False``); prices must be finite and > 0, sizes finite and >= 0, checked by msgspec in C.
  Order and account fields decode to Decimal.
- ``[price, qty]`` levels and REST klines are the only arrays the venue sends, so they are the only
  array-shaped types; levels decode straight to ``(float, float)`` tuples that L2Book and BookDelta take.
- Stream events form one union tagged on ``"e"``; a combined-stream frame ``{"stream","data"}`` decodes
  in the same pass through ``Envelope``. Decoders are built once, here, at import.
- No methods: wire structs never leave venues/binance and never go on the bus.
- The depth event and the envelope are ``gc=False``: decoded JSON cannot form reference cycles, and not
  tracking them saves about 0.2 us per depth frame (bench/decode.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Union

import msgspec

__all__ = [
    "Px",
    "Qty",
    "Level",
    "DepthUpdate",
    "BookTicker",
    "AggTrade",
    "TradeEvent",
    "KlineEvent",
    "KlineData",
    "MarkPriceUpdate",
    "OrderTradeUpdate",
    "OrderData",
    "AccountUpdate",
    "AccountData",
    "WalletBalance",
    "PositionData",
    "ListenKeyExpired",
    "IgnoredUserEvent",
    "StreamEvent",
    "Envelope",
    "Control",
    "WsError",
    "RestError",
    "DepthSnapshot",
    "RestKline",
    "RestTrade",
    "RestOrder",
    "RestBalance",
    "RestPosition",
    "ServerTime",
    "ListenKey",
    "SymbolFilter",
    "SymbolInfo",
    "ExchangeInfo",
    "ENVELOPE_DECODER",
    "EVENT_DECODER",
    "CONTROL_DECODER",
]

_MAX = 1e15
Px = Annotated[float, msgspec.Meta(gt=0.0, lt=_MAX)]
Qty = Annotated[float, msgspec.Meta(ge=0.0, lt=_MAX)]
Level = tuple[Px, Qty]  # ["7.6110", "6"]: [price, quantity]; quantity "0" deletes the level


class _Event(msgspec.Struct, tag_field="e"):
    """Base of stream events: ``e`` is the event type and the union tag."""


# -- market streams ---------------------------------------------------------------------------------------
class DepthUpdate(_Event, tag="depthUpdate", gc=False):
    """``<symbol>@depth@100ms`` diff event."""

    E: int  # event time, ms
    T: int  # transaction time, ms
    s: str  # symbol, upper case
    U: int  # first update id in this event
    u: int  # final update id in this event
    pu: int  # final update id of the previous event ("previous u"): the continuity check
    b: tuple[Level, ...]  # bids to update
    a: tuple[Level, ...]  # asks to update


class BookTicker(_Event, tag="bookTicker"):
    """``<symbol>@bookTicker``: best bid/ask."""

    u: int  # order book update id
    E: int  # event time, ms
    T: int  # transaction time, ms
    s: str  # symbol
    b: Px  # best bid price
    B: Qty  # best bid qty
    a: Px  # best ask price
    A: Qty  # best ask qty


class AggTrade(_Event, tag="aggTrade"):
    """``<symbol>@aggTrade``."""

    E: int  # event time, ms
    s: str  # symbol
    a: int  # aggregate trade id
    p: Px  # price
    q: Qty  # quantity
    T: int  # trade time, ms
    m: bool  # is the buyer the maker? (true: the aggressor sold)


class TradeEvent(_Event, tag="trade"):
    """``<symbol>@trade``."""

    E: int  # event time, ms
    s: str  # symbol
    t: int  # trade id
    p: Px  # price
    q: Qty  # quantity
    T: int  # trade time, ms
    m: bool  # is the buyer the maker?


class KlineData(msgspec.Struct):
    """The ``k`` object of a kline event."""

    t: int  # kline open time, ms
    T: int  # kline close time, ms
    i: str  # interval, e.g. "1m"
    o: float  # open
    c: float  # close
    h: float  # high
    l: float  # low  # noqa: E741 - the venue's key
    v: float  # base asset volume
    x: bool  # is this kline closed (final)?


class KlineEvent(_Event, tag="kline"):
    """``<symbol>@kline_<interval>``."""

    E: int  # event time, ms
    s: str  # symbol
    k: KlineData


class MarkPriceUpdate(_Event, tag="markPriceUpdate"):
    """``<symbol>@markPrice``: recognised so it is not counted as garbage; no bus message carries it yet."""


# -- user data stream ---------------------------------------------------------------------------------------
class OrderData(msgspec.Struct):
    """The ``o`` object of ORDER_TRADE_UPDATE."""

    s: str  # symbol
    c: str  # client order id
    S: str  # side BUY/SELL
    o: str  # order type
    q: Decimal  # original quantity
    p: Decimal  # original price ("0" for market)
    ap: Decimal  # average fill price
    x: str  # execution type: NEW, CANCELED, CALCULATED, EXPIRED, TRADE, AMENDMENT
    X: str  # order status
    i: int  # order id
    l: Decimal  # last filled quantity  # noqa: E741 - the venue's key
    z: Decimal  # cumulative filled quantity
    L: Decimal  # last filled price
    T: int  # order trade time, ms
    t: int = 0  # trade id
    m: bool = False  # was this trade the maker side?
    R: bool = False  # reduce only
    N: str = ""  # commission asset (absent when there is no commission)
    n: Decimal = Decimal(0)  # commission (absent when there is no commission)


class OrderTradeUpdate(_Event, tag="ORDER_TRADE_UPDATE"):
    E: int  # event time, ms
    o: OrderData


class WalletBalance(msgspec.Struct):
    """One element of ``a.B``."""

    a: str  # asset
    wb: Decimal  # wallet balance
    cw: Decimal  # cross wallet balance


class PositionData(msgspec.Struct):
    """One element of ``a.P``."""

    s: str  # symbol
    pa: Decimal  # position amount, signed (negative = short)
    ep: Decimal  # entry price
    up: Decimal  # unrealized pnl
    ps: str = "BOTH"  # position side: BOTH (one-way mode), LONG or SHORT (hedge mode)


class AccountData(msgspec.Struct):
    m: str = ""  # reason of the update (ORDER, FUNDING_FEE, DEPOSIT...)
    B: list[WalletBalance] = []  # balances
    P: list[PositionData] = []  # positions


class AccountUpdate(_Event, tag="ACCOUNT_UPDATE"):
    E: int  # event time, ms
    a: AccountData


class ListenKeyExpired(_Event, tag="listenKeyExpired"):
    E: int = 0  # event time, ms (the listenKey itself is not kept: it is a credential)


class IgnoredUserEvent(_Event, tag="TRADE_LITE"):
    """TRADE_LITE duplicates ORDER_TRADE_UPDATE's fill fields; recognised and skipped."""


class _MarginCall(_Event, tag="MARGIN_CALL"):
    pass


class _AccountConfigUpdate(_Event, tag="ACCOUNT_CONFIG_UPDATE"):
    pass


StreamEvent = Union[  # noqa: UP007 - a runtime Union object is what msgspec decoders take
    DepthUpdate,
    BookTicker,
    AggTrade,
    TradeEvent,
    KlineEvent,
    MarkPriceUpdate,
    OrderTradeUpdate,
    AccountUpdate,
    ListenKeyExpired,
    IgnoredUserEvent,
    _MarginCall,
    _AccountConfigUpdate,
]


class Envelope(msgspec.Struct, gc=False):
    """Combined-stream wrapper ``{"stream": "<name>", "data": {...}}``; ``stream`` is not needed."""

    data: StreamEvent


class WsError(msgspec.Struct):
    code: int
    msg: str = ""


class Control(msgspec.Struct):
    """Answers to our requests: ``{"result": null, "id": 1}``, ``{"result": [...], "id": 3}``, or an error
    ``{"code": 2, "msg": "...", "id": 1}`` / ``{"error": {"code": ..., "msg": ...}, "id": 1}``.

    ``e`` and ``stream`` are probed so that an event frame whose first key is not ``e``/``stream`` is
    still routed to the right decoder.
    """

    result: list[str] | bool | None = None
    id: int | str | None = None
    code: int | None = None
    msg: str = ""
    error: WsError | None = None
    e: str | None = None
    stream: str | None = None


# -- REST --------------------------------------------------------------------------------------------------
class RestError(msgspec.Struct):
    """Error body ``{"code": -1121, "msg": "Invalid symbol."}``."""

    code: int
    msg: str = ""


class DepthSnapshot(msgspec.Struct):
    """GET /fapi/v1/depth."""

    lastUpdateId: int  # update id of this snapshot: sync events against it
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    E: int = 0  # message output time, ms
    T: int = 0  # transaction time, ms


class RestKline(msgspec.Struct, array_like=True):
    """One row of GET /fapi/v1/klines: [openTime, o, h, l, c, volume, closeTime, ...ignored]."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_time: int


class RestTrade(msgspec.Struct):
    """One element of GET /fapi/v1/trades."""

    id: int
    price: Px
    qty: Qty
    time: int  # ms
    isBuyerMaker: bool  # true: the aggressor sold


class RestOrder(msgspec.Struct):
    """An order as POST/DELETE/GET /fapi/v1/order and GET /fapi/v1/openOrders return it."""

    symbol: str
    orderId: int
    clientOrderId: str
    status: str
    side: str
    type: str
    origQty: Decimal
    executedQty: Decimal
    price: Decimal
    updateTime: int = 0  # ms
    avgPrice: Decimal = Decimal(0)  # absent from cancel responses
    reduceOnly: bool = False


class RestBalance(msgspec.Struct):
    """One element of GET /fapi/v3/balance."""

    asset: str
    balance: Decimal  # wallet balance
    availableBalance: Decimal
    updateTime: int = 0  # ms


class RestPosition(msgspec.Struct):
    """One element of GET /fapi/v3/positionRisk."""

    symbol: str
    positionAmt: Decimal  # signed
    entryPrice: Decimal
    unRealizedProfit: Decimal
    positionSide: str = "BOTH"
    liquidationPrice: Decimal = Decimal(0)
    updateTime: int = 0  # ms


class ServerTime(msgspec.Struct):
    serverTime: int  # ms


class ListenKey(msgspec.Struct):
    listenKey: str


class SymbolFilter(msgspec.Struct):
    """One element of ``filters``; only PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL are read."""

    filterType: str
    tickSize: Decimal | None = None  # PRICE_FILTER
    stepSize: Decimal | None = None  # LOT_SIZE
    minQty: Decimal | None = None  # LOT_SIZE
    notional: Decimal | None = None  # MIN_NOTIONAL


class SymbolInfo(msgspec.Struct):
    symbol: str
    contractType: str  # PERPETUAL, CURRENT_QUARTER, NEXT_QUARTER... ("" while delisting)
    status: str  # TRADING, SETTLING, ...
    baseAsset: str
    quoteAsset: str
    marginAsset: str
    filters: list[SymbolFilter]
    deliveryDate: int = 0  # ms


class ExchangeInfo(msgspec.Struct):
    serverTime: int
    symbols: list[SymbolInfo]


ENVELOPE_DECODER: msgspec.json.Decoder[Envelope] = msgspec.json.Decoder(Envelope, strict=False)
EVENT_DECODER: msgspec.json.Decoder[StreamEvent] = msgspec.json.Decoder(StreamEvent, strict=False)
CONTROL_DECODER: msgspec.json.Decoder[Control] = msgspec.json.Decoder(Control, strict=False)
