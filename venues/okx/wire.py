"""OKX v5 wire structs: shaped exactly like OKX's JSON (field names included), only the fields we use.

Rules for this module:
- No methods, no logic: parse.py maps these to ``messages/`` types; nothing here goes on the bus.
- ``array_like=True`` only where OKX itself sends arrays: book levels ``[px, sz, "0", numOrders]`` and
  candle rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` (extra trailing items are ignored).
- Decoders are built once, here, with ``strict=False`` so OKX's numeric strings ("30243.5",
  "1652459228114") decode straight into float / int on the market-data path.
- Book levels decode straight into floats (``[px, sz, "0", numOrders]``: price > 0, size >= 0, both below
  1e15, checked by msgspec while decoding). The books ``checksum`` field is not declared at all: OKX
  deprecated it (always 0 since 2026-06-23 in production, 2026-06-02 in demo trading; notice "Order Book
  Channels Checksum Field Deprecation", 2026-05-21), so whatever it holds is skipped unread.
- Order and account fields stay ``str`` where OKX sends "" for "none" (px of a market order, avgPx
  before a fill) and become Decimal in parse.py; sizes are in contracts for derivatives.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

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
    "AccountConfigData",
    "CancelAllAfterData",
    "LeverageInfoData",
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
_MAX = 1e15
Px = Annotated[float, msgspec.Meta(gt=0.0, lt=_MAX)]
Sz = Annotated[float, msgspec.Meta(ge=0.0, lt=_MAX)]


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
    """One level ``[px, sz, "0" (deprecated liquidated orders), numOrders]`` (the last two are not read)."""

    px: Px
    sz: Sz  # contracts for derivatives, base currency for spot; 0 deletes the level


class BookData(msgspec.Struct, gc=False):
    """One books item (``checksum`` deliberately undeclared: deprecated, never read)."""

    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: int  # ms, event time
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
    posSide: str = ""  # net (net_mode), long / short (long_short_mode); "" for spot
    instType: str = ""  # SPOT, MARGIN, SWAP, FUTURES, OPTION
    uTime: str = ""  # ms, last update
    cTime: str = ""  # ms, creation


class PositionData(msgspec.Struct):
    instId: str
    pos: str  # signed quantity in net mode, unsigned in long_short_mode (contracts for derivatives)
    posSide: str = "net"  # net, long, short
    instType: str = ""  # MARGIN, SWAP, FUTURES, OPTION
    avgPx: str = ""
    upl: str = "0"
    lever: str = ""
    liqPx: str = ""
    uTime: str = ""  # ms


class BalanceDetail(msgspec.Struct):
    ccy: str
    eq: str = ""  # equity of the currency: cashBal + upl (+ strategy equity): NOT our ``total``
    cashBal: str = ""  # cash balance: the wallet, without unrealised PnL
    availEq: str = ""  # available equity: what can open positions (futures / multi-currency / portfolio)
    availBal: str = ""  # available balance (spot mode; where availEq is "")
    upl: str = ""  # unrealised PnL of the currency's positions
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


class AccountConfigData(msgspec.Struct):
    """GET /api/v5/account/config row (the fields we use)."""

    posMode: str  # long_short_mode or net_mode
    acctLv: str = ""  # account mode: 1 spot, 2 futures, 3 multi-currency margin, 4 portfolio margin
    uid: str = ""
    perm: str = ""  # the requesting API key's permissions, comma-separated: read_only, trade, withdraw
    ip: str = ""  # IPs bound to the key, comma-separated; "" when none is bound
    label: str = ""  # the key's note


class LeverageInfoData(msgspec.Struct):
    """GET /api/v5/account/leverage-info row (one per instrument; a long and a short row in long_short_mode)."""

    instId: str
    mgnMode: str  # cross / isolated, as asked
    lever: str = ""
    posSide: str = ""  # net, long, short
    ccy: str = ""  # currency-level leverage (cross MARGIN) only


class CancelAllAfterData(msgspec.Struct):
    """POST /api/v5/trade/cancel-all-after answer row (strings on the wire, as every OKX time)."""

    triggerTime: str  # when OKX cancels every pending order, epoch ms; "0": Cancel All After is disabled
    tag: str = ""  # the CAA tag the timer belongs to ("": the account-level timer)
    ts: str = ""  # when OKX received the request, epoch ms


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
    state: str = ""  # live, suspend, preopen, test: only live trades


class ServerTimeData(msgspec.Struct):
    ts: int  # ms


class RestBook(msgspec.Struct):
    """GET /api/v5/market/books row; ``seqId`` aligns it with the books channel (OKX's REST bootstrap)."""

    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: int  # ms
    seqId: int | None = None  # absent in answers older than the 2026 procedure (they cannot bootstrap)


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
