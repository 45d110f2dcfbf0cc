"""Where Bybit v5 hides its errors, and the typed exceptions they become.

Rules:
- HTTP 200 with ``retCode != 0`` is a business error: the class comes from ``codes.ERROR_CLASSES``, the
  venue's code and text are kept.
- HTTP 401: auth headers refused. HTTP 403: the per-IP limit (600 requests / 5 s) was breached and every
  request is refused for at least 10 minutes (``IpBanned.until_ms``). HTTP 429 and 5xx: overload.
- 10006 (per-UID limit): ``retry_after_s`` from ``Retry-After`` when sent, else from
  ``X-Bapi-Limit-Reset-Timestamp`` minus the response's server time.
- Batch requests succeed as a whole (``retCode`` 0) while items fail: ``retExtInfo.list`` per item.
"""

from __future__ import annotations

import msgspec

from venues.bybit import codes, wire
from venues.errors import (
    AuthError,
    DecodeError,
    InvalidParameter,
    IpBanned,
    RateLimited,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Response

__all__ = ["IP_BAN_MS", "check", "item_errors"]

_VENUE = codes.VENUE
_MS = 1_000_000
IP_BAN_MS = 600_000  # HTTP 403 "access too frequent": wait at least 10 minutes


# -- errors ------------------------------------------------------------------------------------------
def _snippet(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace").strip()


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def _http_error(response: Response, ts_recv: int, ip_ban_ms: int = IP_BAN_MS) -> VenueReject:
    status = response.status
    text = _snippet(response.body) or f"HTTP {status}"
    if status == 403:
        now_ms = ts_recv // _MS
        return IpBanned(
            _VENUE, status, text, status, retry_after_s=ip_ban_ms / 1000, until_ms=now_ms + ip_ban_ms
        )
    if status == 401:
        return AuthError(_VENUE, status, text, status)
    if status == 429:
        return RateLimited(_VENUE, status, text, status, retry_after_s=_retry_after(response.headers))
    if status >= 500:
        return VenueUnavailable(_VENUE, status, text, status)
    if status in (400, 404):
        return InvalidParameter(_VENUE, status, text, status)
    return VenueReject(_VENUE, status, text, status)


def check(response: Response, ts_recv: int, what: str = "response", *, ip_ban_ms: int = IP_BAN_MS) -> wire.RestEnvelope:
    """Validate a REST response and return its envelope (``result`` still raw).

    Args:
        response: status, lower-case headers and body from the shell.
        ts_recv: receive time in ns (for ban end times).
        what: the request, for error texts.
        ip_ban_ms: how long an HTTP 403 IP ban is assumed to last (Bybit says "at least 10 minutes" and
            sends no end time).

    Returns:
        The decoded envelope with ``retCode == 0``.

    Raises:
        VenueReject: a subclass chosen from the HTTP status or ``retCode`` (codes.ERROR_CLASSES);
            ``RateLimited.retry_after_s`` comes from ``X-Bapi-Limit-Reset-Timestamp`` for 10006.
        DecodeError: an HTTP 200 body that is not Bybit's envelope.
    """
    if response.status != 200:
        # Some gateways send Bybit's JSON envelope with a non-200 status; prefer its retCode.
        try:
            env = wire.REST_ENVELOPE.decode(response.body)
        except msgspec.MsgspecError:
            raise _http_error(response, ts_recv, ip_ban_ms) from None
        if env.retCode == 0:
            raise _http_error(response, ts_recv, ip_ban_ms)
    else:
        try:
            env = wire.REST_ENVELOPE.decode(response.body)
        except msgspec.MsgspecError as exc:
            raise DecodeError(_VENUE, what, str(exc), response.body) from None
        if env.retCode == 0:
            return env
    cls = codes.error_class(env.retCode)
    http = response.status
    if issubclass(cls, RateLimited):
        retry: float | None = _retry_after(response.headers)
        reset = response.headers.get("x-bapi-limit-reset-timestamp", "")
        if retry is None and reset.isdigit():
            now_ms = env.time or ts_recv // _MS
            retry = max(0.0, (int(reset) - now_ms) / 1000)
        raise cls(_VENUE, env.retCode, env.retMsg, http, retry_after_s=retry)
    raise cls(_VENUE, env.retCode, env.retMsg, http)


def item_errors(body: bytes) -> list[VenueReject | None]:
    """Per-item results of a batch request (``retExtInfo.list``): ``None`` where an item succeeded.

    Raises:
        DecodeError: a body without the documented ``retExtInfo.list``.
    """
    try:
        items = wire.BATCH_EXT.decode(body).retExtInfo.items
    except msgspec.MsgspecError as exc:
        raise DecodeError(_VENUE, "batch response", str(exc), body) from None
    return [None if it.code == 0 else codes.error_class(it.code)(_VENUE, it.code, it.msg) for it in items]
