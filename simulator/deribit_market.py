"""Deribit v2 public JSON-RPC methods (market data, status, ``public/auth``) and shared parameter parsing.

Invariants:
- A handler is ``handler(twin, call) -> result``; it never sees the transport's framing. Parameters arrive as
  JSON values (WebSocket / POST) or strings (GET query), so every reader accepts both spellings.
- Missing or malformed parameters raise -32602 "Invalid params" with ``data.reason`` / ``data.param``;
  unknown instruments raise -32602 with reason "instrument not found".
- Books come from the published mirror, so ``get_order_book``'s ``change_id`` matches the book stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulator import deribit_format as fmt
from simulator.deribit_auth import DeribitError, Token, client_signature_payload, rpc_error, sign
from simulator.deribit_config import RESOLUTIONS

if TYPE_CHECKING:
    from simulator.deribit_config import DeribitTwinLike

__all__ = [
    "Call", "Handler", "PUBLIC_METHODS", "p_str", "p_dec", "p_bool", "p_int", "p_inst", "ticker_json",
    "quote_json", "index_json", "DEFAULT_SCOPE",
]

DEFAULT_SCOPE = "account:read_write trade:read_write wallet:read connection mainaccount"


@dataclass(slots=True)
class Call:
    """One JSON-RPC call as a handler sees it.

    Attributes:
        method: ``public/...`` or ``private/...``.
        params: Named parameters.
        transport: ``"http"`` or ``"ws"``.
        token: The token that authorised the call (private methods), if any.
        conn: The WebSocket connection (``deribit_ws``) for WS calls.
    """

    method: str
    params: dict[str, Any]
    transport: str
    token: Token | None = None
    conn: Any = None
    extra_frames: list[dict[str, Any]] = field(default_factory=list)


Handler = Callable[["DeribitTwinLike", Call], Any]


# -- parameter readers ---------------------------------------------------------------------------------------
def p_str(p: dict[str, Any], name: str, default: str | None = None) -> str:
    value = p.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise rpc_error(-32602, "must be present", name)
    return str(value)


def p_dec(p: dict[str, Any], name: str, required: bool = True) -> Decimal | None:
    value = p.get(name)
    if value is None or value == "":
        if required:
            raise rpc_error(-32602, "must be present", name)
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise rpc_error(-32602, "must be a number", name) from None
    if not out.is_finite():
        raise rpc_error(-32602, "must be a number", name)
    return out


def p_bool(p: dict[str, Any], name: str, default: bool = False) -> bool:
    value = p.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise rpc_error(-32602, "must be a boolean", name)


def p_int(p: dict[str, Any], name: str, default: int | None = None) -> int:
    value = p.get(name)
    if value is None or value == "":
        if default is None:
            raise rpc_error(-32602, "must be present", name)
        return default
    try:
        return int(str(value))
    except ValueError:
        raise rpc_error(-32602, "must be an integer", name) from None


def p_inst(twin: DeribitTwinLike, p: dict[str, Any], name: str = "instrument_name") -> fmt.DeribitInstrument:
    inst = twin.instruments.get(p_str(p, name))
    if inst is None:
        raise rpc_error(-32602, "instrument not found", name)
    return inst


# -- payload builders shared with the WebSocket hub ------------------------------------------------------------
def _stats(twin: DeribitTwinLike, name: str, now: int, with_usd: bool) -> dict[str, Any]:
    inst = twin.instruments[name]
    day = [(t, ts) for t, ts in twin.trades[name] if ts > now - 86_400_000]
    last = day[-1][0].price if day else None
    first = day[0][0].price if day else None
    vol = sum(((t.qty / t.price) if inst.inverse else t.qty for t, _ in day), Decimal(0))
    usd = sum((t.qty if inst.inverse else t.qty * t.price for t, _ in day), Decimal(0))
    out: dict[str, Any] = {
        "volume": round(float(vol), 8),
        "price_change": round(float((last - first) / first * 100), 4) if first and last else 0.0,
        "low": fmt.num(min((t.price for t, _ in day), default=Decimal(0))),
        "high": fmt.num(max((t.price for t, _ in day), default=Decimal(0))),
    }
    if with_usd:
        out["volume_usd"] = round(float(usd), 2)
    return out


def _last_price(twin: DeribitTwinLike, name: str) -> Decimal:
    trades = twin.trades[name]
    return trades[-1][0].price if trades else twin.mark(name).quantize(twin.specs[name].tick)


def _best(twin: DeribitTwinLike, name: str) -> tuple[float, float, float, float]:
    mirror = twin.depth[name].mirror
    bb, ba = mirror.bids(1), mirror.asks(1)
    return (fmt.num(bb[0][0]) if bb else 0.0, fmt.num(bb[0][1]) if bb else 0.0,
            fmt.num(ba[0][0]) if ba else 0.0, fmt.num(ba[0][1]) if ba else 0.0)


def _price_fields(twin: DeribitTwinLike, name: str) -> dict[str, Any]:
    mark = twin.mark(name)
    index = twin.index_price(name)
    return {"mark_price": round(float(mark), 4), "index_price": index,
            "min_price": fmt.num(twin.specs[name].price_down(float(mark) * 0.985)),
            "max_price": fmt.num(twin.specs[name].price_up(float(mark) * 1.015)), "settlement_price": index,
            "funding_8h": 2.2e-05, "current_funding": 0.0}


def ticker_json(twin: DeribitTwinLike, name: str, now: int) -> dict[str, Any]:
    """``public/ticker`` result and ``ticker.{instrument}.{interval}`` data."""
    bid, bid_amt, ask, ask_amt = _best(twin, name)
    pf = _price_fields(twin, name)
    open_interest = sum((abs(p.qty) for p in twin.engine.account.positions.values()), Decimal(0)) + Decimal(500_000_000)
    return {
        "best_ask_amount": ask_amt, "best_ask_price": ask, "best_bid_amount": bid_amt, "best_bid_price": bid,
        "current_funding": pf["current_funding"], "estimated_delivery_price": pf["index_price"],
        "funding_8h": pf["funding_8h"], "index_price": pf["index_price"], "instrument_name": name,
        "interest_value": 0.0, "last_price": fmt.num(_last_price(twin, name)), "mark_price": pf["mark_price"],
        "max_price": pf["max_price"], "min_price": pf["min_price"], "open_interest": fmt.num(open_interest),
        "settlement_price": pf["settlement_price"], "state": "open", "stats": _stats(twin, name, now, True),
        "timestamp": now,
    }


def quote_json(twin: DeribitTwinLike, name: str, now: int) -> dict[str, Any]:
    """``quote.{instrument}`` data (best bid/ask of the published book)."""
    bid, bid_amt, ask, ask_amt = _best(twin, name)
    return {"best_ask_amount": ask_amt, "best_ask_price": ask, "best_bid_amount": bid_amt,
            "best_bid_price": bid, "instrument_name": name, "timestamp": now}


def index_json(twin: DeribitTwinLike, index_name: str, now: int) -> dict[str, Any]:
    """``deribit_price_index.{index}`` data."""
    base = index_name.split("_")[0].upper()
    return {"timestamp": now, "price": round(twin.model.fair_price(base), 2), "index_name": index_name}


# -- handlers ------------------------------------------------------------------------------------------------
def _get_time(twin: DeribitTwinLike, c: Call) -> Any:
    return twin.now_ms()


def _version(twin: DeribitTwinLike, c: Call) -> Any:
    return {"version": twin.config.api_version}


def _status(twin: DeribitTwinLike, c: Call) -> Any:
    return {"locked_currencies": [], "locked": False}


def _currencies_of(twin: DeribitTwinLike) -> list[str]:
    return sorted({i.currency for i in twin.instruments.values()} | {i.settle for i in twin.instruments.values()})


def _get_currencies(twin: DeribitTwinLike, c: Call) -> Any:
    return [fmt.currency_json(cur) for cur in _currencies_of(twin)]


def _get_instruments(twin: DeribitTwinLike, c: Call) -> Any:
    currency = p_str(c.params, "currency", "any").upper()
    kind = p_str(c.params, "kind", "any")
    if currency != "ANY" and currency not in _currencies_of(twin):
        raise rpc_error(-32602, "wrong format", "currency")
    if kind not in ("any", "future", "option", "spot", "future_combo", "option_combo"):
        raise rpc_error(-32602, "wrong format", "kind")
    if p_bool(c.params, "expired") or kind not in ("any", "future"):
        return []
    cfg = twin.config
    return [fmt.instrument_json(i, cfg.maker_fee, cfg.taker_fee, twin.book_states[i.name])
            for i in twin.instruments.values() if currency == "ANY" or i.currency == currency]


def _get_instrument(twin: DeribitTwinLike, c: Call) -> Any:
    inst = p_inst(twin, c.params)
    return fmt.instrument_json(inst, twin.config.maker_fee, twin.config.taker_fee, twin.book_states[inst.name])


_DEPTHS = (1, 5, 10, 20, 50, 100, 1000, 10000)


def _get_order_book(twin: DeribitTwinLike, c: Call) -> Any:
    inst = p_inst(twin, c.params)
    depth = p_int(c.params, "depth", 20)
    if depth not in _DEPTHS:
        raise rpc_error(-32602, f"must be one of {', '.join(map(str, _DEPTHS))}", "depth")
    name, now = inst.name, twin.now_ms()
    mirror = twin.depth[name].mirror
    bid, bid_amt, ask, ask_amt = _best(twin, name)
    pf = _price_fields(twin, name)
    return {
        "timestamp": now, "stats": _stats(twin, name, now, False), "state": twin.book_states[name],
        "settlement_price": pf["settlement_price"], "open_interest": ticker_json(twin, name, now)["open_interest"],
        "min_price": pf["min_price"], "max_price": pf["max_price"], "mark_price": pf["mark_price"],
        "last_price": fmt.num(_last_price(twin, name)), "instrument_name": name, "index_price": pf["index_price"],
        "funding_8h": pf["funding_8h"], "current_funding": pf["current_funding"], "change_id": mirror.update_id,
        "bids": fmt.book_levels(mirror.bids(depth)), "best_bid_price": bid, "best_bid_amount": bid_amt,
        "best_ask_price": ask, "best_ask_amount": ask_amt, "asks": fmt.book_levels(mirror.asks(depth)),
    }


def _ticker(twin: DeribitTwinLike, c: Call) -> Any:
    return ticker_json(twin, p_inst(twin, c.params).name, twin.now_ms())


def _last_trades(twin: DeribitTwinLike, c: Call) -> Any:
    inst = p_inst(twin, c.params)
    count = max(1, min(1000, p_int(c.params, "count", 10)))
    sorting = p_str(c.params, "sorting", "desc")
    start, end = c.params.get("start_timestamp"), c.params.get("end_timestamp")
    rows = [(t, ts) for t, ts in twin.trades[inst.name]
            if (start is None or ts >= int(start)) and (end is None or ts <= int(end))]
    mark, index = twin.mark(inst.name), twin.index_price(inst.name)
    picked = rows[-count:] if sorting != "asc" else rows[:count]
    if sorting != "asc":
        picked = picked[::-1]
    trades = [fmt.public_trade_json(inst, trade_id=t.trade_id, ts=ts, tick_direction=0 if i == 0 else 1,
                                    price=t.price, amount=t.qty, taker=t.taker_side, mark=mark, index=index, rest=True)
              for i, (t, ts) in enumerate(picked)]
    return {"trades": trades, "has_more": len(rows) > count}


def _chart(twin: DeribitTwinLike, c: Call) -> Any:
    inst = p_inst(twin, c.params)
    start, end = p_int(c.params, "start_timestamp"), p_int(c.params, "end_timestamp")
    resolution = p_str(c.params, "resolution")
    if resolution not in RESOLUTIONS:
        raise rpc_error(-32602, "wrong format", "resolution")
    rows = twin.klines[inst.name][resolution].history(start, end, 5000)
    return {
        "volume": [round(float(k.volume), 8) for k in rows], "cost": [round(float(k.quote_volume), 2) for k in rows],
        "ticks": [k.open_time for k in rows], "status": "ok" if rows else "no_data",
        "open": [fmt.num(k.open) for k in rows], "low": [fmt.num(k.low) for k in rows],
        "high": [fmt.num(k.high) for k in rows], "close": [fmt.num(k.close) for k in rows],
    }


def _index_price(twin: DeribitTwinLike, c: Call) -> Any:
    name = p_str(c.params, "index_name")
    if name not in {i.price_index for i in twin.instruments.values()}:
        raise rpc_error(-32602, "wrong format", "index_name")
    price = index_json(twin, name, twin.now_ms())["price"]
    return {"index_price": price, "estimated_delivery_price": price}


def _auth(twin: DeribitTwinLike, c: Call) -> Any:
    p, now = c.params, twin.now_ms()
    grant = p_str(p, "grant_type")
    scope = str(p.get("scope") or DEFAULT_SCOPE)
    if grant == "refresh_token":
        token = twin.tokens.refresh(p_str(p, "refresh_token"), now)
        if token is None:
            raise DeribitError(13009)
    elif grant in ("client_credentials", "client_signature"):
        cred = twin.keys.get(p_str(p, "client_id"))
        if cred is None:
            raise DeribitError(13004)
        if grant == "client_credentials":
            if p_str(p, "client_secret") != cred.secret:
                raise DeribitError(13004)
        else:
            ts = p_int(p, "timestamp")
            if abs(now - ts) > twin.config.signature_window_ms:
                raise rpc_error(13004, "invalid timestamp")
            payload = client_signature_payload(ts, p_str(p, "nonce"), str(p.get("data") or ""))
            if p_str(p, "signature").lower() != sign(cred.secret, payload):
                raise DeribitError(13004)
        token = twin.tokens.issue(cred.api_key, scope, now)
    else:
        raise rpc_error(-32602, "wrong format", "grant_type")
    if c.conn is not None:
        c.conn.token = token.access
    return {"access_token": token.access, "expires_in": twin.tokens.ttl_s, "refresh_token": token.refresh,
            "scope": token.scope, "enabled_features": [], "token_type": "bearer"}


PUBLIC_METHODS: dict[str, Handler] = {
    "public/get_time": _get_time, "public/test": _version, "public/hello": _version, "public/status": _status,
    "public/get_currencies": _get_currencies, "public/get_instruments": _get_instruments,
    "public/get_instrument": _get_instrument, "public/get_order_book": _get_order_book, "public/ticker": _ticker,
    "public/get_last_trades_by_instrument": _last_trades, "public/get_tradingview_chart_data": _chart,
    "public/get_index_price": _index_price, "public/auth": _auth,
}
