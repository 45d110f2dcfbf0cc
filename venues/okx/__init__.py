"""OKX v5 (SWAP instruments first) sans-IO codec: wire structs, parsing, frames, REST, signing, codes.

Nothing in this package opens a socket, starts a task or reads a clock. Quantities are in OKX's unit:
contracts for SWAP/FUTURES (Instrument.contract_size = ctVal), base currency for SPOT. ``OkxSession``
(session.py) is what a connection set must remember (login, subscriptions, the account's position mode,
book bootstraps over REST), sans-IO. PROTOCOL.md lists the venue changes since 2025 and what the code does
about each.
"""

from __future__ import annotations

from venues.okx import frames, rest, signing
from venues.okx.books import OkxBook, OkxBooks
from venues.okx.codec import OkxCodec
from venues.okx.codes import (
    ORDER_STATUS,
    error_class,
    is_valid_client_order_id,
    make_client_order_id,
    make_error,
    order_status,
    validate_client_order_id,
)
from venues.okx.frames import Channel, SubscriptionArg
from venues.okx.session import OkxSession

__all__ = [
    "OkxCodec",
    "OkxSession",
    "Channel",
    "SubscriptionArg",
    "frames",
    "rest",
    "signing",
    "ORDER_STATUS",
    "order_status",
    "error_class",
    "make_error",
    "make_client_order_id",
    "is_valid_client_order_id",
    "validate_client_order_id",
    "OkxBook",
    "OkxBooks",
]
