"""Bybit v5 REST endpoints of the twin (market, account, position, order, and what ccxt calls on load).

Invariants:
- Every reply is the v5 envelope ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``; business errors
  are HTTP 200 with a non-zero ``retCode`` and ``result: {}``. Only the per-IP limit answers HTTP 403
  (plain text "access too frequent").
- Every response carries ``X-Bapi-Limit``, ``X-Bapi-Limit-Status``, ``X-Bapi-Limit-Reset-Timestamp`` (the
  per-UID endpoint bucket on private paths, the IP bucket on public ones) and ``Timenow``.
- Private requests are verified before the UID bucket is charged; the signed payload is the raw query
  string (GET) or the exact body text (POST).
- ``orderLinkId`` values are unique for the life of the account (110072 on any reuse), as on Bybit; it is
  optional, and any number of orders may go without one (their ``orderLinkId`` reads ``""``).
- A placement (``/v5/order/create``) is counted in ``twin.received`` by its ``orderLinkId`` before anything
  else (IP limit, signature, UID limit, validation).
- ``positionIdx`` (absent = 0) names the position an order moves: 0 in one-way mode, 1 long / 2 short in
  hedge mode; one that does not fit the symbol's mode is refused 10001 "position idx not match position
  mode". A closing order (reduce-only, or in hedge mode any order against its position's side) larger than
  the position is refused 110017.
- Lists (``/v5/order/realtime``, ``/v5/order/history``, ``/v5/position/list``) page with ``limit`` (orders
  1..50, default 20; positions 1..200, default 20) and an opaque ``cursor`` naming the last row sent
  (``nextPageCursor``, ``""`` after the last page); a linear list needs ``symbol``, ``settleCoin`` (or
  ``baseCoin``). Realtime lists open orders (``openOnly=0``, the default) or the recent closed ones
  (``openOnly=1``); by ``orderId`` / ``orderLinkId`` it finds either. History lists closed orders only (a
  unified account's open orders are not in it since 2024-02-05). Positions by symbol are listed whether
  open or not (both sides in hedge mode), by settle coin only those of size > 0.
- ``POST /v5/position/switch-mode`` (``mode`` 0 one-way, 3 hedge; ``symbol`` or ``coin``): 110025 when
  nothing changes, 110024 / 110028 with a position / an open order on a USDT perpetual, 110029 for USDC
  (one-way only); otherwise the account's USDT perpetuals switch (see bybit.py).
- ``ip_allowed=False`` (BybitConfig): every signed request is refused 10010 (HTTP 200), checked after the key and
  the signature. An UNKNOWN_FIELD fault adds its field to every success answer's ``result`` object.
- Disconnection protection (bybit_dcp.py): ``POST /v5/order/disconnected-cancel-all`` answers exactly the doc
  example ``{"retCode": 0, "retMsg": "success"}`` (no envelope fields), ``GET /v5/account/query-dcp-info``
  the usual envelope. Every REST request first fires DCP countdowns that are overdue (``twin.dcp_tick``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote

from aiohttp import web

from simulator import bybit_format as fmt
from simulator.account import PositionSide
from simulator.book import Side
from simulator.bybit_auth import UNMATCHED_IP, BybitError, IpLimited, verify_rest
from simulator.matching import (
    Order,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
    UnknownOrder,
)
from simulator.order_entry import json_client_ids

if TYPE_CHECKING:
    from simulator.bybit_config import BybitTwinLike

__all__ = ["routes"]

Params = dict[str, Any]
Handler = Callable[["BybitTwinLike", Params], Any]
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_REJECTS = {
    RejectReason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    RejectReason.REDUCE_ONLY_REJECTED: (110017, "Reduce-only rule not satisfied"),
    RejectReason.INSUFFICIENT_MARGIN: (110007, "ab not enough for new order"),
    RejectReason.BAD_QTY: (10001, "Qty invalid"),
    RejectReason.BAD_PRICE: (10001, "Price invalid"),
    RejectReason.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    RejectReason.POSITION_SIDE_MISMATCH: (10001, "position idx not match position mode"),
}
_KILLED = {RejectReason.POST_ONLY_WOULD_TAKE: "EC_PostOnlyWillTakeLiquidity", RejectReason.FOK_NOT_FILLABLE: "EC_NoImmediateQtyToFill"}


@dataclass(frozen=True, slots=True)
class _Bare:
    """A reply sent as it is, outside the v5 envelope (where the docs show no more than retCode / retMsg)."""

    body: dict[str, Any]


def _param(p: Params, name: str) -> str:
    value = p.get(name)
    if value is None or value == "":
        raise BybitError(10001, f"params error: {name} is required")
    return str(value)


def _category(p: Params) -> str:
    cat = _param(p, "category")
    if cat not in ("linear", "inverse", "spot", "option"):
        raise BybitError(10001, "params error: Category is invalid")
    return cat


def _linear(p: Params) -> None:
    if _category(p) != "linear":
        raise BybitError(10001, "params error: the twin serves category linear only")


def _symbol(twin: BybitTwinLike, p: Params, required: bool = True) -> str | None:
    sym = str(p.get("symbol") or "").upper()
    if not sym:
        if required:
            _param(p, "symbol")
        return None
    if sym not in twin.specs:
        raise BybitError(10001, "params error: symbol invalid")
    return sym


def _int(p: Params, name: str, default: int, lo: int, hi: int) -> int:
    raw = p.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {name} invalid") from None
    if not lo <= value <= hi:
        raise BybitError(10001, f"params error: {name} must be between {lo} and {hi}")
    return value


def _decimal(p: Params, name: str) -> Decimal:
    try:
        return Decimal(_param(p, name))
    except InvalidOperation:
        raise BybitError(10001, f"params error: {name} invalid") from None


# -- market ------------------------------------------------------------------------------------------------
def _time(twin: BybitTwinLike, p: Params) -> Any:
    now = twin.now_ms()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def _instruments(twin: BybitTwinLike, p: Params) -> Any:
    cat = _category(p)
    sym = str(p.get("symbol") or "").upper()
    status = p.get("status") or "Trading"
    rows = []
    if cat == "linear" and status == "Trading":
        rows = [fmt.instrument_json(spec, twin.min_notional[s], twin.launch_ms) for s, spec in twin.specs.items()
                if not sym or s == sym]
    out: dict[str, Any] = {"category": cat, "list": rows}
    return out if cat == "spot" else out | {"nextPageCursor": ""}


def _orderbook(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p)
    assert sym is not None
    limit = _int(p, "limit", 25, 1, 500)
    spec, st, now = twin.specs[sym], twin.state[sym], twin.now_ms()
    return {"s": sym, "a": fmt.levels(spec, st.mirror.asks(limit)), "b": fmt.levels(spec, st.mirror.bids(limit)),
            "ts": now, "u": st.mirror.update_id, "seq": st.seq, "cts": now - 1}


def _kline(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p)
    assert sym is not None
    interval = _param(p, "interval")
    aggs = twin.klines[sym]
    if interval not in aggs:
        raise BybitError(10001, "params error: Invalid period!")
    limit = _int(p, "limit", 200, 1, 1000)
    start = int(p["start"]) if p.get("start") else None
    end = int(p["end"]) if p.get("end") else None
    rows = aggs[interval].history(start, end, limit)
    return {"symbol": sym, "category": "linear", "list": [fmt.kline_row(twin.specs[sym], k) for k in reversed(rows)]}


def _recent_trade(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p)
    assert sym is not None
    limit = _int(p, "limit", 500, 1, 1000)
    rows = list(twin.trades[sym])[-limit:]
    return {"category": "linear", "list": [fmt.recent_trade_json(twin.specs[sym], t, ts, seq) for t, ts, seq in reversed(rows)]}


_TICKER_KEYS = (
    "symbol", "lastPrice", "indexPrice", "markPrice", "prevPrice24h", "price24hPcnt", "highPrice24h", "lowPrice24h",
    "prevPrice1h", "openInterest", "openInterestValue", "turnover24h", "volume24h", "fundingRate", "nextFundingTime",
    "predictedDeliveryPrice", "basisRate", "deliveryFeeRate", "deliveryTime", "ask1Size", "bid1Price", "ask1Price",
    "bid1Size", "basis", "preOpenPrice", "preQty", "curPreListingPhase", "fundingIntervalHour", "basisRateYear",
    "fundingCap",
)


def _tickers(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p, required=False)
    now = twin.now_ms()
    extra = {"predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0", "basis": "",
             "basisRateYear": ""}
    rows = [twin.ticker_fields(s, now) | extra for s in ([sym] if sym else list(twin.specs))]
    return {"category": "linear", "list": [{k: r[k] for k in _TICKER_KEYS} for r in rows]}


# -- account / position --------------------------------------------------------------------------------------
def _wallet(twin: BybitTwinLike, p: Params) -> Any:
    if _param(p, "accountType") != "UNIFIED":
        raise BybitError(10001, "accountType only support UNIFIED.")
    item = twin.wallet_item()
    coins = {c for c in str(p.get("coin") or "").split(",") if c}
    if coins:
        item["coin"] = [c for c in item["coin"] if c["coin"] in coins]
    return {"list": [item]}


def _positions(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p, required=False)
    settle = p.get("settleCoin")
    if sym is None and not settle and not p.get("baseCoin"):
        raise BybitError(10001, "params error: symbol or settleCoin is required")
    acct = twin.engine.account
    keys: list[tuple[str, PositionSide]] = []
    for s, spec in sorted(twin.specs.items()):
        if sym is not None and s != sym:
            continue
        if sym is None and ((settle and spec.settle_asset != settle) or
                            (p.get("baseCoin") and spec.underlying != p.get("baseCoin"))):
            continue
        for side in twin.position_sides(s):
            if sym is not None or acct.position(s, side).qty != 0:  # by coin: open positions only
                keys.append((s, side))
    limit = _limit(twin, p, 200)
    page, cursor = _page(keys, lambda k: f"{k[0]}:{fmt.POSITION_IDX[k[1]]}", limit, p, newest_first=False)
    rows = [twin.position_item(s, side, ws=False) for s, side in page]
    return {"list": rows, "nextPageCursor": cursor, "category": "linear"}


def _switch_mode(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p, required=False)
    coin = str(p.get("coin") or "")
    if sym is None and not coin:
        raise BybitError(10001, "params error: symbol or coin is required")
    mode = str(p.get("mode"))
    if mode not in ("0", "3"):
        raise BybitError(10001, "params error: mode invalid")
    hedge = mode == "3"
    usdc = (twin.specs[sym].settle_asset if sym is not None else coin) == "USDC"
    if usdc and hedge:
        raise BybitError(110029, "Hedge mode is not supported for this symbol.")
    acct = twin.engine.account
    if usdc or hedge == acct.hedge:
        raise BybitError(110025, "Position mode has not been modified.")
    switched = [s for s in twin.specs if twin.specs[s].settle_asset != "USDC"]
    if any(pos.qty != 0 for pos in acct.positions.values() if pos.symbol in switched):
        raise BybitError(110024, "You have an existing position, so the position mode cannot be switched.")
    if any(o.symbol in switched for o in twin.engine.open_orders()):
        raise BybitError(110028, "You have existing open orders, so the position mode cannot be switched.")
    acct.hedge = hedge
    return {}


def _set_leverage(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    _symbol(twin, p)
    lev = int(Decimal(_param(p, "buyLeverage")))
    if lev == twin.engine.account.leverage:
        raise BybitError(110043, "Set leverage has not been modified.")
    twin.engine.account.leverage = lev
    return {}


def _account_info(twin: BybitTwinLike, p: Params) -> Any:
    return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(twin.launch_ms), "unifiedMarginStatus": 6,
            "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False, "spotHedgingStatus": "OFF"}


def _query_api(twin: BybitTwinLike, p: Params) -> Any:
    return {"id": "13770661", "note": "twin", "apiKey": twin.credentials.api_key, "readOnly": 0, "secret": "",
            "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"],
                            "Options": ["OptionsTrade"], "Derivatives": ["DerivativesTrade"], "CopyTrading": [],
                            "BlockTrade": [], "Exchange": [], "NFT": []},
            "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "2024-01-01T00:00:00Z",
            "unified": 0, "uta": 1, "userID": 24600000, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
            "affiliateID": 0, "rsaPublicKey": "", "isMaster": True}


def _coin_info(twin: BybitTwinLike, p: Params) -> Any:
    coins = sorted({s.settle_asset for s in twin.specs.values()} | {s.underlying for s in twin.specs.values()})
    return {"rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": [
        {"chainType": c, "confirmation": "10", "withdrawFee": "0", "depositMin": "0", "withdrawMin": "0",
         "chain": c, "chainDeposit": "1", "chainWithdraw": "1", "minAccuracy": "8"}]} for c in coins]}


# -- orders ----------------------------------------------------------------------------------------------------
def _flag(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _create(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p)
    assert sym is not None
    spec = twin.specs[sym]
    side = _param(p, "side")
    if side not in ("Buy", "Sell"):
        raise BybitError(10001, "params error: side invalid")
    otype = _param(p, "orderType")
    if otype not in ("Market", "Limit"):
        raise BybitError(10001, "params error: orderType invalid")
    try:
        position_side = fmt.POSITION_SIDE[int(p.get("positionIdx") or 0)]
    except (TypeError, ValueError, KeyError):
        raise BybitError(10001, "params error: positionIdx invalid") from None
    qty = _decimal(p, "qty")
    if qty <= 0 or qty % spec.lot != 0:
        raise BybitError(10001, "Qty invalid")
    price: Decimal | None = None
    tif_map = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "PostOnly": TimeInForce.POST_ONLY}
    tif_raw = str(p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC"))
    if tif_raw not in tif_map:
        raise BybitError(10001, "params error: timeInForce invalid")
    if otype == "Limit":
        price = _decimal(p, "price")
        if price <= 0 or price % spec.tick != 0:
            raise BybitError(10001, "Price invalid")
    reduce_only = _flag(p.get("reduceOnly", False))
    link = str(p.get("orderLinkId") or "")
    if link and not _LINK_ID.match(link):
        raise BybitError(10001, "params error: orderLinkId invalid")
    if link and (sym, link) in twin.link_ids:
        raise BybitError(110072, "OrderLinkedID is duplicate")
    ref = price if price is not None else twin.engine.books[sym].mid()
    if not reduce_only and qty * ref * spec.contract_size < twin.min_notional[sym]:
        raise BybitError(110094, f"Order does not meet minimum order value {twin.min_notional[sym]}USDT")
    client_id = link or f"{fmt.NO_LINK}{twin.next_unlinked()}"  # the engine keys orders by client id
    req = OrderRequest(sym, Side.BUY if side == "Buy" else Side.SELL, OrderType.LIMIT if otype == "Limit" else OrderType.MARKET,
                       qty, client_id, price, tif_map[tif_raw] if otype == "Limit" else TimeInForce.IOC, reduce_only,
                       position_side)
    now = twin.now_ms()
    try:
        order = _place(twin, req, now)
    except OrderRejected as exc:
        if exc.reason in _KILLED:  # Bybit accepts, then cancels at once
            order = _killed(twin, req, now, _KILLED[exc.reason])
            return {"orderId": fmt.order_uuid(order.order_id), "orderLinkId": link}
        code, msg = _REJECTS[exc.reason]
        raise BybitError(code, msg) from None
    if link:
        twin.link_ids.add((sym, link))
    twin.flush_private()
    return {"orderId": fmt.order_uuid(order.order_id), "orderLinkId": link}


def _place(twin: BybitTwinLike, req: OrderRequest, now: int) -> Order:
    """The engine's placement in the symbol's own mode: the engine's mode is account-wide, but a USDC
    perpetual stays one-way while the USDT perpetuals are hedged (a placement never awaits, so the
    account's mode is set back before anything else runs)."""
    acct = twin.engine.account
    hedge = acct.hedge
    acct.hedge = twin.hedged(req.symbol)
    try:
        return twin.engine.place(req, now)
    finally:
        acct.hedge = hedge


def _killed(twin: BybitTwinLike, req: OrderRequest, now: int, reason: str) -> Order:
    oid = 9_000_000_000 + twin.extra_count
    twin.extra_count += 1
    order = Order(oid, req.client_id, req.symbol, req.side, req.type, req.tif, req.price, req.qty, req.reduce_only,
                  now, now, OrderStatus.EXPIRED, position_side=req.position_side)
    twin.extra_orders[oid] = (order, reason)
    twin.reject_reasons[oid] = reason
    while len(twin.extra_orders) > twin.engine.keep_orders:  # forgotten like the engine's final orders
        old = next(iter(twin.extra_orders))
        del twin.extra_orders[old]
        twin.reject_reasons.pop(old, None)
    if fmt.link_id(req.client_id):
        twin.link_ids.add((req.symbol, req.client_id))
    twin.publish_killed(replace(order), reason)
    return order


def _ids(p: Params) -> tuple[int | None, str | None]:
    oid_raw, link = p.get("orderId"), p.get("orderLinkId")
    if not oid_raw and not link:
        raise BybitError(10001, "params error: orderId or orderLinkId is required")
    oid = fmt.order_int(str(oid_raw)) if oid_raw else None
    if oid_raw and oid is None:
        raise BybitError(110001, "Order does not exist.")
    return oid, (str(link) if link else None)


def _cancel(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p)
    assert sym is not None
    oid, link = _ids(p)
    try:
        order = twin.engine.cancel(sym, twin.now_ms(), oid, link)
    except UnknownOrder:
        raise BybitError(110001, "Order does not exist.") from None
    twin.flush_private()
    return {"orderId": fmt.order_uuid(order.order_id), "orderLinkId": fmt.link_id(order.client_id)}


def _cancel_all(twin: BybitTwinLike, p: Params) -> Any:
    _linear(p)
    sym = _symbol(twin, p, required=False)
    if sym is None and not p.get("settleCoin") and not p.get("baseCoin"):
        raise BybitError(10001, "params error: symbol or settleCoin is required")
    now, done = twin.now_ms(), []
    for s in [sym] if sym else list(twin.specs):
        done += twin.engine.cancel_all(s, now)
    twin.flush_private()
    return {"list": [{"orderId": fmt.order_uuid(o.order_id), "orderLinkId": fmt.link_id(o.client_id)} for o in done],
            "success": "1"}


def _all_orders(twin: BybitTwinLike) -> list[tuple[Order, str]]:
    rows = [(o, twin.reject_reasons.get(o.order_id, "EC_NoError")) for o in twin.engine.orders.values()]
    return sorted(rows + list(twin.extra_orders.values()), key=lambda r: (r[0].created_ms, r[0].order_id), reverse=True)


def _select(twin: BybitTwinLike, p: Params, history: bool) -> Any:
    _linear(p)
    sym = _symbol(twin, p, required=False)
    oid_raw, link = p.get("orderId"), p.get("orderLinkId")
    settle, base = p.get("settleCoin"), p.get("baseCoin")
    if not history and sym is None and not oid_raw and not link and not settle and not base:
        raise BybitError(10001, "params error: symbol or settleCoin is required")
    oid = fmt.order_int(str(oid_raw)) if oid_raw else None
    by_id = bool(oid_raw or link)
    closed_only = str(p.get("openOnly", "0")) != "0"
    recent = set(twin.recent_closed)
    rows: list[tuple[Order, str]] = []
    for o, reason in _all_orders(twin):
        spec = twin.specs[o.symbol]
        if (sym and o.symbol != sym) or (oid_raw and o.order_id != oid) or (link and o.client_id != link):
            continue
        if (settle and spec.settle_asset != settle) or (base and spec.underlying != base):
            continue
        if history:
            if o.status.is_open:
                continue
        elif not o.status.is_open and o.order_id not in recent:
            continue  # realtime keeps only the recent closed orders, and none from before a restart
        elif not by_id and o.status.is_open == closed_only:
            continue
        rows.append((o, reason))
    page, cursor = _page(rows, lambda r: f"{fmt.order_uuid(r[0].order_id)}:{r[0].created_ms}", _limit(twin, p, 50), p,
                         newest_first=True)
    return {"list": [fmt.order_json(twin.specs[o.symbol], o, reason, twin.cancel_types.get(o.order_id, "CancelByUser"))
                     for o, reason in page],
            "nextPageCursor": cursor, "category": "linear"}


def _limit(twin: BybitTwinLike, p: Params, most: int) -> int:
    """A list request's page size: ``limit`` (1..``most``, default 20), capped by the twin's ``page_size``."""
    limit = _int(p, "limit", 20, 1, most)
    return min(limit, twin.config.page_size) if twin.config.page_size else limit


def _page(rows: list[Any], token: Callable[[Any], str], limit: int, p: Params, *,
          newest_first: bool) -> tuple[list[Any], str]:
    """One page of ``rows`` (in list order) after the row the request's ``cursor`` names, and the cursor of
    the next page (``""`` after the last). A cursor is ``page_args=<token of the last row sent>&``,
    percent-encoded as the venue sends it; rows are ordered by the token's key (an order's creation time
    then id, newest first; a position's symbol then index), so a page never depends on rows that came or
    went since the previous one.

    Raises:
        BybitError: 10001 for a cursor this twin did not issue.
    """
    raw = str(p.get("cursor") or "")
    if raw:
        last = parse_qs(unquote(raw)).get("page_args", [""])[0]
        if not last:
            raise BybitError(10001, "params error: cursor invalid")
        after = _sort_key(last, newest_first)
        rows = [r for r in rows if _sort_key(token(r), newest_first) > after]
    page = rows[:limit]
    more = len(rows) > limit
    return page, quote(f"page_args={token(page[-1])}&", safe="") if more else ""


def _sort_key(token: str, newest_first: bool) -> tuple[Any, ...]:
    """The list-order key of a row token: ``<order uuid>:<created ms>`` (later first) or ``<symbol>:<idx>``."""
    head, _, tail = token.rpartition(":")
    if newest_first:
        oid = fmt.order_int(head)
        if oid is None or not tail.isdigit():
            raise BybitError(10001, "params error: cursor invalid")
        return -int(tail), -oid
    if not tail.isdigit():
        raise BybitError(10001, "params error: cursor invalid")
    return head, int(tail)


# -- disconnection protection -------------------------------------------------------------------------------
def _set_dcp(twin: BybitTwinLike, p: Params) -> Any:
    twin.dcp.set_window(p, twin.now_ms())
    return _Bare({"retCode": 0, "retMsg": "success"})


def _dcp_info(twin: BybitTwinLike, p: Params) -> Any:
    return twin.dcp.info(twin.now_ms())


# -- plumbing --------------------------------------------------------------------------------------------------
def _wrap(twin: BybitTwinLike, handler: Handler, private: bool,
          placement: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        now = twin.now_ms()
        if placement:  # counted first: before the IP limit, signature, UID limit or validation
            twin.received.add(json_client_ids(await request.text(), "orderLinkId"), request)
        try:
            headers = twin.limits.charge_ip(now)
        except IpLimited:
            return web.Response(status=403, text="access too frequent", headers={"Timenow": str(now)})
        headers["Timenow"] = str(now)
        twin.dcp_tick(now)  # what a DCP countdown cancelled is gone before anything reads or trades
        try:
            if request.method == "GET":
                payload = request.raw_path.partition("?")[2]
                params: Params = dict(parse_qsl(payload, keep_blank_values=True))
            else:
                payload = await request.text()
                try:
                    body = json.loads(payload) if payload.strip() else {}
                except json.JSONDecodeError:
                    raise BybitError(10001, "params error: body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise BybitError(10001, "params error: body must be a JSON object")
                params = body
            if private:
                verify_rest(twin.keys, request.headers, payload, now)
                if not twin.config.ip_allowed:  # after the key and signature (Bybit documents no order)
                    raise BybitError(10010, UNMATCHED_IP)
                allowed, headers = twin.limits.charge_uid(request.path, now)
                headers["Timenow"] = str(now)
                if not allowed:
                    raise BybitError(10006, "Too many visits. Exceeded the API Rate Limit.")
            result = handler(twin, params)
        except BybitError as exc:
            return web.json_response(fmt.envelope({}, now, exc.code, exc.msg), status=exc.status, headers=headers)
        if isinstance(result, _Bare):
            return web.json_response(result.body, headers=headers)
        extra = twin.drift_field()
        if extra is not None:  # UNKNOWN_FIELD: where Bybit puts its own fields, the result object (or rows)
            result = fmt.with_field(result, *extra)
        return web.json_response(fmt.envelope(result, now), headers=headers)

    return view


def routes(twin: BybitTwinLike) -> list[web.RouteDef]:
    """Every REST route of the twin."""
    get_public: dict[str, Handler] = {
        "/v5/market/time": _time, "/v5/market/instruments-info": _instruments, "/v5/market/orderbook": _orderbook,
        "/v5/market/kline": _kline, "/v5/market/recent-trade": _recent_trade, "/v5/market/tickers": _tickers,
    }
    get_private: dict[str, Handler] = {
        "/v5/account/wallet-balance": _wallet, "/v5/position/list": _positions, "/v5/account/info": _account_info,
        "/v5/user/query-api": _query_api, "/v5/asset/coin/query-info": _coin_info,
        "/v5/order/realtime": lambda t, p: _select(t, p, history=False),
        "/v5/order/history": lambda t, p: _select(t, p, history=True),
        "/v5/account/query-dcp-info": _dcp_info,
    }
    post_private: dict[str, Handler] = {
        "/v5/order/create": _create, "/v5/order/cancel": _cancel, "/v5/order/cancel-all": _cancel_all,
        "/v5/position/set-leverage": _set_leverage, "/v5/position/switch-mode": _switch_mode,
        "/v5/order/disconnected-cancel-all": _set_dcp,
    }
    table = [web.get(path, _wrap(twin, h, False)) for path, h in get_public.items()]
    table += [web.get(path, _wrap(twin, h, True)) for path, h in get_private.items()]
    table += [web.post(path, _wrap(twin, h, True, placement=path == "/v5/order/create")) for path, h in post_private.items()]

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response(fmt.envelope({}, twin.now_ms(), 10017, f"Route {request.path} not found"), status=404)

    table.append(web.route("*", "/v5/{tail:(?!public/|private).*}", not_found))
    return table
