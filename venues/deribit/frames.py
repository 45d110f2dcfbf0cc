"""Deribit WebSocket request frames (JSON-RPC 2.0) and channel names.

Rules for this module:
- Pure builders: each takes the request id the caller allocated (DeribitCodec keeps the id -> method
  map so responses can be matched) and returns the exact bytes to send.
- Time and nonces are arguments; secrets only go into signatures, never into a frame (we do not use the
  ``client_credentials`` grant, which sends the secret in clear).
- Channel names are built here from typed arguments and nowhere else in this package.
"""

from __future__ import annotations

import enum

import msgspec

from venues import Credentials
from venues.deribit.signing import client_signature
from venues.errors import ConfigError

__all__ = [
    "Interval",
    "Method",
    "book_channel",
    "grouped_book_channel",
    "trades_channel",
    "ticker_channel",
    "quote_channel",
    "chart_channel",
    "user_orders_channel",
    "user_orders_kind_channel",
    "user_trades_channel",
    "user_trades_kind_channel",
    "user_changes_channel",
    "user_changes_kind_channel",
    "user_portfolio_channel",
    "instrument_state_channel",
    "request_frame",
    "subscribe_frame",
    "unsubscribe_frame",
    "auth_frame",
    "refresh_frame",
    "set_heartbeat_frame",
    "test_frame",
    "hello_frame",
    "cancel_on_disconnect_frame",
    "MIN_HEARTBEAT_S",
]


class Interval(enum.StrEnum):
    """Notification interval of a channel. ``raw`` needs an authorised connection on today's platform."""

    RAW = "raw"
    MS100 = "100ms"
    AGG2 = "agg2"


class Method(enum.StrEnum):
    """The JSON-RPC methods the codec sends over the socket."""

    PUBLIC_SUBSCRIBE = "public/subscribe"
    PRIVATE_SUBSCRIBE = "private/subscribe"
    PUBLIC_UNSUBSCRIBE = "public/unsubscribe"
    PRIVATE_UNSUBSCRIBE = "private/unsubscribe"
    AUTH = "public/auth"
    SET_HEARTBEAT = "public/set_heartbeat"
    TEST = "public/test"
    HELLO = "public/hello"
    ENABLE_COD = "private/enable_cancel_on_disconnect"


MIN_HEARTBEAT_S = 10


# -- channels -----------------------------------------------------------------------------------------
def book_channel(symbol: str, interval: Interval = Interval.MS100) -> str:
    """Incremental book: a snapshot, then changes chained by change_id/prev_change_id."""
    return f"book.{symbol}.{interval}"


def grouped_book_channel(symbol: str, group: str, depth: int, interval: Interval = Interval.MS100) -> str:
    """Grouped book: a full snapshot every notification (group "none" keeps prices as they are)."""
    return f"book.{symbol}.{group}.{depth}.{interval}"


def trades_channel(symbol: str, interval: Interval = Interval.MS100) -> str:
    return f"trades.{symbol}.{interval}"


def ticker_channel(symbol: str, interval: Interval = Interval.MS100) -> str:
    return f"ticker.{symbol}.{interval}"


def quote_channel(symbol: str) -> str:
    return f"quote.{symbol}"


def chart_channel(symbol: str, resolution: str) -> str:
    """Candles; resolution is minutes ("1", "60", ...) or "1D"."""
    return f"chart.trades.{symbol}.{resolution}"


def user_orders_channel(symbol: str, interval: Interval = Interval.RAW) -> str:
    return f"user.orders.{symbol}.{interval}"


def user_orders_kind_channel(kind: str, currency: str, interval: Interval = Interval.RAW) -> str:
    """Orders of every instrument of one kind ("future", "option", "any") and currency ("BTC", "any")."""
    return f"user.orders.{kind}.{currency}.{interval}"


def user_trades_channel(symbol: str, interval: Interval = Interval.RAW) -> str:
    return f"user.trades.{symbol}.{interval}"


def user_trades_kind_channel(kind: str, currency: str, interval: Interval = Interval.RAW) -> str:
    """Our executions in every instrument of one kind ("future", "option", "any") and currency ("BTC", "any")."""
    return f"user.trades.{kind}.{currency}.{interval}"


def user_changes_channel(symbol: str, interval: Interval = Interval.RAW) -> str:
    return f"user.changes.{symbol}.{interval}"


