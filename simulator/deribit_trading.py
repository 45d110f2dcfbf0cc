"""Deribit v2 private JSON-RPC methods: orders (buy/sell/edit/cancel*), order queries, account, positions.

Invariants:
- Handlers run only after the dispatcher authorised the call (token or signed header) and charged credits.
- Engine rejections map to Deribit's codes: not_enough_funds 10009, price_wrong_tick 10043, post_only_reject
  11054, non_unique_order_label 13032, amount not a multiple of the contract size -32602; unknown order ids
  are 10004 order_not_found and operations on closed orders 11044 not_open_order.
- Every state change is flushed to the private channels before the reply is built, so a client sees the
  ``user.orders`` update no later than the RPC response's effects.
- Book states (Deribit release of 2026-01-13): only an ``open`` book takes buy/sell/edit, and cancels are
  taken in ``open`` and ``locked`` too. Deribit's docs name no code per state; the twin answers the
  closest documented ones: 10041 settlement_in_progress in ``settlement``, 13019 orderbook_closed ("closed,
  expired order book") in ``delivered`` / ``archivized``, 10012 book_closed in the others.
- An order placed over a WebSocket records the connection it was created via (``twin.created_via``): that
  connection's cancel-on-disconnect covers it and nothing else (deribit_ws.py).
- ``private/edit`` amends the engine order in place (keeps its id, sets ``replaced``); a crossing new price
  fills at the order's own price on the spot (a simplification: the engine has no amend/taker path).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import deribit_format as fmt
from simulator.book import Side
from simulator.deribit_auth import DeribitError, rpc_error
from simulator.deribit_market import Call, Handler, p_bool, p_dec, p_inst, p_str
from simulator.matching import (
    Order,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
)

if TYPE_CHECKING:
    from simulator.deribit_config import DeribitTwinLike

__all__ = ["PRIVATE_METHODS"]

_REJECTS: dict[RejectReason, DeribitError] = {
    RejectReason.INSUFFICIENT_MARGIN: DeribitError(10009),
    RejectReason.BAD_PRICE: DeribitError(10043),
    RejectReason.POST_ONLY_WOULD_TAKE: DeribitError(11054),
    RejectReason.DUPLICATE_CLIENT_ID: DeribitError(13032),
    RejectReason.FOK_NOT_FILLABLE: DeribitError(11030, "other_reject fill_or_kill_not_filled"),
    RejectReason.REDUCE_ONLY_REJECTED: DeribitError(11030, "other_reject reduce_only"),
    RejectReason.BAD_QTY: DeribitError(-32602, data={"reason": "must be a multiple of contract size", "param": "amount"}),
    RejectReason.UNKNOWN_SYMBOL: DeribitError(-32602, data={"reason": "instrument not found", "param": "instrument_name"}),
}


def _amount(inst: fmt.DeribitInstrument, p: dict[str, Any]) -> Decimal:
    amount = p_dec(p, "amount", required=False)
    if amount is None:
        contracts = p_dec(p, "contracts", required=False)
        if contracts is None:
            raise rpc_error(-32602, "must be present", "amount")
        amount = contracts * inst.contract_size
    if amount <= 0:
        raise DeribitError(10021)
    if amount % inst.spec.lot != 0:
        raise rpc_error(-32602, "must be a multiple of contract size", "amount")
    if amount < inst.min_trade_amount:
        raise DeribitError(10002)
    return amount


def _price(inst: fmt.DeribitInstrument, p: dict[str, Any]) -> Decimal:
    price = p_dec(p, "price")
    assert price is not None
    if price <= 0:
        raise DeribitError(10023)
    if price % inst.spec.tick != 0:
        raise DeribitError(10043)
    return price


_STATE_ERRORS = {"settlement": 10041, "delivered": 13019, "archivized": 13019}


def _book_takes(twin: DeribitTwinLike, name: str, *, cancel: bool = False) -> None:
    """Raise the error of a book that does not take this request in its current state."""
    state = twin.book_states[name]
    if state == "open" or (cancel and state == "locked"):
        return
    raise DeribitError(_STATE_ERRORS.get(state, 10012))


def _open_label(twin: DeribitTwinLike, label: str) -> bool:
    return any(twin.labels.get(o.order_id) == label for o in twin.engine.open_orders())


def _place(twin: DeribitTwinLike, c: Call, side: Side) -> Any:
    p = c.params
    inst = p_inst(twin, p)
    _book_takes(twin, inst.name)
    amount = _amount(inst, p)
    kind = p_str(p, "type", "limit")
    if kind not in ("limit", "market"):
        raise DeribitError(11030, f"other_reject unsupported order type {kind}")
    label = str(p.get("label") or "")
    if len(label) > 64:
        raise rpc_error(-32602, "string too long", "label")
    if label and _open_label(twin, label):
        raise DeribitError(13032)
    tif_raw = p_str(p, "time_in_force", "good_til_cancelled")
    if tif_raw not in fmt.TIF_FROM_DERIBIT:
        raise rpc_error(-32602, "wrong format", "time_in_force")
    tif = fmt.TIF_FROM_DERIBIT[tif_raw]
    price: Decimal | None = None
    if kind == "limit":
        price = _price(inst, p)
        if p_bool(p, "post_only"):
            tif = TimeInForce.POST_ONLY
    elif tif is TimeInForce.GTC:
        tif = TimeInForce.IOC
    req = OrderRequest(inst.name, side, OrderType.LIMIT if kind == "limit" else OrderType.MARKET, amount,
                       twin.engine_client_id(label), price, tif, p_bool(p, "reduce_only"))
    try:
        order = twin.engine.place(req, twin.now_ms())
    except OrderRejected as exc:
        raise _REJECTS[exc.reason] from None
    twin.labels[order.order_id] = label
    if c.conn is not None:  # created via this WebSocket connection: its cancel-on-disconnect covers it
        twin.created_via[order.order_id] = c.conn.cid
    fills = twin.flush_user_events()
    return {"trades": fills.get(order.order_id, []), "order": twin.order_json(order, "buy")}


def _buy(twin: DeribitTwinLike, c: Call) -> Any:
    return _place(twin, c, Side.BUY)


def _sell(twin: DeribitTwinLike, c: Call) -> Any:
    return _place(twin, c, Side.SELL)


def _edit(twin: DeribitTwinLike, c: Call) -> Any:
    inst, order = twin.find_order(p_str(c.params, "order_id"))
    if not order.status.is_open:
        raise DeribitError(11044)
    _book_takes(twin, inst.name)
    amount = _amount(inst, c.params)
    if amount < order.filled:
        raise DeribitError(10021)
    if "price" in c.params and order.type is OrderType.LIMIT:
        order.price = _price(inst, c.params)
    now = twin.now_ms()
    order.qty = amount
    order.updated_ms = now
    if order.remaining == 0:
        order.status = OrderStatus.FILLED
    twin.replaced.add(order.order_id)
    twin.engine.on_market(inst.name, now)
    fills = twin.flush_user_events(now)
    if order.order_id not in fills:
        oj = twin.order_json(order, "stream")
        twin.hub.publish_private("user.orders", inst, "raw", oj, only_raw=True)
        twin.hub.publish_private("user.orders", inst, "100ms", [oj], only_raw=False)
    return {"trades": fills.get(order.order_id, []), "order": twin.order_json(order, "buy")}


def _cancel(twin: DeribitTwinLike, c: Call) -> Any:
    inst, order = twin.find_order(p_str(c.params, "order_id"))
    if not order.status.is_open:
        raise DeribitError(11044)
    _book_takes(twin, inst.name, cancel=True)
    twin.engine.cancel(inst.name, twin.now_ms(), order.order_id)
    twin.flush_user_events()
    return twin.order_json(order, "buy")


def _cancel_where(twin: DeribitTwinLike, keep: Any) -> int:
    now, n = twin.now_ms(), 0
    for o in twin.engine.open_orders():
        if keep(o):
            twin.engine.cancel(o.symbol, now, o.order_id)
            n += 1
    twin.flush_user_events()
    return n


def _currency_of(twin: DeribitTwinLike, c: Call, required: bool = True) -> str:
    cur = p_str(c.params, "currency", None if required else "any").upper()
    if cur != "ANY" and cur not in {i.currency for i in twin.instruments.values()}:
        raise rpc_error(-32602, "wrong format", "currency")
    return cur


def _in_currency(twin: DeribitTwinLike, o: Order, cur: str) -> bool:
    return cur == "ANY" or twin.instruments[o.symbol].currency == cur


def _cancel_all(twin: DeribitTwinLike, c: Call) -> Any:
    return _cancel_where(twin, lambda o: True)


def _cancel_all_by_instrument(twin: DeribitTwinLike, c: Call) -> Any:
    name = p_inst(twin, c.params).name
    return _cancel_where(twin, lambda o: o.symbol == name)


def _cancel_all_by_currency(twin: DeribitTwinLike, c: Call) -> Any:
    cur = _currency_of(twin, c)
    return _cancel_where(twin, lambda o: _in_currency(twin, o, cur))


def _cancel_by_label(twin: DeribitTwinLike, c: Call) -> Any:
    label = p_str(c.params, "label")
    return _cancel_where(twin, lambda o: twin.labels.get(o.order_id) == label)


def _order_state(twin: DeribitTwinLike, c: Call) -> Any:
    _, order = twin.find_order(p_str(c.params, "order_id"))
    return twin.order_json(order, "state")


def _order_state_by_label(twin: DeribitTwinLike, c: Call) -> Any:
    cur, label = _currency_of(twin, c), p_str(c.params, "label")
    return [twin.order_json(o, "state") for o in twin.engine.orders.values()
            if twin.labels.get(o.order_id) == label and _in_currency(twin, o, cur)]


def _type_filter(c: Call) -> Any:
    kind = p_str(c.params, "type", "all")
    if kind not in ("all", "limit", "market", "stop_all", "stop_limit", "stop_market", "take_all", "take_limit",
                    "take_market", "trailing_all", "trailing_stop", "trigger_all"):
        raise rpc_error(-32602, "wrong format", "type")
    return lambda o: kind == "all" or o.type.value.lower() == kind


def _open_by_instrument(twin: DeribitTwinLike, c: Call) -> Any:
    name, keep = p_inst(twin, c.params).name, _type_filter(c)
    return [twin.order_json(o, "state") for o in twin.engine.open_orders(name) if keep(o)]


def _open_by_currency(twin: DeribitTwinLike, c: Call) -> Any:
    cur, keep = _currency_of(twin, c), _type_filter(c)
    return [twin.order_json(o, "state") for o in twin.engine.open_orders() if _in_currency(twin, o, cur) and keep(o)]


def _open_orders(twin: DeribitTwinLike, c: Call) -> Any:
    keep = _type_filter(c)
    return [twin.order_json(o, "state") for o in twin.engine.open_orders() if keep(o)]


def _history_by_instrument(twin: DeribitTwinLike, c: Call) -> Any:
    name = p_inst(twin, c.params).name
    rows = [o for o in twin.engine.orders.values() if o.symbol == name and not o.status.is_open]
    return [twin.order_json(o, "state") for o in reversed(rows[-int(c.params.get("count", 20)):])]


def _summary(twin: DeribitTwinLike, currency: str, extended: bool) -> dict[str, Any]:
    out = twin.portfolio(currency)
    del out["additional_reserve"]
    if extended:
        out |= fmt.extended_fields(1, twin.account_created_ms, twin.config.maker_fee, twin.config.taker_fee)
    return out


def _account_summary(twin: DeribitTwinLike, c: Call) -> Any:
    cur = p_str(c.params, "currency").upper()
    if cur not in twin.engine.account.balances:
        raise rpc_error(-32602, "wrong format", "currency")
    return _summary(twin, cur, p_bool(c.params, "extended"))


def _account_summaries(twin: DeribitTwinLike, c: Call) -> Any:
    user = fmt.extended_fields(1, twin.account_created_ms, twin.config.maker_fee, twin.config.taker_fee)
    head = {k: user[k] for k in ("id", "email", "system_name", "username", "type", "creation_timestamp",
                                 "referrer_id", "login_enabled", "security_keys_enabled", "mmp_enabled",
                                 "interuser_transfers_enabled", "self_trading_reject_mode",
                                 "self_trading_extended_to_subaccounts", "block_rfq_self_match_prevention")}
    extended = p_bool(c.params, "extended")
    return head | {"summaries": [_summary(twin, cur, extended) for cur in sorted(twin.engine.account.balances)]}


def _positions(twin: DeribitTwinLike, c: Call) -> Any:
    cur = _currency_of(twin, c, required=False)
    kind = p_str(c.params, "kind", "future")
    if kind not in ("future", "option", "spot", "future_combo", "option_combo", "any"):
        raise rpc_error(-32602, "wrong format", "kind")
    if kind not in ("future", "any"):
        return []
    return [twin.position(pos.symbol, stream=False) for pos in twin.engine.account.positions.values()
            if pos.qty != 0 and (cur == "ANY" or twin.instruments[pos.symbol].currency == cur)]


def _position(twin: DeribitTwinLike, c: Call) -> Any:
    return twin.position(p_inst(twin, c.params).name, stream=False)


def _cod_scope(c: Call) -> str:
    scope = p_str(c.params, "scope", "connection")
    if scope not in ("connection", "account"):
        raise rpc_error(-32602, "wrong format", "scope")
    return scope


def _set_cod(enabled: bool) -> Handler:
    """``private/enable|disable_cancel_on_disconnect``: WebSocket only; scope ``connection`` (default) sets
    this connection, ``account`` this one and every connection opened from now on."""

    def handler(twin: DeribitTwinLike, c: Call) -> Any:
        if c.conn is None:
            raise DeribitError(10030, "must_be_websocket_request")
        if _cod_scope(c) == "account":
            twin.cod_account = enabled
        c.conn.cancel_on_disconnect = enabled
        return "ok"

    return handler


def _get_cod(twin: DeribitTwinLike, c: Call) -> Any:
    if _cod_scope(c) == "account":
        return {"scope": "account", "enabled": twin.cod_account}
    return {"scope": "connection", "enabled": bool(c.conn is not None and c.conn.cancel_on_disconnect)}


PRIVATE_METHODS: dict[str, Handler] = {
    "private/buy": _buy, "private/sell": _sell, "private/edit": _edit, "private/cancel": _cancel,
    "private/cancel_all": _cancel_all, "private/cancel_all_by_instrument": _cancel_all_by_instrument,
    "private/cancel_all_by_currency": _cancel_all_by_currency, "private/cancel_by_label": _cancel_by_label,
    "private/get_order_state": _order_state, "private/get_order_state_by_label": _order_state_by_label,
    "private/get_open_orders_by_instrument": _open_by_instrument,
    "private/get_open_orders_by_currency": _open_by_currency, "private/get_open_orders": _open_orders,
    "private/get_order_history_by_instrument": _history_by_instrument,
    "private/get_account_summary": _account_summary, "private/get_account_summaries": _account_summaries,
    "private/get_positions": _positions, "private/get_position": _position,
    "private/enable_cancel_on_disconnect": _set_cod(True), "private/disable_cancel_on_disconnect": _set_cod(False),
    "private/get_cancel_on_disconnect": _get_cod,
}
