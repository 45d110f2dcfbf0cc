"""OKX v5 JSON payload builders: the exact keys, JSON types and string-vs-number choices of the venue
(checked against shared/fixtures/wire/okx by the tests).

Invariants:
- Every price, size, amount and timestamp is a JSON *string* (``"1597026383085"``); only ``seqId``,
  ``prevSeqId`` and ``checksum`` of book pushes are JSON numbers, booleans appear only where OKX uses them.
- Numbers print as OKX prints them: no trailing zeros and no exponent (``"8477"``, ``"30243.5"``); the book
  checksum is computed over exactly the strings that go on the wire.
- Sizes (``sz``, ``pos``, ``accFillSz``, level sizes) are CONTRACTS.
- Pure functions of their arguments: no clock, no I/O.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator.account import PositionSide
from simulator.book import Level, PublicTrade, Side
from simulator.instruments import InstrumentSpec
from simulator.klines import Kline
from simulator.matching import Order, OrderStatus

__all__ = [
    "num", "levels", "checksum", "OrderMeta", "CANCEL_ALL_AFTER_SOURCE", "CANCEL_SOURCE_REASONS", "LastFill", "instrument_json", "order_details", "order_push",
    "STATE", "ticker_row", "trade_row", "candle_row", "BARS", "POS_SIDE", "POS_MODE",
]

_ZERO = Decimal(0)

CANCEL_ALL_AFTER_SOURCE = "20"
CANCEL_SOURCE_REASONS = {CANCEL_ALL_AFTER_SOURCE: "Cancel all after triggered"}
"""``cancelSource`` -> ``cancelSourceReason`` of the sources the twin produces (OKX v5 order details)."""

STATE = {
    OrderStatus.NEW: "live", OrderStatus.PARTIALLY_FILLED: "partially_filled", OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled", OrderStatus.EXPIRED: "canceled",
}
"""Engine status -> OKX ``state`` (an IOC/market remainder is ``canceled`` on OKX)."""

POS_SIDE = {PositionSide.BOTH: "net", PositionSide.LONG: "long", PositionSide.SHORT: "short"}
"""Engine position side -> OKX ``posSide``."""

POS_MODE = {False: "net_mode", True: "long_short_mode"}
"""``Account.hedge`` -> OKX ``posMode``."""

BARS: dict[str, str] = {
    "1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h",
    "6H": "6h", "12H": "12h", "1D": "1d", "3D": "3d", "1W": "1w",
}
"""OKX bar names -> ``simulator.klines.INTERVAL_MS`` keys."""


def num(value: Decimal | int) -> str:
    """A decimal as OKX prints it: plain notation, no trailing zeros (``Decimal("8477.0")`` -> ``"8477"``)."""
    d = Decimal(value)
    if d == 0:
        return "0"
    text = format(d.normalize(), "f")
    return text


def levels(rows: list[Level]) -> list[list[str]]:
    """``[[px, sz, "0", numOrders], ...]`` (the third field is deprecated and always ``"0"``)."""
    return [[num(p), num(s), "0", str(1 + int(s) % 7)] for p, s in rows]


def checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX book checksum: CRC32 of ``bid1px:bid1sz:ask1px:ask1sz:...`` over the top 25 levels, as a signed int32.

    Args:
        bids: Wire bid rows, best first (only the first two fields are used).
        asks: Wire ask rows, best first.
    """
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += [bids[i][0], bids[i][1]]
        if i < len(asks):
            parts += [asks[i][0], asks[i][1]]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


@dataclass(frozen=True, slots=True)
class OrderMeta:
    """What OKX echoes back that the engine does not keep: the wire ``ordType``, ``tdMode`` and ``tag``, and
    who cancelled it when that was not the user (``cancelSource``, e.g. "20": Cancel All After)."""

    ord_type: str = "limit"
    td_mode: str = "cross"
    tag: str = ""
    cl_ord_id: str | None = None  # what the client sent ("" allowed); None: the engine's client id
    cancel_source: str = ""


@dataclass(frozen=True, slots=True)
class LastFill:
    """The latest fill of an order (OKX's fillPx/fillSz/tradeId/fillTime describe only that one)."""

    px: Decimal
    sz: Decimal
    trade_id: int
    ts_ms: int
    fee: Decimal
    pnl: Decimal
    maker: bool


