"""Binance USD-M WebSocket frames, stream names and stream URL paths.

Rules:
- Live (un)subscription is ``{"method": "SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS", "params": [...],
  "id": N}``; the venue answers ``{"result": null|[...], "id": N}``. Stream names are lower case.
- There is no application-level login or ping: the server sends a WS ping control frame every 3 minutes
  and the transport's autopong answers it; user data authenticates through the listenKey in the URL.
  LIST_SUBSCRIPTIONS is the cheap request/answer probe the codec uses as an application-level ping.
- Routing (Binance "Important WebSocket Change Notice" of 2026-03-06; legacy paths retired 2026-04-23) on
  ``wss://fstream.binance.com``: every stream type belongs to one category, ``ROUTES``, and a stream sent to
  another category is accepted and never delivered, with no error (an unrouted ``/ws`` gets ``/public``
  data only). ``/public``: ``@depth*``, ``@rpiDepth``, ``@bookTicker`` (the notice's table) and ``@trade``,
  which the table leaves out and which is delivered on ``/public`` (measured: ccxt/ccxt#28396 2026-04-14,
  BYTEX-TRADE/bytex#7 2026-09-18; ccxt 4.5.x routes it there). ``/market``: ``@aggTrade``, klines, mark
  price, tickers, liquidations, index streams. ``/private/ws?listenKey=<key>``: user data. An unknown stream
  type is refused here (ConfigError) rather than guessed onto a category where it would go quiet.
- The venue accepts at most 10 incoming messages per second and 1024 streams per connection.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import msgspec

from venues.errors import ConfigError

__all__ = [
    "HOST",
    "Route",
    "MAX_STREAMS_PER_CONNECTION",
    "DEPTH_SPEEDS_MS",
    "subscribe",
    "unsubscribe",
    "list_subscriptions",
    "depth_stream",
    "book_ticker_stream",
    "agg_trade_stream",
    "trade_stream",
    "kline_stream",
    "mark_price_stream",
    "ROUTES",
    "route_for",
    "stream_path",
    "private_path",
]

HOST = "fstream.binance.com"
MAX_STREAMS_PER_CONNECTION = 1024
DEPTH_SPEEDS_MS = (100, 250, 500)


class Route(enum.StrEnum):
    PUBLIC = "public"  # high-frequency book data
    MARKET = "market"  # every other public stream
    PRIVATE = "private"  # user data (listenKey)


class _Request(msgspec.Struct):
    method: str
    params: list[str]
    id: int


_encode = msgspec.json.Encoder().encode


def subscribe(streams: Sequence[str], request_id: int) -> bytes:
    """``SUBSCRIBE`` frame for ``streams`` (lower-case stream names)."""
    return _encode(_Request(method="SUBSCRIBE", params=list(streams), id=request_id))


def unsubscribe(streams: Sequence[str], request_id: int) -> bytes:
    """``UNSUBSCRIBE`` frame for ``streams``."""
    return _encode(_Request(method="UNSUBSCRIBE", params=list(streams), id=request_id))


def list_subscriptions(request_id: int) -> bytes:
    """``LIST_SUBSCRIPTIONS`` frame; the answer lists the active streams."""
    return _encode(_Request(method="LIST_SUBSCRIPTIONS", params=[], id=request_id))


def depth_stream(symbol: str, speed_ms: int = 100) -> str:
    """``<symbol>@depth@<speed>ms`` diff-depth stream name.

    Raises:
        ConfigError: ``speed_ms`` is not 100, 250 or 500.
    """
    if speed_ms not in DEPTH_SPEEDS_MS:
        msg = f"binance depth speed must be one of {DEPTH_SPEEDS_MS} ms, got {speed_ms}"
        raise ConfigError(msg)
    suffix = "" if speed_ms == 250 else f"@{speed_ms}ms"  # 250 ms is the venue's default name
    return f"{symbol.lower()}@depth{suffix}"


def book_ticker_stream(symbol: str) -> str:
    return f"{symbol.lower()}@bookTicker"


def agg_trade_stream(symbol: str) -> str:
    return f"{symbol.lower()}@aggTrade"


def trade_stream(symbol: str) -> str:
    return f"{symbol.lower()}@trade"


def kline_stream(symbol: str, interval: str) -> str:
    return f"{symbol.lower()}@kline_{interval}"


def mark_price_stream(symbol: str, every_1s: bool = True) -> str:
    return f"{symbol.lower()}@markPrice" + ("@1s" if every_1s else "")


ROUTES: dict[str, Route] = {
    # /public: high-frequency book data (notice table) and raw trades (delivered there, see the rules).
    "depth": Route.PUBLIC,  # <symbol>@depth[@100ms|@500ms], partial <symbol>@depth<5|10|20>[@...]
    "rpidepth": Route.PUBLIC,  # <symbol>@rpiDepth@500ms
    "bookticker": Route.PUBLIC,  # <symbol>@bookTicker, !bookTicker
    "trade": Route.PUBLIC,  # <symbol>@trade
    # /market: every other public stream of the notice table.
    "aggtrade": Route.MARKET,
    "kline": Route.MARKET,  # <symbol>@kline_<interval>
    "continuouskline": Route.MARKET,  # <pair>_<contract>@continuousKline_<interval>
    "markprice": Route.MARKET,  # <symbol>@markPrice[@1s], !markPrice@arr[@1s]
    "miniticker": Route.MARKET,
    "ticker": Route.MARKET,
    "forceorder": Route.MARKET,
    "compositeindex": Route.MARKET,
    "contractinfo": Route.MARKET,  # !contractInfo
    "assetindex": Route.MARKET,
}
"""Stream type (lower case, digits and interval dropped) -> the category that delivers it."""


def route_for(stream: str) -> Route:
    """The category that delivers a public stream (``ROUTES``).

    Raises:
        ConfigError: a stream type not in ``ROUTES`` (sent anywhere, it could go quiet without an error).
    """
    name, at, rest = stream.partition("@")
    kind = name[1:] if name.startswith("!") else rest  # "!bookTicker", "!markPrice@arr" name all symbols
    kind = kind.partition("@")[0].partition("_")[0].rstrip("0123456789").lower()
    route = ROUTES.get(kind) if at or name.startswith("!") else None
    if route is None:
        msg = f"binance stream {stream!r}: unknown stream type {kind!r}; expected one of {', '.join(ROUTES)}"
        raise ConfigError(msg)
    return route


def stream_path(streams: Sequence[str], combined: bool = True) -> str:
    """The URL path (and query) for public ``streams``, all of which must share one route.

    Args:
        streams: Stream names; empty means "connect and SUBSCRIBE later" (only with ``combined``'s route
            unknown, so the MARKET raw endpoint is returned).
        combined: True for ``/<route>/stream?streams=a/b`` ({"stream","data"} envelopes), False for the raw
            ``/<route>/ws/<stream>`` form (one stream only).

    Returns:
        E.g. ``/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker``.

    Raises:
        ConfigError: an unknown stream type, streams of different routes, or several streams in raw form.
    """
    if not streams:
        return "/market/stream" if combined else "/market/ws"
    routes = {route_for(s) for s in streams}
    if len(routes) != 1:
        msg = f"binance streams must share one route, got {sorted(routes)} for {list(streams)}"
        raise ConfigError(msg)
    route = routes.pop()
    if combined:
        return f"/{route}/stream?streams={'/'.join(streams)}"
    if len(streams) != 1:
        msg = f"binance raw stream path takes exactly one stream, got {len(streams)}"
        raise ConfigError(msg)
    return f"/{route}/ws/{streams[0]}"


def private_path(listen_key: str) -> str:
    """``/private/ws?listenKey=<key>``: the user data stream path (the key is a credential: never log it)."""
    return f"/{Route.PRIVATE}/ws?listenKey={listen_key}"
