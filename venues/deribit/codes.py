"""Deribit raw codes -> unified values: order states, error codes, client order ids.

Rules for this module:
- Every raw order_state Deribit documents maps explicitly; an unknown one raises UnknownStatus (never a
  silent "pending").
- Deribit has no partially-filled state: ``open`` with ``0 < filled_amount < amount`` is PARTIALLY_FILLED.
- Every error code in Deribit's "Complete RPC Error Codes Reference" maps to one exception class of
  venues/errors.py; codes not in the table become a plain VenueReject carrying the venue's code and text.
- Client order ids travel in Deribit's ``label`` (at most 64 characters). We restrict ours to
  ``[A-Za-z0-9_-]`` so they survive query strings and logs unchanged.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from messages.base import ClientOrderId, OrderStatus, OrderType, Side
from venues.errors import (
    AuthError,
    DecodeError,
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
    "RAW_STATUSES",
    "order_status",
    "side",
    "order_type",
    "ERROR_CLASSES",
    "error_class",
    "make_error",
    "CLIENT_ID_MAX_LEN",
    "validate_client_order_id",
    "make_client_order_id",
]

VENUE = "deribit"

_STATUS: dict[str, OrderStatus] = {
    "open": OrderStatus.SUBMITTED,  # PARTIALLY_FILLED when 0 < filled_amount < amount
    "untriggered": OrderStatus.PENDING,  # a trigger order waiting for its trigger: not in the book yet
    "triggered": OrderStatus.SUBMITTED,  # the trigger fired; the resulting order follows in later updates
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,  # see cancel_reason; may carry fills
    "rejected": OrderStatus.REJECTED,
}
RAW_STATUSES: tuple[str, ...] = tuple(_STATUS)


def order_status(raw: str, filled: Decimal = Decimal(0), amount: Decimal = Decimal(0)) -> OrderStatus:
    """Map Deribit's ``order_state`` to the unified status.

    Args:
        raw: the wire value, e.g. ``"open"``.
        filled: ``filled_amount`` of the order.
        amount: ``amount`` of the order.

    Returns:
        The unified status; ``open`` with ``0 < filled < amount`` is PARTIALLY_FILLED.

    Raises:
        UnknownStatus: ``raw`` is not one of Deribit's documented states.
    """
    status = _STATUS.get(raw)
    if status is None:
        raise UnknownStatus(VENUE, raw, RAW_STATUSES)
    if status is OrderStatus.SUBMITTED and raw == "open" and 0 < filled < amount:
        return OrderStatus.PARTIALLY_FILLED
    return status


_SIDES = {"buy": Side.BUY, "sell": Side.SELL}


def side(raw: str) -> Side:
    """Map ``direction`` ("buy"/"sell") to Side.

    Raises:
        DecodeError: any other value.
    """
    try:
        return _SIDES[raw]
    except KeyError:
        raise DecodeError(VENUE, "direction", f"expected 'buy' or 'sell', got {raw!r}") from None


# Our OrderType has only limit/market: trigger and special types map to what rests or takes once live.
_ORDER_TYPES: dict[str, OrderType] = {
    "limit": OrderType.LIMIT,
    "market": OrderType.MARKET,
    "stop_limit": OrderType.LIMIT,
    "take_limit": OrderType.LIMIT,
    "stop_market": OrderType.MARKET,
    "take_market": OrderType.MARKET,
    "market_limit": OrderType.LIMIT,  # a market order whose rest stays as a limit at the fill price
    "trailing_stop": OrderType.MARKET,
    "liquidation": OrderType.MARKET,
}


def order_type(raw: str) -> OrderType:
    """Map ``order_type`` to the unified OrderType.

    Raises:
        DecodeError: an order type Deribit does not document.
    """
    try:
        return _ORDER_TYPES[raw]
    except KeyError:
        known = ", ".join(_ORDER_TYPES)
        raise DecodeError(VENUE, "order_type", f"expected one of {known}, got {raw!r}") from None


# -- error codes --------------------------------------------------------------------------------------
def _codes(cls: type[VenueReject], *codes: int) -> dict[int, type[VenueReject]]:
    return dict.fromkeys(codes, cls)


ERROR_CLASSES: dict[int, type[VenueReject]] = {
    **_codes(
        AuthError,
        10000,  # authorization_required
        10019,  # locked_by_admin
        11042,  # permission_denied
        11098,  # account_locked
        13004,  # invalid_credentials
        13006,  # security_error
        13007,  # user_not_found
        13009,  # unauthorized (bad or expired token or signature)
        13012,  # unavailable_in_subaccount
        13021,  # forbidden
        13403,  # scope_exceeded
        13778,  # raw_subscriptions_not_available_for_unauthorized
    ),
    **_codes(
        RateLimited,
        10028,  # too_many_requests: the session is terminated too
        10066,  # too_many_concurrent_requests
        12003,  # login_over_limit
        12998,  # security_key_authorization_over_limit
    ),
    **_codes(IpBanned, 11056),  # unauthenticated_public_requests_temporarily_disabled
    **_codes(InsufficientFunds, 10009, 10039),  # not_enough_funds, not_enough_funds_in_currency
    **_codes(
        UnknownOrder,
        10004,  # order_not_found
        10010,  # already_closed
        11008,  # already_filled
        11044,  # not_open_order
        11053,  # transfer_not_found
    ),
    **_codes(DuplicateClientOrderId, 13032),  # non_unique_order_label
    **_codes(
        VenueUnavailable,
        10012,  # book_closed
        10040,  # retry
        10041,  # settlement_in_progress
        10047,  # matching_engine_queue_full
        10048,  # not_on_this_server
        11051,  # system_maintenance
        11094,  # internal_server_error
        13019,  # orderbook_closed
        13025,  # method_switched_off_by_admin
        13028,  # temporarily_unavailable
        13503,  # unavailable
        13888,  # timed_out: the outcome of a write is unknown
    ),
    **_codes(
        InvalidParameter,
        10001, 10002, 10003, 10005, 10006, 10007, 10011, 10013, 10014, 10015, 10016, 10017, 10018,
        10020, 10021, 10022, 10023, 10024, 10025, 10026, 10027, 10029, 10030, 10031, 10032, 10033,
        10034, 10035, 10036, 10037, 10038, 10043, 10044, 10045, 10046, 10049, 10072,
        11013, 11021, 11022, 11029, 11030, 11031, 11035, 11036, 11037, 11038, 11039, 11041, 11043,
        11045, 11046, 11047, 11048, 11049, 11050, 11052, 11054, 11055,
        11090, 11091, 11092, 11093, 11095, 11096, 11097,
        12001, 12002, 12004, 12005, 12100,
        13005, 13008, 13010, 13011, 13013, 13014, 13015, 13016, 13018, 13020, 13030, 13031,
        13034, 13035, 13036, 13037, 13040, 13042, 13043, 13666, 13777, 13780, 13781, 13791, 13792,
        13793, 13901, 13902, 13903, 13904, 13905, 13906, 13907, 13910, 13911, 13912, 13913, 13914,
        13915, 13916, 13917, 13918, 13919,
        -32602, -32600, -32601, -32700, -32000,
    ),
}  # fmt: skip


def error_class(code: int, text: str = "") -> type[VenueReject]:
    """The exception class for a Deribit error code.

    Deribit reports a signature timestamp outside its window as an auth error whose text names the
    timestamp; that case becomes TimestampError so the caller resyncs its clock offset.

    Args:
        code: the JSON-RPC error code.
        text: the error message plus any ``data`` details.

    Returns:
        A VenueReject subclass (VenueReject itself for codes outside the table).
    """
    cls = ERROR_CLASSES.get(code, VenueReject)
    if cls is AuthError and "timestamp" in text.lower():
        return TimestampError
    return cls


def make_error(
    code: int,
    text: str,
    http_status: int | None = None,
    retry_after_s: float | None = None,
) -> VenueReject:
    """Build the typed error for a Deribit error payload, keeping its code and text.

    Args:
        code: the JSON-RPC error code.
        text: message (plus details) as the venue sent it.
        http_status: the HTTP status for REST answers.
        retry_after_s: from a Retry-After header, for rate limits.

    Returns:
        The exception instance (not raised).
    """
    cls = error_class(code, text)
    if issubclass(cls, RateLimited):
        return cls(VENUE, code, text, http_status, retry_after_s)
    return cls(VENUE, code, text, http_status)


# -- client order ids ---------------------------------------------------------------------------------
CLIENT_ID_MAX_LEN = 64
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def validate_client_order_id(cid: str) -> ClientOrderId:
    """Check a client order id against the rule we use for Deribit labels.

    Raises:
        InvalidOrder: empty, longer than 64 characters, or a character outside ``[A-Za-z0-9_-]``.
    """
    if _CLIENT_ID_RE.fullmatch(cid) is None:
        msg = (
            f"deribit client order id (label) must be 1-{CLIENT_ID_MAX_LEN} characters of "
            f"[A-Za-z0-9_-], got {cid!r} ({len(cid)} characters)"
        )
        raise InvalidOrder(msg)
    return ClientOrderId(cid)


def make_client_order_id(seed: str) -> str:
    """Turn any seed into a valid Deribit label, deterministically.

    Characters outside ``[A-Za-z0-9_-]`` become ``-``; a seed that is too long (or empty) keeps a prefix
    and gains a 16-hex-digit hash of the whole seed, so distinct seeds stay distinct.

    Args:
        seed: e.g. ``"strat1:000042"``.

    Returns:
        A label that passes validate_client_order_id.
    """
    clean = _BAD_CHARS.sub("-", seed)
    if clean == seed and 0 < len(clean) <= CLIENT_ID_MAX_LEN:
        return clean
    digest = hashlib.sha256(seed.encode()).hexdigest()[:16]
    prefix = clean[: CLIENT_ID_MAX_LEN - 17]
    return f"{prefix}-{digest}" if prefix else digest
