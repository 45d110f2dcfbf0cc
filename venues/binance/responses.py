"""Binance USD-M REST answers: typed errors and response parsing (re-exported by rest.py).

Rules:
- The venue answers errors with HTTP 4xx/5xx and ``{"code": <negative>, "msg": ...}`` (a few 200 answers carry
  a code too). ``raise_for_error`` turns them into venues/errors.py classes, keeping code, text and HTTP
  status: 418 -> IpBanned, 429 -> RateLimited (Retry-After), 5xx -> VenueUnavailable (a 503 "Unknown error"
  means the outcome of a write is unknown: reconcile, never blindly resend), 403 without a code (WAF) ->
  RateLimited, otherwise by code (codes.error_class).
- Every parser checks for an error first, then decodes with a typed decoder built once at import; a body of
  the wrong shape is a DecodeError naming what was expected and where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from messages.account import Balance, Position, PositionMode
from messages.base import InstrumentId, Venue
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Trade
from messages.orders import OrderRejected, OrderUpdate, PlaceOrder
from venues.binance import codes, parse, wire
from venues.errors import DecodeError, IpBanned, RateLimited, VenueReject, VenueUnavailable
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Response

__all__ = [
    "Resolve",
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

T = TypeVar("T")
Resolve = Callable[[str], InstrumentId]
"""Venue symbol -> unified id (the codec passes its registry-backed resolver)."""

# -- responses --------------------------------------------------------------------------------------------
_V = codes.VENUE
_BANNED_UNTIL = re.compile(r"banned until (\d{10,16})")
_ERROR = msgspec.json.Decoder(wire.RestError)
_SERVER_TIME = msgspec.json.Decoder(wire.ServerTime, strict=False)
_EXCHANGE_INFO = msgspec.json.Decoder(wire.ExchangeInfo, strict=False)
_DEPTH = msgspec.json.Decoder(wire.DepthSnapshot, strict=False)
_KLINES = msgspec.json.Decoder(list[wire.RestKline], strict=False)
_TRADES = msgspec.json.Decoder(list[wire.RestTrade], strict=False)
_ACCOUNT_CONFIG = msgspec.json.Decoder(wire.AccountConfig, strict=False)
_SYMBOL_CONFIG = msgspec.json.Decoder(list[wire.SymbolConfig], strict=False)
_BALANCES = msgspec.json.Decoder(list[wire.RestBalance], strict=False)
_POSITIONS = msgspec.json.Decoder(list[wire.RestPosition], strict=False)
_ORDER = msgspec.json.Decoder(wire.RestOrder, strict=False)
_ORDERS = msgspec.json.Decoder(list[wire.RestOrder], strict=False)
_LISTEN_KEY = msgspec.json.Decoder(wire.ListenKey)
_POSITION_SIDE_DUAL = msgspec.json.Decoder(wire.PositionSideDual)
_COUNTDOWN = msgspec.json.Decoder(wire.Countdown, strict=False)  # countdownTime comes as a string


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def raise_for_error(response: Response) -> None:
    """Raise the typed error a Binance response carries, if any.

    Args:
        response: Status, lower-case headers and body.

    Raises:
        IpBanned: HTTP 418, or a message saying the IP is banned (``until_ms`` parsed from it).
        RateLimited: HTTP 429, codes -1003/-1015, or HTTP 403 without a code (WAF); ``retry_after_s`` from
            the Retry-After header.
        VenueUnavailable: HTTP 5xx (a 503 "Unknown error" means the outcome of a write is unknown) and
            codes -1000/-1001/-1006/-1007/-1008/-1016.
        VenueReject: the subclass codes.error_class picks for the body's code (AuthError, TimestampError,
            InsufficientFunds, UnknownOrder, DuplicateClientOrderId, InvalidParameter, ...).
    """
    status, body = response.status, response.body
    if status < 400 and b'"code"' not in body[:16]:
        return
    code: int = status
    text = body[:200].decode("utf-8", "replace").strip()
    has_code = False
    try:
        err = _ERROR.decode(body)
    except msgspec.MsgspecError:
        if status < 400:
            return
    else:
        if status < 400 and err.code >= 0:
            return  # e.g. {"code": 200, "msg": "The operation of cancel all open order is done."}
        code, text, has_code = err.code, err.msg, True
    retry_after = _retry_after(response.headers)
    banned = _BANNED_UNTIL.search(text)
    if status == 418 or banned is not None:
        until = int(banned.group(1)) if banned is not None else None
        raise IpBanned(_V, code, text, status, retry_after, until)
    if status == 429:
        raise RateLimited(_V, code, text, status, retry_after)
    if status >= 500:
        raise VenueUnavailable(_V, code, text, status)
    cls = codes.error_class(code) if has_code else VenueReject
    if cls is RateLimited or (status == 403 and not has_code):
        raise RateLimited(_V, code, text, status, retry_after)
    raise cls(_V, code, text, status)


def _decode(decoder: msgspec.json.Decoder[T], response: Response, what: str) -> T:
    raise_for_error(response)
    try:
        return decoder.decode(response.body)
    except msgspec.MsgspecError as exc:
        raise DecodeError(_V, what, str(exc), response.body) from None


def parse_server_time(response: Response) -> int:
    """GET /fapi/v1/time -> the venue's epoch ms.

    Raises:
        VenueReject: an error response (see raise_for_error).
        DecodeError: the body is not the documented shape.
    """
    return _decode(_SERVER_TIME, response, "server time").serverTime


def parse_instruments(response: Response) -> list[Instrument]:
    """GET /fapi/v1/exchangeInfo -> Instruments of the perpetual and dated contracts that are TRADING.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape, or a symbol lacks tick or lot filters.
    """
    info = _decode(_EXCHANGE_INFO, response, "exchangeInfo")
    out = []
    for sym in info.symbols:
        if sym.status != "TRADING":
            continue
        inst = parse.instrument_from_symbol(sym)
        if inst is not None:
            out.append(inst)
    return out


def parse_depth(response: Response | bytes, instrument: InstrumentId, ts_recv: int) -> BookSnapshot:
    """GET /fapi/v1/depth -> BookSnapshot (``sequence`` = lastUpdateId).

    Args:
        response: The REST response, or its body alone.
        instrument: Unified id of the book.
        ts_recv: Local receive time, ns.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape (or a level is not a positive price / size).
    """
    if isinstance(response, bytes):
        response = Response(status=200, headers={}, body=response)
    return parse.book_snapshot(_decode(_DEPTH, response, "depth snapshot"), instrument, ts_recv)


def parse_klines(response: Response, instrument: InstrumentId, interval: str, ts_recv: int) -> list[Kline]:
    """GET /fapi/v1/klines -> Klines, oldest first.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    rows = _decode(_KLINES, response, "klines")
    return [parse.kline_from_rest(k, instrument, interval, ts_recv) for k in rows]


