"""Binance USD-M REST: request specs (already signed) and response parsing.

Rules:
- Builders return RequestSpecs; nothing here sends them. Signed builders take ``now_ms`` (epoch ms, already
  corrected by the caller's server-time offset) and Credentials.
- ``weight`` is the IP request weight (developers.binance.com USD-M per-endpoint "Request Weight");
  ``endpoint`` names the bucket. ``endpoint="order"`` requests also count 1 against the account's order
  limits (X-MBX-ORDER-COUNT-10S / -1M) and weigh 0 on the IP limit. Placement is never idempotent.
- GET and DELETE carry their parameters in the query string, POST and PUT in a form body.
- Position side (USD-M "New Order"): in one-way mode ``positionSide`` is left out (BOTH) and a close is
  ``reduceOnly=true``; in hedge mode every order names its side and ``reduceOnly`` must not be sent (the
  venue answers -1106 "Parameter 'reduceOnly' sent when not required"): an opening BUY is LONG, an opening
  SELL SHORT, and a close is the opposite side on the position it closes (a reduce-only SELL closes LONG,
  a reduce-only BUY closes SHORT). A side that does not match the account's mode is -4061.
- Dead-man's switch (USD-M "Auto-Cancel All Open Orders"): ``POST /fapi/v1/countdownCancelAll`` (weight 10)
  sets one countdown per symbol; unless called again within ``countdownTime`` ms, the venue cancels every
  open order of that symbol. Each call replaces the running countdown, so it is called again as a
  heartbeat; ``countdownTime=0`` stops it. The answer echoes ``symbol`` and ``countdownTime`` (a string).
- Response parsing and the typed error mapping live in responses.py and are re-exported here, so
  ``rest.parse_order(...)`` / ``rest.raise_for_error(...)`` read next to the builders.
"""

from __future__ import annotations

from decimal import Decimal

from messages.account import PositionMode
from messages.base import ClientOrderId, OrderType, Side, TimeInForce, Venue, VenueOrderId
from messages.instruments import Instrument
from messages.orders import PlaceOrder
from venues import Credentials
from venues.binance import codes
from venues.binance.responses import (
    Resolve,
    order_rejected,
    parse_account_config,
    parse_balances,
    parse_countdown,
    parse_depth,
    parse_instruments,
    parse_klines,
    parse_listen_key,
    parse_order,
    parse_orders,
    parse_position_mode,
    parse_positions,
    parse_server_time,
    parse_symbol_config,
    parse_trades,
    raise_for_error,
)
from venues.binance.signing import DEFAULT_RECV_WINDOW_MS, api_key_request, encode_params, signed_request
from venues.errors import ConfigError, InvalidOrder
from venues.http import Method, RequestSpec
from venues.symbols import check_order_size

__all__ = [
    "DEPTH_LIMITS",
    "Resolve",
    "server_time",
    "exchange_info",
    "depth",
    "klines",
    "recent_trades",
    "balances",
    "positions",
    "position_mode",
    "position_side",
    "place_order",
    "cancel_order",
    "query_order",
    "open_orders",
    "create_listen_key",
    "keepalive_listen_key",
    "close_listen_key",
    "countdown_cancel_all",
    "account_config",
    "symbol_config",
    "raise_for_error",
    "parse_server_time",
    "parse_instruments",
    "parse_depth",
    "parse_klines",
    "parse_trades",
    "parse_balances",
    "parse_positions",
    "parse_order",
    "parse_orders",
    "parse_listen_key",
    "parse_position_mode",
    "parse_countdown",
    "parse_account_config",
    "parse_symbol_config",
    "order_rejected",
]

# limit -> IP weight of GET /fapi/v1/depth
DEPTH_LIMITS: dict[int, int] = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
_KLINE_MAX = 1500
_RECENT_TRADES_MAX = 1000


def _public(path: str, query: list[tuple[str, str]], weight: int, endpoint: str) -> RequestSpec:
    return RequestSpec(
        method=Method.GET, path=path, query=encode_params(query), weight=weight, endpoint=endpoint
    )


