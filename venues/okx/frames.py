"""OKX v5 WebSocket request frames (bytes): subscribe, unsubscribe, login, ping.

Rules (OKX docs, overview-websocket):
- Public market data on ``/ws/v5/public`` (books, books5, bbo-tbt, trades, tickers); candles and
  trades-all on ``/ws/v5/business``; orders/positions/account on ``/ws/v5/private`` after login.
- The heartbeat is the TEXT frame ``ping`` (not JSON), answered by the text ``pong``; send it when the
  connection has been idle for less than 30 s.
- Each subscribe/unsubscribe/login counts against 480 ops per connection per hour: batch args.
- An optional ``id`` (1-32 letters/digits) is echoed in the answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import msgspec

from venues import Credentials
from venues.okx.signing import ws_login_args

__all__ = [
    "Channel",
    "INCREMENTAL_BOOKS",
    "SubscriptionArg",
    "PING",
    "PONG",
    "candle_channel",
    "subscribe",
    "unsubscribe",
    "login",
    "PUBLIC_PATH",
    "PRIVATE_PATH",
    "BUSINESS_PATH",
    "path_for",
]

PING = b"ping"
PONG = b"pong"
PUBLIC_PATH = "/ws/v5/public"
PRIVATE_PATH = "/ws/v5/private"
BUSINESS_PATH = "/ws/v5/business"


class Channel(enum.StrEnum):
    BOOKS = "books"  # 400 levels, (snapshot then) incremental updates, 100 ms; checksum deprecated (always 0)
    BOOKS5 = "books5"  # 5-level full snapshots
    BBO_TBT = "bbo-tbt"  # best bid/offer, tick by tick
    BOOKS_L2_TBT = "books-l2-tbt"  # 400 levels tick by tick (VIP/login restrictions)
    BOOKS50_L2_TBT = "books50-l2-tbt"
    TRADES = "trades"
    TRADES_ALL = "trades-all"  # business endpoint
    TICKERS = "tickers"
    ORDERS = "orders"  # private
    POSITIONS = "positions"  # private
    ACCOUNT = "account"  # private


INCREMENTAL_BOOKS = frozenset({Channel.BOOKS, Channel.BOOKS_L2_TBT, Channel.BOOKS50_L2_TBT})
_BUSINESS = frozenset({Channel.TRADES_ALL})
_PRIVATE = frozenset({Channel.ORDERS, Channel.POSITIONS, Channel.ACCOUNT})


def candle_channel(bar: str) -> str:
    """The candle channel for an OKX bar, e.g. ``candle1m``, ``candle1H``, ``candle1Dutc``."""
    return f"candle{bar}"


def path_for(channel: str) -> str:
    """The WS path serving ``channel`` (candles and trades-all live on /business, not /public)."""
    if channel.startswith("candle") or channel in _BUSINESS:
        return BUSINESS_PATH
    if channel in _PRIVATE:
        return PRIVATE_PATH
    return PUBLIC_PATH


class SubscriptionArg(msgspec.Struct, frozen=True, omit_defaults=True):
    """One ``args`` item: public channels use instId; private ones instType (+ optional instId)."""

    channel: str
    instId: str = ""
    instType: str = ""
    ccy: str = ""  # account channel filter


class _OpFrame(msgspec.Struct, omit_defaults=True):
    op: str
    args: list[SubscriptionArg]
    id: str = ""


class _LoginFrame(msgspec.Struct):
    op: str
    args: list[dict[str, str]]


_encode = msgspec.json.Encoder().encode


def subscribe(args: Iterable[SubscriptionArg], request_id: str = "") -> bytes:
    """A subscribe frame for one or more channels.

    Args:
        args: what to subscribe, e.g. ``SubscriptionArg(channel="books", instId="BTC-USDT-SWAP")``.
        request_id: optional id echoed in the ack.

    Returns:
        The JSON text frame as bytes.
    """
    return _encode(_OpFrame(op="subscribe", args=list(args), id=request_id))


def unsubscribe(args: Iterable[SubscriptionArg], request_id: str = "") -> bytes:
    """An unsubscribe frame (same shape as subscribe)."""
    return _encode(_OpFrame(op="unsubscribe", args=list(args), id=request_id))


def login(creds: Credentials, now_s: int) -> bytes:
    """The private-endpoint login frame.

    Args:
        creds: API key, secret, passphrase.
        now_s: Unix time in SECONDS, already offset-corrected.

    Returns:
        ``{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}`` as bytes.
    """
    return _encode(_LoginFrame(op="login", args=[ws_login_args(creds, now_s)]))