def instrument_json(spec: InstrumentSpec, lever: int, list_time_ms: int, state: str = "live") -> dict[str, Any]:
    """One ``/api/v5/public/instruments?instType=SWAP`` element (keys of the real capture plus instFamily)."""
    uly = f"{spec.underlying}-{spec.quote}"
    return {
        "alias": "", "baseCcy": "", "category": "1", "ctMult": "1",
        "ctType": "inverse" if spec.inverse else "linear", "ctVal": num(spec.contract_size),
        "ctValCcy": spec.quote if spec.inverse else spec.underlying, "expTime": "", "instFamily": uly,
        "instId": spec.symbol, "instType": "SWAP", "lever": str(lever), "listTime": str(list_time_ms),
        "lotSz": num(spec.lot), "maxIcebergSz": "100000000", "maxLmtSz": "100000000", "maxMktSz": "10000",
        "maxStopSz": "10000", "maxTriggerSz": "100000000", "maxTwapSz": "100000000", "minSz": num(spec.min_order_qty),
        "optType": "", "quoteCcy": "", "settleCcy": spec.settle_asset, "state": state, "stk": "",
        "tickSz": num(spec.tick), "uly": uly,
    }


def _fee(value: Decimal) -> str:
    """Fees are reported as negative numbers (a cost), rounded to 1e-8."""
    return num(-value.quantize(Decimal("0.00000001"))) if value else "0"


def _order_fields(spec: InstrumentSpec, o: Order, meta: OrderMeta, fill: LastFill | None, lever: int) -> dict[str, Any]:
    return {
        "accFillSz": num(o.filled), "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "", "attachAlgoOrds": [],
        "avgPx": num(o.avg_price) if o.filled else "", "cTime": str(o.created_ms), "cancelSource": meta.cancel_source,
        "cancelSourceReason": CANCEL_SOURCE_REASONS.get(meta.cancel_source, ""), "category": "normal", "ccy": "",
        "clOrdId": o.client_id if meta.cl_ord_id is None else meta.cl_ord_id,
        "fee": _fee(o.fees), "feeCcy": spec.settle_asset,
        "fillPx": num(fill.px) if fill else "", "fillSz": num(fill.sz) if fill else "0",
        "fillTime": str(fill.ts_ms) if fill else "", "instId": o.symbol, "instType": "SWAP", "isTpLimit": "false",
        "lever": str(lever), "linkedAlgoOrd": {"algoId": ""}, "ordId": str(o.order_id), "ordType": meta.ord_type,
        "pnl": num(o.realized_pnl.quantize(Decimal("0.00000001"))), "posSide": POS_SIDE[o.position_side],
        "px": num(o.price) if o.price is not None else "", "pxType": "", "pxUsd": "", "pxVol": "", "quickMgnType": "",
        "rebate": "0", "rebateCcy": spec.settle_asset, "reduceOnly": "true" if o.reduce_only else "false",
        "side": o.side.value.lower(), "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "source": "",
        "state": STATE[o.status], "stpId": "", "stpMode": "cancel_maker", "sz": num(o.qty), "tag": meta.tag,
        "tdMode": meta.td_mode, "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
        "tradeId": str(fill.trade_id) if fill else "", "tradeQuoteCcy": "", "uTime": str(o.updated_ms),
    }


_DETAIL_KEYS = (
    "accFillSz", "algoClOrdId", "algoId", "attachAlgoClOrdId", "attachAlgoOrds", "avgPx", "cTime", "cancelSource",
    "cancelSourceReason", "category", "ccy", "clOrdId", "fee", "feeCcy", "fillPx", "fillSz", "fillTime", "instId",
    "instType", "isTpLimit", "lever", "linkedAlgoOrd", "ordId", "ordType", "pnl", "posSide", "px", "pxType", "pxUsd",
    "pxVol", "quickMgnType", "rebate", "rebateCcy", "reduceOnly", "side", "slOrdPx", "slTriggerPx", "slTriggerPxType",
    "source", "state", "stpId", "stpMode", "sz", "tag", "tdMode", "tgtCcy", "tpOrdPx", "tpTriggerPx",
    "tpTriggerPxType", "tradeId", "tradeQuoteCcy", "uTime",
)


def order_details(spec: InstrumentSpec, o: Order, meta: OrderMeta, fill: LastFill | None, lever: int) -> dict[str, Any]:
    """GET /api/v5/trade/order (and orders-pending / orders-history) row."""
    fields = _order_fields(spec, o, meta, fill, lever)
    return {k: fields[k] for k in _DETAIL_KEYS}


