"""Binance USD-M JSON payload builders: the exact keys, JSON types and string-vs-number choices of the
venue (checked against shared/fixtures/wire/binance by the tests).

Invariants:
- Prices and quantities are strings printed with the symbol's precision (the tick / step exponent).
- Ids and timestamps are JSON numbers (ints); booleans are JSON booleans.
- Pure functions of their arguments: no clock, no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.book import Level, PublicTrade, Side
from simulator.instruments import InstrumentSpec
from simulator.klines import Kline
from simulator.matching import AccountEvent, Order, OrderEvent, TimeInForce

__all__ = [
    "px", "qty", "levels", "order_json", "cancel_json", "order_trade_update", "trade_lite", "account_update",
    "depth_event", "trade_json", "agg_trade_json", "kline_array", "kline_event", "symbol_info", "TIF_TO_BINANCE",
    "USER_EVENT_EXAMPLES", "user_event",
]

TIF_TO_BINANCE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK", TimeInForce.POST_ONLY: "GTX"}


def px(spec: InstrumentSpec, value: Decimal) -> str:
    """A price as Binance prints it (tick exponent)."""
    return str(value.quantize(spec.tick))


def qty(spec: InstrumentSpec, value: Decimal) -> str:
    """A quantity as Binance prints it (step exponent)."""
    return str(value.quantize(spec.lot))


def levels(spec: InstrumentSpec, rows: list[Level]) -> list[list[str]]:
    """``[[price, size], ...]`` string pairs."""
    return [[px(spec, p), qty(spec, s)] for p, s in rows]


def _avg(spec: InstrumentSpec, o: Order) -> str:
    return str(o.avg_price.quantize(Decimal("0.00001"))) if o.filled else "0.00000"


def _cum_quote(spec: InstrumentSpec, o: Order) -> str:
    return str((o.cum_quote * spec.contract_size).quantize(spec.tick * spec.lot)) if o.filled else "0"


def order_json(spec: InstrumentSpec, o: Order, *, with_time: bool) -> dict[str, Any]:
    """POST/GET /fapi/v1/order body (the New Order fixture's keys; GET adds ``time``)."""
    out: dict[str, Any] = {
        "clientOrderId": o.client_id,
        "cumQty": qty(spec, o.filled),
        "cumQuote": _cum_quote(spec, o),
        "executedQty": qty(spec, o.filled),
        "orderId": o.order_id,
        "avgPrice": _avg(spec, o),
        "origQty": qty(spec, o.qty),
        "price": px(spec, o.price) if o.price is not None else "0",
        "reduceOnly": o.reduce_only,
        "side": o.side.value,
        "positionSide": o.position_side.value,
        "status": o.status.value,
        "stopPrice": "0",
        "closePosition": False,
        "symbol": o.symbol,
        "timeInForce": TIF_TO_BINANCE[o.tif],
        "type": o.type.value,
        "origType": o.type.value,
        "updateTime": o.updated_ms,
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
    }
    if with_time:
        out["time"] = o.created_ms
        del out["cumQty"]
    return out


def cancel_json(spec: InstrumentSpec, o: Order) -> dict[str, Any]:
    """DELETE /fapi/v1/order body (the Cancel Order fixture's keys)."""
    out = order_json(spec, o, with_time=False)
    del out["avgPrice"]
    out["activatePrice"] = "0"  # trailing-stop fields: Binance's example carries them; "0" for other types
    out["priceRate"] = "0"
    return out


def order_trade_update(spec: InstrumentSpec, ev: OrderEvent, event_ms: int) -> dict[str, Any]:
    """User-data ``ORDER_TRADE_UPDATE`` with every field of the documented event."""
    o = ev.order
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": event_ms,
        "T": ev.ts_ms,
        "o": {
            "s": o.symbol, "c": o.client_id, "S": o.side.value, "o": o.type.value, "f": TIF_TO_BINANCE[o.tif],
            "q": qty(spec, o.qty), "p": px(spec, o.price) if o.price is not None else "0", "ap": _avg(spec, o),
            "sp": "0", "x": ev.exec_type.value, "X": o.status.value, "i": o.order_id,
            "l": qty(spec, ev.last_qty), "z": qty(spec, o.filled),
            "L": px(spec, ev.last_price) if ev.last_qty else "0",
            "N": ev.fee_asset or spec.settle_asset, "n": str(ev.fee.quantize(Decimal("0.00000001"))) if ev.fee else "0",
            "T": ev.ts_ms, "t": ev.trade_id, "b": "0", "a": "0", "m": ev.is_maker, "R": o.reduce_only,
            "wt": "CONTRACT_PRICE", "ot": o.type.value, "ps": o.position_side.value, "cp": False, "AP": "0", "cr": "0",
            "pP": False, "si": 0, "ss": 0, "rp": str(ev.realized_pnl.quantize(Decimal("0.00000001"))) if ev.realized_pnl else "0",
            "V": "NONE", "pm": "NONE", "gtd": 0, "er": "0",
        },
    }


