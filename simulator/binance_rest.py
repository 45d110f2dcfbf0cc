"""Binance USD-M REST endpoints (/fapi/v1, /fapi/v2, /fapi/v3) of the twin.

Invariants:
- Every response, errors included, carries ``X-MBX-USED-WEIGHT-1M``; order endpoints also carry
  ``X-MBX-ORDER-COUNT-10S`` / ``-1M``. Weights follow the docs (depth 2/5/10/20 by limit, ...).
- Errors are ``{"code": <negative int>, "msg": ...}`` with Binance's HTTP status (400, 401 for key problems,
  404 for unknown paths, 429 / 418 for limits).
- Security: NONE (market data), USER_STREAM (API key: listenKey), SIGNED (key + timestamp + signature).
- A placement (``POST /fapi/v1/order``) is counted in ``twin.received`` by its ``newClientOrderId`` as soon as
  its parameters are read, before weight, signature or validation.
- Position mode (USD-M "New Order", "Change Position Mode"): in one-way mode ``positionSide`` is BOTH (or
  left out); in hedge mode it must be LONG or SHORT, and ``reduceOnly`` must not be sent at all (-1106); a
  side that does not match the mode is -4061. An order against its side's direction (SELL on LONG, BUY on
  SHORT) closes that side and may not exceed it (-2022). POST /fapi/v1/positionSide/dual changes the mode
  only with no position and no open order (-4068, -4067), and answers -4059 when nothing would change.
- ``POST /fapi/v1/countdownCancelAll`` (SIGNED, weight 10): ``symbol`` and ``countdownTime`` (ms, digits
  only; 0 stops the countdown) are mandatory (-1102), an unknown symbol is -1121; the countdowns and their
  checker live in binance_countdown.py.
- GET /fapi/v1/accountConfig and GET /fapi/v1/symbolConfig (both SIGNED, weight 5; USD-M "Futures Account
  Configuration", "Symbol Configuration"): the account's ``canTrade`` / ``canWithdraw`` (BinanceConfig) and
  each symbol's ``marginType`` (CROSSED unless POST /fapi/v1/marginType changed it) and ``leverage`` (POST
  /fapi/v1/leverage).
- ``BinanceConfig.ip_allowed=False``: every SIGNED and USER_STREAM request answers -2015 (HTTP 401) once
  the key's format passed, as the venue answers a key used from an IP not on its list.
- Balances carry the venue's own fields: ``balance`` (wallet), ``crossWalletBalance``, ``crossUnPnl`` and
  ``availableBalance`` = wallet + unrealised PnL - initial margin of positions and open orders (free
  margin, never below 0).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from simulator import binance_format as fmt
from simulator.account import PositionSide
from simulator.binance_auth import BinanceError, check_api_key, verify_signed
from simulator.book import Side
from simulator.faults import FaultKind
from simulator.matching import OrderRejected, OrderRequest, OrderType, RejectReason, TimeInForce, UnknownOrder

if TYPE_CHECKING:
    from simulator.binance_config import BinanceTwinLike

__all__ = ["routes", "mark_price_event", "ticker_event", "mini_ticker_event"]

Params = dict[str, str]
Handler = Callable[["BinanceTwinLike", Params], Any]
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_REJECTS = {
    RejectReason.DUPLICATE_CLIENT_ID: (-4116, "clientOrderId is duplicated"),
    RejectReason.POST_ONLY_WOULD_TAKE: (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected."),
    RejectReason.FOK_NOT_FILLABLE: (-5021, "Due to the order could not be filled immediately, the FOK order has been rejected."),
    RejectReason.REDUCE_ONLY_REJECTED: (-2022, "ReduceOnly Order is rejected."),
    RejectReason.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    RejectReason.BAD_QTY: (-4003, "Quantity less than or equal to zero."),
    RejectReason.BAD_PRICE: (-4014, "Price not increased by tick size."),
    RejectReason.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
    RejectReason.POSITION_SIDE_MISMATCH: (-4061, "Order's position side does not match user's setting."),
}
_POSITION_SIDES = {"BOTH": PositionSide.BOTH, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}


def _mandatory(p: Params, name: str) -> str:
    value = p.get(name, "")
    if not value:
        raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _symbol(twin: BinanceTwinLike, p: Params, required: bool = True) -> str | None:
    sym = p.get("symbol", "").upper()
    if not sym:
        if required:
            _mandatory(p, "symbol")
        return None
    if sym not in twin.specs:
        raise BinanceError(-1121, "Invalid symbol.")
    return sym


def _one_or_all(twin: BinanceTwinLike, p: Params, row: Callable[[BinanceTwinLike, str], dict[str, Any]]) -> Any:
    """``row`` of the ``symbol`` asked for, or a list of every symbol's rows when none is given."""
    sym = _symbol(twin, p, required=False)
    return row(twin, sym) if sym else [row(twin, s) for s in twin.specs]


