"""Binance USD-M vocabularies: order status, execution type, order type, error codes, client order ids.

Rules:
- Every raw value the venue documents maps somewhere explicit; an unknown raw status raises UnknownStatus
  (it is never silently "pending"), an unknown execution or order type raises DecodeError.
- ALGO_UPDATE statuses (Algo Service, 2025-12) map through ``algo_status``, which reads the fill quantity:
  FINISHED means "filled or cancelled in the matching engine".
- Error codes map to the classes of venues/errors.py (-5022, a post-only order that would take, is the
  definite PostOnlyWouldTake); a code missing from the map falls back on its range
  (-11xx parameter errors -> InvalidParameter) and then on the plain VenueReject, always keeping the code.
- Client order ids follow the venue's rule ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``.
"""

from __future__ import annotations

import enum
import hashlib
import re
from decimal import Decimal

from messages.base import ClientOrderId, OrderStatus, OrderType, Side, TimeInForce
from venues.errors import (
    AuthError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    PostOnlyWouldTake,
    RateLimited,
    TimestampError,
    UnknownOrder,
    UnknownStatus,
    VenueReject,
    VenueUnavailable,
)

__all__ = [
    "VENUE",
    "ORDER_STATUS",
    "ALGO_STATUS",
    "ExecutionType",
    "FILL_EXECUTION_TYPES",
    "ORDER_TYPES",
    "ERROR_CLASSES",
    "SIDES",
    "SIDE_TO_WIRE",
    "TIF_TO_WIRE",
    "POST_ONLY_TIF",
    "order_status",
    "algo_status",
    "execution_type",
    "order_type",
    "side",
    "error_class",
    "CLIENT_ORDER_ID_RE",
    "CLIENT_ORDER_ID_MAX_LEN",
    "RESERVED_CLIENT_ID_PREFIXES",
    "is_valid_client_order_id",
    "check_client_order_id",
    "make_client_order_id",
]

VENUE = "binance"

# status (REST) / o.X (ORDER_TRADE_UPDATE) -> unified status.
ORDER_STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.SUBMITTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    # IOC/FOK/GTX not filled, GTD timeout, liquidation...; may carry partial fills (see filled_qty).
    "EXPIRED": OrderStatus.EXPIRED,
    # Self-trade prevention expired the order in the match.
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
_KNOWN_STATUSES = tuple(ORDER_STATUS)

# ALGO_UPDATE o.X -> unified status; TRIGGERED and FINISHED also depend on the fill (see algo_status).
ALGO_STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.SUBMITTED,  # waiting in the Algo Service for its trigger
    "CANCELED": OrderStatus.CANCELLED,
    "TRIGGERING": OrderStatus.SUBMITTED,  # triggered, on its way to the matching engine
    "TRIGGERED": OrderStatus.SUBMITTED,  # in the matching engine (PARTIALLY_FILLED once something filled)
    "FINISHED": OrderStatus.FILLED,  # filled or cancelled in the matching engine (CANCELLED unless all filled)
    "REJECTED": OrderStatus.REJECTED,  # refused by the matching engine (e.g. margin check)
    "EXPIRED": OrderStatus.EXPIRED,  # cancelled by the system (e.g. a GTE_GTC order after the position closed)
}
_KNOWN_ALGO_STATUSES = tuple(ALGO_STATUS)
_NOTHING = Decimal(0)