def trade_lite(spec: InstrumentSpec, ev: OrderEvent, event_ms: int) -> dict[str, Any]:
    """User-data ``TRADE_LITE`` (2024-09-03 on): the fill fields of a TRADE, pushed ahead of its
    ORDER_TRADE_UPDATE."""
    o = ev.order
    return {"e": "TRADE_LITE", "E": event_ms, "T": ev.ts_ms, "s": o.symbol, "q": qty(spec, o.qty),
            "p": px(spec, o.price) if o.price is not None else "0", "m": ev.is_maker, "c": o.client_id,
            "S": o.side.value, "L": px(spec, ev.last_price), "l": qty(spec, ev.last_qty), "t": ev.trade_id,
            "i": o.order_id}


def account_update(spec: InstrumentSpec, ev: AccountEvent, event_ms: int) -> dict[str, Any]:
    """User-data ``ACCOUNT_UPDATE`` (reason ORDER) for the asset and position one fill touched."""
    e8 = Decimal("0.00000001")
    return {
        "e": "ACCOUNT_UPDATE",
        "E": event_ms,
        "T": ev.ts_ms,
        "a": {
            "m": "ORDER",
            "B": [{"a": ev.asset, "wb": str(ev.wallet_balance.quantize(e8)), "cw": str(ev.wallet_balance.quantize(e8)),
                   "bc": "0"}],
            "P": [{
                "s": ev.symbol, "pa": qty(spec, ev.position_qty), "ep": str(ev.entry_price.quantize(Decimal("0.00001"))),
                "bep": str(ev.entry_price.quantize(Decimal("0.00001"))), "cr": str(ev.realized_pnl.quantize(e8)),
                "up": str(ev.unrealized_pnl.quantize(e8)), "mt": "cross", "iw": "0", "ps": ev.position_side.value,
            }],
        },
    }


def depth_event(spec: InstrumentSpec, event_ms: int, first_id: int, final_id: int, prev_final: int,
                bids: list[Level], asks: list[Level]) -> dict[str, Any]:
    """``depthUpdate`` (diff or partial): e, E, T, s, U, u, pu, b, a."""
    return {"e": "depthUpdate", "E": event_ms, "T": event_ms - 1, "s": spec.symbol, "U": first_id, "u": final_id,
            "pu": prev_final, "b": levels(spec, bids), "a": levels(spec, asks)}


def trade_json(spec: InstrumentSpec, t: PublicTrade, ts: int) -> dict[str, Any]:
    """GET /fapi/v1/trades row."""
    return {"id": t.trade_id, "price": px(spec, t.price), "qty": qty(spec, t.qty),
            "quoteQty": str((t.price * t.qty * spec.contract_size).quantize(Decimal("0.01"))), "time": ts,
            "isBuyerMaker": t.taker_side is Side.SELL, "isRPITrade": False}


def agg_trade_json(spec: InstrumentSpec, t: PublicTrade, ts: int) -> dict[str, Any]:
    """GET /fapi/v1/aggTrades row (one aggregate per print)."""
    return {"a": t.trade_id, "p": px(spec, t.price), "q": qty(spec, t.qty), "f": t.trade_id, "l": t.trade_id,
            "T": ts, "m": t.taker_side is Side.SELL}


def kline_array(spec: InstrumentSpec, k: Kline) -> list[Any]:
    """GET /fapi/v1/klines row (12 entries, the last an ignored "0")."""
    return [k.open_time, px(spec, k.open), px(spec, k.high), px(spec, k.low), px(spec, k.close), qty(spec, k.volume),
            k.close_time, str(k.quote_volume.quantize(Decimal("0.00001"))), k.trades, qty(spec, k.taker_buy_volume),
            str(k.taker_buy_quote_volume.quantize(Decimal("0.00001"))), "0"]


def kline_event(spec: InstrumentSpec, k: Kline, interval: str, event_ms: int) -> dict[str, Any]:
    """``kline`` stream payload."""
    return {"e": "kline", "E": event_ms, "s": spec.symbol, "k": {
        "t": k.open_time, "T": k.close_time, "s": spec.symbol, "i": interval, "f": k.first_trade_id,
        "L": k.last_trade_id, "o": px(spec, k.open), "c": px(spec, k.close), "h": px(spec, k.high),
        "l": px(spec, k.low), "v": qty(spec, k.volume), "n": k.trades, "x": event_ms > k.close_time,
        "q": str(k.quote_volume.quantize(Decimal("0.00001"))), "V": qty(spec, k.taker_buy_volume),
        "Q": str(k.taker_buy_quote_volume.quantize(Decimal("0.00001"))), "B": "0"}}