def parse_trades(response: Response, instrument: InstrumentId, ts_recv: int) -> list[Trade]:
    """GET /fapi/v1/trades -> Trades.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    return [parse.trade_from_rest(t, instrument, ts_recv) for t in _decode(_TRADES, response, "trades")]


def parse_balances(response: Response, ts_recv: int) -> list[Balance]:
    """GET /fapi/v3/balance -> Balances.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    return [parse.balance_from_rest(b, ts_recv) for b in _decode(_BALANCES, response, "balance")]


def parse_positions(
    response: Response, ts_recv: int, resolve: Resolve = parse.instrument_id_for, include_flat: bool = False
) -> list[Position]:
    """GET /fapi/v3/positionRisk -> Positions (flat ones only with ``include_flat``).

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape or a symbol cannot be mapped.
    """
    rows = _decode(_POSITIONS, response, "positionRisk")
    return [
        parse.position_from_rest(p, resolve(p.symbol), ts_recv)
        for p in rows
        if include_flat or p.positionAmt != 0
    ]


def parse_order(response: Response, ts_recv: int, resolve: Resolve = parse.instrument_id_for) -> OrderUpdate:
    """POST / DELETE / GET /fapi/v1/order -> OrderUpdate.

    Raises:
        VenueReject: an error response (UnknownOrder, DuplicateClientOrderId, InsufficientFunds, ...).
        UnknownStatus: the order's status is not a documented one.
        DecodeError: the body is not the documented shape.
    """
    o = _decode(_ORDER, response, "order")
    return parse.order_update_from_rest(o, resolve(o.symbol), ts_recv)