class ExecutionType(enum.StrEnum):
    """o.x of ORDER_TRADE_UPDATE: what happened to the order in this event."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"  # liquidation / ADL execution
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"  # price/qty modified


FILL_EXECUTION_TYPES = frozenset({ExecutionType.TRADE, ExecutionType.CALCULATED})
_EXECUTION_TYPES = {e.value: e for e in ExecutionType}

# Binance order types -> our two kinds: types that rest at a limit price vs those that execute at market.
ORDER_TYPES: dict[str, OrderType] = {
    "LIMIT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP": OrderType.LIMIT,
    "TAKE_PROFIT": OrderType.LIMIT,
    "STOP_MARKET": OrderType.MARKET,
    "TAKE_PROFIT_MARKET": OrderType.MARKET,
    "TRAILING_STOP_MARKET": OrderType.MARKET,
    "LIQUIDATION": OrderType.MARKET,
}

SIDES: dict[str, Side] = {"BUY": Side.BUY, "SELL": Side.SELL}
SIDE_TO_WIRE: dict[Side, str] = {Side.BUY: "BUY", Side.SELL: "SELL"}
TIF_TO_WIRE: dict[TimeInForce, str] = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
POST_ONLY_TIF = "GTX"  # "Good Till Crossing": Binance futures' post-only time in force


def order_status(raw: str) -> OrderStatus:
    """Map a raw Binance order status to the unified one.

    Args:
        raw: ``status`` of a REST order or ``o.X`` of ORDER_TRADE_UPDATE.

    Returns:
        The unified status.

    Raises:
        UnknownStatus: ``raw`` is not a documented status.
    """
    try:
        return ORDER_STATUS[raw]
    except KeyError:
        raise UnknownStatus(VENUE, raw, _KNOWN_STATUSES) from None


def algo_status(raw: str, quantity: Decimal, filled: Decimal) -> OrderStatus:
    """Map an ALGO_UPDATE status, given the order's quantity ``q`` and its matching-engine fill ``aq``.

    TRIGGERED with a fill is PARTIALLY_FILLED; FINISHED is FILLED when the whole quantity filled (or a
    close-position order, ``q`` "0", filled something) and CANCELLED otherwise.

    Raises:
        UnknownStatus: ``raw`` is not a documented algo status.
    """
    try:
        status = ALGO_STATUS[raw]
    except KeyError:
        raise UnknownStatus(VENUE, raw, _KNOWN_ALGO_STATUSES) from None
    if raw == "TRIGGERED" and filled > _NOTHING:
        return OrderStatus.PARTIALLY_FILLED
    if raw == "FINISHED" and not (filled > _NOTHING and (quantity == _NOTHING or filled >= quantity)):
        return OrderStatus.CANCELLED
    return status


def execution_type(raw: str) -> ExecutionType:
    """Map ``o.x`` of ORDER_TRADE_UPDATE.

    Raises:
        DecodeError: ``raw`` is not a documented execution type.
    """
    try:
        return _EXECUTION_TYPES[raw]
    except KeyError:
        detail = f"unknown execution type {raw!r}; expected one of {', '.join(_EXECUTION_TYPES)}"
        raise DecodeError(VENUE, "ORDER_TRADE_UPDATE o.x", detail) from None


def order_type(raw: str) -> OrderType:
    """Map a Binance order type (``type`` / ``o.o``) to LIMIT or MARKET.

    Raises:
        DecodeError: ``raw`` is not a documented order type.
    """
    try:
        return ORDER_TYPES[raw]
    except KeyError:
        detail = f"unknown order type {raw!r}; expected one of {', '.join(ORDER_TYPES)}"
        raise DecodeError(VENUE, "order type", detail) from None


def side(raw: str) -> Side:
    """Map ``BUY``/``SELL``.

    Raises:
        DecodeError: anything else.
    """
    try:
        return SIDES[raw]
    except KeyError:
        raise DecodeError(VENUE, "side", f"expected BUY or SELL, got {raw!r}") from None


_AUTH = (-1002, -1011, -1022, -1099, -2014, -2015, -2017, -4056, -4057)
_TIMESTAMP = (-1021, -5028)
_RATE = (-1003, -1015)
_FUNDS = (-2018, -2019, -2028, -4050, -4051)
_UNKNOWN_ORDER = (-2011, -2013)
_DUPLICATE = (-4116,)
_POST_ONLY = (-5022,)  # GTX_ORDER_REJECT: "could not be executed as maker"
_UNAVAILABLE = (-1000, -1001, -1006, -1007, -1008, -1016)
_INVALID = (
    -1013,
    -1014,
    -1020,
    -1023,
    -4001,
    -4002,
    -4003,
    -4004,
    -4005,
    -4006,
    -4007,
    -4013,
    -4014,
    -4015,
    -4016,
    -4023,
    -4024,
    -4060,
    -4061,
    -4062,
    -4164,
    -4183,
    -4184,
    -5037,
    -5038,
    -5039,
    -5040,
)

ERROR_CLASSES: dict[int, type[VenueReject]] = {
    **dict.fromkeys(_AUTH, AuthError),
    **dict.fromkeys(_TIMESTAMP, TimestampError),
    **dict.fromkeys(_RATE, RateLimited),
    **dict.fromkeys(_FUNDS, InsufficientFunds),
    **dict.fromkeys(_UNKNOWN_ORDER, UnknownOrder),
    **dict.fromkeys(_DUPLICATE, DuplicateClientOrderId),
    **dict.fromkeys(_POST_ONLY, PostOnlyWouldTake),
    **dict.fromkeys(_UNAVAILABLE, VenueUnavailable),
    **dict.fromkeys(_INVALID, InvalidParameter),
}


def error_class(code: int) -> type[VenueReject]:
    """The exception class for a Binance error code (negative, as on the wire).

    Args:
        code: The body's ``code``.

    Returns:
        The mapped class; -1100..-1199 (parameter errors) default to InvalidParameter, anything else
        unmapped to VenueReject.
    """
    cls = ERROR_CLASSES.get(code)
    if cls is not None:
        return cls
    if -1199 <= code <= -1100:
        return InvalidParameter
    return VenueReject


CLIENT_ORDER_ID_MAX_LEN = 36
CLIENT_ORDER_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
# Ids Binance itself gives to liquidation, ADL and settlement orders: ours must never look like them.
RESERVED_CLIENT_ID_PREFIXES = ("autoclose-", "adl_autoclose", "settlement_autoclose-")
_ALLOWED = frozenset("._:/-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def is_valid_client_order_id(value: str) -> bool:
    """True when ``value`` matches the venue's rule and does not use a reserved prefix."""
    return CLIENT_ORDER_ID_RE.fullmatch(value) is not None and not value.startswith(
        RESERVED_CLIENT_ID_PREFIXES
    )