def user_changes_kind_channel(kind: str, currency: str, interval: Interval = Interval.RAW) -> str:
    """Orders, trades and positions together, for one kind and currency (``any`` for all)."""
    return f"user.changes.{kind}.{currency}.{interval}"


def user_portfolio_channel(currency: str) -> str:
    return f"user.portfolio.{currency.lower()}"


def instrument_state_channel(kind: str, currency: str) -> str:
    """``instrument.state.{kind}.{currency}``: book state changes (kind future, option, spot, ...)."""
    return f"instrument.state.{kind}.{currency}"


# -- frames -------------------------------------------------------------------------------------------
class _Channels(msgspec.Struct):
    channels: list[str]


class _AuthSignature(msgspec.Struct):
    grant_type: str
    client_id: str
    timestamp: int
    nonce: str
    data: str
    signature: str


class _AuthRefresh(msgspec.Struct):
    grant_type: str
    refresh_token: str


class _Heartbeat(msgspec.Struct):
    interval: int


class _Hello(msgspec.Struct):
    client_name: str
    client_version: str


class _Scope(msgspec.Struct):
    scope: str


class _Empty(msgspec.Struct):
    pass


_Params = _Channels | _AuthSignature | _AuthRefresh | _Heartbeat | _Hello | _Scope | _Empty


class _Request(msgspec.Struct):
    jsonrpc: str
    id: int
    method: str
    params: _Params


_encode = msgspec.json.Encoder().encode


def request_frame(request_id: int, method: Method, params: _Params | None = None) -> bytes:
    """One JSON-RPC request: ``{"jsonrpc":"2.0","id":..,"method":..,"params":{..}}``."""
    return _encode(_Request("2.0", request_id, str(method), params if params is not None else _Empty()))


def subscribe_frame(request_id: int, channels: list[str], private: bool = False) -> bytes:
    """Subscribe; private channels (user.*) need ``private=True`` on an authorised connection."""
    method = Method.PRIVATE_SUBSCRIBE if private else Method.PUBLIC_SUBSCRIBE
    return request_frame(request_id, method, _Channels(list(channels)))


def unsubscribe_frame(request_id: int, channels: list[str], private: bool = False) -> bytes:
    method = Method.PRIVATE_UNSUBSCRIBE if private else Method.PUBLIC_UNSUBSCRIBE
    return request_frame(request_id, method, _Channels(list(channels)))


def auth_frame(
    request_id: int, credentials: Credentials, timestamp_ms: int, nonce: str, data: str = ""
) -> bytes:
    """``public/auth`` with ``grant_type=client_signature`` (the secret never leaves this process).

    Args:
        request_id: id allocated by the caller.
        credentials: client id and secret.
        timestamp_ms: epoch ms, offset-corrected.
        nonce: a fresh random string.
        data: optional extra signed data.
    """
    sig = client_signature(credentials, timestamp_ms, nonce, data)
    params = _AuthSignature("client_signature", credentials.api_key, timestamp_ms, nonce, data, sig)
    return request_frame(request_id, Method.AUTH, params)


def refresh_frame(request_id: int, refresh_token: str) -> bytes:
    """``public/auth`` with ``grant_type=refresh_token``."""
    return request_frame(request_id, Method.AUTH, _AuthRefresh("refresh_token", refresh_token))


def set_heartbeat_frame(request_id: int, interval_s: int) -> bytes:
    """``public/set_heartbeat``; the server then sends test_requests that must be answered.

    Raises:
        ConfigError: interval below Deribit's minimum of 10 s.
    """
    if interval_s < MIN_HEARTBEAT_S:
        msg = f"deribit heartbeat interval must be >= {MIN_HEARTBEAT_S} s, got {interval_s}"
        raise ConfigError(msg)
    return request_frame(request_id, Method.SET_HEARTBEAT, _Heartbeat(interval_s))


def test_frame(request_id: int) -> bytes:
    """``public/test``: the answer to a heartbeat test_request (and a liveness ping)."""
    return request_frame(request_id, Method.TEST)


def hello_frame(request_id: int, client_name: str, client_version: str) -> bytes:
    return request_frame(request_id, Method.HELLO, _Hello(client_name, client_version))


def cancel_on_disconnect_frame(request_id: int, scope: str = "connection") -> bytes:
    """``private/enable_cancel_on_disconnect`` with scope "connection" or "account"."""
    return request_frame(request_id, Method.ENABLE_COD, _Scope(scope))
