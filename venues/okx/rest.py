"""OKX v5 REST: request specs (signed where needed) and response parsers.

Rules for this module:
- Builders return RequestSpec with the exact query string and body bytes that were signed; nothing here
  sends anything. Signed builders take ``now_ms`` (already offset-corrected) and Credentials.
- ``weight`` is 1 everywhere (OKX counts requests, not weights); ``endpoint`` names the bucket of
  ``RATE_LIMITS`` (OKX limits per endpoint, per 2 s); placing an order is never ``idempotent``.
- OKX hides errors in HTTP 200 bodies: ``{"code": "<string>", "msg": ..., "data": [...]}``. Order
  endpoints report per-order ``sCode``/``sMsg`` in ``data`` (top-level code "1"/"2" for (partial) batch
  failure). Every error becomes the typed exception of codes.make_error, keeping OKX's code and text.
- Quantities are in the venue's unit: contracts for SWAP (Instrument.contract_size = ctVal).
- Position side (OKX "Place order": ``posSide`` is required in long_short_mode for FUTURES/SWAP, ``long`` or
  ``short``; ``reduceOnly`` applies to net_mode only): in net_mode ``posSide`` is left out and
  ``reduceOnly`` sent as asked; in long_short_mode an opening BUY goes ``long``, an opening SELL ``short``,
  a reduce-only SELL closes ``long`` and a reduce-only BUY closes ``short`` (side + posSide say "close", so
  ``reduceOnly`` is left out). Spot orders never carry ``posSide``.
- Order books (GET /api/v5/market/books): the answer's ``seqId`` (OKX API changelog, "Delist initial
  snapshot and checksum field in order book channels", 2026-02-12) is the BookSnapshot's ``sequence``.
- Instruments: only ``state: live`` trades (``suspend``, ``preopen``, ``test`` do not); ``parse_instruments``
  returns each instrument with its state.
- Cancel All After (OKX v5 "POST / Cancel All After", the dead-man's switch): ``timeOut`` is a string of
  whole seconds, "0" (off) or 10..120 (``cancel_all_after_timeout`` checks a configured window against it);
  1 request per second per (User ID, tag); the answer's ``triggerTime`` is when OKX cancels every pending
  order (epoch ms), "0" when the timer is off.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import msgspec

from messages.account import Balance, Position, PositionMode
from messages.base import (
    ClientOrderId,
    InstrumentId,
    InstrumentKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Quote, Trade
from messages.orders import CancelOrder, OrderRejected, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.errors import (
    ConfigError,
    DecodeError,
    InstrumentError,
    InvalidOrder,
    RateLimited,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Method, RequestSpec, Response
from venues.okx import parse, wire
from venues.okx.codes import VENUE, make_error, validate_client_order_id
from venues.okx.signing import rest_headers
from venues.symbols import InstrumentRegistry, check_order_size

__all__ = [
    "BASE_URL",
    "RateLimit",
    "RATE_LIMITS",
    "OrderAck",
    "Listed",
    "LIVE_STATE",
    "server_time",
    "instruments",
    "order_book",
    "klines",
    "recent_trades",
    "ticker",
    "balances",
    "positions",
    "account_config",
    "CancelAllAfterAck",
    "CANCEL_ALL_AFTER_RANGE_S",
    "cancel_all_after_timeout",
    "cancel_all_after",
    "parse_cancel_all_after",
    "place_order",
    "cancel_order",
    "query_order",
    "open_orders",
    "raise_for_error",
    "check_response",
    "parse_server_time",
    "parse_instruments",
    "parse_order_book",
    "parse_klines",
    "parse_trades",
    "parse_ticker",
    "parse_balances",
    "parse_positions",
    "parse_account_config",
    "parse_order_ack",
    "order_accepted",
    "parse_place",
    "parse_order",
    "parse_open_orders",
    "order_rejected",
]

BASE_URL = "https://www.okx.com"
T = TypeVar("T")


class RateLimit(NamedTuple):
    requests: int
    per_s: float
    scope: str  # what OKX counts against: ip, uid, uid+instId


RATE_LIMITS: dict[str, RateLimit] = {
    "public/time": RateLimit(10, 2.0, "ip"),
    "public/instruments": RateLimit(20, 2.0, "ip+instType"),
    "market/books": RateLimit(40, 2.0, "ip"),
    "market/candles": RateLimit(40, 2.0, "ip"),
    "market/trades": RateLimit(100, 2.0, "ip"),
    "market/ticker": RateLimit(20, 2.0, "ip"),
    "account/balance": RateLimit(10, 2.0, "uid"),
    "account/positions": RateLimit(10, 2.0, "uid"),
    "account/config": RateLimit(5, 2.0, "uid"),
    "trade/order": RateLimit(60, 2.0, "uid+instId"),  # place; shared with WS order ops
    "trade/cancel-order": RateLimit(60, 2.0, "uid+instId"),
    "trade/order-details": RateLimit(60, 2.0, "uid+instId"),
    "trade/orders-pending": RateLimit(60, 2.0, "uid"),
    "trade/cancel-all-after": RateLimit(1, 1.0, "uid+tag"),  # the dead-man's switch: 1 request per second
    "account/leverage-info": RateLimit(20, 2.0, "uid"),  # the doctor's instrument settings
}
"""OKX per-endpoint limits (requests per 2 s); keys are RequestSpec.endpoint values."""


LIVE_STATE = "live"
"""The only instrument ``state`` OKX trades (others: suspend, preopen, test)."""


class Listed(NamedTuple):
    """One instruments row: the instrument and OKX's ``state`` for it."""

    instrument: Instrument
    state: str


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """OKX accepted a place or cancel request (the outcome then arrives on the orders channel)."""

    venue_order_id: VenueOrderId
    client_order_id: ClientOrderId | None
    ts_event: int  # ns


