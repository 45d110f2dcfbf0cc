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
- The union holds every user-data event type of the USD-M docs (user-data-streams pages, read 2026-12):
  ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE, TRADE_LITE, MARGIN_CALL, ACCOUNT_CONFIG_UPDATE,
  STRATEGY_UPDATE, GRID_UPDATE, CONDITIONAL_ORDER_TRIGGER_REJECT, listenKeyExpired; each keeps the keys that
  identify its shape, so a frame of the wrong shape still fails as that type.
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
    "AlgoOrder",
    "AlgoUpdate",
    "TradeLite",
    "MarginCall",
    "AccountConfigUpdate",
    "StrategyUpdate",
    "GridUpdate",
    "ConditionalOrderTriggerReject",
    "IGNORED_EVENTS",
    "StreamEvent",
    "EventName",
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
    "PositionSideDual",
    "Countdown",
    "AccountConfig",
    "SymbolConfig",
    "SymbolFilter",
    "SymbolInfo",
    "ExchangeInfo",
    "ENVELOPE_DECODER",
    "EVENT_DECODER",
    "CONTROL_DECODER",
    "EVENT_NAME_DECODER",
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
    """One element of ``a.B``: ``wb`` (wallet balance), ``cw`` (cross wallet balance) and ``bc`` (balance
    change) are not read: none of them is free margin, which only REST answers (``availableBalance``)."""

    a: str  # asset


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


class AlgoOrder(msgspec.Struct):
    """The ``o`` object of ALGO_UPDATE (a conditional order in the Algo Service, December 2025 on)."""

    caid: str  # client algo id ("" when none was given)
    aid: int  # algo id
    o: str  # order type: STOP, TAKE_PROFIT, STOP_MARKET, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET
    s: str  # symbol
    S: str  # side BUY/SELL
    q: Decimal  # quantity ("0" for a close-position order)
    X: str  # algo status: NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED
    ps: str = "BOTH"  # position side
    p: Decimal = Decimal(0)  # limit price ("0" for market types)
    ai: str = ""  # the matching-engine order id once triggered ("" before)
    ap: Decimal = Decimal(0)  # average fill price in the matching engine (once triggered)
    aq: Decimal = Decimal(0)  # executed quantity in the matching engine (once triggered)
    R: bool = False  # reduce only
    rm: str = ""  # why the algo order failed


class AlgoUpdate(_Event, tag="ALGO_UPDATE"):
    E: int  # event time, ms
    o: AlgoOrder
    T: int = 0  # transaction time, ms


class TradeLite(_Event, tag="TRADE_LITE"):
    """A fill, pushed ahead of ORDER_TRADE_UPDATE with fewer fields (2024-09-03 on); the full event follows."""

    E: int  # event time, ms
    s: str  # symbol
    c: str  # client order id
    S: str  # side
    l: Decimal  # last filled quantity  # noqa: E741 - the venue's key
    L: Decimal  # last filled price
    i: int  # order id
    t: int  # trade id


class _MarginCallPosition(msgspec.Struct):
    s: str  # symbol
    ps: str  # position side
    pa: Decimal  # position amount
    mm: Decimal  # maintenance margin required


class MarginCall(_Event, tag="MARGIN_CALL"):
    """The position risk ratio is high: risk guidance only (the docs say not to trade on it)."""

    E: int  # event time, ms
    p: list[_MarginCallPosition]  # the positions concerned
    cw: Decimal = Decimal(0)  # cross wallet balance (only with a cross-margin call)


class _LeverageConfig(msgspec.Struct):
    s: str  # symbol
    l: int  # leverage  # noqa: E741 - the venue's key


class _AssetsModeConfig(msgspec.Struct):
    j: bool  # Multi-Assets mode


