"""Bybit v5 (linear category) sans-IO codec: wire structs, parsing, frames, REST, signing, codes.

Nothing in this package opens a socket or reads a clock. ``BybitCodec.feed`` turns frames into bus
messages and codec events; ``rest`` builds signed ``RequestSpec``s and parses responses into messages
or typed errors; ``frames`` builds the WebSocket frames we send; ``session`` (``BybitSession``) is what a
connection set remembers (login, subscriptions and their retries, book resubscribes, the private silence
check, known orders, position modes, the dead-man's switch); ``modes`` says which ``positionIdx`` an order carries;
``dcp`` is Bybit's disconnection protection as that switch. PROTOCOL.md lists
the dated venue changes and what the code does about each.
"""

from __future__ import annotations

from venues.bybit import codes, dcp, frames, modes, parse, rest, signing, wire
from venues.bybit.codec import BybitCodec, DropReason
from venues.bybit.codes import make_client_order_id, order_status, validate_client_order_id
from venues.bybit.modes import PositionModes
from venues.bybit.rest import Endpoint, OrderAck
from venues.bybit.session import BybitSession, KnownOrders

__all__ = [
    "BybitCodec",
    "BybitSession",
    "KnownOrders",
    "PositionModes",
    "DropReason",
    "Endpoint",
    "OrderAck",
    "make_client_order_id",
    "validate_client_order_id",
    "order_status",
    "codes",
    "dcp",
    "frames",
    "modes",
    "parse",
    "rest",
    "signing",
    "wire",
]