def parse_orders(
    response: Response, ts_recv: int, resolve: Resolve = parse.instrument_id_for
) -> list[OrderUpdate]:
    """GET /fapi/v1/openOrders -> OrderUpdates.

    Raises:
        VenueReject: an error response.
        UnknownStatus: an order's status is not a documented one.
        DecodeError: the body is not the documented shape.
    """
    rows = _decode(_ORDERS, response, "openOrders")
    return [parse.order_update_from_rest(o, resolve(o.symbol), ts_recv) for o in rows]


def parse_listen_key(response: Response) -> str:
    """POST /fapi/v1/listenKey -> the key (a credential: never log it).

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    return _decode(_LISTEN_KEY, response, "listenKey").listenKey


def parse_position_mode(response: Response) -> PositionMode:
    """GET /fapi/v1/positionSide/dual -> HEDGE (``dualSidePosition`` true) or ONE_WAY.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    dual = _decode(_POSITION_SIDE_DUAL, response, "positionSide/dual").dualSidePosition
    return PositionMode.HEDGE if dual else PositionMode.ONE_WAY


def parse_countdown(response: Response) -> tuple[str, int]:
    """POST /fapi/v1/countdownCancelAll -> (symbol, countdown ms) as the venue echoes them.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape.
    """
    answer = _decode(_COUNTDOWN, response, "countdownCancelAll")
    return answer.symbol, answer.countdownTime


def parse_account_config(response: Response) -> KeyFacts:
    """GET /fapi/v1/accountConfig -> what the account may do, in the venue's words.

    The USD-M host says nothing of the key itself: neither its IP restriction nor its own permission flags
    (those are GET /sapi/v1/account/apiRestrictions on the spot host, api.binance.com), so ``ip_restricted``
    is None and ``canTrade`` / ``canWithdraw`` are the account's ("if can transfer out asset").

    Raises:
        VenueReject: an error response (-2015 for a key used from an IP not on its list).
        DecodeError: the body is not the documented shape.
    """
    cfg = _decode(_ACCOUNT_CONFIG, response, "accountConfig")
    flags = {"canTrade": cfg.canTrade, "canWithdraw": cfg.canWithdraw, "canDeposit": cfg.canDeposit}
    detail = " ".join(f"{k}={str(v).lower()}" for k, v in flags.items()) + f" feeTier={cfg.feeTier}"
    return KeyFacts(can_trade=cfg.canTrade, can_withdraw=cfg.canWithdraw, ip_restricted=None, detail=detail)


def parse_symbol_config(response: Response, symbol: str) -> InstrumentFacts:
    """GET /fapi/v1/symbolConfig?symbol= -> ``symbol``'s margin type ("cross" for CROSSED, "isolated" for
    ISOLATED, else the venue's word in lower case) and leverage.

    Raises:
        VenueReject: an error response.
        DecodeError: the body is not the documented shape, or has no row for ``symbol``.
    """
    rows = _decode(_SYMBOL_CONFIG, response, "symbolConfig")
    row = next((r for r in rows if r.symbol == symbol), None)
    if row is None:
        got = ", ".join(r.symbol for r in rows) or "no row"
        raise DecodeError(_V, "symbolConfig", f"expected a row for {symbol}, got {got}")
    mode = {"CROSSED": "cross", "ISOLATED": "isolated"}.get(row.marginType, row.marginType.lower())
    detail = f"marginType={row.marginType} leverage={row.leverage}"
    if row.maxNotionalValue:
        detail += f" maxNotionalValue={row.maxNotionalValue}"
    return InstrumentFacts(margin_mode=mode, leverage=str(row.leverage), detail=detail)


def order_rejected(order: PlaceOrder, error: VenueReject, ts: int) -> OrderRejected:
    """The bus event for a placement the venue refused, keeping its code and text."""
    return OrderRejected(
        venue=Venue.BINANCE,
        instrument=order.instrument,
        client_order_id=order.client_order_id,
        code=error.code,
        text=error.text,
        ts=ts,
    )