_encode = msgspec.json.Encoder().encode


# -- builders ----------------------------------------------------------------------------------------
def _public(path: str, params: dict[str, str], endpoint: str, demo: bool = False) -> RequestSpec:
    headers = {"x-simulated-trading": "1"} if demo else {}  # OKX demo trading, as signing.rest_headers
    return RequestSpec(method=Method.GET, path=path, query=urlencode(params), headers=headers, endpoint=endpoint)


def _signed(
    method: Method,
    path: str,
    creds: Credentials,
    now_ms: int,
    endpoint: str,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    idempotent: bool = True,
    demo: bool = False,
) -> RequestSpec:
    query = urlencode(params) if params else ""
    target = f"{path}?{query}" if query else path
    headers = rest_headers(creds, now_ms, method.value, target, body, demo)
    return RequestSpec(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        endpoint=endpoint,
        idempotent=idempotent,
        signed=True,
    )


def server_time() -> RequestSpec:
    """GET /api/v5/public/time (used for the clock offset)."""
    return _public("/api/v5/public/time", {}, "public/time")


def instruments(inst_type: str = "SWAP") -> RequestSpec:
    """GET /api/v5/public/instruments for one instType (SWAP, FUTURES, SPOT)."""
    return _public("/api/v5/public/instruments", {"instType": inst_type}, "public/instruments")


def order_book(symbol: str, depth: int = 400, demo: bool = False) -> RequestSpec:
    """GET /api/v5/market/books: ``depth`` levels a side (up to 400, the ``books`` channel's depth); the
    answer's ``seqId`` aligns it with the channel (OKX's REST bootstrap).

    Args:
        demo: add the demo-trading header.
    """
    return _public("/api/v5/market/books", {"instId": symbol, "sz": str(depth)}, "market/books", demo)


def klines(symbol: str, bar: str = "1m", limit: int = 100) -> RequestSpec:
    """GET /api/v5/market/candles (newest first on the wire; limit up to 300)."""
    params = {"instId": symbol, "bar": bar, "limit": str(limit)}
    return _public("/api/v5/market/candles", params, "market/candles")


def recent_trades(symbol: str, limit: int = 100) -> RequestSpec:
    """GET /api/v5/market/trades (limit up to 500)."""
    return _public("/api/v5/market/trades", {"instId": symbol, "limit": str(limit)}, "market/trades")


def ticker(symbol: str) -> RequestSpec:
    """GET /api/v5/market/ticker for one instrument (best bid/ask, last, 24 h stats)."""
    return _public("/api/v5/market/ticker", {"instId": symbol}, "market/ticker")


