"""Bybit v5 (linear category) sans-IO codec: wire structs, parsing, frames, REST, signing, codes.

Nothing in this package opens a socket or reads a clock. ``BybitCodec.feed`` turns frames into bus
messages and codec events; ``rest`` builds signed ``RequestSpec``s and parses responses into messages
or typed errors; ``frames`` builds the WebSocket frames we send.
"""

from __future__ import annotations

from venues.bybit import codes, frames, parse, rest, signing, wire
from venues.bybit.codec import BybitCodec, DropReason
from venues.bybit.codes import make_client_order_id, order_status, validate_client_order_id
from venues.bybit.rest import Endpoint, OrderAck

__all__ = [
    "BybitCodec",
    "DropReason",
    "Endpoint",
    "OrderAck",
    "make_client_order_id",
    "validate_client_order_id",
    "order_status",
    "codes",
    "frames",
    "parse",
    "rest",
    "signing",
    "wire",
]
