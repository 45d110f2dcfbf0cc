"""Bybit v5 vocabularies: order status, sides, kline intervals, error codes, client order ids.

Rules for this module:
- Every raw order status Bybit documents (docs/v5/enum.mdx ``orderStatus``) maps explicitly; an unknown
  raw value raises ``UnknownStatus``, never a silent "pending".
- Error codes map to the classes of ``venues.errors``; an unmapped code is a plain ``VenueReject`` that
  keeps the venue's code and text.
- Client order ids (``orderLinkId``): at most 36 characters of ``[A-Za-z0-9_-]``.
"""

from __future__ import annotations

import hashlib
import re

from messages.base import ClientOrderId, OrderStatus, OrderType, Side, TimeInForce
from venues.errors import (
    AuthError,
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
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
    "order_status",
    "side",
    "side_to_wire",
    "order_type",
    "ORDER_TYPE_TO_WIRE",
    "time_in_force_to_wire",
    "KLINE_INTERVALS",
    "kline_interval",
    "kline_interval_to_wire",
    "ERROR_CLASSES",
    "error_class",
    "CLIENT_ORDER_ID_MAX_LEN",
    "is_valid_client_order_id",
    "validate_client_order_id",
    "make_client_order_id",
]

VENUE = "bybit"

_S = OrderStatus
ORDER_STATUS: dict[str, OrderStatus] = {
    "New": _S.SUBMITTED,  # resting, nothing filled
    "PartiallyFilled": _S.PARTIALLY_FILLED,
    "Untriggered": _S.SUBMITTED,  # conditional order accepted, waiting for its trigger
    "Triggered": _S.SUBMITTED,  # transient: conditional order moving from Untriggered to New
    "Rejected": _S.REJECTED,
    "PartiallyFilledCanceled": _S.CANCELLED,  # spot only: cancelled with a partial fill
    "Filled": _S.FILLED,
    "Cancelled": _S.CANCELLED,  # British spelling; derivatives may carry cumExecQty > 0
    "Deactivated": _S.CANCELLED,  # conditional / TP-SL / OCO cancelled before its trigger
}


def order_status(raw: str) -> OrderStatus:
    """Map Bybit's ``orderStatus`` to the unified status.

    Args:
        raw: the venue's value, e.g. ``"PartiallyFilled"``.

    Returns:
        The unified ``OrderStatus``.

    Raises:
        UnknownStatus: ``raw`` is not one of the documented values.
    """
    try:
        return ORDER_STATUS[raw]
    except KeyError:
        raise UnknownStatus(VENUE, raw, tuple(ORDER_STATUS)) from None


_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_SIDES_TO_WIRE = {Side.BUY: "Buy", Side.SELL: "Sell"}


def side(raw: str) -> Side:
    """Map ``"Buy"``/``"Sell"`` to ``Side``.

    Raises:
        DecodeError: any other value.
    """
    try:
        return _SIDES[raw]
    except KeyError:
        raise DecodeError(VENUE, "side", f"expected 'Buy' or 'Sell', got {raw!r}") from None


def side_to_wire(s: Side) -> str:
    """``Side.BUY`` -> ``"Buy"``."""
    return _SIDES_TO_WIRE[s]


_ORDER_TYPES = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}
ORDER_TYPE_TO_WIRE: dict[OrderType, str] = {OrderType.LIMIT: "Limit", OrderType.MARKET: "Market"}


def order_type(raw: str) -> OrderType:
    """Map ``"Limit"``/``"Market"`` to ``OrderType``.

    Raises:
        DecodeError: any other value.
    """
    try:
        return _ORDER_TYPES[raw]
    except KeyError:
        raise DecodeError(VENUE, "orderType", f"expected 'Limit' or 'Market', got {raw!r}") from None


def time_in_force_to_wire(tif: TimeInForce, post_only: bool) -> str:
    """Bybit's ``timeInForce``: post-only is a time in force there (``PostOnly``), not a flag.

    Raises:
        InvalidOrder: post-only combined with IOC or FOK (a contradiction).
    """
    if post_only:
        if tif is not TimeInForce.GTC:
            msg = f"post-only orders rest on the book; expected time in force gtc, got {tif.value}"
            raise InvalidOrder(msg)
        return "PostOnly"
    return {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}[tif]


# Unified interval names (Binance style) <-> Bybit's.
KLINE_INTERVALS: dict[str, str] = {
    "1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m",
    "60": "1h", "120": "2h", "240": "4h", "360": "6h", "720": "12h",
    "D": "1d", "W": "1w", "M": "1M",
}  # fmt: skip
_KLINE_TO_WIRE = {v: k for k, v in KLINE_INTERVALS.items()}