def balances(creds: Credentials, now_ms: int, ccy: str = "", demo: bool = False) -> RequestSpec:
    """GET /api/v5/account/balance, signed (optionally for one currency)."""
    params = {"ccy": ccy} if ccy else None
    return _signed(Method.GET, "/api/v5/account/balance", creds, now_ms, "account/balance", params, demo=demo)


def positions(
    creds: Credentials, now_ms: int, inst_type: str = "SWAP", symbol: str = "", demo: bool = False
) -> RequestSpec:
    """GET /api/v5/account/positions, signed."""
    params = {"instType": inst_type}
    if symbol:
        params["instId"] = symbol
    return _signed(
        Method.GET, "/api/v5/account/positions", creds, now_ms, "account/positions", params, demo=demo
    )


class _PlaceBody(msgspec.Struct, omit_defaults=True):
    instId: str
    tdMode: str  # cross / isolated for derivatives, cash for spot
    side: str
    ordType: str  # market, limit, post_only, ioc, fok
    sz: str  # contracts for derivatives
    clOrdId: str = ""
    px: str = ""
    reduceOnly: bool = False
    posSide: str = ""  # long / short in long_short_mode only


def _ord_type(order: PlaceOrder) -> str:
    if order.order_type is OrderType.MARKET:
        if order.post_only:
            msg = f"okx {order.instrument}: a market order cannot be post-only (client id {order.client_order_id})"
            raise InvalidOrder(msg)
        return "market"
    if order.price is None:
        msg = f"okx {order.instrument}: a limit order needs a price, got None (client id {order.client_order_id})"
        raise InvalidOrder(msg)
    if order.post_only:
        if order.time_in_force is not TimeInForce.GTC:
            msg = f"okx {order.instrument}: post-only needs GTC, got {order.time_in_force}"
            raise InvalidOrder(msg)
        return "post_only"
    return {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}[order.time_in_force]


def account_config(creds: Credentials, now_ms: int, demo: bool = False) -> RequestSpec:
    """GET /api/v5/account/config, signed: the account's settings, ``posMode`` among them."""
    return _signed(Method.GET, "/api/v5/account/config", creds, now_ms, "account/config", demo=demo)


CANCEL_ALL_AFTER_RANGE_S = (10, 120)
"""OKX's ``timeOut`` range for an armed Cancel All After, whole seconds (0 switches it off)."""


class CancelAllAfterAck(NamedTuple):
    """OKX's answer to a Cancel All After call."""

    trigger_ms: int  # when OKX cancels every pending order (epoch ms, venue clock); 0: the timer is off
    tag: str  # the timer's CAA tag ("": account level)
    ts_ms: int  # when OKX received the request (0 if it did not say)


def cancel_all_after_timeout(seconds: float) -> int:
    """A configured dead-man's switch window as OKX's ``timeOut`` (0: off).

    Raises:
        ConfigError: not 0 and not whole seconds within ``CANCEL_ALL_AFTER_RANGE_S``.
    """
    lo, hi = CANCEL_ALL_AFTER_RANGE_S
    if seconds == 0 or (float(seconds).is_integer() and lo <= seconds <= hi):
        return int(seconds)
    msg = (f"okx dead-man's switch window: expected 0 (off) or whole seconds from {lo} to {hi} (OKX cancel-all-after "
           f"timeOut), got {seconds!r}")
    raise ConfigError(msg)


def cancel_all_after(creds: Credentials, now_ms: int, time_out_s: int, demo: bool = False) -> RequestSpec:
    """POST /api/v5/trade/cancel-all-after, signed: OKX cancels every pending order of the account
    ``time_out_s`` seconds from now unless called again first (0 switches the timer off). Setting a timer is
    idempotent, so the gateway may retry it."""
    body = _encode({"timeOut": str(time_out_s)})
    return _signed(Method.POST, "/api/v5/trade/cancel-all-after", creds, now_ms, "trade/cancel-all-after", body=body,
                   demo=demo)


def _int_ms(text: str, field: str, resp: Response) -> int:
    if not text.isdigit():
        raise DecodeError(VENUE, "cancel-all-after", f"expected {field} as epoch ms digits, got {text!r}", resp.body)
    return int(text)