def order_push(spec: InstrumentSpec, o: Order, meta: OrderMeta, fill: LastFill | None, lever: int,
               this_fill: LastFill | None, last_px: Decimal, cancel_source: str = "") -> dict[str, Any]:
    """``orders`` channel row. ``this_fill`` is the fill that caused this push (fill* fields), else None."""
    f = _order_fields(spec, o, meta, fill, lever)
    notional = spec.notional(o.qty, o.price or last_px)
    usd = notional if not spec.inverse else notional * last_px
    fill_usd = _ZERO
    if this_fill is not None:
        fill_value = spec.notional(this_fill.sz, this_fill.px)
        fill_usd = fill_value if not spec.inverse else fill_value * this_fill.px
    g = this_fill
    return {
        "accFillSz": f["accFillSz"], "algoClOrdId": "", "algoId": "", "amendResult": "", "amendSource": "",
        "avgPx": f["avgPx"], "cancelSource": cancel_source, "category": "normal", "ccy": "", "clOrdId": f["clOrdId"],
        "code": "0", "cTime": f["cTime"], "execType": ("M" if g.maker else "T") if g else "",
        "fee": f["fee"], "feeCcy": f["feeCcy"], "fillFee": _fee(g.fee) if g else "0", "fillFeeCcy": f["feeCcy"] if g else "",
        "fillNotionalUsd": num(fill_usd.quantize(Decimal("0.00000001"))) if g else "",
        "fillPx": num(g.px) if g else "", "fillSz": num(g.sz) if g else "0",
        "fillPnl": num(g.pnl.quantize(Decimal("0.00000001"))) if g else "0", "fillTime": str(g.ts_ms) if g else "",
        "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": num(g.px) if g else "",
        "fillIdxPx": num(g.px) if g else "", "instId": f["instId"], "instType": "SWAP", "lever": f["lever"], "msg": "",
        "notionalUsd": num(usd.quantize(Decimal("0.00000001"))), "ordId": f["ordId"], "ordType": f["ordType"],
        "pnl": f["pnl"], "posSide": f["posSide"], "px": f["px"], "pxUsd": "", "pxVol": "", "pxType": "", "quickMgnType": "",
        "rebate": "0", "rebateCcy": f["rebateCcy"], "reduceOnly": f["reduceOnly"], "reqId": "", "side": f["side"],
        "attachAlgoClOrdId": "", "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "last", "source": "",
        "state": f["state"], "stpId": "", "stpMode": f["stpMode"], "sz": f["sz"], "tag": f["tag"], "tdMode": f["tdMode"],
        "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "last", "attachAlgoOrds": [],
        "tradeId": str(g.trade_id) if g else "", "tradeQuoteCcy": "", "lastPx": num(last_px), "uTime": f["uTime"],
        "isTpLimit": "false", "linkedAlgoOrd": {"algoId": ""},
    }


def ticker_row(spec: InstrumentSpec, bid: Level, ask: Level, last: Decimal, last_sz: Decimal,
               day: list[tuple[PublicTrade, int]], open_utc0: Decimal, open_utc8: Decimal, ts_ms: int) -> dict[str, Any]:
    """``/market/ticker`` row and ``tickers`` push row. ``day`` holds the last 24 h of (trade, ts)."""
    first = day[0][0].price if day else last
    vol = sum((t.qty for t, _ in day), _ZERO)
    vol_ccy = sum((spec.notional(t.qty, t.price) if spec.inverse else t.qty * spec.contract_size for t, _ in day), _ZERO)
    return {
        "instType": "SWAP", "instId": spec.symbol, "last": num(last), "lastSz": num(last_sz),
        "askPx": num(ask[0]), "askSz": num(ask[1]), "bidPx": num(bid[0]), "bidSz": num(bid[1]),
        "open24h": num(first), "high24h": num(max((t.price for t, _ in day), default=last)),
        "low24h": num(min((t.price for t, _ in day), default=last)),
        "volCcy24h": num(vol_ccy.quantize(Decimal("0.0001"))), "vol24h": num(vol),
        "sodUtc0": num(open_utc0), "sodUtc8": num(open_utc8), "ts": str(ts_ms),
    }


def trade_row(spec: InstrumentSpec, t: PublicTrade, ts_ms: int, *, push: bool) -> dict[str, Any]:
    """``trades`` push row (``push``: adds count/source/seqId) or ``/market/trades`` row."""
    row: dict[str, Any] = {"instId": spec.symbol, "tradeId": str(t.trade_id), "px": num(t.price), "sz": num(t.qty),
                           "side": "buy" if t.taker_side is Side.BUY else "sell", "ts": str(ts_ms)}
    if push:
        row |= {"count": "1", "source": "0", "seqId": t.trade_id}
    else:
        row["source"] = "0"
    return row


def candle_row(spec: InstrumentSpec, k: Kline, confirmed: bool) -> list[str]:
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``: vol in contracts, volCcy in base currency,
    volCcyQuote in quote currency. The aggregator's ``quote_volume`` holds volCcyQuote (linear) or volCcy (inverse).
    """
    if spec.inverse:
        vol_ccy, vol_quote = k.quote_volume, k.volume * spec.contract_size
    else:
        vol_ccy, vol_quote = k.volume * spec.contract_size, k.quote_volume
    q8 = Decimal("0.00000001")
    return [str(k.open_time), num(k.open), num(k.high), num(k.low), num(k.close), num(k.volume),
            num(vol_ccy.quantize(q8)), num(vol_quote.quantize(q8)), "1" if confirmed else "0"]