# -- public market data ------------------------------------------------------------------------------------
def server_time() -> RequestSpec:
    """GET /fapi/v1/time (weight 1): the caller derives its clock offset from ``serverTime``."""
    return _public("/fapi/v1/time", [], 1, "time")


def exchange_info() -> RequestSpec:
    """GET /fapi/v1/exchangeInfo (weight 1): symbols, filters and rate limits."""
    return _public("/fapi/v1/exchangeInfo", [], 1, "exchangeInfo")


def depth(symbol: str, limit: int = 1000) -> RequestSpec:
    """GET /fapi/v1/depth, the book snapshot for the sync procedure.

    Args:
        symbol: Venue symbol, e.g. ``BTCUSDT``.
        limit: One of 5, 10, 20, 50, 100, 500, 1000 (weight 2/2/2/2/5/10/20).

    Raises:
        ConfigError: ``limit`` is not one the venue accepts.
    """
    weight = DEPTH_LIMITS.get(limit)
    if weight is None:
        msg = f"binance depth limit must be one of {sorted(DEPTH_LIMITS)}, got {limit}"
        raise ConfigError(msg)
    return _public("/fapi/v1/depth", [("symbol", symbol), ("limit", str(limit))], weight, "depth")


def klines(symbol: str, interval: str, limit: int = 500) -> RequestSpec:
    """GET /fapi/v1/klines; weight 1 (<100), 2 (<500), 5 (<=1000), 10 (>1000).

    Raises:
        ConfigError: ``limit`` outside 1..1500.
    """
    if not 1 <= limit <= _KLINE_MAX:
        msg = f"binance klines limit must be within 1..{_KLINE_MAX}, got {limit}"
        raise ConfigError(msg)
    weight = 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    query = [("symbol", symbol), ("interval", interval), ("limit", str(limit))]
    return _public("/fapi/v1/klines", query, weight, "klines")


def recent_trades(symbol: str, limit: int = 500) -> RequestSpec:
    """GET /fapi/v1/trades (weight 5).

    Raises:
        ConfigError: ``limit`` outside 1..1000.
    """
    if not 1 <= limit <= _RECENT_TRADES_MAX:
        msg = f"binance recent trades limit must be within 1..{_RECENT_TRADES_MAX}, got {limit}"
        raise ConfigError(msg)
    return _public("/fapi/v1/trades", [("symbol", symbol), ("limit", str(limit))], 5, "trades")