def parse_cancel_all_after(resp: Response) -> CancelAllAfterAck:
    """The Cancel All After answer (``data[0]``).

    Raises:
        VenueReject subclass: OKX refused it (51000 "Parameter timeOut error", 50011 rate limit, ...).
        DecodeError: no row, or a ``triggerTime`` / ``ts`` that is not epoch ms.
    """
    rows = _data(resp, list[wire.CancelAllAfterData], "cancel-all-after")
    if not rows:
        raise DecodeError(VENUE, "cancel-all-after", "expected one row, got none", resp.body)
    row = rows[0]
    ts = _int_ms(row.ts, "ts", resp) if row.ts else 0
    return CancelAllAfterAck(_int_ms(row.triggerTime, "triggerTime", resp), row.tag, ts)


def _pos_side(order: PlaceOrder, inst: Instrument, mode: PositionMode) -> str:
    """OKX's ``posSide`` for ``order`` (module rules): "" in net_mode and for spot."""
    if mode is not PositionMode.HEDGE or inst.kind is InstrumentKind.SPOT:
        return ""
    return "long" if (order.side is Side.BUY) is not order.reduce_only else "short"


def place_order(
    order: PlaceOrder,
    inst: Instrument,
    creds: Credentials,
    now_ms: int,
    td_mode: str = "cross",
    demo: bool = False,
    position_mode: PositionMode = PositionMode.ONE_WAY,
) -> RequestSpec:
    """POST /api/v5/trade/order for one order (never idempotent: query before any resend).

    Args:
        order: the order; ``quantity`` in contracts for SWAP; price/quantity already on tick/lot.
        inst: the instrument (venue symbol, tick, lot, minimums).
        creds: API credentials.
        now_ms: request time, epoch ms, offset-corrected.
        td_mode: OKX trade mode: "cross" or "isolated" (derivatives), "cash" (spot).
        demo: add the demo-trading header.
        position_mode: the account's mode: HEDGE (long_short_mode) adds ``posSide`` (module rules).

    Returns:
        The signed RequestSpec.

    Raises:
        InvalidOrder: bad client order id, price/size off tick/lot or below minimums, or a combination
            OKX cannot express (post-only market, post-only IOC).
    """
    validate_client_order_id(order.client_order_id)
    ord_type = _ord_type(order)
    check_order_size(inst, order.quantity, order.price if ord_type != "market" else None)
    pos_side = _pos_side(order, inst, position_mode)
    body = _PlaceBody(
        instId=inst.venue_symbol,
        tdMode=td_mode,
        side=order.side.value,
        ordType=ord_type,
        sz=format(order.quantity, "f"),
        clOrdId=order.client_order_id,
        px=format(order.price, "f") if ord_type != "market" and order.price is not None else "",
        reduceOnly=order.reduce_only and not pos_side,
        posSide=pos_side,
    )
    return _signed(
        Method.POST,
        "/api/v5/trade/order",
        creds,
        now_ms,
        "trade/order",
        body=_encode(body),
        idempotent=False,
        demo=demo,
    )


def _id_params(inst: Instrument, client_id: str | None, venue_id: str | None, what: str) -> dict[str, str]:
    params = {"instId": inst.venue_symbol}
    if venue_id:
        params["ordId"] = venue_id
    elif client_id:
        params["clOrdId"] = client_id
    else:
        msg = f"okx {inst.id}: {what} needs a client order id or a venue order id, got neither"
        raise InvalidOrder(msg)
    return params


def cancel_order(
    cancel: CancelOrder, inst: Instrument, creds: Credentials, now_ms: int, demo: bool = False
) -> RequestSpec:
    """POST /api/v5/trade/cancel-order by venue id (preferred) or client id.

    Raises:
        InvalidOrder: neither id is set.
    """
    params = _id_params(inst, cancel.client_order_id, cancel.venue_order_id, "cancel")
    return _signed(
        Method.POST,
        "/api/v5/trade/cancel-order",
        creds,
        now_ms,
        "trade/cancel-order",
        body=_encode(params),
        demo=demo,
    )


def query_order(
    query: QueryOrder, inst: Instrument, creds: Credentials, now_ms: int, demo: bool = False
) -> RequestSpec:
    """GET /api/v5/trade/order by venue id (preferred) or client id.

    Raises:
        InvalidOrder: neither id is set.
    """
    params = _id_params(inst, query.client_order_id, query.venue_order_id, "query")
    return _signed(Method.GET, "/api/v5/trade/order", creds, now_ms, "trade/order-details", params, demo=demo)


