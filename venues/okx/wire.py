"""OKX v5 wire structs: shaped exactly like OKX's JSON (field names included), only the fields we use.

Rules for this module:
- No methods, no logic: parse.py maps these to ``messages/`` types; nothing here goes on the bus.
- ``array_like=True`` only where OKX itself sends arrays: book levels ``[px, sz, "0", numOrders]`` and
  candle rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` (extra trailing items are ignored).
- Decoders are built once, here, with ``strict=False`` so OKX's numeric strings ("30243.5",
  "1652459228114") decode straight into float / int on the market-data path.
- Book levels keep price and size as the ORIGINAL strings: the CRC32 checksum is defined over them
  ("8477" must stay "8477", never "8477.0"); floats are made once per level in the codec.
- Order and account fields stay ``str`` where OKX sends "" for "none" (px of a market order, avgPx
  before a fill) and become Decimal in parse.py; sizes are in contracts for derivatives.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

__all__ = [
    "Arg",
    "Envelope",
    "BookLevel",
    "BookData",
    "BookPush",
    "BboData",
    "TradeData",
    "TickerData",
    "CandleRow",
    "OrderData",
    "PositionData",
    "BalanceDetail",
    "AccountData",
    "RestEnvelope",
    "OrderAckData",
    "InstrumentData",
    "ServerTimeData",
    "RestBook",
    "ENVELOPE_DECODER",
    "BOOK_PUSH_DECODER",
    "BOOK_DATA_DECODER",
    "BBO_DATA_DECODER",
    "TRADE_DATA_DECODER",
    "TICKER_DATA_DECODER",
    "CANDLE_DATA_DECODER",
    "ORDER_DATA_DECODER",
    "POSITION_DATA_DECODER",
    "ACCOUNT_DATA_DECODER",
]

T = TypeVar("T")


# -- WebSocket -------------------------------------------------------------------------------------
class Arg(msgspec.Struct, frozen=True):
    """The ``arg`` object naming a subscription."""

    channel: str
    instId: str = ""  # instrument id, e.g. "BTC-USDT-SWAP" (absent for instType-wide private channels)
    instType: str = ""  # instrument type for private channels: SPOT, SWAP, FUTURES, ANY


class Envelope(msgspec.Struct):
    """Every WS frame: an event (subscribe/login/error/notice) or a data push with ``arg`` + ``data``.

    ``data`` is kept raw and decoded once by the channel's own decoder, so each frame is parsed once.
    """

    event: str = ""  # subscribe, unsubscribe, login, error, notice, channel-conn-count
    arg: Arg | None = None
    action: str = ""  # books channels only: "snapshot" or "update"
    code: str = ""  # event frames: "0" or an error code (a STRING)
    msg: str = ""
    id: str = ""  # echo of the request id, when the request had one
    data: msgspec.Raw = msgspec.Raw(b"")


# gc=False on the books structs: decoded JSON cannot form cycles; untracked structs decode ~8 % faster.
class BookLevel(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One level ``[px, sz, "0" (deprecated liquidated orders), numOrders]``; original strings kept."""

    px: str
    sz: str  # contracts for derivatives, base currency for spot; "0" deletes the level


class BookData(msgspec.Struct, gc=False):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: int  # ms, event time
    checksum: int | None = None  # signed CRC32 over the top 25 levels of the merged book
    prevSeqId: int | None = None  # -1 on a snapshot; previous message's seqId on an update
    seqId: int | None = None  # absent in pre-2023 captures


class BookPush(msgspec.Struct, gc=False):
    """A whole books-channel frame, decoded in one pass on the hot path."""

    arg: Arg
    action: str  # "snapshot" or "update"
    data: list[BookData]


class BboLevel(msgspec.Struct, array_like=True, frozen=True):
    px: float
    sz: float


class BboData(msgspec.Struct):
    """bbo-tbt and books5 items: full top-N snapshots (no action, no checksum)."""

    asks: list[BboLevel]
    bids: list[BboLevel]
    ts: int  # ms
    seqId: int | None = None


class TradeData(msgspec.Struct):
    instId: str
    tradeId: str
    px: float
    sz: float  # contracts for derivatives
    side: str  # taker side: buy / sell
    ts: int  # ms


class TickerData(msgspec.Struct):
    instId: str
    bidPx: str = ""  # "" when the side is empty
    bidSz: str = ""
    askPx: str = ""
    askSz: str = ""
    ts: int = 0  # ms


