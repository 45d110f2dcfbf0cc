"""Binance USD-M request authentication and request-weight / order-count limits (pure, clock passed in).

Invariants:
- ``signature = hex(HMAC_SHA256(secret, query_string + body))`` over the parameters exactly as sent, the
  ``signature`` parameter excluded and required to be last (in the query or in the body). Hex is compared
  case-insensitively.
- Timestamp rule: reject with -1021 if ``timestamp >= server + 1000`` or ``server - timestamp > recvWindow``.
- Check order: API key (-2014 / -2015, HTTP 401), mandatory params (-1102), timestamp (-1021),
  signature (-1022).
- Limits use fixed windows aligned on the server clock (1 minute for weight, 10 s and 1 minute for orders).
  A request over the weight limit gets 429 / -1003 with Retry-After; once ``ban_after`` 429s were sent in a
  window the IP is banned (418) for ``ban_s`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from simulator.twin import Credentials

__all__ = ["BinanceError", "sign", "split_signature", "verify_signed", "RateLimits", "LimitState"]


class BinanceError(Exception):
    """A Binance error reply: ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        self.code, self.msg, self.status = code, msg, status
        self.headers = headers or {}
        super().__init__(f"binance error {code} (HTTP {status}): {msg}")


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _strip_sig(raw: str) -> tuple[str, str | None]:
    """Split a raw parameter string into (string without a trailing signature param, signature or None)."""
    if raw.startswith("signature="):
        return "", raw[len("signature="):]
    head, sep, tail = raw.rpartition("&signature=")
    if sep and "&" not in tail:
        return head, tail
    return raw, None


def split_signature(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """The signed payload (query + body, no '&' between) and the signature found last in body or query."""
    body_wo, sig = _strip_sig(raw_body)
    if sig is not None:
        return raw_query + body_wo, sig
    query_wo, sig = _strip_sig(raw_query)
    return query_wo + raw_body, sig


def verify_signed(
    keys: dict[str, Credentials], api_key: str | None, params: dict[str, str], raw_query: str, raw_body: str,
    server_ms: int,
) -> Credentials:
    """Check a SIGNED request.

    Returns:
        The credentials matched by the API key.

    Raises:
        BinanceError: -2014/-2015 (401), -1102, -1021, -1022 (400), as Binance answers.
    """
    cred = check_api_key(keys, api_key)
    ts_raw = params.get("timestamp", "")
    if not ts_raw.isdigit():
        raise BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    payload, sig = split_signature(raw_query, raw_body)
    if not sig:
        raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    recv_window = int(params.get("recvWindow", "5000") or 5000)
    ts = int(ts_raw)
    if ts >= server_ms + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - ts > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
    if not hmac.compare_digest(sig.lower(), sign(cred.secret, payload)):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    return cred


def check_api_key(keys: dict[str, Credentials], api_key: str | None) -> Credentials:
    """Resolve the X-MBX-APIKEY header (USER_STREAM and SIGNED endpoints)."""
    if not api_key or any(c.isspace() for c in api_key):
        raise BinanceError(-2014, "API-key format invalid.", 401)
    cred = keys.get(api_key)
    if cred is None:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return cred


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Configurable limits (defaults as in exchangeInfo.rateLimits)."""

    weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_after: int = 3  # 429 replies in one window before an IP ban
    ban_s: int = 120


class LimitState:
    """Counters of one IP / account; call ``charge`` for every request."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._minute = -1
        self._ten = -1
        self.weight = 0
        self.orders_1m = 0
        self.orders_10s = 0
        self._breaches = 0
        self.banned_until_ms = 0

    def _roll(self, now_ms: int) -> None:
        minute, ten = now_ms // 60_000, now_ms // 10_000
        if minute != self._minute:
            self._minute, self.weight, self.orders_1m, self._breaches = minute, 0, 0, 0
        if ten != self._ten:
            self._ten, self.orders_10s = ten, 0

    def headers(self, with_orders: bool) -> dict[str, str]:
        """The X-MBX-* usage headers Binance adds to a response."""
        out = {"X-MBX-USED-WEIGHT-1M": str(self.weight)}
        if with_orders:
            out["X-MBX-ORDER-COUNT-10S"] = str(self.orders_10s)
            out["X-MBX-ORDER-COUNT-1M"] = str(self.orders_1m)
        return out

    def charge(self, now_ms: int, weight: int, orders: int = 0) -> None:
        """Count a request.

        Raises:
            BinanceError: 418 while banned, 429 / -1003 over the weight limit, 429 / -1015 over an order limit.
        """
        self._roll(now_ms)
        lim = self.limits
        if now_ms < self.banned_until_ms:
            retry = str(max(1, (self.banned_until_ms - now_ms + 999) // 1000))
            msg = f"Way too many requests; IP banned until {self.banned_until_ms}. Please use the websocket for live updates to avoid bans."
            raise BinanceError(-1003, msg, 418, {"Retry-After": retry} | self.headers(False))
        self.weight += weight
        if self.weight > lim.weight_per_minute:
            self._breaches += 1
            if self._breaches > lim.ban_after:
                self.banned_until_ms = now_ms + lim.ban_s * 1000
                retry = str(lim.ban_s)
                msg = f"Way too many requests; IP banned until {self.banned_until_ms}. Please use the websocket for live updates to avoid bans."
                raise BinanceError(-1003, msg, 418, {"Retry-After": retry} | self.headers(False))
            retry = str(max(1, (60_000 - now_ms % 60_000 + 999) // 1000))
            msg = f"Too many requests; current limit is {lim.weight_per_minute} requests per minute. Please use the websocket for live updates to avoid polling the API."
            raise BinanceError(-1003, msg, 429, {"Retry-After": retry} | self.headers(False))
        if orders:
            self.orders_10s += orders
            self.orders_1m += orders
            if self.orders_10s > lim.orders_per_10s:
                raise BinanceError(-1015, f"Too many new orders; current limit is {lim.orders_per_10s} orders per TEN_SECONDS.", 429,
                                   {"Retry-After": str(max(1, (10_000 - now_ms % 10_000 + 999) // 1000))} | self.headers(True))
            if self.orders_1m > lim.orders_per_minute:
                raise BinanceError(-1015, f"Too many new orders; current limit is {lim.orders_per_minute} orders per MINUTE.", 429,
                                   {"Retry-After": str(max(1, (60_000 - now_ms % 60_000 + 999) // 1000))} | self.headers(True))