OPEN_ORDERS_PAGE = 100  # orders-pending answers at most 100 rows, newest first; ``after`` pages back


def open_orders(
    creds: Credentials, now_ms: int, inst_type: str = "SWAP", symbol: str = "", demo: bool = False, after: str = ""
) -> RequestSpec:
    """GET /api/v5/trade/orders-pending (live and partially filled orders only), a page of
    ``OPEN_ORDERS_PAGE``; ``after`` (an ordId) asks for the orders older than it: the next page."""
    params = {"instType": inst_type}
    if symbol:
        params["instId"] = symbol
    if after:
        params["after"] = after
    params["limit"] = str(OPEN_ORDERS_PAGE)
    return _signed(
        Method.GET, "/api/v5/trade/orders-pending", creds, now_ms, "trade/orders-pending", params, demo=demo
    )


# -- responses ---------------------------------------------------------------------------------------
def _retry_after(resp: Response) -> float | None:
    raw = resp.headers.get("retry-after", "")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def raise_for_error(resp: Response) -> None:
    """Raise the typed error for a failed response whose body is not OKX's JSON (HTML 5xx, bare 429).

    Raises:
        RateLimited: HTTP 429 (``retry_after_s`` from Retry-After).
        VenueUnavailable: HTTP 5xx.
    """
    text = resp.body[:200].decode("utf-8", "replace")
    if resp.status == 429:
        raise RateLimited(VENUE, "429", text or "Too Many Requests", 429, _retry_after(resp))
    if resp.status >= 500:
        raise VenueUnavailable(VENUE, str(resp.status), text, resp.status)


class _AnyEnvelope(msgspec.Struct):
    """OKX's envelope with ``data`` left undecoded (check_response looks at codes only)."""

    code: str
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")


_ANY_ENVELOPE = msgspec.json.Decoder(_AnyEnvelope, strict=False)
_ACK_ROWS = msgspec.json.Decoder(list[wire.OrderAckData], strict=False)


def check_response(resp: Response) -> None:
    """Raise the typed error for ANY failed OKX response, before a parser sees it.

    The exchange actor calls this on every response so that errors hidden in HTTP 200 bodies (a 50011
    rate limit, a 50102 timestamp error, a 50121 ban, a per-order ``sCode``) reach its retry / clock /
    ban handling. A body that is not OKX's envelope falls back to ``raise_for_error`` (HTML 5xx, bare
    429); anything else is left to the parser (which raises DecodeError). Cheap on success: ``data`` is
    only decoded (as order-ack rows) when the body carries an ``sCode``.

    Raises:
        VenueReject subclass: from codes.make_error, keeping OKX's code and text (the first failed
            item's ``sCode``/``sMsg`` for order endpoints answering "1"/"2").
    """
    try:
        env = _ANY_ENVELOPE.decode(resp.body)
    except msgspec.MsgspecError:
        raise_for_error(resp)
        return
    if env.code in ("1", "2") or (env.code == "0" and b'"sCode"' in resp.body):
        # Order endpoints: the per-item sCode is the real outcome (even under a top-level "0").
        try:
            rows = _ACK_ROWS.decode(env.data)
        except msgspec.MsgspecError:
            rows = []
        for item in rows:
            if item.sCode != "0":
                raise make_error(item.sCode, item.sMsg, resp.status, _retry_after(resp))
    if env.code != "0":
        raise make_error(env.code, env.msg, resp.status, _retry_after(resp))
    if resp.status != 200:
        raise make_error(str(resp.status), f"HTTP {resp.status} with code 0", resp.status, _retry_after(resp))


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(data_type: Any) -> msgspec.json.Decoder[Any]:
    dec = _DECODERS.get(data_type)
    if dec is None:
        dec = msgspec.json.Decoder(wire.RestEnvelope[data_type], strict=False)
        _DECODERS[data_type] = dec
    return dec


