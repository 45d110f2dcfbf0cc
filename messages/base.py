"""Base struct configuration, enums and id types shared by every message.

Rules for this package:
- Nothing here does I/O or reads a clock; these are data definitions only.
- Every bus message inherits from ``Message``: frozen, keyword-only, tagged with its class name in the
  ``type`` field, so one decoder handles the whole bus union (JSON and msgpack).
- Bus messages are object-like; ``array_like`` is never set here (msgspec rejects unions that mix both).
- Schema evolution follows msgspec's rules: new fields go last and carry a default.
"""

from __future__ import annotations

import enum
from typing import NewType

import msgspec

__all__ = [
    "Message",
    "Venue",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "CircuitState",
    "HealthStatus",
    "BookState",
    "ContractType",
    "InstrumentKind",
    "InstrumentId",
    "ClientOrderId",
    "VenueOrderId",
    "TERMINAL_STATUSES",
]

InstrumentId = NewType("InstrumentId", str)
"""Unified instrument id, e.g. ``BTC-USDT-PERP`` or ``BTC-USD-PERP`` (Deribit's inverse BTC-PERPETUAL)."""

ClientOrderId = NewType("ClientOrderId", str)
"""Our id for an order, sent to the venue in its client-id field (newClientOrderId, orderLinkId, clOrdId, label)."""

VenueOrderId = NewType("VenueOrderId", str)
"""The id the venue assigned to an order."""


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """Base of every bus message. The tag is the class name, in the ``type`` field.

    msgspec applies ``kw_only`` only to the fields a class defines itself, so every subclass repeats
    ``frozen=True, kw_only=True`` (tests/messages/test_union.py checks both).
    """


class Venue(enum.StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    DERIBIT = "deribit"


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.StrEnum):
    """Unified order status. Every raw venue status maps to exactly one of these (see venues/*/codes.py)."""

    PENDING = "pending"  # known to us, not yet acknowledged by the venue
    SUBMITTED = "submitted"  # resting / acknowledged, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class HealthStatus(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


class BookState(enum.StrEnum):
    """Integrity state of one order book as kept by an exchange actor."""

    SYNCING = "syncing"  # waiting for a snapshot, buffering deltas
    LIVE = "live"  # in sequence, checks passing
    RESYNCING = "resyncing"  # a gap, bad checksum or crossed book was seen; a new snapshot is on its way


class ContractType(enum.StrEnum):
    LINEAR = "linear"  # quantity in base units (or contracts of ctVal base), pnl in quote
    INVERSE = "inverse"  # quantity in quote-currency contracts (Deribit USD, OKX USD-SWAP), pnl in base


class InstrumentKind(enum.StrEnum):
    PERPETUAL = "perpetual"
    FUTURE = "future"
    SPOT = "spot"
    OPTION = "option"