def _precision(step: Decimal) -> int:
    return max(0, -step.as_tuple().exponent)  # type: ignore[operator]


def symbol_info(spec: InstrumentSpec, min_notional: Decimal, mid: Decimal) -> dict[str, Any]:
    """One ``exchangeInfo.symbols`` entry, shaped like the real capture."""
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": spec.underlying, "quoteAsset": spec.quote,
        "marginAsset": spec.settle_asset, "pricePrecision": _precision(spec.tick),
        "quantityPrecision": _precision(spec.lot), "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "filters": [
            {"minPrice": px(spec, spec.tick), "maxPrice": px(spec, (mid * 20).quantize(spec.tick)),
             "filterType": "PRICE_FILTER", "tickSize": str(spec.tick)},
            {"stepSize": str(spec.lot), "filterType": "LOT_SIZE", "maxQty": qty(spec, Decimal(1_000_000) / max(mid, Decimal(1)) * 100 + 1000),
             "minQty": qty(spec, spec.min_order_qty)},
            {"stepSize": str(spec.lot), "filterType": "MARKET_LOT_SIZE", "maxQty": qty(spec, Decimal(1_000_000) / max(mid, Decimal(1)) * 10 + 100),
             "minQty": qty(spec, spec.min_order_qty)},
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
            {"notional": str(min_notional), "filterType": "MIN_NOTIONAL"},
            {"multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }



# The documented example of each user-data event the twin can push on demand (USD-M docs, user-data-streams
# pages, read 2026-12): the payload of ``user_event`` before the caller's fields replace its own.
USER_EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "ALGO_UPDATE": {"e": "ALGO_UPDATE", "T": 1750515742297, "E": 1750515742303, "o": {
        "caid": "Q5xaq5EGKgXXa0fD7fs0Ip", "aid": 2148719, "at": "CONDITIONAL", "o": "TAKE_PROFIT", "s": "BNBUSDT",
        "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.01", "X": "CANCELED", "ai": "", "ap": "0.00000",
        "aq": "0.00000", "act": "0", "tp": "750", "p": "750", "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE",
        "pm": "NONE", "cp": False, "pP": False, "R": False, "tt": 0, "gtd": 0, "rm": "Reduce Only reject"}},
    "STRATEGY_UPDATE": {"e": "STRATEGY_UPDATE", "T": 1669261797627, "E": 1669261797628, "su": {
        "si": 176054594, "st": "GRID", "ss": "NEW", "s": "BTCUSDT", "ut": 1669261797627, "c": 8007}},
    "GRID_UPDATE": {"e": "GRID_UPDATE", "T": 1669262908216, "E": 1669262908218, "gu": {
        "si": 176057039, "st": "GRID", "ss": "WORKING", "s": "BTCUSDT", "r": "-0.00300716", "up": "16720",
        "uq": "-0.001", "uf": "-0.00300716", "mp": "0.0", "ut": 1669262908197}},
    "CONDITIONAL_ORDER_TRIGGER_REJECT": {"e": "CONDITIONAL_ORDER_TRIGGER_REJECT", "E": 1685517224945,
        "T": 1685517224955, "or": {"s": "ETHUSDT", "i": 155618472834, "r": "Due to the order could not be filled "
        "immediately, the FOK order has been rejected. The order will not be recorded in the order history"}},
    "MARGIN_CALL": {"e": "MARGIN_CALL", "E": 1587727187525, "cw": "3.16812045", "p": [{
        "s": "ETHUSDT", "ps": "LONG", "pa": "1.327", "mt": "CROSSED", "iw": "0", "mp": "187.17127",
        "up": "-1.166074", "mm": "1.614445"}]},
    "ACCOUNT_CONFIG_UPDATE": {"e": "ACCOUNT_CONFIG_UPDATE", "E": 1611646737479, "T": 1611646737476,
                              "ac": {"s": "BTCUSDT", "l": 25}},
    "TRADE_LITE": {"e": "TRADE_LITE", "E": 1721895408092, "T": 1721895408214, "s": "BTCUSDT", "q": "0.001",
                   "p": "0", "m": False, "c": "z8hcUoOsqEdKMeKPSABslD", "S": "BUY", "L": "64089.20",
                   "l": "0.040", "t": 109100866, "i": 8886774},
}


def user_event(name: str, event_ms: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A user-data event of type ``name``: the documented example with ``E`` (and ``T``) at ``event_ms`` and
    ``fields`` merged in (a dict value updates the example's object of that key, e.g. ``{"o": {"X": "NEW"}}``).

    Raises:
        KeyError: ``name`` is not one of ``USER_EVENT_EXAMPLES``.
    """
    example = USER_EVENT_EXAMPLES[name]
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in example.items()}
    out["E"] = event_ms
    if "T" in out:
        out["T"] = event_ms
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out