def _data(resp: Response, data_type: type[T], what: str) -> T:
    """Decode OKX's envelope and return ``data``, raising the typed error for any failure."""
    try:
        env: wire.RestEnvelope[T] = _decoder(data_type).decode(resp.body)
    except msgspec.MsgspecError as exc:
        raise_for_error(resp)
        raise DecodeError(VENUE, what, f"HTTP {resp.status}: {exc}", resp.body) from None
    if env.code != "0":
        if env.code in ("1", "2") and isinstance(env.data, list):
            for item in env.data:
                s_code = getattr(item, "sCode", "0")
                if s_code != "0":
                    raise make_error(s_code, item.sMsg, resp.status, _retry_after(resp))
        raise make_error(env.code, env.msg, resp.status, _retry_after(resp))
    if resp.status != 200:
        raise make_error(str(resp.status), f"HTTP {resp.status} with code 0", resp.status, _retry_after(resp))
    if env.data is None:
        raise DecodeError(VENUE, what, "expected a 'data' array, got none", resp.body)
    return env.data


def parse_server_time(resp: Response) -> int:
    """Server time in epoch ms."""
    rows = _data(resp, list[wire.ServerTimeData], "server time")
    if not rows:
        raise DecodeError(VENUE, "server time", "expected one row, got none", resp.body)
    return rows[0].ts


def parse_instruments(resp: Response) -> list[Listed]:
    """Instruments of a SWAP / FUTURES / SPOT listing (other instTypes are skipped), each with its state."""
    rows = _data(resp, list[wire.InstrumentData], "instruments")
    return [Listed(parse.instrument(r), r.state) for r in rows if r.instType in ("SWAP", "FUTURES", "SPOT")]


def parse_order_book(resp: Response, instrument: InstrumentId, ts_recv: int) -> BookSnapshot:
    """A REST book as a BookSnapshot (floats; ``sequence`` is its seqId, -1 when the answer has none)."""
    rows = _data(resp, list[wire.RestBook], "order book")
    if not rows:
        raise DecodeError(VENUE, "order book", "expected one row, got none", resp.body)
    row = rows[0]
    return BookSnapshot(
        venue=Venue.OKX,
        instrument=instrument,
        bids=tuple((lv.px, lv.sz) for lv in row.bids),
        asks=tuple((lv.px, lv.sz) for lv in row.asks),
        sequence=row.seqId if row.seqId is not None else -1,
        ts_event=row.ts * parse.MS,
        ts_recv=ts_recv,
    )


def parse_klines(resp: Response, instrument: InstrumentId, bar: str, ts_recv: int) -> list[Kline]:
    """Candles, oldest first (OKX sends newest first)."""
    rows = _data(resp, list[wire.CandleRow], "candles")
    return [parse.kline(instrument, bar, row, ts_recv) for row in reversed(rows)]


def parse_trades(resp: Response, instrument: InstrumentId, ts_recv: int) -> list[Trade]:
    """Recent public trades as sent (newest first)."""
    rows = _data(resp, list[wire.TradeData], "trades")
    return [parse.trade(instrument, t, ts_recv) for t in rows]


def parse_ticker(resp: Response, instrument: InstrumentId, ts_recv: int) -> Quote | None:
    """The best bid/ask of a ``market/ticker`` answer; None when a side is empty.

    Raises:
        DecodeError: no row, or non-numeric prices/sizes.
    """
    rows = _data(resp, list[wire.TickerData], "ticker")
    if not rows:
        raise DecodeError(VENUE, "ticker", "expected one row, got none", resp.body)
    return parse.quote_from_ticker(instrument, rows[0], ts_recv)


def parse_balances(resp: Response, ts_recv: int) -> list[Balance]:
    """One Balance per currency of the trading account."""
    out: list[Balance] = []
    for acct in _data(resp, list[wire.AccountData], "balance"):
        out.extend(parse.balances(acct, ts_recv))
    return out


def parse_positions(resp: Response, registry: InstrumentRegistry, ts_recv: int) -> list[Position]:
    """Positions of registered instruments (others are skipped: we cannot name them)."""
    out: list[Position] = []
    for p in _data(resp, list[wire.PositionData], "positions"):
        inst_id = _lookup(registry, p.instId)
        if inst_id is not None:
            out.append(parse.position(inst_id, p, ts_recv))
    return out