def kline_interval(raw: str) -> str:
    """Bybit interval (``"5"``, ``"D"``) -> unified (``"5m"``, ``"1d"``).

    Raises:
        DecodeError: an interval Bybit does not document.
    """
    try:
        return KLINE_INTERVALS[raw]
    except KeyError:
        known = ", ".join(KLINE_INTERVALS)
        raise DecodeError(VENUE, "kline interval", f"expected one of {known}, got {raw!r}") from None


def kline_interval_to_wire(unified: str) -> str:
    """Unified interval (``"5m"``) -> Bybit's (``"5"``).

    Raises:
        ConfigError: an interval Bybit does not offer.
    """
    try:
        return _KLINE_TO_WIRE[unified]
    except KeyError:
        msg = f"expected one of {', '.join(_KLINE_TO_WIRE)} for a Bybit kline interval, got {unified!r}"
        raise ConfigError(msg) from None


# -- error codes (bybit-exchange/docs docs/v5/error.mdx) ---------------------------------------------
def _codes(cls: type[VenueReject], *codes: int) -> dict[int, type[VenueReject]]:
    return dict.fromkeys(codes, cls)


ERROR_CLASSES: dict[int, type[VenueReject]] = {
    **_codes(AuthError, 10003, 10004, 10005, 10007, 10008, 10009, 10010, 10027, 10028, 33004, 100028),
    **_codes(TimestampError, 10002),
    # 10006 per-UID limit; 10018 per-IP limit; 10429/20003 WS order-entry; 170005/170222 spot; 429 overload
    **_codes(RateLimited, 10006, 10018, 10429, 20003, 170005, 170222, 429),
    **_codes(
        InsufficientFunds,
        110004,
        110006,
        110007,
        110012,
        110014,
        110044,
        110045,
        110051,
        110052,
        110053,
        170033,
        170131,
    ),  # fmt: skip
    **_codes(UnknownOrder, 110001, 170213),
    **_codes(DuplicateClientOrderId, 110072, 170141),
    **_codes(
        InvalidParameter,
        10001,
        10017,
        10029,
        10404,
        110003,
        110017,
        110019,
        110032,
        110094,
        170105,
        170115,
        170116,
        170117,
        170121,
        170124,
        170130,
        170132,
        170133,
        170134,
        170136,
        170137,
        170140,
        170148,
        170201,
    ),  # fmt: skip
    **_codes(VenueUnavailable, 10000, 10016, 10019, 170001, 170007, 170032, 170146, 170147, 170234, 3400214),
}
"""retCode -> exception class. Codes not listed (e.g. 110008 "order has been completed or cancelled",
which says the order exists but is no longer open) raise a plain VenueReject with the venue's code."""


def error_class(code: int) -> type[VenueReject]:
    """The exception class for a Bybit ``retCode`` (``VenueReject`` when the code is not mapped)."""
    return ERROR_CLASSES.get(code, VenueReject)


# -- client order ids --------------------------------------------------------------------------------
CLIENT_ORDER_ID_MAX_LEN = 36
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")


def is_valid_client_order_id(cid: str) -> bool:
    """True when ``cid`` is 1-36 characters of letters, digits, ``-`` and ``_``."""
    return _CLIENT_ORDER_ID.fullmatch(cid) is not None


def validate_client_order_id(cid: str) -> ClientOrderId:
    """Check an ``orderLinkId`` against Bybit's rule.

    Args:
        cid: the candidate id.

    Returns:
        ``cid`` typed as ``ClientOrderId``.

    Raises:
        InvalidOrder: naming the rule, the length and the id.
    """
    if not is_valid_client_order_id(cid):
        msg = (
            f"bybit orderLinkId must be 1-{CLIENT_ORDER_ID_MAX_LEN} characters of [A-Za-z0-9_-], "
            f"got {cid!r} ({len(cid)} characters)"
        )
        raise InvalidOrder(msg)
    return ClientOrderId(cid)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def make_client_order_id(seed: str) -> ClientOrderId:
    """A valid, deterministic ``orderLinkId`` derived from ``seed`` (same seed, same id).

    A seed that is already valid is returned unchanged; otherwise its unsafe characters become ``-`` and,
    when that is too long or changed the seed, a 12-hex-digit digest of the whole seed is appended so two
    different seeds never collide after truncation.

    Args:
        seed: e.g. the router's journal key ``"arb1:42"``.

    Returns:
        A ``ClientOrderId`` that ``validate_client_order_id`` accepts.
    """
    if is_valid_client_order_id(seed):
        return ClientOrderId(seed)
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:12]
    head = _UNSAFE.sub("-", seed)[: CLIENT_ORDER_ID_MAX_LEN - len(digest) - 1]
    return ClientOrderId(f"{head}_{digest}" if head else digest)