# -- account and orders (signed) ---------------------------------------------------------------------------
def balances(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """GET /fapi/v3/balance (weight 5)."""
    return signed_request(
        Method.GET,
        "/fapi/v3/balance",
        creds,
        now_ms,
        recv_window_ms=recv_window_ms,
        weight=5,
        endpoint="balance",
    )


def positions(
    creds: Credentials, now_ms: int, symbol: str | None = None, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
) -> RequestSpec:
    """GET /fapi/v3/positionRisk (weight 5), for one symbol or all."""
    query = [("symbol", symbol)] if symbol else []
    return signed_request(
        Method.GET,
        "/fapi/v3/positionRisk",
        creds,
        now_ms,
        query=query,
        recv_window_ms=recv_window_ms,
        weight=5,
        endpoint="positionRisk",
    )


def position_mode(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """GET /fapi/v1/positionSide/dual (weight 30): the account's position mode (``dualSidePosition``)."""
    return signed_request(
        Method.GET,
        "/fapi/v1/positionSide/dual",
        creds,
        now_ms,
        recv_window_ms=recv_window_ms,
        weight=30,
        endpoint="positionSideDual",
    )


def position_side(side: Side, reduce_only: bool, mode: PositionMode) -> str | None:
    """The ``positionSide`` an order carries: None (BOTH, left out) in one-way mode; in hedge mode LONG for
    an opening BUY or a closing SELL, SHORT for an opening SELL or a closing BUY."""
    if mode is PositionMode.ONE_WAY:
        return None
    return "LONG" if (side is Side.BUY) != reduce_only else "SHORT"


def _fmt(value: Decimal) -> str:
    """Plain decimal notation without exponent or trailing zeros (``1E+1`` -> ``10``, ``0.0100`` -> ``0.01``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def place_order(
    order: PlaceOrder,
    inst: Instrument,
    creds: Credentials,
    now_ms: int,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
    *,
    mode: PositionMode = PositionMode.ONE_WAY,
) -> RequestSpec:
    """POST /fapi/v1/order for a limit or market order (GTC/IOC/FOK, post-only = GTX, reduce-only).

    The response type is RESULT, so the answer carries the order's final state for IOC/FOK/market. The
    position side follows the account's mode (see ``position_side`` and the module rules).

    Args:
        order: The order; quantity in the venue unit (base asset), price on the tick.
        inst: The instrument, for its venue symbol and size rules.
        creds: API credentials.
        now_ms: Offset-corrected epoch ms.
        recv_window_ms: Validity window.
        mode: The account's position mode as last read.

    Returns:
        The signed, non-idempotent RequestSpec (weight 0 on IP, 1 on the order counters).

    Raises:
        InvalidOrder: wrong venue, a limit without price, post-only with a market/IOC/FOK order, a bad
            client order id, or a size/price that breaks the instrument's lot, tick or minimums.
    """
    where = f"binance {inst.venue_symbol} order {order.client_order_id!r}"
    if order.venue is not Venue.BINANCE:
        msg = f"{where}: expected venue binance, got {order.venue}"
        raise InvalidOrder(msg)
    codes.check_client_order_id(order.client_order_id)
    check_order_size(inst, order.quantity, order.price if order.order_type is OrderType.LIMIT else None)
    params = [("symbol", inst.venue_symbol), ("side", codes.SIDE_TO_WIRE[order.side])]
    if order.order_type is OrderType.LIMIT:
        if order.price is None:
            msg = f"{where}: a limit order needs a price, got None"
            raise InvalidOrder(msg)
        if order.post_only and order.time_in_force is not TimeInForce.GTC:
            msg = f"{where}: post-only needs time in force GTC, got {order.time_in_force}"
            raise InvalidOrder(msg)
        tif = codes.POST_ONLY_TIF if order.post_only else codes.TIF_TO_WIRE[order.time_in_force]
        params += [("type", "LIMIT"), ("timeInForce", tif), ("quantity", _fmt(order.quantity))]
        params.append(("price", _fmt(order.price)))
    else:
        if order.post_only:
            msg = f"{where}: a market order cannot be post-only"
            raise InvalidOrder(msg)
        params += [("type", "MARKET"), ("quantity", _fmt(order.quantity))]
    side = position_side(order.side, order.reduce_only, mode)
    if side is not None:
        params.append(("positionSide", side))  # hedge mode: the side says open or close, never reduceOnly
    elif order.reduce_only:
        params.append(("reduceOnly", "true"))
    params += [("newClientOrderId", order.client_order_id), ("newOrderRespType", "RESULT")]
    return signed_request(
        Method.POST,
        "/fapi/v1/order",
        creds,
        now_ms,
        body=params,
        recv_window_ms=recv_window_ms,
        weight=0,
        endpoint="order",
        idempotent=False,
    )


def _order_ref(
    symbol: str, venue_order_id: VenueOrderId | None, client_order_id: ClientOrderId | None, what: str
) -> list[tuple[str, str]]:
    if venue_order_id is not None:
        return [("symbol", symbol), ("orderId", venue_order_id)]
    if client_order_id is not None:
        return [("symbol", symbol), ("origClientOrderId", client_order_id)]
    msg = f"binance {what} {symbol}: expected a venue order id or a client order id, got neither"
    raise InvalidOrder(msg)


def cancel_order(
    symbol: str,
    creds: Credentials,
    now_ms: int,
    *,
    venue_order_id: VenueOrderId | None = None,
    client_order_id: ClientOrderId | None = None,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:
    """DELETE /fapi/v1/order (weight 1) by venue order id (preferred when both are given) or client id.

    Raises:
        InvalidOrder: neither id given.
    """
    query = _order_ref(symbol, venue_order_id, client_order_id, "cancel")
    return signed_request(
        Method.DELETE,
        "/fapi/v1/order",
        creds,
        now_ms,
        query=query,
        recv_window_ms=recv_window_ms,
        weight=1,
        endpoint="cancel",
    )


def query_order(
    symbol: str,
    creds: Credentials,
    now_ms: int,
    *,
    venue_order_id: VenueOrderId | None = None,
    client_order_id: ClientOrderId | None = None,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:
    """GET /fapi/v1/order (weight 1) by venue order id or client order id.

    Raises:
        InvalidOrder: neither id given.
    """
    query = _order_ref(symbol, venue_order_id, client_order_id, "query")
    return signed_request(
        Method.GET,
        "/fapi/v1/order",
        creds,
        now_ms,
        query=query,
        recv_window_ms=recv_window_ms,
        weight=1,
        endpoint="queryOrder",
    )


def open_orders(
    creds: Credentials, now_ms: int, symbol: str | None = None, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
) -> RequestSpec:
    """GET /fapi/v1/openOrders: weight 1 for one symbol, 40 for all."""
    query = [("symbol", symbol)] if symbol else []
    return signed_request(
        Method.GET,
        "/fapi/v1/openOrders",
        creds,
        now_ms,
        query=query,
        recv_window_ms=recv_window_ms,
        weight=1 if symbol else 40,
        endpoint="openOrders",
    )


def create_listen_key(creds: Credentials) -> RequestSpec:
    """POST /fapi/v1/listenKey (weight 1): returns the active key (extended) or a new one."""
    return api_key_request(Method.POST, "/fapi/v1/listenKey", creds, endpoint="listenKey")


def keepalive_listen_key(creds: Credentials) -> RequestSpec:
    """PUT /fapi/v1/listenKey (weight 1): extend validity by 60 min; -1125 means recreate it."""
    return api_key_request(Method.PUT, "/fapi/v1/listenKey", creds, endpoint="listenKey")


def close_listen_key(creds: Credentials) -> RequestSpec:
    """DELETE /fapi/v1/listenKey (weight 1)."""
    return api_key_request(Method.DELETE, "/fapi/v1/listenKey", creds, endpoint="listenKey")


def countdown_cancel_all(
    symbol: str, countdown_ms: int, creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
) -> RequestSpec:
    """POST /fapi/v1/countdownCancelAll (weight 10): cancel every open order of ``symbol`` ``countdown_ms``
    from now unless called again before (each call replaces the running countdown); 0 stops it.

    Setting a countdown twice is harmless, so the request is idempotent (a retry only restarts it).

    Raises:
        ConfigError: a negative countdown.
    """
    if countdown_ms < 0:
        msg = f"binance countdownCancelAll {symbol}: expected a countdown of 0 ms or more, got {countdown_ms}"
        raise ConfigError(msg)
    return signed_request(
        Method.POST,
        "/fapi/v1/countdownCancelAll",
        creds,
        now_ms,
        body=[("symbol", symbol), ("countdownTime", str(countdown_ms))],
        recv_window_ms=recv_window_ms,
        weight=10,
        endpoint="countdownCancelAll",
    )


# -- preflight reads (the doctor) -----------------------------------------------------------------------------
def account_config(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """GET /fapi/v1/accountConfig (weight 5): ``canTrade``, ``canWithdraw``, ``canDeposit``, fee tier, modes."""
    return signed_request(Method.GET, "/fapi/v1/accountConfig", creds, now_ms, recv_window_ms=recv_window_ms,
                          weight=5, endpoint="accountConfig")


def symbol_config(
    symbol: str, creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
) -> RequestSpec:
    """GET /fapi/v1/symbolConfig (weight 5) for one symbol: its ``marginType`` and ``leverage``."""
    return signed_request(Method.GET, "/fapi/v1/symbolConfig", creds, now_ms, query=[("symbol", symbol)],
                          recv_window_ms=recv_window_ms, weight=5, endpoint="symbolConfig")
