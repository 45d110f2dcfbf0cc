"""OKX v5 REST endpoints (/api/v5/...) of the SWAP twin.

Invariants:
- Every reply is the envelope ``{"code": "<string>", "msg": ..., "data": [...]}``; success is code "0".
  Auth errors are HTTP 401 (501xx), rate limits HTTP 429 (50011), malformed requests HTTP 400 (5000x).
- Order endpoints (place / batch / cancel) answer HTTP 200 with a per-item ``sCode``/``sMsg``; the top-level
  code is "0" (all ok), "1" (all failed) or "2" (some failed); they also carry ``inTime``/``outTime`` (us).
- Private endpoints verify OK-ACCESS-* headers (okx_auth.verify_rest) before anything else; rate limits are
  counted per endpoint per API key (private, place/cancel also per instId) or per client IP (public).
- A placement (``trade/order``, each item of ``trade/batch-orders``) is counted in ``twin.received`` by its
  ``clOrdId`` before anything else, the signature included.
- Position side (OKX "Place order"): in net_mode ``posSide`` is absent or ``net``; in long_short_mode it is
  ``long`` or ``short`` and required, and ``reduceOnly`` does not apply (side + posSide say open or close:
  BUY long / SELL short open, SELL long / BUY short close). Anything else: 51000 "Parameter posSide error".
  POST /api/v5/account/set-position-mode switches the mode while no order or position is open (59000
  otherwise); GET /api/v5/account/config reports it as ``posMode``.
- GET /api/v5/market/books carries ``seqId``: the ``books`` channel's seqId of the book it shows.
- GET /api/v5/account/config reports the key's ``perm`` and bound ``ip`` (``OkxConfig.perm`` / ``key_ips``);
  GET /api/v5/account/leverage-info needs ``mgnMode`` and ``instId`` (51000 / 50014 / 51001 otherwise).
- ``OkxConfig.ip_allowed`` False: every signed request, once its signature checks, is refused with 50110
  (HTTP 401). UNKNOWN_FIELD: every answer's object rows in ``data`` carry the fault's extra field.
- POST /api/v5/trade/cancel-all-after is okx_caa.py's (its rate limit is counted per API key + ``tag``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulator import okx_format as fmt
from simulator.account import PositionSide
from simulator.book import Side
from simulator.matching import OrderRejected, OrderRequest, OrderType, RejectReason, TimeInForce, UnknownOrder
from simulator.okx_account import balance_data, position_rows
from simulator.okx_auth import OkxError, ip_not_allowed, verify_rest
from simulator.okx_caa import cancel_all_after
from simulator.order_entry import json_client_ids

if TYPE_CHECKING:
    from simulator.okx_config import OkxTwinLike

__all__ = ["routes"]

Params = dict[str, str]
_CL_ORD_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_ORD_TYPES: dict[str, tuple[OrderType, TimeInForce]] = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC), "post_only": (OrderType.LIMIT, TimeInForce.POST_ONLY),
    "fok": (OrderType.LIMIT, TimeInForce.FOK), "ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "market": (OrderType.MARKET, TimeInForce.IOC), "optimal_limit_ioc": (OrderType.MARKET, TimeInForce.IOC),
}
_REJECTS: dict[RejectReason, tuple[str, str]] = {
    RejectReason.DUPLICATE_CLIENT_ID: ("51016", "Client order ID already exists."),
    RejectReason.POST_ONLY_WOULD_TAKE: ("51000", "Parameter px error"),
    RejectReason.FOK_NOT_FILLABLE: ("51000", "Parameter sz error"),
    RejectReason.REDUCE_ONLY_REJECTED: ("51169", "Order failed because you don't have any positions in this direction for this contract to reduce or close."),
    RejectReason.INSUFFICIENT_MARGIN: ("51008", "Order failed. Insufficient {ccy} margin in account"),
    RejectReason.BAD_QTY: ("51121", "Order quantity must be a multiple of the lot size."),
    RejectReason.BAD_PRICE: ("51000", "Parameter px error"),
    RejectReason.UNKNOWN_SYMBOL: ("51001", "Instrument ID, Instrument ID code or Spread ID doesn't exist."),
    RejectReason.POSITION_SIDE_MISMATCH: ("51000", "Parameter posSide error"),
}
_POS_SIDES = {"": PositionSide.BOTH, "net": PositionSide.BOTH, "long": PositionSide.LONG, "short": PositionSide.SHORT}
# 51022 is the catalog's code for trading a contract that is not open ("Contract suspended."); the twin uses it
# for every state but live (suspend, preopen, test).
_NOT_LIVE = ("51022", "Contract suspended.")
_POS_MODE_BUSY = ("59000", "Your settings failed as you have positions or open orders.")


def _empty(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


def _inst(twin: OkxTwinLike, p: Params, required: bool = True) -> str | None:
    inst = p.get("instId", "")
    if not inst:
        if required:
            raise _empty("instId")
        return None
    if inst not in twin.specs:
        raise OkxError("51001", "Instrument ID, Instrument ID code or Spread ID doesn't exist.")
    return inst


def _limit(p: Params, default: int, cap: int) -> int:
    try:
        return max(1, min(cap, int(p.get("limit") or default)))
    except ValueError:
        raise OkxError("51000", "Parameter limit error", 400) from None


# -- public / market ---------------------------------------------------------------------------------------
def _time(twin: OkxTwinLike, p: Params) -> Any:
    return [{"ts": str(twin.now_ms())}]


def _instruments(twin: OkxTwinLike, p: Params) -> Any:
    inst_type = p.get("instType", "")
    if not inst_type:
        raise _empty("instType")
    if inst_type != "SWAP":
        return []
    rows = [fmt.instrument_json(spec, 125 if not spec.inverse else 100, twin.list_time_ms, twin.instrument_state(sym))
            for sym, spec in twin.specs.items()]
    for key in ("instId", "uly", "instFamily"):
        if p.get(key):
            rows = [r for r in rows if r[key] == p[key]]
    return rows


def _books(twin: OkxTwinLike, p: Params) -> Any:
    inst = _inst(twin, p)
    assert inst is not None
    sz = _limit({"limit": p.get("sz", "")}, 1, 400)
    mirror = twin.depth[inst].mirror
    return [{"asks": fmt.levels(mirror.asks(sz)), "bids": fmt.levels(mirror.bids(sz)), "ts": str(twin.now_ms()),
             "seqId": mirror.update_id}]


def _candles(cap: int) -> Callable[[OkxTwinLike, Params], Any]:
    def handler(twin: OkxTwinLike, p: Params) -> Any:
        inst = _inst(twin, p)
        assert inst is not None
        bar = p.get("bar") or "1m"
        if bar not in fmt.BARS:
            raise OkxError("51000", "Parameter bar error", 400)
        agg = twin.klines[inst][bar]
        rows = agg.history(limit=10_000)
        if p.get("after"):
            rows = [k for k in rows if k.open_time < int(p["after"])]
        if p.get("before"):
            rows = [k for k in rows if k.open_time > int(p["before"])]
        now, spec = twin.now_ms(), twin.specs[inst]
        newest = list(reversed(rows))[: _limit(p, 100, cap)]
        return [fmt.candle_row(spec, k, agg.is_closed(k, now)) for k in newest]

    return handler


def _trades(twin: OkxTwinLike, p: Params) -> Any:
    inst = _inst(twin, p)
    assert inst is not None
    rows = list(twin.trades[inst])[::-1][: _limit(p, 100, 500)]
    return [fmt.trade_row(twin.specs[inst], t, ts, push=False) for t, ts in rows]


def _ticker(twin: OkxTwinLike, p: Params) -> Any:
    inst = _inst(twin, p)
    assert inst is not None
    return [twin.ticker(inst, twin.now_ms())]


def _tickers(twin: OkxTwinLike, p: Params) -> Any:
    inst_type = p.get("instType", "")
    if not inst_type:
        raise _empty("instType")
    now = twin.now_ms()
    return [twin.ticker(s, now) for s in twin.specs] if inst_type == "SWAP" else []


# -- account -----------------------------------------------------------------------------------------------
def _balance(twin: OkxTwinLike, p: Params) -> Any:
    ccys = {c for c in p.get("ccy", "").split(",") if c}
    return [balance_data(twin, ccys or None)]


def _positions_view(twin: OkxTwinLike, p: Params) -> Any:
    inst_type = p.get("instType", "")
    if inst_type and inst_type != "SWAP":
        return []
    ids = {c for c in p.get("instId", "").split(",") if c}
    return position_rows(twin, ids or None)


def _config(twin: OkxTwinLike, p: Params) -> Any:
    uid = twin.config.uid
    return [{
        "acctLv": "2", "acctStpMode": "cancel_maker", "autoLoan": False, "ctIsoMode": "automatic",
        "enableSpotBorrow": False, "greeksType": "PA", "feeType": "0", "ip": twin.config.key_ips, "type": "0", "kycLv": "3", "label": "twin",
        "level": "Lv1", "levelTmp": "", "liquidationGear": "-1", "mainUid": uid, "mgnIsoMode": "automatic",
        "opAuth": "0", "perm": twin.config.perm, "posMode": fmt.POS_MODE[twin.engine.account.hedge], "roleType": "0", "spotBorrowAutoRepay": False,
        "spotOffsetType": "", "spotRoleType": "0", "spotTraderInsts": [], "traderInsts": [], "uid": uid,
        "settleCcy": "USDT", "settleCcyList": ["USDT"], "stgyType": "0",
    }]


def _set_position_mode(twin: OkxTwinLike, p: Params) -> Any:
    mode = p.get("posMode", "") if isinstance(p, dict) else ""
    if not mode:
        raise _empty("posMode")
    if mode not in fmt.POS_MODE.values():
        raise OkxError("51000", "Parameter posMode error")
    account = twin.engine.account
    hedge = mode == fmt.POS_MODE[True]
    if hedge != account.hedge:
        if twin.engine.open_orders() or any(pos.qty != 0 for pos in account.positions.values()):
            raise OkxError(*_POS_MODE_BUSY)
        account.hedge = hedge
    return [{"posMode": mode}]


def _set_leverage(twin: OkxTwinLike, p: Params) -> Any:
    try:
        lever = int(Decimal(p.get("lever", "")))
    except (InvalidOperation, ValueError):
        raise _empty("lever") from None
    if not 1 <= lever <= 125:
        raise OkxError("51000", "Parameter lever error")
    twin.engine.account.leverage = lever
    return [{"lever": str(lever), "mgnMode": p.get("mgnMode", "cross"), "instId": p.get("instId", ""), "posSide": "net"}]


def _leverage_info(twin: OkxTwinLike, p: Params) -> Any:
    """OKX "Get leverage": ``mgnMode`` required (cross / isolated), ``instId`` one or up to 20 comma-separated;
    one row per instrument in net_mode, a ``long`` and a ``short`` row each in long_short_mode."""
    mode = p.get("mgnMode", "")
    if not mode:
        raise _empty("mgnMode")
    if mode not in ("cross", "isolated"):
        raise OkxError("51000", "Parameter mgnMode error", 400)
    ids = [i for i in p.get("instId", "").split(",") if i]
    if not ids:
        raise _empty("instId")
    if len(ids) > 20:
        raise OkxError("51000", "Parameter instId error", 400)
    for i in ids:
        if i not in twin.specs:
            raise OkxError("51001", "Instrument ID, Instrument ID code or Spread ID doesn't exist.")
    sides = ("long", "short") if twin.engine.account.hedge else ("net",)
    lever = str(twin.engine.account.leverage)
    return [{"ccy": "", "instId": i, "mgnMode": mode, "posSide": side, "lever": lever} for i in ids for side in sides]


def _trade_fee(twin: OkxTwinLike, p: Params) -> Any:
    mk, tk = fmt.num(-twin.engine.maker_fee), fmt.num(-twin.engine.taker_fee)
    return [{"category": "1", "delivery": "", "exercise": "", "instType": p.get("instType", "SWAP"), "level": "Lv1",
             "maker": mk, "makerU": mk, "makerUSDC": mk, "taker": tk, "takerU": tk, "takerUSDC": tk,
             "ruleType": "normal", "ts": str(twin.now_ms()), "fiat": []}]


def _currencies(twin: OkxTwinLike, p: Params) -> Any:
    names = {"USDT": "Tether", "BTC": "Bitcoin", "ETH": "Ethereum"}
    ccys = sorted(set(twin.engine.account.balances) | {s.settle_asset for s in twin.specs.values()})
    return [{"canDep": True, "canInternal": True, "canWd": True, "ccy": c, "chain": f"{c}-{'ERC20' if c != 'BTC' else 'Bitcoin'}",
             "depQuotaFixed": "", "depQuoteDailyLayer2": "", "logoLink": "", "mainNet": c in ("BTC", "ETH"),
             "maxFee": "0.0005", "maxFeeForCtAddr": "", "maxWd": "1000000", "minDep": "0.00005", "minDepArrivalConfirm": "2",
             "minFee": "0.0002", "minFeeForCtAddr": "", "minWd": "0.0005", "minWdUnlockConfirm": "3",
             "name": names.get(c, c), "needTag": False, "usedDepQuotaFixed": "", "usedWdQuota": "0", "wdQuota": "10000000",
             "wdTickSz": "8"} for c in ccys]


# -- trade -------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _ItemError(Exception):
    code: str
    msg: str


def _place_one(twin: OkxTwinLike, item: Any, now: int) -> dict[str, Any]:
    """Place one order item; returns its per-item result (sCode "0" or the failure)."""
    if not isinstance(item, dict):
        item = {}
    cl = str(item.get("clOrdId") or "")
    tag = str(item.get("tag") or "")
    try:
        inst = str(item.get("instId") or "")
        if not inst:
            raise _ItemError("50014", "Parameter instId can not be empty.")
        if inst not in twin.specs:
            raise _ItemError(*_REJECTS[RejectReason.UNKNOWN_SYMBOL])
        spec = twin.specs[inst]
        td_mode = str(item.get("tdMode") or "")
        if not td_mode:
            raise _ItemError("50014", "Parameter tdMode can not be empty.")
        if td_mode not in ("cross", "isolated"):
            raise _ItemError("51000", "Parameter tdMode error")
        side = str(item.get("side") or "")
        if side not in ("buy", "sell"):
            raise _ItemError("51000", "Parameter side error")
        ord_type = str(item.get("ordType") or "")
        if ord_type not in _ORD_TYPES:
            raise _ItemError("51000", "Parameter ordType error")
        if inst and twin.instrument_state(inst) != "live":
            raise _ItemError(*_NOT_LIVE)
        position_side = _POS_SIDES.get(str(item.get("posSide") or ""))
        if position_side is None:
            raise _ItemError("51000", "Parameter posSide error")
        if cl and not _CL_ORD_ID.match(cl):
            raise _ItemError("51000", "Parameter clOrdId error")
        try:
            sz = Decimal(str(item.get("sz") or ""))
        except InvalidOperation:
            raise _ItemError("51000", "Parameter sz error") from None
        if sz <= 0:
            raise _ItemError("51000", "Parameter sz error")
        if sz % spec.lot != 0:
            raise _ItemError("51121", "Order quantity must be a multiple of the lot size.")
        otype, tif = _ORD_TYPES[ord_type]
        price: Decimal | None = None
        if otype is OrderType.LIMIT:
            if item.get("px") in (None, ""):
                raise _ItemError("51000", "Parameter px error")
            try:
                price = Decimal(str(item["px"]))
            except InvalidOperation:
                raise _ItemError("51000", "Parameter px error") from None
        # reduceOnly applies to net_mode only; in long_short_mode side + posSide say whether it closes.
        reduce_only = not twin.engine.account.hedge and str(item.get("reduceOnly", "false")).lower() == "true"
        engine_cl = cl or f"__okx{len(twin.engine.orders)}_{now}"
        req = OrderRequest(inst, Side.BUY if side == "buy" else Side.SELL, otype, sz, engine_cl, price, tif, reduce_only,
                           position_side)
        try:
            order = twin.engine.place(req, now)
        except OrderRejected as exc:
            code, msg = _REJECTS[exc.reason]
            raise _ItemError(code, msg.format(ccy=spec.settle_asset)) from None
        twin.order_meta[order.order_id] = fmt.OrderMeta(ord_type, td_mode, tag, cl)
    except _ItemError as err:
        return {"clOrdId": cl, "ordId": "", "tag": tag, "ts": str(now), "sCode": err.code, "sMsg": err.msg, "subCode": ""}
    return {"clOrdId": cl, "ordId": str(order.order_id), "tag": tag, "ts": str(now), "sCode": "0",
            "sMsg": "Order placed", "subCode": ""}


def _cancel_one(twin: OkxTwinLike, item: Any, now: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        item = {}
    inst, oid, cl = str(item.get("instId") or ""), str(item.get("ordId") or ""), str(item.get("clOrdId") or "")
    out = {"clOrdId": cl, "ordId": oid, "ts": str(now), "sCode": "0", "sMsg": ""}
    if not inst:
        return out | {"sCode": "50014", "sMsg": "Parameter instId can not be empty."}
    if inst not in twin.specs:
        return out | {"sCode": "51001", "sMsg": _REJECTS[RejectReason.UNKNOWN_SYMBOL][1]}
    if not oid and not cl:
        return out | {"sCode": "51003", "sMsg": "Either client order ID or order ID is required."}
    try:
        order = twin.engine.cancel(inst, now, int(oid) if oid.isdigit() else (-1 if oid else None), cl or None)
    except UnknownOrder:
        return out | {"sCode": "51400", "sMsg": "Order cancellation failed as the order has been filled, canceled or does not exist."}
    meta = twin.order_meta.get(order.order_id)
    return out | {"ordId": str(order.order_id), "clOrdId": meta.cl_ord_id if meta and meta.cl_ord_id is not None else order.client_id}


def _batch(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = sum(1 for r in results if r["sCode"] != "0")
    if failed == 0:
        return {"code": "0", "msg": "", "data": results}
    if failed == len(results):
        return {"code": "1", "msg": "All operations failed", "data": results}
    return {"code": "2", "msg": "Batch operation partially succeeded", "data": results}


def _each(twin: OkxTwinLike, one: Callable[[OkxTwinLike, Any, int], dict[str, Any]], items: list[Any]) -> Any:
    """``one`` on every item at one server time, as one batch answer; then the private pushes."""
    now = twin.now_ms()
    result = _batch([one(twin, it, now) for it in items])
    twin.flush_user_events()
    return result


def _items(body: Any) -> list[Any]:
    return body if isinstance(body, list) else [body]


def _place(twin: OkxTwinLike, body: Any) -> Any:
    return _each(twin, _place_one, [body])


def _place_batch(twin: OkxTwinLike, body: Any) -> Any:
    items = _items(body)
    if len(items) > 20:
        raise OkxError("50025", "Parameter orders count exceeds the limit 20.")
    return _each(twin, _place_one, items)


def _cancel(twin: OkxTwinLike, body: Any) -> Any:
    return _each(twin, _cancel_one, [body])


def _cancel_batch(twin: OkxTwinLike, body: Any) -> Any:
    return _each(twin, _cancel_one, _items(body))


def _get_order(twin: OkxTwinLike, p: Params) -> Any:
    inst = _inst(twin, p)
    assert inst is not None
    oid, cl = p.get("ordId", ""), p.get("clOrdId", "")
    if not oid and not cl:
        raise OkxError("51003", "Either client order ID or order ID is required.")
    try:
        order = twin.engine.get(inst, int(oid) if oid.isdigit() else (-1 if oid else None), cl or None)
    except UnknownOrder:
        raise OkxError("51603", "Order does not exist.") from None
    return [twin.order_json(order.order_id)]


def _filter_orders(twin: OkxTwinLike, p: Params, open_: bool) -> list[dict[str, Any]]:
    orders = [o for o in twin.engine.orders.values() if o.status.is_open == open_]
    if p.get("instType") and p["instType"] != "SWAP":
        return []
    if p.get("instId"):
        orders = [o for o in orders if o.symbol == p["instId"]]
    rows = [twin.order_json(o.order_id) for o in sorted(orders, key=lambda o: -o.order_id)]
    for key in ("ordType", "state"):
        if p.get(key):
            rows = [r for r in rows if r[key] == p[key]]
    if p.get("after"):
        rows = [r for r in rows if int(r["ordId"]) < int(p["after"])]
    if p.get("before"):
        rows = [r for r in rows if int(r["ordId"]) > int(p["before"])]
    return rows[: _limit(p, 100, 100)]


def _orders_pending(twin: OkxTwinLike, p: Params) -> Any:
    return _filter_orders(twin, p, True)


def _orders_history(twin: OkxTwinLike, p: Params) -> Any:
    if not p.get("instType"):
        raise _empty("instType")
    return _filter_orders(twin, p, False)


# -- plumbing ----------------------------------------------------------------------------------------------
def _envelope(code: str, msg: str, data: Any = None, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data if data is not None else []}, status=status)


def _view(twin: OkxTwinLike, endpoint: str, handler: Callable[[OkxTwinLike, Any], Any], *, private: bool, post: bool = False,
          scope_param: str = "", placement: bool = False) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A REST view; its rate limit is counted per API key (private) or IP (public), plus the value of
    ``scope_param`` (``instId``, ``tag``) when set."""

    async def view(request: web.Request) -> web.Response:
        in_us = twin.now_ms() * 1000
        body = await request.text() if post else ""
        if placement:  # counted first: before the signature, rate limit or validation
            twin.received.add(json_client_ids(body, "clOrdId"), request)
        now = twin.now_ms()
        try:
            scope = request.remote or "?"
            if private:
                cred = verify_rest(twin.keys, request.headers, request.method, request.raw_path, body, now,
                                   int(twin.config.timestamp_window_s * 1000))
                if not twin.config.ip_allowed:
                    raise ip_not_allowed(request.remote)
                scope = cred.api_key
            if post:
                if not body.strip():
                    raise OkxError("50000", "Body for POST request cannot be empty.", 400)
                try:
                    params: Any = json.loads(body)
                except json.JSONDecodeError:
                    raise OkxError("50002", "JSON syntax error", 400) from None
            else:
                params = dict(request.query)
            if scope_param and isinstance(params, dict):
                scope += "/" + str(params.get(scope_param, ""))
            twin.limits.charge(endpoint, scope, now)
            result = handler(twin, params)
        except OkxError as exc:
            return _envelope(exc.code, exc.msg, status=exc.status)
        except (ValueError, TypeError, InvalidOperation) as exc:
            return _envelope("50014", f"Parameter error: {exc}", status=400)
        if isinstance(result, dict) and "code" in result:  # order endpoints build their own envelope
            out_us = twin.now_ms() * 1000 + 1
            result = result | {"data": twin.drift_rows(result["data"])}
            return web.json_response(result | {"inTime": str(in_us), "outTime": str(out_us)})
        return _envelope("0", "", twin.drift_rows(result))

    return view