def check_client_order_id(value: str) -> ClientOrderId:
    """Validate a client order id before it is sent.

    Returns:
        ``value`` as a ClientOrderId.

    Raises:
        InvalidOrder: naming the rule and the offending value.
    """
    if not is_valid_client_order_id(value):
        msg = (
            f"binance client order id must match {CLIENT_ORDER_ID_RE.pattern} and not start with "
            f"{', '.join(RESERVED_CLIENT_ID_PREFIXES)}; got {value!r} ({len(value)} chars)"
        )
        raise InvalidOrder(msg)
    return ClientOrderId(value)


def make_client_order_id(seed: str) -> ClientOrderId:
    """A valid client order id derived deterministically from ``seed`` (the router can recompute it).

    A seed that is already valid is returned unchanged. Otherwise disallowed characters become ``_``, the
    result is cut to 19 characters and ``-`` plus 16 hex digits of BLAKE2b(seed) are appended, so two
    different seeds never collapse onto one id by sanitising.

    Args:
        seed: Any non-empty string (an intent id, a journal key...).

    Returns:
        An id of at most 36 characters matching the venue's rule.

    Raises:
        InvalidOrder: ``seed`` is empty.
    """
    if not seed:
        msg = "binance client order id seed must be a non-empty string, got ''"
        raise InvalidOrder(msg)
    if is_valid_client_order_id(seed):
        return ClientOrderId(seed)
    clean = "".join(ch if ch in _ALLOWED else "_" for ch in seed)[:19]
    if clean.startswith(RESERVED_CLIENT_ID_PREFIXES):
        clean = "c-" + clean[:17]
    digest = hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
    return ClientOrderId(f"{clean}-{digest}")