class AccountConfigUpdate(_Event, tag="ACCOUNT_CONFIG_UPDATE"):
    """A symbol's leverage (``ac``) or the Multi-Assets mode (``ai``) changed. It never carries the position
    mode (``dualSidePosition``): that is read with GET /fapi/v1/positionSide/dual."""

    E: int  # event time, ms
    ac: _LeverageConfig | None = None
    ai: _AssetsModeConfig | None = None


class _Strategy(msgspec.Struct):
    si: int  # strategy id
    st: str  # strategy type, e.g. GRID
    ss: str  # strategy status: NEW, WORKING, CANCELLED, EXPIRED
    s: str  # symbol


class StrategyUpdate(_Event, tag="STRATEGY_UPDATE"):
    """A Binance trading strategy (grid...) was created, changed, cancelled or expired."""

    E: int  # event time, ms
    su: _Strategy


class GridUpdate(_Event, tag="GRID_UPDATE"):
    """A grid strategy's sub-order filled (deprecated by Binance, still documented)."""

    E: int  # event time, ms
    gu: _Strategy


class _TriggerReject(msgspec.Struct):
    s: str  # symbol
    i: int  # order id
    r: str  # reject reason


class ConditionalOrderTriggerReject(_Event, tag="CONDITIONAL_ORDER_TRIGGER_REJECT"):
    """A triggered TP/SL order was rejected."""

    E: int  # event time, ms
    or_: _TriggerReject = msgspec.field(name="or")


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
    AlgoUpdate,
    TradeLite,
    MarginCall,
    AccountConfigUpdate,
    StrategyUpdate,
    GridUpdate,
    ConditionalOrderTriggerReject,
]

IGNORED_EVENTS: dict[type, str] = {
    MarkPriceUpdate: "markPriceUpdate",
    TradeLite: "TRADE_LITE",
    MarginCall: "MARGIN_CALL",
    AccountConfigUpdate: "ACCOUNT_CONFIG_UPDATE",
    StrategyUpdate: "STRATEGY_UPDATE",
    GridUpdate: "GRID_UPDATE",
    ConditionalOrderTriggerReject: "CONDITIONAL_ORDER_TRIGGER_REJECT",
}
"""Decoded (so a frame of the wrong shape is still malformed) and then counted as ignored, by name: no bus
message carries them."""


class EventName(msgspec.Struct):
    """Only the event type of a frame whose union decode failed (off the hot path): a known type whose body
    is wrong is malformed, an unknown type is not."""

    e: str | None = None
    data: EventName | None = None  # a combined-stream envelope


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
    balance: Decimal  # wallet balance, without unrealised PnL
    availableBalance: Decimal  # what can open new positions (free margin)
    crossUnPnl: Decimal = Decimal(0)  # unrealised PnL of the cross positions in this asset
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


class PositionSideDual(msgspec.Struct):
    """GET /fapi/v1/positionSide/dual: ``true`` is hedge mode, ``false`` one-way mode."""

    dualSidePosition: bool


class Countdown(msgspec.Struct):
    """POST /fapi/v1/countdownCancelAll: ``{"symbol": "BTCUSDT", "countdownTime": "100000"}``."""

    symbol: str  # the symbol whose countdown was set
    countdownTime: int  # the countdown now running, ms (a string on the wire; 0: stopped)


class AccountConfig(msgspec.Struct):
    """GET /fapi/v1/accountConfig (Futures Account Configuration): the account's permissions as the venue
    lists them (``canWithdraw``: "if can transfer out asset")."""

    canTrade: bool
    canWithdraw: bool
    canDeposit: bool = True
    feeTier: int = 0


class SymbolConfig(msgspec.Struct):
    """One row of GET /fapi/v1/symbolConfig (Symbol Configuration)."""

    symbol: str
    marginType: str  # CROSSED or ISOLATED
    leverage: int  # initial leverage
    isAutoAddMargin: bool | str = False  # a bool in today's page, the string "false" in its first version
    maxNotionalValue: str = ""  # the largest position notional at this leverage


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
EVENT_NAME_DECODER: msgspec.json.Decoder[EventName] = msgspec.json.Decoder(EventName)
