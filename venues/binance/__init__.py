"""Binance USD-M futures, sans-IO: wire structs, parsing, frames, REST specs, signing, codes, and the codec.

Nothing in this package opens a socket, starts a task or reads a clock (no asyncio, anyio, aiohttp or
``time`` imports). Time (``now_ms``, ``ts_recv``), request ids and secrets are passed in.

Modules: wire (structs shaped like the venue's JSON), parse (wire -> messages), frames (WebSocket frames and
stream paths), rest (request specs; re-exports responses: typed errors and response parsing), signing
(HMAC-SHA256 over totalParams), codes (status / error maps, client order ids), books (depth sync: buffer,
snapshot, ``pu`` continuity), codec (BinanceCodec: feed, books, the depth snapshot request), session
(BinanceSession: streams by category, listenKey, position mode, balance reads). PROTOCOL.md lists the venue
changes since 2025 and what this package does about each.
"""

from __future__ import annotations

from venues.binance import frames, parse, rest
from venues.binance.codec import BinanceCodec, Output
from venues.binance.codes import (
    ERROR_CLASSES,
    ORDER_STATUS,
    ExecutionType,
    check_client_order_id,
    error_class,
    is_valid_client_order_id,
    make_client_order_id,
    order_status,
)
from venues.binance.frames import Route, private_path, route_for, stream_path
from venues.binance.rest import raise_for_error
from venues.binance.signing import sign, signed_request

__all__ = [
    "BinanceCodec",
    "Output",
    "frames",
    "parse",
    "rest",
    "Route",
    "stream_path",
    "private_path",
    "route_for",
    "raise_for_error",
    "sign",
    "signed_request",
    "ORDER_STATUS",
    "ERROR_CLASSES",
    "ExecutionType",
    "order_status",
    "error_class",
    "make_client_order_id",
    "check_client_order_id",
    "is_valid_client_order_id",
]