def _decimal(p: Params, name: str) -> Decimal:
    try:
        return Decimal(_mandatory(p, name))
    except InvalidOperation:
        raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.") from None


# -- market data ---------------------------------------------------------------------------------------------
def _ping(twin: BinanceTwinLike, p: Params) -> Any:
    return {}


def _time(twin: BinanceTwinLike, p: Params) -> Any:
    return {"serverTime": twin.now_ms()}


def _exchange_info(twin: BinanceTwinLike, p: Params) -> Any:
    lim = twin.config.limits
    return {
        "timezone": "UTC", "serverTime": twin.now_ms(), "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": lim.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": lim.orders_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_per_10s},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [fmt.symbol_info(spec, twin.min_notional[s], twin.engine.books[s].mid()) for s, spec in twin.specs.items()],
    }


def _depth_weight(p: Params) -> int:
    limit = int(p.get("limit", "500") or 500)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _depth(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    limit = int(p.get("limit", "500") or 500)
    if limit not in (5, 10, 20, 50, 100, 500, 1000):
        raise BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
    spec, mirror, now = twin.specs[sym], twin.depth[sym].mirror, twin.now_ms()
    return {"lastUpdateId": mirror.update_id, "E": now, "T": now - 1,
            "bids": fmt.levels(spec, mirror.bids(limit)), "asks": fmt.levels(spec, mirror.asks(limit))}


def _trades(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    limit = min(1000, int(p.get("limit", "500") or 500))
    rows = list(twin.trades[sym])[-limit:]
    return [fmt.trade_json(twin.specs[sym], t, ts) for t, ts in rows]


def _agg_trades(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    limit = min(1000, int(p.get("limit", "500") or 500))
    rows = [(t, ts) for t, ts in twin.trades[sym]
            if ("startTime" not in p or ts >= int(p["startTime"])) and ("endTime" not in p or ts <= int(p["endTime"]))]
    return [fmt.agg_trade_json(twin.specs[sym], t, ts) for t, ts in rows[-limit:]]


def _klines(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    interval = _mandatory(p, "interval")
    aggs = twin.klines[sym]
    if interval not in aggs:
        raise BinanceError(-1120, "Invalid interval.")
    limit = min(1500, int(p.get("limit", "500") or 500))
    start = int(p["startTime"]) if p.get("startTime") else None
    end = int(p["endTime"]) if p.get("endTime") else None
    return [fmt.kline_array(twin.specs[sym], k) for k in aggs[interval].history(start, end, limit)]


def _book_ticker_row(twin: BinanceTwinLike, sym: str) -> dict[str, Any]:
    spec, mirror = twin.specs[sym], twin.depth[sym].mirror
    (bp, bq), (ap, aq) = mirror.bids(1)[0], mirror.asks(1)[0]
    return {"symbol": sym, "bidPrice": fmt.px(spec, bp), "bidQty": fmt.qty(spec, bq), "askPrice": fmt.px(spec, ap),
            "askQty": fmt.qty(spec, aq), "time": twin.now_ms(), "lastUpdateId": mirror.update_id}


def _book_ticker(twin: BinanceTwinLike, p: Params) -> Any:
    return _one_or_all(twin, p, _book_ticker_row)


def _last_price(twin: BinanceTwinLike, sym: str) -> Decimal:
    trades = twin.trades[sym]
    return trades[-1][0].price if trades else twin.engine.books[sym].mid().quantize(twin.specs[sym].tick)


def _price_row(twin: BinanceTwinLike, sym: str) -> dict[str, Any]:
    return {"symbol": sym, "price": fmt.px(twin.specs[sym], _last_price(twin, sym)), "time": twin.now_ms()}


def _price(twin: BinanceTwinLike, p: Params) -> Any:
    return _one_or_all(twin, p, _price_row)


def _mark(twin: BinanceTwinLike, sym: str) -> str:
    return str(twin.engine.books[sym].mid().quantize(Decimal("0.00000001")))


def _premium_row(twin: BinanceTwinLike, sym: str) -> dict[str, Any]:
    now = twin.now_ms()
    mark = _mark(twin, sym)
    return {"symbol": sym, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
            "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
            "nextFundingTime": now - now % 28_800_000 + 28_800_000, "time": now}


def _premium(twin: BinanceTwinLike, p: Params) -> Any:
    return _one_or_all(twin, p, _premium_row)


def mark_price_event(twin: BinanceTwinLike, sym: str, now: int) -> dict[str, Any]:
    """``markPriceUpdate`` stream payload."""
    row = _premium_row(twin, sym)
    return {"e": "markPriceUpdate", "E": now, "s": sym, "p": row["markPrice"], "i": row["indexPrice"],
            "P": row["estimatedSettlePrice"], "r": row["lastFundingRate"], "T": row["nextFundingTime"]}


def _ticker_row(twin: BinanceTwinLike, sym: str) -> dict[str, Any]:
    spec, now = twin.specs[sym], twin.now_ms()
    day = [(t, ts) for t, ts in twin.trades[sym] if ts > now - 86_400_000]
    last = _last_price(twin, sym)
    first = day[0][0].price if day else last
    vol = sum((t.qty for t, _ in day), Decimal(0))
    quote = sum((t.qty * t.price for t, _ in day), Decimal(0))
    return {
        "symbol": sym, "priceChange": fmt.px(spec, last - first),
        "priceChangePercent": str(((last - first) / first * 100).quantize(Decimal("0.001"))),
        "weightedAvgPrice": fmt.px(spec, quote / vol if vol else last), "lastPrice": fmt.px(spec, last),
        "lastQty": fmt.qty(spec, day[-1][0].qty if day else Decimal(0)), "openPrice": fmt.px(spec, first),
        "highPrice": fmt.px(spec, max((t.price for t, _ in day), default=last)),
        "lowPrice": fmt.px(spec, min((t.price for t, _ in day), default=last)), "volume": fmt.qty(spec, vol),
        "quoteVolume": str(quote.quantize(Decimal("0.01"))), "openTime": day[0][1] if day else now, "closeTime": now,
        "firstId": day[0][0].trade_id if day else 0, "lastId": day[-1][0].trade_id if day else 0, "count": len(day),
    }


def _ticker24(twin: BinanceTwinLike, p: Params) -> Any:
    return _one_or_all(twin, p, _ticker_row)


def ticker_event(twin: BinanceTwinLike, sym: str, now: int) -> dict[str, Any]:
    """``24hrTicker`` stream payload."""
    r = _ticker_row(twin, sym)
    return {"e": "24hrTicker", "E": now, "s": sym, "p": r["priceChange"], "P": r["priceChangePercent"],
            "w": r["weightedAvgPrice"], "c": r["lastPrice"], "Q": r["lastQty"], "o": r["openPrice"], "h": r["highPrice"],
            "l": r["lowPrice"], "v": r["volume"], "q": r["quoteVolume"], "O": r["openTime"], "C": r["closeTime"],
            "F": r["firstId"], "L": r["lastId"], "n": r["count"]}


def mini_ticker_event(twin: BinanceTwinLike, sym: str, now: int) -> dict[str, Any]:
    """``24hrMiniTicker`` stream payload."""
    r = _ticker_row(twin, sym)
    return {"e": "24hrMiniTicker", "E": now, "s": sym, "c": r["lastPrice"], "o": r["openPrice"], "h": r["highPrice"],
            "l": r["lowPrice"], "v": r["volume"], "q": r["quoteVolume"]}


def _leverage_bracket(twin: BinanceTwinLike, p: Params) -> Any:
    def row(s: str) -> dict[str, Any]:
        return {"symbol": s, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0},
            {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50.0},
            {"bracket": 3, "initialLeverage": 20, "notionalCap": 10000000, "notionalFloor": 600000, "maintMarginRatio": 0.025, "cum": 12050.0},
        ]}

    sym = _symbol(twin, p, required=False)
    return [row(sym)] if sym else [row(s) for s in twin.specs]


# -- account ---------------------------------------------------------------------------------------------------
def _e8(v: Decimal) -> str:
    return str(v.quantize(Decimal("0.00000001")))


def _upnl(twin: BinanceTwinLike) -> Decimal:
    marks = twin.engine.marks()
    return sum((pos.unrealized(twin.specs[pos.symbol], marks[pos.symbol]) for pos in twin.engine.account.positions.values()),
               Decimal(0))


def _order_margin(twin: BinanceTwinLike, asset: str) -> Decimal:
    """Initial margin held by open orders that can open a position (reduce-only ones hold none)."""
    acct, marks = twin.engine.account, twin.engine.marks()
    return sum((twin.specs[o.symbol].notional(o.remaining, o.price or marks[o.symbol]) / acct.leverage
                for o in twin.engine.open_orders()
                if twin.specs[o.symbol].settle_asset == asset and not o.reduce_only), Decimal(0))


def _available(twin: BinanceTwinLike, asset: str) -> Decimal:
    """Free margin: wallet + unrealised PnL - initial margin of positions and open orders, never below 0."""
    acct = twin.engine.account
    wallet = acct.balances.get(asset, Decimal(0))
    used = acct.margin_used(twin.specs, twin.engine.marks(), asset) + _order_margin(twin, asset)
    return max(Decimal(0), wallet + _upnl(twin) - used)


def _balance(twin: BinanceTwinLike, p: Params) -> Any:
    acct, now = twin.engine.account, twin.now_ms()
    rows = []
    for asset, wallet in acct.balances.items():
        avail = _available(twin, asset)
        rows.append({"accountAlias": "SgsR", "asset": asset, "balance": _e8(wallet), "crossWalletBalance": _e8(wallet),
                     "crossUnPnl": _e8(_upnl(twin)), "availableBalance": _e8(avail),
                     "maxWithdrawAmount": _e8(min(avail, wallet)), "marginAvailable": True,
                     "updateTime": acct.updated_ms or now})
    return rows


def _position_rows(twin: BinanceTwinLike, v3: bool) -> list[dict[str, Any]]:
    acct, marks, rows = twin.engine.account, twin.engine.marks(), []
    sides = (PositionSide.LONG, PositionSide.SHORT) if acct.hedge else (PositionSide.BOTH,)
    for (sym, spec), side in ((item, side) for item in twin.specs.items() for side in sides):
        pos = acct.positions.get((sym, side))
        if v3 and (pos is None or pos.qty == 0):
            continue
        qty = pos.qty if pos else Decimal(0)
        entry = pos.entry_price if pos else Decimal(0)
        mark = marks[sym]
        notional = qty * mark * spec.contract_size
        upnl = pos.unrealized(spec, mark) if pos else Decimal(0)
        im = abs(notional) / acct.leverage
        base = {"symbol": sym, "positionSide": side.value, "positionAmt": fmt.qty(spec, qty), "entryPrice": str(entry),
                "breakEvenPrice": str(entry), "markPrice": _e8(mark), "unRealizedProfit": _e8(upnl),
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": _e8(notional), "marginAsset": "USDT",
                "isolatedWallet": "0", "initialMargin": _e8(im), "maintMargin": _e8(abs(notional) * Decimal("0.004")),
                "positionInitialMargin": _e8(im), "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                "askNotional": "0", "updateTime": pos.updated_ms if pos else 0}
        if not v3:
            base = {k: base[k] for k in ("symbol", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
                                         "unRealizedProfit", "liquidationPrice", "isolatedMargin", "notional",
                                         "isolatedWallet", "updateTime", "positionSide")}
            base |= {"leverage": str(acct.leverage), "maxNotionalValue": "10000000", "marginType": "cross",
                     "isAutoAddMargin": "false"}
        rows.append(base)
    return rows


def _position_risk_v2(twin: BinanceTwinLike, p: Params) -> Any:
    return _position_rows(twin, v3=False)


def _position_risk_v3(twin: BinanceTwinLike, p: Params) -> Any:
    return _position_rows(twin, v3=True)


def _account(twin: BinanceTwinLike, p: Params, v3: bool) -> Any:
    bal = _balance(twin, p)
    usdt = next((b for b in bal if b["asset"] == "USDT"), bal[0])
    upnl = _e8(_upnl(twin))
    positions = _position_rows(twin, v3=True)
    order_margin = _order_margin(twin, "USDT")
    margin = _e8(sum((Decimal(r["initialMargin"]) for r in positions), order_margin))
    assets = [{"asset": b["asset"], "walletBalance": b["balance"], "unrealizedProfit": upnl,
               "marginBalance": _e8(Decimal(b["balance"]) + Decimal(upnl)), "maintMargin": "0", "initialMargin": margin,
               "positionInitialMargin": _e8(Decimal(margin) - order_margin), "openOrderInitialMargin": _e8(order_margin),
               "crossWalletBalance": b["balance"], "crossUnPnl": upnl,
               "availableBalance": b["availableBalance"], "maxWithdrawAmount": b["maxWithdrawAmount"],
               "updateTime": b["updateTime"]} | ({} if v3 else {"marginAvailable": True}) for b in bal]
    pos_rows = [{k: r[k] for k in ("symbol", "positionSide", "positionAmt", "isolatedMargin", "notional",
                                   "isolatedWallet", "initialMargin", "maintMargin", "updateTime")}
                | {"unrealizedProfit": r["unRealizedProfit"]} for r in positions]
    out: dict[str, Any] = {
        "totalInitialMargin": margin, "totalMaintMargin": "0", "totalWalletBalance": usdt["balance"],
        "totalUnrealizedProfit": upnl, "totalMarginBalance": _e8(Decimal(usdt["balance"]) + Decimal(upnl)),
        "totalPositionInitialMargin": _e8(Decimal(margin) - order_margin),
        "totalOpenOrderInitialMargin": _e8(order_margin), "totalCrossWalletBalance": usdt["balance"], "totalCrossUnPnl": upnl,
        "availableBalance": usdt["availableBalance"], "maxWithdrawAmount": usdt["maxWithdrawAmount"],
        "assets": assets, "positions": pos_rows,
    }
    if not v3:
        out = {"feeTier": 0, "feeBurn": False, "canTrade": True, "canDeposit": True, "canWithdraw": True,
               "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1} | out
    return out


# -- orders ----------------------------------------------------------------------------------------------------
def _new_order(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    spec = twin.specs[sym]
    side_raw = _mandatory(p, "side")
    if side_raw not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    type_raw = _mandatory(p, "type")
    if type_raw not in ("LIMIT", "MARKET"):
        raise BinanceError(-1116, "Invalid orderType.")
    position_side = _POSITION_SIDES.get(p.get("positionSide") or "BOTH")
    if position_side is None:
        raise BinanceError(-1130, "Data sent for parameter 'positionSide' is not valid.")
    hedge = twin.engine.account.hedge
    if hedge and "reduceOnly" in p:
        raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
    if (position_side is not PositionSide.BOTH) != hedge:
        raise BinanceError(-4061, "Order's position side does not match user's setting.")
    qty = _decimal(p, "quantity")
    if qty <= 0:
        raise BinanceError(-4003, "Quantity less than or equal to zero.")
    if -qty.as_tuple().exponent > -spec.lot.as_tuple().exponent:  # type: ignore[operator]
        raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    if qty % spec.lot != 0:
        raise BinanceError(-4023, "Qty not increased by step size.")
    price: Decimal | None = None
    tif = TimeInForce.GTC
    if type_raw == "LIMIT":
        price = _decimal(p, "price")
        tif_raw = _mandatory(p, "timeInForce")
        tif_map = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTX": TimeInForce.POST_ONLY}
        if tif_raw not in tif_map:
            raise BinanceError(-1130, "Data sent for parameter 'timeInForce' is not valid.")
        tif = tif_map[tif_raw]
        if -price.as_tuple().exponent > -spec.tick.as_tuple().exponent:  # type: ignore[operator]
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if price <= 0 or price % spec.tick != 0:
            raise BinanceError(-4014, "Price not increased by tick size.")
    reduce_only = p.get("reduceOnly", "false").lower() == "true"
    closes = hedge and (side_raw == "SELL") == (position_side is PositionSide.LONG)  # SELL LONG, BUY SHORT
    ref = price if price is not None else twin.engine.books[sym].mid()
    if not (reduce_only or closes) and qty * ref * spec.contract_size < twin.min_notional[sym]:
        notional = twin.min_notional[sym]
        raise BinanceError(-4164, f"Order's notional must be no smaller than {notional} (unless you choose reduce only).")
    client_id = p.get("newClientOrderId") or f"x-{secrets.token_hex(11)}"
    if not _CLIENT_ID.match(client_id):
        raise BinanceError(-4015, "Client order id is not valid.")
    req = OrderRequest(sym, Side(side_raw), OrderType(type_raw), qty, client_id, price, tif, reduce_only, position_side)
    try:
        order = twin.engine.place(req, twin.now_ms())
    except OrderRejected as exc:
        code, msg = _REJECTS[exc.reason]
        raise BinanceError(code, msg) from None
    twin.flush_user_events()
    return fmt.order_json(spec, order, with_time=False)


def _order_ref(twin: BinanceTwinLike, p: Params) -> tuple[str, int | None, str | None]:
    """The symbol, orderId and origClientOrderId that name one order (query and cancel)."""
    sym = _symbol(twin, p)
    assert sym is not None
    oid, cid = p.get("orderId"), p.get("origClientOrderId")
    if not oid and not cid:
        raise BinanceError(-1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
    if oid and not oid.isdigit():
        raise BinanceError(-1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
    return sym, (int(oid) if oid else None), (cid or None)


def _get_order(twin: BinanceTwinLike, p: Params) -> Any:
    sym, oid, cid = _order_ref(twin, p)
    try:
        order = twin.engine.get(sym, oid, cid)
    except UnknownOrder:
        raise BinanceError(-2013, "Order does not exist.") from None
    return fmt.order_json(twin.specs[sym], order, with_time=True)


def _cancel_order(twin: BinanceTwinLike, p: Params) -> Any:
    sym, oid, cid = _order_ref(twin, p)
    try:
        order = twin.engine.cancel(sym, twin.now_ms(), oid, cid)
    except UnknownOrder:
        raise BinanceError(-2011, "Unknown order sent.") from None
    twin.flush_user_events()
    return fmt.cancel_json(twin.specs[sym], order)


def _open_orders(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p, required=False)
    return [fmt.order_json(twin.specs[o.symbol], o, with_time=True) for o in twin.engine.open_orders(sym)]


def _cancel_all(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    assert sym is not None
    twin.engine.cancel_all(sym, twin.now_ms())
    twin.flush_user_events()
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def _countdown_cancel_all(twin: BinanceTwinLike, p: Params) -> Any:
    """POST /fapi/v1/countdownCancelAll: set, replace or (0) stop the symbol's auto-cancel countdown."""
    refusal = twin.countdowns.refusal
    if refusal is not None:
        code, msg, status = refusal
        raise BinanceError(code, msg, status)
    sym = _symbol(twin, p)
    assert sym is not None
    raw = _mandatory(p, "countdownTime")
    if not raw.isdigit():
        raise BinanceError(-1100, "Illegal characters found in parameter 'countdownTime'; legal range is '^[0-9]{1,20}$'.")
    return twin.countdowns.set(sym, int(raw))


def _listen_key_post(twin: BinanceTwinLike, p: Params) -> Any:
    return {"listenKey": twin.create_listen_key()}


def _listen_key_put(twin: BinanceTwinLike, p: Params) -> Any:
    for key in list(twin.listen_keys):
        if twin.listen_key_valid(key):
            twin.listen_keys[key] = twin.now_ms() + int(twin.config.listen_key_ttl_s * 1000)
            return {"listenKey": key}
    raise BinanceError(-1125, "This listenKey does not exist.")


def _listen_key_delete(twin: BinanceTwinLike, p: Params) -> Any:
    twin.expire_listen_keys(all_keys=True)
    return {}


def _const(value: Any) -> Handler:
    return lambda twin, p: value


def _leverage(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    lev = int(_mandatory(p, "leverage"))
    twin.engine.account.leverage = lev
    if sym is not None:
        twin.leverages[sym] = lev
    twin.emit_user_event("ACCOUNT_CONFIG_UPDATE", ac={"s": sym, "l": lev})
    return {"leverage": lev, "maxNotionalValue": "10000000", "symbol": sym}


def _position_mode(twin: BinanceTwinLike, p: Params) -> Any:
    return {"dualSidePosition": twin.engine.account.hedge}


def _change_position_mode(twin: BinanceTwinLike, p: Params) -> Any:
    """POST /fapi/v1/positionSide/dual: ``dualSidePosition`` "true" (hedge) or "false" (one-way)."""
    raw = _mandatory(p, "dualSidePosition").lower()
    if raw not in ("true", "false"):
        raise BinanceError(-1130, "Data sent for parameter 'dualSidePosition' is not valid.")
    acct = twin.engine.account
    if (raw == "true") == acct.hedge:
        raise BinanceError(-4059, "No need to change position side.")
    if twin.engine.open_orders():
        raise BinanceError(-4067, "Position side cannot be changed if there exists open orders.")
    if any(pos.qty != 0 for pos in acct.positions.values()):
        raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
    acct.hedge = raw == "true"
    return {"code": 200, "msg": "success"}


def _commission(twin: BinanceTwinLike, p: Params) -> Any:
    sym = _symbol(twin, p)
    return {"symbol": sym, "makerCommissionRate": str(twin.engine.maker_fee), "takerCommissionRate": str(twin.engine.taker_fee)}


def _account_config(twin: BinanceTwinLike, p: Params) -> Any:
    """GET /fapi/v1/accountConfig (Futures Account Configuration, weight 5)."""
    cfg = twin.config
    return {"feeTier": 0, "canTrade": cfg.can_trade, "canDeposit": True, "canWithdraw": cfg.can_withdraw,
            "dualSidePosition": twin.engine.account.hedge, "updateTime": 0, "multiAssetsMargin": False,
            "tradeGroupId": -1}


def _symbol_config(twin: BinanceTwinLike, p: Params) -> Any:
    """GET /fapi/v1/symbolConfig (Symbol Configuration, weight 5): one row per symbol, or the one asked for."""
    sym = _symbol(twin, p, required=False)
    return [{"symbol": s, "marginType": twin.margin_types[s], "isAutoAddMargin": False, "leverage": twin.leverages[s],
             "maxNotionalValue": "10000000"} for s in ([sym] if sym else list(twin.specs))]


def _margin_type(twin: BinanceTwinLike, p: Params) -> Any:
    """POST /fapi/v1/marginType (Change Margin Type): ISOLATED or CROSSED; -4046 when unchanged."""
    sym = _symbol(twin, p)
    assert sym is not None
    raw = _mandatory(p, "marginType").upper()
    if raw not in ("ISOLATED", "CROSSED"):
        raise BinanceError(-1130, "Data sent for parameter 'marginType' is not valid.")
    if twin.margin_types[sym] == raw:
        raise BinanceError(-4046, "No need to change margin type.")
    twin.margin_types[sym] = raw
    return {"code": 200, "msg": "success"}


def _drift(twin: BinanceTwinLike, body: Any) -> Any:
    """UNKNOWN_FIELD: the answer with one undocumented field at the venue's level (the object, or each object row)."""
    fault = twin.faults.active(FaultKind.UNKNOWN_FIELD)
    if fault is None:
        return body
    extra = {str(fault.params.get("field", "x_new_field")): fault.params.get("value", 1)}
    if isinstance(body, dict):
        return {**body, **extra}
    if isinstance(body, list):
        return [{**row, **extra} if isinstance(row, dict) else row for row in body]
    return body


# -- plumbing --------------------------------------------------------------------------------------------------
def _wrap(twin: BinanceTwinLike, handler: Handler, weight: int | Callable[[Params], int], security: str,
          orders: int = 0) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def view(request: web.Request) -> web.Response:
        raw_query = request.raw_path.partition("?")[2]
        raw_body = await request.text() if request.can_read_body else ""
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        with_orders = orders > 0
        if with_orders:
            twin.received.add([params.get("newClientOrderId", "")], request)
        now = twin.now_ms()
        try:
            w = weight(params) if callable(weight) else weight
            twin.limits.charge(now, w, orders)
            if security in ("SIGNED", "USER_STREAM"):
                api_key = request.headers.get("X-MBX-APIKEY")
                check_api_key(twin.keys, api_key)
                if not twin.config.ip_allowed:  # the key's IP allow-list does not hold this caller
                    raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
                if security == "SIGNED":
                    verify_signed(twin.keys, api_key, params, raw_query, raw_body, now)
            body = handler(twin, params)
        except BinanceError as exc:
            headers = twin.limits.headers(with_orders) | exc.headers
            return web.json_response(_drift(twin, {"code": exc.code, "msg": exc.msg}), status=exc.status,
                                     headers=headers)
        except (ValueError, InvalidOperation):
            return web.json_response(_drift(twin, {"code": -1100, "msg": "Illegal characters found in a parameter."}),
                                     status=400, headers=twin.limits.headers(with_orders))
        return web.json_response(_drift(twin, body), headers=twin.limits.headers(with_orders))

    return view


def routes(twin: BinanceTwinLike) -> list[web.RouteDef]:
    """Every REST route of the twin."""
    s, n, u = "SIGNED", "NONE", "USER_STREAM"

    def both(path: str, handler: Handler, weight: int | Callable[[Params], int], sec: str, method: str = "GET") -> list[web.RouteDef]:
        view = _wrap(twin, handler, weight, sec)
        return [web.route(method, path, view)]

    def sym_weight(with_sym: int, without: int) -> Callable[[Params], int]:
        return lambda p: with_sym if p.get("symbol") else without

    def kline_weight(p: Params) -> int:
        limit = int(p.get("limit", "500") or 500)
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10

    table: list[web.RouteDef] = []
    table += both("/fapi/v1/ping", _ping, 1, n)
    table += both("/fapi/v1/time", _time, 1, n)
    table += both("/fapi/v1/exchangeInfo", _exchange_info, 1, n)
    table += both("/fapi/v1/depth", _depth, _depth_weight, n)
    table += both("/fapi/v1/trades", _trades, 5, n)
    table += both("/fapi/v1/aggTrades", _agg_trades, 20, n)
    table += both("/fapi/v1/klines", _klines, kline_weight, n)
    table += both("/fapi/v1/ticker/bookTicker", _book_ticker, sym_weight(2, 5), n)
    table += both("/fapi/v1/ticker/price", _price, sym_weight(1, 2), n)
    table += both("/fapi/v2/ticker/price", _price, sym_weight(1, 2), n)
    table += both("/fapi/v1/ticker/24hr", _ticker24, sym_weight(1, 40), n)
    table += both("/fapi/v1/premiumIndex", _premium, 1, n)
    table += both("/fapi/v1/leverageBracket", _leverage_bracket, 1, s)
    table += both("/fapi/v2/balance", _balance, 5, s)
    table += both("/fapi/v3/balance", _balance, 5, s)
    table += both("/fapi/v2/account", lambda t, p: _account(t, p, v3=False), 5, s)
    table += both("/fapi/v3/account", lambda t, p: _account(t, p, v3=True), 5, s)
    table += both("/fapi/v2/positionRisk", _position_risk_v2, 5, s)
    table += both("/fapi/v3/positionRisk", _position_risk_v3, 5, s)
    table += both("/fapi/v1/positionSide/dual", _position_mode, 30, s)
    table += both("/fapi/v1/positionSide/dual", _change_position_mode, 1, s, "POST")
    table += both("/fapi/v1/multiAssetsMargin", _const({"multiAssetsMargin": False}), 30, s)
    table += both("/fapi/v1/leverage", _leverage, 1, s, "POST")
    table += both("/fapi/v1/commissionRate", _commission, 20, s)
    table += both("/fapi/v1/accountConfig", _account_config, 5, s)
    table += both("/fapi/v1/symbolConfig", _symbol_config, 5, s)
    table += both("/fapi/v1/marginType", _margin_type, 1, s, "POST")
    table += [web.post("/fapi/v1/order", _wrap(twin, _new_order, 0, s, orders=1))]
    table += [web.get("/fapi/v1/order", _wrap(twin, _get_order, 1, s, orders=0))]
    table += [web.delete("/fapi/v1/order", _wrap(twin, _cancel_order, 1, s, orders=0))]
    table += both("/fapi/v1/openOrders", _open_orders, sym_weight(1, 40), s)
    table += both("/fapi/v1/allOpenOrders", _cancel_all, 1, s, "DELETE")
    table += both("/fapi/v1/countdownCancelAll", _countdown_cancel_all, 10, s, "POST")
    table += both("/fapi/v1/listenKey", _listen_key_post, 1, u, "POST")
    table += both("/fapi/v1/listenKey", _listen_key_put, 1, u, "PUT")
    table += both("/fapi/v1/listenKey", _listen_key_delete, 1, u, "DELETE")

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"code": -1000, "msg": f"Path {request.path} not served by the twin."}, status=404,
                                 headers=twin.limits.headers(False))

    table += [web.route("*", "/fapi/{tail:.*}", not_found)]
    return table
