"""OKX v5 vocabularies: order states, error codes, client order ids.

Rules for this module:
- Every raw order state OKX documents maps to exactly one OrderStatus; an unknown state raises
  UnknownStatus, it is never silently "pending".
- Error codes are STRINGS on the wire. An explicit code wins; otherwise the HTTP status decides
  (401 auth, 429 rate limit, 5xx unavailable, 400 parameter); anything else is a plain VenueReject
  that keeps OKX's code and text.
- A placement refused with 51000 "Parameter posSide error" (``is_position_side_error``) means the order's
  position side does not fit the account's position mode: the session re-reads the account config.
- clOrdId: 1-32 ASCII letters and digits (OKX: "case-sensitive alphanumerics, all numbers, or all
  letters of up to 32 characters").
"""

from __future__ import annotations

import hashlib
import re

from messages.base import ClientOrderId, OrderStatus
from venues.errors import (
    AuthError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    IpBanned,
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
    "ERROR_CLASSES",
    "LOGIN_ERROR_CODES",
    "error_class",
    "make_error",
    "is_position_side_error",
    "CLIENT_ORDER_ID_MAX_LEN",
    "is_valid_client_order_id",
    "validate_client_order_id",
    "make_client_order_id",
]

VENUE = "okx"

ORDER_STATUS: dict[str, OrderStatus] = {
    "live": OrderStatus.SUBMITTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,  # IOC partially filled then canceled keeps accFillSz > 0
    "mmp_canceled": OrderStatus.CANCELLED,  # canceled by market-maker protection
}


def order_status(raw: str) -> OrderStatus:
    """Map OKX's ``state`` to the unified status.

    Args:
        raw: the ``state`` field exactly as sent.

    Returns:
        The unified OrderStatus.

    Raises:
        UnknownStatus: ``raw`` is not a documented OKX order state.
    """
    try:
        return ORDER_STATUS[raw]
    except KeyError:
        raise UnknownStatus(VENUE, raw, tuple(ORDER_STATUS)) from None


_AUTH = (
    "50030 50035 50100 50101 50103 50104 50105 50106 50107 50108 50109 50110 50111 50113 50114 50119 "
    "50120 60001 60002 60003 60005 60007 60009 60011 60024 60031 63999"
)
_TIMESTAMP = "50102 50112 60004 60006"
_RATE = "50011 50040 50061 51113 60014 60023"
_BANNED = "50121"  # "You can't access our services through the IP address": every request is refused
_FUNDS = "51008 51127 51131 51502"
_UNKNOWN_ORDER = "51603 51400 51401 51402 51503 51063"
_DUPLICATE = "51016 51065"
_PARAMETER = (
    "50000 50002 50006 50014 50015 50016 51000 51001 51003 51006 51007 51020 51121 51150 60012 60013 "
    "60018 60019 60027"
)
_UNAVAILABLE = "50001 50004 50005 50013 50026 51054 51149"

ERROR_CLASSES: dict[str, type[VenueReject]] = {}
for _codes, _cls in (
    (_AUTH, AuthError),
    (_TIMESTAMP, TimestampError),
    (_RATE, RateLimited),
    (_BANNED, IpBanned),
    (_FUNDS, InsufficientFunds),
    (_UNKNOWN_ORDER, UnknownOrder),
    (_DUPLICATE, DuplicateClientOrderId),
    (_PARAMETER, InvalidParameter),
    (_UNAVAILABLE, VenueUnavailable),
):
    for _code in _codes.split():
        ERROR_CLASSES[_code] = _cls

LOGIN_ERROR_CODES = frozenset(
    {"60001", "60002", "60003", "60004", "60005", "60006", "60007", "60009", "60024", "60031", "63999",
     "50110"}  # 50110: this IP is not on the key's whitelist (a refused login, whatever the stream)
)
"""WebSocket ``event:error`` codes that mean the login failed (LoginFailed, not SubscribeFailed)."""


def error_class(code: str, http_status: int | None = None) -> type[VenueReject]:
    """The exception class for an OKX error code.

    Args:
        code: OKX's code (string), top-level ``code`` or per-order ``sCode``.
        http_status: the HTTP status, used when the code has no explicit entry.

    Returns:
        A VenueReject subclass (VenueReject itself when nothing more specific is known).
    """
    cls = ERROR_CLASSES.get(code)
    if cls is not None:
        return cls
    if http_status is not None:
        if http_status == 401:
            return AuthError
        if http_status == 429:
            return RateLimited
        if http_status >= 500:
            return VenueUnavailable
        if http_status == 400:
            return InvalidParameter
    return VenueReject


def make_error(
    code: str, text: str, http_status: int | None = None, retry_after_s: float | None = None
) -> VenueReject:
    """Build the typed exception for an OKX error, keeping OKX's code and text.

    Args:
        code: OKX's error code (string).
        text: OKX's message (``msg`` or ``sMsg``).
        http_status: HTTP status of the response, if any.
        retry_after_s: seconds from a Retry-After header, for rate limits.

    Returns:
        The exception instance (not raised).
    """
    cls = error_class(code, http_status)
    if cls is IpBanned:
        return IpBanned(VENUE, code, text, http_status, retry_after_s)
    if cls is RateLimited:
        return RateLimited(VENUE, code, text, http_status, retry_after_s)
    return cls(VENUE, code, text, http_status)


def is_position_side_error(exc: VenueReject) -> bool:
    """True for OKX's 51000 "Parameter posSide error": a posSide that does not fit the account's mode
    (sent in net_mode, or missing / wrong in long_short_mode)."""
    return exc.code == "51000" and "posside" in exc.text.lower()


CLIENT_ORDER_ID_MAX_LEN = 32
_CL_ORD_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def is_valid_client_order_id(value: str) -> bool:
    """True when ``value`` is an acceptable OKX clOrdId (1-32 ASCII letters/digits)."""
    return _CL_ORD_ID.fullmatch(value) is not None


def validate_client_order_id(value: str) -> ClientOrderId:
    """Check a client order id against OKX's rule.

    Args:
        value: the proposed clOrdId.

    Returns:
        ``value`` as a ClientOrderId.

    Raises:
        InvalidOrder: naming the rule and the value received.
    """
    if not is_valid_client_order_id(value):
        msg = (
            f"okx clOrdId must be 1-{CLIENT_ORDER_ID_MAX_LEN} ASCII letters or digits, "
            f"got {value!r} ({len(value)} chars)"
        )
        raise InvalidOrder(msg)
    return ClientOrderId(value)


def make_client_order_id(seed: str) -> str:
    """A deterministic OKX-valid clOrdId for ``seed`` (e.g. the router's journal key).

    A seed that is already valid is returned unchanged; any other seed becomes ``"cb"`` plus 30 hex
    digits of its BLAKE2b hash, so the same seed always yields the same id (a retry after a crash
    re-uses it and OKX's 51016 duplicate check protects against a double order).

    Args:
        seed: any string.

    Returns:
        A string matching ``[A-Za-z0-9]{1,32}``.
    """
    if is_valid_client_order_id(seed):
        return seed
    digest = hashlib.blake2b(seed.encode("utf-8"), digest_size=15).hexdigest()
    return "cb" + digest
