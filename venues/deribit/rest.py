"""Deribit REST: RequestSpec builders and response parsers (JSON-RPC over HTTP, ``/api/v2/<method>``).

Rules for this module:
- Builders return RequestSpecs with the exact query string or body that was signed; the shell sends them
  as they are. Parameters keep a fixed order, so a request and its signature are reproducible.
- Reads go as ``GET /api/v2/<method>?<params>``. Writes (buy, sell, edit, cancel, cancel_all,
  cancel_by_label) go as ``POST /api/v2/<method>`` whose body is the JSON-RPC request
  ``{"jsonrpc":"2.0","id":<now_ms>,"method":<method>,"params":{...}}`` (numbers as JSON numbers): a GET
  is one a proxy or client library may repeat on its own when a kept-alive connection drops, and a
  placement must reach the venue once. Source: Deribit OpenAPI 2.1.1 (docs.deribit.com) gives every
  method a "JSON-RPC request body" (application/json), the ``deri-hmac-sha256`` string to sign includes
  the request body (docs.deribit.com/articles/authentication), and the current reference lists the
  trading methods as ``POST /private/buy`` etc.
- Signed (private) requests take ``credentials``, ``now_ms`` (already offset-corrected by the caller)
  and ``nonce``; they carry ``Authorization: deri-hmac-sha256 ...``. ``with_bearer_token`` swaps that for
  the ``bearer`` token of a ``public/auth`` session.
- Over the socket: the order writes (buy, sell, cancel, cancel_by_label) take ``stream`` and
  ``request_id``; with a stream the spec's body is the same JSON-RPC request with that id, sent as a frame
  on the authenticated connection (no Authorization header, nothing signed), and its answer frame is
  parsed by the same ``parse_*`` functions (cancel-on-disconnect covers only orders created via that
  connection).
- Rate limits [DR-doc]: non-matching-engine requests cost 500 credits from the sub-account pool
  (weight=500, endpoint "non_matching_engine"); buy/sell/edit/cancel draw on the tier-based
  matching-engine limit, counted in requests (weight=1, endpoint "matching_engine"). Order placement
  is never idempotent.
- Errors hide in the JSON-RPC ``error`` object (HTTP 400 typically); they become venues/errors.py
  classes keeping Deribit's code and text (codes.py has the map). A non-JSON 429/5xx maps by status.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote as _urlquote

import msgspec

from messages.account import Balance, Position
from messages.base import InstrumentId, OrderType, Side, TimeInForce, Venue
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Quote, Trade
from messages.orders import Fill, OrderUpdate, PlaceOrder
from venues import Credentials
from venues.deribit import codes, parse, wire
from venues.deribit.signing import client_signature, rest_authorization
from venues.errors import (
    AuthError,
    ConfigError,
    DecodeError,
    InvalidOrder,
    RateLimited,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Method, RequestSpec, Response
from venues.symbols import check_order_size

__all__ = [
    "API_PREFIX",
    "Endpoint",
    "AuthTokens",
    "with_bearer_token",
    "server_time",
    "instruments",
    "instrument",
    "order_book",
    "ticker",
    "status",
    "klines",
    "recent_trades",
    "auth",
    "account_summary",
    "account_summaries",
    "positions",
    "place_order",
    "cancel_order",
    "cancel_all",
    "edit_order",
    "cancel_by_client_id",
    "query_order",
    "query_by_client_id",
    "open_orders",
    "disable_cancel_on_disconnect",
    "raise_for_error",
    "parse_server_time",
    "parse_instruments",
    "parse_instrument_states",
    "parse_instrument",
    "parse_order_book",
    "parse_ticker",
    "parse_status",
    "parse_klines",
    "parse_trades",
    "parse_auth",
    "parse_balances",
    "parse_positions",
    "parse_place_order",
    "parse_order",
    "parse_orders",
    "parse_order_by_label",
    "parse_cancel_count",
    "parse_cancel_by_label",
    "parse_key_permissions",
    "parse_margin_model",
]

API_PREFIX = "/api/v2/"
_ME = "matching_engine"
_NON_ME = "non_matching_engine"
_NON_ME_CREDITS = 500
T = TypeVar("T")


class Endpoint(enum.StrEnum):
    """Deribit methods used over REST; the value is the JSON-RPC method name."""

    TIME = "public/get_time"
    INSTRUMENTS = "public/get_instruments"
    INSTRUMENT = "public/get_instrument"
    ORDER_BOOK = "public/get_order_book"
    KLINES = "public/get_tradingview_chart_data"
    TRADES = "public/get_last_trades_by_instrument"
    TICKER = "public/ticker"
    STATUS = "public/status"
    AUTH = "public/auth"
    ACCOUNT_SUMMARY = "private/get_account_summary"
    ACCOUNT_SUMMARIES = "private/get_account_summaries"
    POSITIONS = "private/get_positions"
    BUY = "private/buy"
    SELL = "private/sell"
    CANCEL = "private/cancel"
    CANCEL_ALL = "private/cancel_all"
    EDIT = "private/edit"
    CANCEL_BY_LABEL = "private/cancel_by_label"
    ORDER_STATE = "private/get_order_state"
    ORDER_STATE_BY_LABEL = "private/get_order_state_by_label"
    OPEN_ORDERS = "private/get_open_orders"
    OPEN_ORDERS_BY_INSTRUMENT = "private/get_open_orders_by_instrument"
    DISABLE_COD = "private/disable_cancel_on_disconnect"


_MATCHING_ENGINE = frozenset({
    Endpoint.BUY, Endpoint.SELL, Endpoint.EDIT, Endpoint.CANCEL, Endpoint.CANCEL_ALL, Endpoint.CANCEL_BY_LABEL,
})  # fmt: skip
_WRITES = _MATCHING_ENGINE
"""Methods that change the account: sent as POST (see the module docstring)."""
_SOCKET_ONLY = frozenset({Endpoint.DISABLE_COD})
"""Methods Deribit takes on a WebSocket only (cancel-on-disconnect belongs to a connection)."""


class AuthTokens:
    """A ``public/auth`` session. The tokens are secrets: they never appear in repr or str."""

    __slots__ = ("access_token", "refresh_token", "expires_in_s", "scope")

    def __init__(self, access_token: str, refresh_token: str, expires_in_s: int, scope: str) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in_s = expires_in_s
        self.scope = scope

    def __repr__(self) -> str:
        return f"AuthTokens(access_token=<hidden>, refresh_token=<hidden>, expires_in_s={self.expires_in_s}, scope={self.scope!r})"

    __str__ = __repr__


# -- building -----------------------------------------------------------------------------------------
Params = list[tuple[str, str | int | bool | Decimal]]


def _fmt(value: str | int | bool | Decimal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _query(params: Params) -> str:
    return "&".join(f"{k}={_urlquote(_fmt(v), safe='')}" for k, v in params)


def _json_value(value: str | int | bool | Decimal) -> str | int | bool | msgspec.Raw:
    """A param as JSON: Decimals as plain numbers (never exponent notation), the rest as they are."""
    return msgspec.Raw(format(value, "f").encode()) if isinstance(value, Decimal) else value


def _rpc_body(endpoint: Endpoint, params: Params, request_id: int) -> bytes:
    """The JSON-RPC 2.0 request object a POST carries (Deribit rejects a request without ``id``)."""
    request = {"jsonrpc": "2.0", "id": request_id, "method": endpoint.value,
               "params": {k: _json_value(v) for k, v in params}}
    return msgspec.json.encode(request)


def _spec(
    endpoint: Endpoint, params: Params, headers: dict[str, str], idempotent: bool, signed: bool,
    body: bytes = b"",
) -> RequestSpec:
    me = endpoint in _MATCHING_ENGINE
    return RequestSpec(
        method=Method.POST if body else Method.GET,
        path=API_PREFIX + endpoint.value,
        query="" if body else _query(params),
        headers=headers,
        body=body,
        weight=1 if me else _NON_ME_CREDITS,
        endpoint=_ME if me else _NON_ME,
        idempotent=idempotent,
        signed=signed,
    )


def _public(endpoint: Endpoint, params: Params) -> RequestSpec:
    return _spec(endpoint, params, {}, True, False)


def _private(
    endpoint: Endpoint,
    params: Params,
    credentials: Credentials,
    now_ms: int,
    nonce: str,
    idempotent: bool = True,
    stream: str = "",
    request_id: int = 0,
) -> RequestSpec:
    """A signed request: POST with a JSON-RPC body for a write (``_WRITES``), else GET with a query; a write
    with a ``stream`` is the JSON-RPC request with ``request_id``, for that socket (not signed)."""
    uri = API_PREFIX + endpoint.value
    if stream:
        if endpoint not in _WRITES | _SOCKET_ONLY:
            msg = f"deribit {endpoint.value}: only the order writes go over the socket, not this one"
            raise ConfigError(msg)
        body = _rpc_body(endpoint, params, request_id)
        spec = _spec(endpoint, params, {}, idempotent, False, body)
        return msgspec.structs.replace(spec, stream=stream, request_id=str(request_id))
    if endpoint in _WRITES:
        body = _rpc_body(endpoint, params, now_ms)
        header = rest_authorization(credentials, now_ms, nonce, "POST", uri, body)
        headers = {"Authorization": header, "Content-Type": "application/json"}
        return _spec(endpoint, params, headers, idempotent, True, body)
    query = _query(params)
    if query:
        uri += "?" + query
    header = rest_authorization(credentials, now_ms, nonce, "GET", uri, b"")
    return _spec(endpoint, params, {"Authorization": header}, idempotent, True)


def with_bearer_token(spec: RequestSpec, access_token: str) -> RequestSpec:
    """The same request authorised by a ``public/auth`` session token instead of a signature."""
    headers = spec.headers | {"Authorization": f"bearer {access_token}"}
    return msgspec.structs.replace(spec, headers=headers, signed=True)


def server_time() -> RequestSpec:
    return _public(Endpoint.TIME, [])


def instruments(currency: str, kind: str | None = None, expired: bool = False) -> RequestSpec:
    """``public/get_instruments`` for a currency (BTC, ETH, USDC, ...), optionally one kind."""
    params: Params = [("currency", currency)]
    if kind is not None:
        params.append(("kind", kind))
    params.append(("expired", expired))
    return _public(Endpoint.INSTRUMENTS, params)


def instrument(symbol: str) -> RequestSpec:
    return _public(Endpoint.INSTRUMENT, [("instrument_name", symbol)])


def order_book(symbol: str, depth: int = 20) -> RequestSpec:
    """``public/get_order_book``; its ``change_id`` lines up with the book.* stream."""
    return _public(Endpoint.ORDER_BOOK, [("instrument_name", symbol), ("depth", depth)])


def ticker(symbol: str) -> RequestSpec:
    """``public/ticker``: best bid/ask, mark and index of one instrument (parse with parse_ticker)."""
    return _public(Endpoint.TICKER, [("instrument_name", symbol)])


def status() -> RequestSpec:
    """``public/status``: whether the platform (or some currencies) is locked (parse with parse_status)."""
    return _public(Endpoint.STATUS, [])


def klines(symbol: str, resolution: str, start_ms: int, end_ms: int) -> RequestSpec:
    """``public/get_tradingview_chart_data``; resolution is minutes ("1", "60") or "1D"."""
    parse.resolution_ms(resolution)  # refuse unknown resolutions before sending
    params: Params = [
        ("instrument_name", symbol),
        ("start_timestamp", start_ms),
        ("end_timestamp", end_ms),
        ("resolution", resolution),
    ]
    return _public(Endpoint.KLINES, params)


def recent_trades(symbol: str, count: int = 100) -> RequestSpec:
    return _public(Endpoint.TRADES, [("instrument_name", symbol), ("count", count)])


def auth(credentials: Credentials, now_ms: int, nonce: str, data: str = "") -> RequestSpec:
    """``public/auth`` with ``client_signature`` over REST; parse the answer with parse_auth."""
    params: Params = [
        ("grant_type", "client_signature"),
        ("client_id", credentials.api_key),
        ("timestamp", now_ms),
        ("nonce", nonce),
        ("data", data),
        ("signature", client_signature(credentials, now_ms, nonce, data)),
    ]
    return _spec(Endpoint.AUTH, params, {}, True, False)


def account_summary(
    currency: str, extended: bool = False, *, credentials: Credentials, now_ms: int, nonce: str
) -> RequestSpec:
    """``private/get_account_summary`` of one currency; ``extended`` adds account id, fees and limits."""
    params: Params = [("currency", currency)]
    if extended:
        params.append(("extended", True))
    return _private(Endpoint.ACCOUNT_SUMMARY, params, credentials, now_ms, nonce)


def account_summaries(*, credentials: Credentials, now_ms: int, nonce: str) -> RequestSpec:
    """Balances of every currency in one call."""
    return _private(Endpoint.ACCOUNT_SUMMARIES, [], credentials, now_ms, nonce)


def positions(
    currency: str, kind: str | None = None, *, credentials: Credentials, now_ms: int, nonce: str
) -> RequestSpec:
    params: Params = [("currency", currency)]
    if kind is not None:
        params.append(("kind", kind))
    return _private(Endpoint.POSITIONS, params, credentials, now_ms, nonce)


_TIF = {
    TimeInForce.GTC: "good_til_cancelled",
    TimeInForce.IOC: "immediate_or_cancel",
    TimeInForce.FOK: "fill_or_kill",
}


def place_order(
    order: PlaceOrder, inst: Instrument, *, credentials: Credentials, now_ms: int, nonce: str, stream: str = "",
    request_id: int = 0,
) -> RequestSpec:
    """``private/buy`` or ``private/sell``; the client order id travels as ``label``. With ``stream``: the
    request (id ``request_id``) for that socket (see the module rules).

    ``quantity`` is Deribit's ``amount`` (USD for inverse futures, base coin otherwise) and must already
    be rounded to the lot and tick. Post-only sets ``reject_post_only`` too, so a crossing post-only
    order is rejected rather than silently repriced (Deribit's default).

    Raises:
        InvalidOrder: wrong venue or instrument, limit without price, market with price, post-only that is
            not a GTC limit, a bad client order id, or a size/price the instrument refuses.
    """
    where = f"deribit {inst.venue_symbol} order {order.client_order_id!r}"
    if order.venue is not Venue.DERIBIT or inst.venue is not Venue.DERIBIT or order.instrument != inst.id:
        msg = f"{where}: expected a deribit order for {inst.id}, got {order.venue} {order.instrument}"
        raise InvalidOrder(msg)
    codes.validate_client_order_id(order.client_order_id)
    if order.order_type is OrderType.LIMIT and order.price is None:
        msg = f"{where}: a limit order needs a price, got none"
        raise InvalidOrder(msg)
    if order.order_type is OrderType.MARKET and order.price is not None:
        msg = f"{where}: a market order takes no price, got {order.price}"
        raise InvalidOrder(msg)
    if order.post_only and (
        order.order_type is not OrderType.LIMIT or order.time_in_force is not TimeInForce.GTC
    ):
        msg = f"{where}: post-only needs a GTC limit order, got {order.order_type} {order.time_in_force}"
        raise InvalidOrder(msg)
    check_order_size(inst, order.quantity, order.price)
    params: Params = [
        ("instrument_name", inst.venue_symbol),
        ("amount", order.quantity),
        ("type", order.order_type.value),
        ("label", order.client_order_id),
    ]
    if order.price is not None:
        params.append(("price", order.price))
    params.append(("time_in_force", _TIF[order.time_in_force]))
    if order.post_only:
        params += [("post_only", True), ("reject_post_only", True)]
    if order.reduce_only:
        params.append(("reduce_only", True))
    endpoint = Endpoint.BUY if order.side is Side.BUY else Endpoint.SELL
    return _private(endpoint, params, credentials, now_ms, nonce, idempotent=False, stream=stream,
                    request_id=request_id)


def cancel_order(venue_order_id: str, *, credentials: Credentials, now_ms: int, nonce: str, stream: str = "",
                 request_id: int = 0) -> RequestSpec:
    """``private/cancel`` of one order (with ``stream``: for that socket)."""
    return _private(Endpoint.CANCEL, [("order_id", venue_order_id)], credentials, now_ms, nonce, stream=stream,
                    request_id=request_id)


def cancel_all(*, credentials: Credentials, now_ms: int, nonce: str) -> RequestSpec:
    """``private/cancel_all``: every open order of the account; parse the count with parse_cancel_count."""
    return _private(Endpoint.CANCEL_ALL, [], credentials, now_ms, nonce)


def edit_order(
    venue_order_id: str,
    amount: Decimal,
    price: Decimal | None = None,
    advanced: str | None = None,
    *,
    credentials: Credentials,
    now_ms: int,
    nonce: str,
) -> RequestSpec:
    """``private/edit``: new amount (and price) of an open order; parse the answer with parse_place_order.

    ``amount`` is the new total amount, in the same unit as ``place_order``; ``advanced`` ("usd" or
    "implv") is for options only. Not idempotent: the amount may meanwhile have been partly filled.
    """
    params: Params = [("order_id", venue_order_id), ("amount", amount)]
    if price is not None:
        params.append(("price", price))
    if advanced is not None:
        params.append(("advanced", advanced))
    return _private(Endpoint.EDIT, params, credentials, now_ms, nonce, idempotent=False)


def cancel_by_client_id(
    client_order_id: str, currency: str, *, credentials: Credentials, now_ms: int, nonce: str, stream: str = "",
    request_id: int = 0,
) -> RequestSpec:
    """``private/cancel_by_label`` in one currency (the instrument's settlement currency; with ``stream``: for
    that socket)."""
    params: Params = [("label", client_order_id), ("currency", currency)]
    return _private(Endpoint.CANCEL_BY_LABEL, params, credentials, now_ms, nonce, stream=stream,
                    request_id=request_id)


def query_order(venue_order_id: str, *, credentials: Credentials, now_ms: int, nonce: str) -> RequestSpec:
    return _private(Endpoint.ORDER_STATE, [("order_id", venue_order_id)], credentials, now_ms, nonce)


def query_by_client_id(
    client_order_id: str, currency: str, *, credentials: Credentials, now_ms: int, nonce: str
) -> RequestSpec:
    """``private/get_order_state_by_label``: recent orders with this label in one currency."""
    params: Params = [("currency", currency), ("label", client_order_id)]
    return _private(Endpoint.ORDER_STATE_BY_LABEL, params, credentials, now_ms, nonce)


def open_orders(
    symbol: str | None = None, *, credentials: Credentials, now_ms: int, nonce: str
) -> RequestSpec:
    """Open orders of one instrument, or of the whole account when ``symbol`` is None."""
    if symbol is None:
        return _private(Endpoint.OPEN_ORDERS, [], credentials, now_ms, nonce)
    return _private(
        Endpoint.OPEN_ORDERS_BY_INSTRUMENT, [("instrument_name", symbol)], credentials, now_ms, nonce
    )


def disable_cancel_on_disconnect(*, credentials: Credentials, stream: str, request_id: int) -> RequestSpec:
    """``private/disable_cancel_on_disconnect`` (scope ``connection``) for ``stream``'s authenticated socket,
    with ``request_id`` (WebSocket only: Deribit keeps cancel-on-disconnect per connection; over HTTP the
    method answers 10030 must_be_websocket_request). Parse the "ok" with ``raise_for_error``.

    Raises:
        ConfigError: no stream.
    """
    if not stream:
        msg = "deribit private/disable_cancel_on_disconnect: expected the stream of the socket to disarm, got none"
        raise ConfigError(msg)
    return _private(Endpoint.DISABLE_COD, [("scope", "connection")], credentials, 0, "", stream=stream,
                    request_id=request_id)


# -- parsing ------------------------------------------------------------------------------------------
def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_text(err: wire.RpcError) -> str:
    data = bytes(err.data)
    return f"{err.message} {data.decode('utf-8', 'replace')}" if data and data != b"null" else err.message


def _raise_for_status(response: Response) -> None:
    status = response.status
    if status < 400:
        return
    text = f"HTTP {status}: {response.body[:200].decode('utf-8', 'replace')}"
    if status == 429:
        raise RateLimited(codes.VENUE, status, text, status, _retry_after(response.headers))
    if status >= 500:
        raise VenueUnavailable(codes.VENUE, status, text, status)
    if status in (401, 403):
        raise AuthError(codes.VENUE, status, text, status)
    raise VenueReject(codes.VENUE, status, text, status)


def raise_for_error(response: Response) -> None:
    """Raise the typed error a Deribit answer carries, if any.

    Raises:
        VenueReject: a subclass chosen by codes.error_class for a JSON-RPC error object, else by status.
    """
    try:
        err = wire.ERROR_ENVELOPE.decode(response.body).error
    except msgspec.DecodeError:
        err = None
    if err is not None:
        raise codes.make_error(err.code, _error_text(err), response.status, _retry_after(response.headers))
    _raise_for_status(response)


def _decoder(result: Any, strict: bool = True) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(wire.RpcResponse[result], strict=strict)


_TIME = _decoder(int)
_INSTRUMENTS = _decoder(list[wire.InstrumentWire])
_INSTRUMENT = _decoder(wire.InstrumentWire)
_BOOK = _decoder(wire.OrderBookResult, strict=False)
_CHART = _decoder(wire.ChartData, strict=False)
_TRADES = _decoder(wire.LastTrades, strict=False)
_TICKER = _decoder(wire.TopOfBook, strict=False)
_STATUS = _decoder(wire.PlatformStatus, strict=False)
_AUTH = _decoder(wire.AuthResult)
_SUMMARY = _decoder(wire.Portfolio)
_SUMMARIES = _decoder(wire.AccountSummaries)
_POSITIONS = _decoder(list[wire.PositionWire])
_PLACE = _decoder(wire.PlaceResult)
_ORDER = _decoder(wire.Order)
_ORDERS = _decoder(list[wire.Order])
_COUNT = _decoder(int)
_MARGIN = _decoder(wire.MarginModel)


def _result(decoder: msgspec.json.Decoder[Any], response: Response, what: str) -> Any:
    try:
        msg = decoder.decode(response.body)
    except msgspec.DecodeError as exc:
        raise_for_error(response)
        raise DecodeError(codes.VENUE, what, str(exc), response.body) from None
    if msg.error is not None:
        err: wire.RpcError = msg.error
        raise codes.make_error(err.code, _error_text(err), response.status, _retry_after(response.headers))
    if msg.result is None:
        _raise_for_status(response)
        raise DecodeError(codes.VENUE, what, "expected a result or an error, got neither", response.body)
    return msg.result


def parse_server_time(response: Response) -> int:
    """``public/get_time`` -> epoch ms. Raises VenueReject / DecodeError."""
    result: int = _result(_TIME, response, Endpoint.TIME)
    return result


def parse_instruments(response: Response) -> list[Instrument]:
    """``public/get_instruments`` -> Instruments (combos are skipped). Raises VenueReject / DecodeError."""
    items: list[wire.InstrumentWire] = _result(_INSTRUMENTS, response, Endpoint.INSTRUMENTS)
    out = [parse.instrument(w) for w in items]
    return [i for i in out if i is not None]


def parse_instrument_states(response: Response) -> dict[str, str]:
    """``public/get_instruments`` -> each listed instrument's book state (``parse.instrument_state``); only
    ``open`` books take orders."""
    items: list[wire.InstrumentWire] = _result(_INSTRUMENTS, response, Endpoint.INSTRUMENTS)
    return {w.instrument_name: parse.instrument_state(w) for w in items}


def parse_instrument(response: Response) -> Instrument | None:
    w: wire.InstrumentWire = _result(_INSTRUMENT, response, Endpoint.INSTRUMENT)
    return parse.instrument(w)


def parse_order_book(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> BookSnapshot:
    """``public/get_order_book`` -> BookSnapshot whose ``sequence`` is Deribit's change_id."""
    w: wire.OrderBookResult = _result(_BOOK, response, Endpoint.ORDER_BOOK)
    return BookSnapshot(
        venue=Venue.DERIBIT,
        instrument=symbols(w.instrument_name),
        bids=parse.levels(w.bids),
        asks=parse.levels(w.asks),
        sequence=w.change_id,
        ts_event=w.timestamp * parse.MS,
        ts_recv=ts_recv,
    )


def parse_ticker(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> Quote | None:
    """``public/ticker`` -> Quote of the best bid/ask; None while either side is empty."""
    w: wire.TopOfBook = _result(_TICKER, response, Endpoint.TICKER)
    return parse.quote(w, symbols(w.instrument_name), ts_recv)


def parse_status(response: Response) -> wire.PlatformStatus:
    """``public/status`` -> whether trading is locked, and in which currencies."""
    result: wire.PlatformStatus = _result(_STATUS, response, Endpoint.STATUS)
    return result


def parse_klines(
    response: Response, instrument_id: InstrumentId, resolution: str, ts_recv: int
) -> list[Kline]:
    """Chart data -> Klines; every candle but the last is closed (the last may still be forming).

    Raises:
        DecodeError: arrays of different lengths, or an unknown resolution.
    """
    w: wire.ChartData = _result(_CHART, response, Endpoint.KLINES)
    n = len(w.ticks)
    if not all(len(col) == n for col in (w.open, w.high, w.low, w.close, w.volume)):
        raise DecodeError(codes.VENUE, Endpoint.KLINES, f"expected {n} values in every column", response.body)
    out: list[Kline] = []
    for i in range(n):
        candle = wire.Candle(w.ticks[i], w.open[i], w.high[i], w.low[i], w.close[i], w.volume[i])
        out.append(parse.kline(candle, instrument_id, resolution, ts_recv, closed=i < n - 1))
    return out


def parse_trades(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> list[Trade]:
    w: wire.LastTrades = _result(_TRADES, response, Endpoint.TRADES)
    return [parse.trade(t, symbols(t.instrument_name), ts_recv) for t in w.trades]


def parse_auth(response: Response) -> AuthTokens:
    """``public/auth`` -> tokens (AuthError on bad credentials or signature)."""
    w: wire.AuthResult = _result(_AUTH, response, Endpoint.AUTH)
    return AuthTokens(w.access_token, w.refresh_token, w.expires_in, w.scope)


def parse_balances(response: Response, ts_recv: int) -> list[Balance]:
    """``private/get_account_summary`` (one currency) or ``get_account_summaries`` (all) -> Balances."""
    try:
        one: wire.Portfolio = _result(_SUMMARY, response, Endpoint.ACCOUNT_SUMMARY)
        return [parse.balance(one, ts_recv)]
    except DecodeError:
        many: wire.AccountSummaries = _result(_SUMMARIES, response, Endpoint.ACCOUNT_SUMMARIES)
        return [parse.balance(s, ts_recv) for s in many.summaries]


def parse_positions(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> list[Position]:
    items: list[wire.PositionWire] = _result(_POSITIONS, response, Endpoint.POSITIONS)
    return [parse.position(p, symbols(p.instrument_name), ts_recv) for p in items]


def parse_place_order(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> list[OrderUpdate | Fill]:
    """``private/buy``/``sell`` -> the order's update followed by any immediate fills."""
    w: wire.PlaceResult = _result(_PLACE, response, Endpoint.BUY)
    out: list[OrderUpdate | Fill] = [parse.order_update(w.order, symbols(w.order.instrument_name), ts_recv)]
    out += [parse.fill(t, symbols(t.instrument_name), ts_recv) for t in w.trades]
    return out


def parse_order(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> OrderUpdate:
    """``private/get_order_state`` or ``private/cancel`` -> OrderUpdate."""
    w: wire.Order = _result(_ORDER, response, Endpoint.ORDER_STATE)
    return parse.order_update(w, symbols(w.instrument_name), ts_recv)


def parse_orders(response: Response, symbols: parse.SymbolMap, ts_recv: int) -> list[OrderUpdate]:
    """Open orders or ``get_order_state_by_label`` -> OrderUpdates."""
    items: list[wire.Order] = _result(_ORDERS, response, Endpoint.OPEN_ORDERS)
    return [parse.order_update(w, symbols(w.instrument_name), ts_recv) for w in items]


def parse_cancel_count(response: Response) -> int:
    """``private/cancel_by_label`` / ``cancel_all`` -> number of orders cancelled."""
    result: int = _result(_COUNT, response, Endpoint.CANCEL_BY_LABEL)
    return result


_LIVE_STATES = ("open", "untriggered")


def parse_order_by_label(
    response: Response, symbols: parse.SymbolMap, ts_recv: int, client_order_id: str
) -> OrderUpdate:
    """``private/get_order_state_by_label`` -> the one order carrying ``client_order_id``.

    Deribit lists recent orders with the label; a label is unique among open orders but a closed order's
    label may be reused, so the open order wins, else the most recently updated one.

    Raises:
        UnknownOrder: no order carries the label (Deribit answers an empty list, not an error).
        VenueReject / DecodeError: an error answer or an unexpected shape.
    """
    items: list[wire.Order] = _result(_ORDERS, response, Endpoint.ORDER_STATE_BY_LABEL)
    if not items:
        msg = f"no order with label {client_order_id!r} in get_order_state_by_label"
        raise UnknownOrder(codes.VENUE, 10004, msg, response.status)
    live = [w for w in items if w.order_state in _LIVE_STATES]
    w = max(live or items, key=lambda o: o.last_update_timestamp)
    return parse.order_update(w, symbols(w.instrument_name), ts_recv)


def parse_cancel_by_label(response: Response, client_order_id: str) -> int:
    """``private/cancel_by_label`` -> how many orders it cancelled (at least one).

    Raises:
        UnknownOrder: it cancelled nothing: no open order carries the label.
        VenueReject / DecodeError: an error answer or an unexpected shape.
    """
    count = parse_cancel_count(response)
    if count == 0:
        msg = f"no open order with label {client_order_id!r} to cancel"
        raise UnknownOrder(codes.VENUE, 11044, msg, response.status)
    return count


_TRADE_SCOPE = "trade:read_write"
_WITHDRAW_SCOPE = "wallet:read_write"


def parse_key_permissions(response: Response) -> KeyFacts:
    """``public/auth`` (``client_signature``, no scope asked) -> what the key may do, read from the granted
    ``scope`` (docs.deribit.com "Access scope": ``trade:read_write`` creates and modifies orders,
    ``wallet:read_write`` withdraws; ``client_credentials`` may narrow ``wallet:read_write`` to
    ``wallet:read``, a signed grant is not narrowed). The grant says nothing of the key's IP whitelist
    (``private/list_api_keys`` does, with ``account:read_write`` and possibly a security-key challenge), so
    ``ip_restricted`` is None. Tokens never leave this function.

    Raises:
        AuthError / VenueReject / DecodeError: refused, or an unexpected shape.
    """
    w: wire.AuthResult = _result(_AUTH, response, Endpoint.AUTH)
    scopes = w.scope.split()
    shown = " ".join(s for s in scopes if not s.startswith("session:")) or "(none)"
    return KeyFacts(can_trade=_TRADE_SCOPE in scopes, can_withdraw=_WITHDRAW_SCOPE in scopes, ip_restricted=None,
                    detail=f"scope={shown}")


def parse_margin_model(response: Response) -> InstrumentFacts:
    """``private/get_account_summary`` -> the account's margin model for the currency (Deribit margins per
    account and currency, never per instrument, and has no leverage setting: ``leverage`` is "").

    Raises:
        VenueReject / DecodeError: an error answer, or no ``margin_model`` in the summary.
    """
    w: wire.MarginModel = _result(_MARGIN, response, Endpoint.ACCOUNT_SUMMARY)
    if not w.margin_model:
        raise DecodeError(codes.VENUE, Endpoint.ACCOUNT_SUMMARY, "expected a margin_model, got none", response.body)
    detail = f"{w.currency} margin_model={w.margin_model}"
    if w.portfolio_margining_enabled is not None:
        detail += f", portfolio_margining_enabled={str(w.portfolio_margining_enabled).lower()}"
    if w.cross_collateral_enabled is not None:
        detail += f", cross_collateral_enabled={str(w.cross_collateral_enabled).lower()}"
    return InstrumentFacts(margin_mode=w.margin_model, leverage="", detail=detail)