class CandleRow(msgspec.Struct, array_like=True):
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``; vol in contracts for derivatives."""

    ts: int  # ms, start of the interval
    o: float
    h: float
    l: float  # noqa: E741 - OKX's own name for the low
    c: float
    vol: float
    volCcy: str = ""
    volCcyQuote: str = ""
    confirm: str = "0"  # "1" once the candle is final


class OrderData(msgspec.Struct):
    """Orders channel item and REST order row (same field names)."""

    instId: str
    ordId: str
    state: str  # live, partially_filled, filled, canceled, mmp_canceled
    side: str
    ordType: str  # market, limit, post_only, fok, ioc, optimal_limit_ioc, ...
    sz: str  # contracts for derivatives
    clOrdId: str = ""
    px: str = ""  # "" for market orders
    avgPx: str = ""  # "" (or "0") until the first fill
    accFillSz: str = "0"  # cumulative filled
    fillSz: str = ""  # LATEST fill only
    fillPx: str = ""  # LATEST fill only
    tradeId: str = ""  # LATEST fill only
    fillFee: str = ""  # fee of the latest fill; negative = charged
    fillFeeCcy: str = ""
    execType: str = ""  # T taker, M maker (latest fill)
    fillTime: str = ""  # ms
    reduceOnly: str = "false"
    uTime: str = ""  # ms, last update
    cTime: str = ""  # ms, creation


class PositionData(msgspec.Struct):
    instId: str
    pos: str  # signed quantity in net mode (contracts for derivatives)
    posSide: str = "net"  # net, long, short
    avgPx: str = ""
    upl: str = "0"
    lever: str = ""
    liqPx: str = ""
    uTime: str = ""  # ms


class BalanceDetail(msgspec.Struct):
    ccy: str
    eq: str = ""  # equity of the currency
    cashBal: str = ""
    availBal: str = ""  # available balance
    uTime: str = ""  # ms


class AccountData(msgspec.Struct):
    details: list[BalanceDetail]
    uTime: str = ""  # ms


# -- REST --------------------------------------------------------------------------------------------
class RestEnvelope(msgspec.Struct, Generic[T]):
    """``{"code": "0", "msg": "", "data": [...]}``: codes are strings; "1"/"2" mean (partial) batch failure."""

    code: str
    msg: str = ""
    data: T | None = None


class OrderAckData(msgspec.Struct):
    """Place/cancel result item: per-order sCode/sMsg are where OKX reports the real outcome."""

    ordId: str = ""
    clOrdId: str = ""
    sCode: str = "0"  # per-order code, "0" is success
    sMsg: str = ""
    ts: str = ""  # ms


class InstrumentData(msgspec.Struct):
    instId: str
    instType: str  # SPOT, SWAP, FUTURES, ...
    tickSz: str
    lotSz: str
    minSz: str
    ctVal: str = ""  # contract value: 0.01 BTC (linear) or 100 USD (inverse); "" for spot
    ctType: str = ""  # linear / inverse; "" for spot
    ctValCcy: str = ""
    settleCcy: str = ""
    baseCcy: str = ""  # spot only
    quoteCcy: str = ""  # spot only
    uly: str = ""  # underlying, e.g. "BTC-USDT" (derivatives)
    instFamily: str = ""
    expTime: str = ""  # ms, futures only
    state: str = ""  # live, suspend, preopen, ...


class ServerTimeData(msgspec.Struct):
    ts: int  # ms


class RestBook(msgspec.Struct):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: int  # ms


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope, strict=False)
BOOK_PUSH_DECODER = msgspec.json.Decoder(BookPush, strict=False)
BOOK_DATA_DECODER = msgspec.json.Decoder(list[BookData], strict=False)
BBO_DATA_DECODER = msgspec.json.Decoder(list[BboData], strict=False)
TRADE_DATA_DECODER = msgspec.json.Decoder(list[TradeData], strict=False)
TICKER_DATA_DECODER = msgspec.json.Decoder(list[TickerData], strict=False)
CANDLE_DATA_DECODER = msgspec.json.Decoder(list[CandleRow], strict=False)
ORDER_DATA_DECODER = msgspec.json.Decoder(list[OrderData], strict=False)
POSITION_DATA_DECODER = msgspec.json.Decoder(list[PositionData], strict=False)
ACCOUNT_DATA_DECODER = msgspec.json.Decoder(list[AccountData], strict=False)
