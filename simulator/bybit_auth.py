"""Bybit v5 request authentication and rate limits (pure: the clock is passed in).

Invariants:
- REST signature = lowercase hex HMAC-SHA256(secret, timestamp + apiKey + recvWindow + payload), payload
  being the raw query string for GET and the exact body bytes for POST. Hex is compared case-insensitively.
- Accepted timestamps: ``server - recv_window <= ts < server + 1000`` (else retCode 10002).
- Check order: API key present and known (10003), timestamp (10002), signature (10004).
- Business errors are HTTP 200 with a non-zero ``retCode``; only the per-IP limit answers HTTP 403.
- Per-UID limits are per endpoint per one-second window; the per-IP limit counts every request in fixed
  five-second windows and bans the IP for ``ip_ban_s`` once breached. Every response carries
  ``X-Bapi-Limit``, ``X-Bapi-Limit-Status`` (remaining) and ``X-Bapi-Limit-Reset-Timestamp``.
- WS auth: args ``[apiKey, expires_ms, hex(HMAC(secret, "GET/realtime" + expires))]``, ``expires`` in the future.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.twin import Credentials

__all__ = [
    "BybitError", "IpLimited", "sign", "verify_rest", "verify_ws_auth", "RateLimits", "LimitState",
    "DEFAULT_ENDPOINT_LIMITS", "UNMATCHED_IP",
]

UNMATCHED_IP = "Unmatched IP, please check your API key's bound IP addresses."
"""retCode 10010's text (docs/v5/error.mdx): the caller's IP is not one the key is bound to."""


class BybitError(Exception):
    """A Bybit business error: ``{"retCode": code, "retMsg": msg, ...}``, HTTP 200 unless ``status`` says otherwise."""

    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        self.code, self.msg, self.status = code, msg, status
        super().__init__(f"bybit retCode {code} (HTTP {status}): {msg}")


class IpLimited(Exception):
    """The per-IP limit was breached: HTTP 403 "access too frequent" until ``until_ms``."""

    def __init__(self, until_ms: int) -> None:
        self.until_ms = until_ms
        super().__init__(f"IP rate limit breached; banned until {until_ms}")


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_rest(keys: Mapping[str, Credentials], headers: Mapping[str, str], payload: str, server_ms: int) -> Credentials:
    """Check the X-BAPI-* headers of a private request.

    Args:
        keys: Accepted credentials by API key.
        headers: Request headers (case-insensitive mapping).
        payload: Raw query string (GET) or exact body text (POST).
        server_ms: Server time in epoch ms.

    Returns:
        The credentials of the API key.

    Raises:
        BybitError: 10003 (missing / unknown key), 10002 (timestamp outside the window), 10004 (signature).
    """
    api_key = headers.get("X-BAPI-API-KEY", "")
    cred = keys.get(api_key) if api_key else None
    if cred is None:
        raise BybitError(10003, "API key is invalid.")
    ts_raw = headers.get("X-BAPI-TIMESTAMP", "")
    recv_raw = headers.get("X-BAPI-RECV-WINDOW", "") or "5000"
    sig = headers.get("X-BAPI-SIGN", "")
    if not ts_raw.isdigit() or not recv_raw.isdigit():
        raise BybitError(10001, "invalid request, please check your timestamp and recv_window param")
    ts, recv_window = int(ts_raw), int(recv_raw)
    if not (server_ms - recv_window <= ts < server_ms + 1000):
        msg = (f"invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],"
               f"server_timestamp[{server_ms}],recv_window[{recv_window}]")
        raise BybitError(10002, msg)
    origin = ts_raw + api_key + recv_raw + payload
    if not sig or not hmac.compare_digest(sig.lower(), sign(cred.secret, origin)):
        raise BybitError(10004, f"error sign! origin_string[{origin}]")
    return cred


def verify_ws_auth(keys: Mapping[str, Credentials], args: object, server_ms: int) -> tuple[Credentials | None, str]:
    """Check a private WS ``op: auth``; returns (credentials, "") or (None, Bybit's ret_msg)."""
    if not isinstance(args, list) or len(args) != 3:
        return None, "Params Error"
    api_key, expires, sig = args
    cred = keys.get(str(api_key))
    if cred is None:
        return None, "API key is invalid."
    try:
        exp = int(expires)
    except (TypeError, ValueError):
        return None, "Params Error"
    if exp <= server_ms:
        return None, "Request expired"
    if not isinstance(sig, str) or not hmac.compare_digest(sig.lower(), sign(cred.secret, f"GET/realtime{exp}")):
        return None, "Request not authorized"
    return cred, ""


DEFAULT_ENDPOINT_LIMITS: dict[str, int] = {
    "/v5/order/create": 10, "/v5/order/cancel": 10, "/v5/order/amend": 10, "/v5/order/cancel-all": 10,
    "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/position/list": 50,
    "/v5/account/wallet-balance": 50,
}
"""Per-UID requests per second of the linear endpoints (rate-limit.mdx); other private paths get ``default``."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Configurable limits (venue defaults); tests shrink them to trip cheaply."""

    endpoint_per_s: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ENDPOINT_LIMITS))
    default_per_s: int = 20
    ip_per_5s: int = 600
    ip_ban_s: int = 600


class LimitState:
    """Fixed-window counters for one IP and one UID."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._ip_window = -1
        self.ip_count = 0
        self.ip_banned_until_ms = 0
        self._uid: dict[str, tuple[int, int]] = {}  # path -> (second, count)

    def charge_ip(self, now_ms: int) -> dict[str, str]:
        """Count one request against the IP; returns the IP-level X-Bapi-Limit headers.

        Raises:
            IpLimited: banned, or this request breached the limit (which starts the ban).
        """
        if now_ms < self.ip_banned_until_ms:
            raise IpLimited(self.ip_banned_until_ms)
        window = now_ms // 5000
        if window != self._ip_window:
            self._ip_window, self.ip_count = window, 0
        self.ip_count += 1
        if self.ip_count > self.limits.ip_per_5s:
            self.ip_banned_until_ms = now_ms + self.limits.ip_ban_s * 1000
            raise IpLimited(self.ip_banned_until_ms)
        reset = (window + 1) * 5000
        return _headers(self.limits.ip_per_5s, self.limits.ip_per_5s - self.ip_count, reset)

    def charge_uid(self, path: str, now_ms: int) -> tuple[bool, dict[str, str]]:
        """Count one private request on ``path``; returns (allowed, X-Bapi-Limit headers)."""
        limit = self.limits.endpoint_per_s.get(path, self.limits.default_per_s)
        second = now_ms // 1000
        prev_second, count = self._uid.get(path, (-1, 0))
        count = count + 1 if prev_second == second else 1
        self._uid[path] = (second, count)
        return count <= limit, _headers(limit, max(0, limit - count), (second + 1) * 1000)


def _headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(remaining), "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
