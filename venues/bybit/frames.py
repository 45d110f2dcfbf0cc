"""Bybit v5 WebSocket frames we send: subscribe, unsubscribe, ping, auth; and the channel names.

Rules:
- Frames are compact JSON bytes built by one encoder; nothing here touches a socket or a clock.
- Public linear depths are 1, 50, 200 and 1000 (10/20/100/200 ms); a subscribe's args string may not
  exceed 21,000 characters (docs/v5/ws/connect), so longer lists are refused here, not by the venue.
- The client pings every 20 s; ``req_id`` is echoed back in the pong, so putting the send time there
  lets the codec report it in ``Pong.ts_sent``.
- Private topics are the categorised ones (``order.linear``, ``execution.linear``, ``position.linear``) plus
  ``wallet``, which has no category (docs/v5/websocket/private/*.mdx: "All-In-One topic and Categorised
  topic cannot be in the same subscription request"): the all-in-one ``order`` / ``execution`` /
  ``position`` carry every category of a unified account (spot and option rows included).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import msgspec

from messages.instruments import Instrument
from messages.orders import PlaceOrder
from venues import Credentials
from venues.bybit.rest import order_body
from venues.bybit.signing import DEFAULT_RECV_WINDOW_MS, ws_auth_signature
from venues.errors import ConfigError

__all__ = [
    "PrivateChannel",
    "private_topics",
    "BOOK_DEPTHS",
    "MAX_ARGS_CHARS",
    "orderbook_topic",
    "trade_topic",
    "ticker_topic",
    "kline_topic",
    "subscribe",
    "unsubscribe",
    "ping",
    "auth",
    "order_create",
]

BOOK_DEPTHS = (1, 50, 200, 1000)
MAX_ARGS_CHARS = 21_000
_encode = msgspec.json.Encoder().encode


class PrivateChannel(enum.StrEnum):
    """Private channels on /v5/private; all but ``wallet`` are subscribed per category (``private_topics``)."""

    ORDER = "order"
    EXECUTION = "execution"
    POSITION = "position"
    WALLET = "wallet"


def private_topics(category: str = "linear") -> list[str]:
    """``order.{category}``, ``execution.{category}``, ``position.{category}`` and ``wallet``, in that order."""
    return [f"{c}.{category}" if c is not PrivateChannel.WALLET else str(c) for c in PrivateChannel]


def orderbook_topic(symbol: str, depth: int = 50) -> str:
    """``orderbook.{depth}.{symbol}``.

    Raises:
        ConfigError: a depth Bybit does not offer for linear contracts.
    """
    if depth not in BOOK_DEPTHS:
        msg = f"bybit linear book depth must be one of {BOOK_DEPTHS}, got {depth}"
        raise ConfigError(msg)
    return f"orderbook.{depth}.{symbol}"


def trade_topic(symbol: str) -> str:
    """``publicTrade.{symbol}``."""
    return f"publicTrade.{symbol}"


def ticker_topic(symbol: str) -> str:
    """``tickers.{symbol}``."""
    return f"tickers.{symbol}"


def kline_topic(symbol: str, interval: str) -> str:
    """``kline.{interval}.{symbol}`` with Bybit's interval name (``"5"``, ``"D"``)."""
    return f"kline.{interval}.{symbol}"


def _op(op: str, args: Sequence[str], req_id: str) -> bytes:
    if not args:
        msg = f"bybit {op} needs at least one topic, got none"
        raise ConfigError(msg)
    size = sum(len(a) for a in args) + 3 * len(args)
    if size > MAX_ARGS_CHARS:
        msg = f"bybit {op} args must total at most {MAX_ARGS_CHARS} characters, got {size}; split the request"
        raise ConfigError(msg)
    frame: dict[str, object] = {"op": op, "args": list(args)}
    if req_id:
        frame["req_id"] = req_id
    return _encode(frame)


def subscribe(topics: Sequence[str], req_id: str = "") -> bytes:
    """``{"op":"subscribe","args":[...]}`` (``req_id`` is echoed in the ack).

    Raises:
        ConfigError: no topics, or more than 21,000 characters of them.
    """
    return _op("subscribe", topics, req_id)


def unsubscribe(topics: Sequence[str], req_id: str = "") -> bytes:
    """``{"op":"unsubscribe","args":[...]}``.

    Raises:
        ConfigError: no topics, or more than 21,000 characters of them.
    """
    return _op("unsubscribe", topics, req_id)


def ping(req_id: str = "") -> bytes:
    """``{"op":"ping"}``; pass the send time as ``req_id`` to get it back in the pong."""
    return _encode({"req_id": req_id, "op": "ping"} if req_id else {"op": "ping"})


def auth(creds: Credentials, expires_ms: int, req_id: str = "") -> bytes:
    """The private-stream login frame ``{"op":"auth","args":[apiKey, expires, signature]}``.

    Args:
        creds: API key and secret.
        expires_ms: a future time in ms (e.g. now + 10 s) after which the venue refuses this frame.
        req_id: optional request id echoed in the ack.

    Returns:
        The frame bytes. They contain the key and a signature: never log them.
    """
    frame: dict[str, object] = {
        "op": "auth",
        "args": [creds.api_key, expires_ms, ws_auth_signature(creds.secret, expires_ms)],
    }
    if req_id:
        frame = {"req_id": req_id, **frame}
    return _encode(frame)


def order_create(
    req_id: str, now_ms: int, order: PlaceOrder, instrument: Instrument, *, position_idx: int,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS, referer: str = "",
) -> bytes:  # fmt: skip
    """The WS trade frame ``{"reqId","header","op":"order.create","args":[{...}]}`` (on /v5/trade).

    The order fields are those of REST ``place_order`` (rest.order_body: same checks, same ``positionIdx``);
    the connection is authorised by ``auth`` beforehand, so the header carries only the timestamp, the
    receive window and, when given, the broker ``Referer``.

    Raises:
        InvalidOrder: see ``rest.place_order``.
    """
    header = {"X-BAPI-TIMESTAMP": str(now_ms), "X-BAPI-RECV-WINDOW": str(recv_window_ms)}
    if referer:
        header["Referer"] = referer
    frame = {"reqId": req_id, "header": header, "op": "order.create", "args": [order_body(order, instrument, position_idx=position_idx)]}
    return _encode(frame)