def parse_account_config(resp: Response) -> PositionMode:
    """The account's position mode from GET /api/v5/account/config.

    Raises:
        DecodeError: no row, or a ``posMode`` OKX does not document.
    """
    rows = _data(resp, list[wire.AccountConfigData], "account config")
    if not rows:
        raise DecodeError(VENUE, "account config", "expected one row, got none", resp.body)
    return parse.position_mode(rows[0].posMode)


def _lookup(registry: InstrumentRegistry, symbol: str) -> InstrumentId | None:
    try:
        return registry.by_symbol(Venue.OKX, symbol).id
    except InstrumentError:
        return None


def parse_order_ack(resp: Response) -> OrderAck:
    """The result of place_order / cancel_order.

    Raises:
        VenueReject subclass: the per-order ``sCode`` (or top-level ``code``) was not "0".
    """
    rows = _data(resp, list[wire.OrderAckData], "order ack")
    if not rows:
        raise DecodeError(VENUE, "order ack", "expected one row, got none", resp.body)
    row = rows[0]
    if row.sCode != "0":
        raise make_error(row.sCode, row.sMsg, resp.status)
    return OrderAck(
        venue_order_id=VenueOrderId(row.ordId),
        client_order_id=ClientOrderId(row.clOrdId) if row.clOrdId else None,
        ts_event=(int(row.ts) if row.ts.isdigit() else 0) * parse.MS,
    )


def order_accepted(order: PlaceOrder, ack: OrderAck, ts_recv: int) -> OrderUpdate:
    """The OrderUpdate for a placement OKX acknowledged: SUBMITTED with the order's own fields.

    OKX's place ack carries only ids (``ordId``, ``clOrdId``, ``ts``); fills, if any, arrive on the
    orders channel (or a query). ``raw_status`` is "" because OKX sent no state.
    """
    return OrderUpdate(
        venue=Venue.OKX,
        instrument=order.instrument,
        client_order_id=ack.client_order_id or order.client_order_id,
        venue_order_id=ack.venue_order_id or None,
        status=OrderStatus.SUBMITTED,
        raw_status="",
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        filled_qty=Decimal(0),
        avg_price=None,
        price=order.price if order.order_type is not OrderType.MARKET else None,
        ts_event=ack.ts_event or ts_recv,
        ts_recv=ts_recv,
        reduce_only=order.reduce_only,
    )


def parse_place(resp: Response, order: PlaceOrder, ts_recv: int) -> OrderUpdate:
    """A place-order answer as an OrderUpdate (``order_accepted`` of ``parse_order_ack``).

    Raises:
        VenueReject subclass: the per-order ``sCode`` (or top-level ``code``) was not "0".
    """
    return order_accepted(order, parse_order_ack(resp), ts_recv)


def parse_order(resp: Response, instrument: InstrumentId, ts_recv: int) -> OrderUpdate:
    """Order details (query by either id).

    Raises:
        UnknownOrder: OKX answered 51603 or returned no row.
        UnknownStatus: an undocumented ``state``.
    """
    rows = _data(resp, list[wire.OrderData], "order details")
    if not rows:
        raise UnknownOrder(VENUE, "51603", "order details returned no row", resp.status)
    return parse.order_update(instrument, rows[0], ts_recv)


def open_orders_after(resp: Response) -> str:
    """The ``after`` of the next orders-pending page: the oldest ordId of a full page ("" when it is the last)."""
    rows = _data(resp, list[wire.OrderData], "orders pending")
    return rows[-1].ordId if len(rows) >= OPEN_ORDERS_PAGE else ""


def parse_open_orders(resp: Response, registry: InstrumentRegistry, ts_recv: int) -> list[OrderUpdate]:
    """Open orders of registered instruments (live / partially_filled)."""
    out: list[OrderUpdate] = []
    for o in _data(resp, list[wire.OrderData], "orders pending"):
        inst_id = _lookup(registry, o.instId)
        if inst_id is not None:
            out.append(parse.order_update(inst_id, o, ts_recv))
    return out


def order_rejected(exc: VenueReject, order: PlaceOrder, ts: int) -> OrderRejected:
    """The bus event for a refused order, keeping OKX's code and text."""
    return OrderRejected(
        venue=order.venue,
        instrument=order.instrument,
        client_order_id=order.client_order_id,
        code=exc.code,
        text=exc.text,
        ts=ts,
    )