def routes(twin: OkxTwinLike) -> list[web.RouteDef]:
    """Every REST route of the twin."""
    def pub(path: str, handler: Callable[[OkxTwinLike, Any], Any]) -> web.RouteDef:
        return web.get(f"/api/v5/{path}", _view(twin, path, handler, private=False))

    def prv(path: str, handler: Callable[[OkxTwinLike, Any], Any], method: str = "GET", limit_key: str | None = None,
            per_inst: bool = False, scope_param: str = "") -> web.RouteDef:
        placement = method == "POST" and path in ("trade/order", "trade/batch-orders")
        view = _view(twin, limit_key or path, handler, private=True, post=method == "POST",
                     scope_param="instId" if per_inst else scope_param, placement=placement)
        return web.route(method, f"/api/v5/{path}", view)

    table = [
        pub("public/time", _time), pub("public/instruments", _instruments), pub("market/books", _books),
        pub("market/candles", _candles(300)), pub("market/history-candles", _candles(100)),
        pub("market/trades", _trades), pub("market/ticker", _ticker), pub("market/tickers", _tickers),
        prv("account/balance", _balance), prv("account/positions", _positions_view), prv("account/config", _config),
        prv("account/set-position-mode", _set_position_mode, "POST"), prv("account/set-leverage", _set_leverage, "POST"), prv("account/leverage-info", _leverage_info),
        prv("account/trade-fee", _trade_fee), prv("asset/currencies", _currencies),
        prv("trade/order", _place, "POST", per_inst=True), prv("trade/order", _get_order, limit_key="trade/order-get"),
        prv("trade/batch-orders", _place_batch, "POST"), prv("trade/cancel-order", _cancel, "POST", per_inst=True),
        prv("trade/cancel-batch-orders", _cancel_batch, "POST"), prv("trade/orders-pending", _orders_pending),
        prv("trade/orders-history", _orders_history),
        prv("trade/cancel-all-after", cancel_all_after, "POST", scope_param="tag"),
    ]

    async def not_found(request: web.Request) -> web.Response:
        return _envelope("50005", "API endpoint is inactive or unavailable.", status=404)

    return [*table, web.route("*", "/api/v5/{tail:.*}", not_found)]
