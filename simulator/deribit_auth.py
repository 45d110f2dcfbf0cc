"""Deribit v2 authentication (public/auth grants, bearer tokens, deri-hmac-sha256) and credit rate limits.

Invariants:
- ``client_signature``: ``hex(HMAC_SHA256(secret, f"{timestamp}\\n{nonce}\\n{data}"))`` with the timestamp in
  epoch milliseconds; both newlines are present even when ``data`` is empty.
- REST header ``Authorization: deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..`` signs
  ``f"{ts}\\n{nonce}\\n{METHOD}\\n{URI with query}\\n{body}\\n"``. Timestamps more than ``window_ms`` (60 s)
  away from the server clock are refused. Hex is compared case-insensitively.
- Errors: bad client id / secret / signature in ``public/auth`` -> 13004 invalid_credentials; a missing,
  unknown or expired token, a bad header signature or a stale timestamp on a private call -> 13009
  unauthorized (HTTP 401); running out of credits -> 10028 too_many_requests (HTTP 429).
- Credits: every non-matching-engine request costs ``credits_per_request`` from a pool refilled at
  ``credit_refill_per_s``; matching-engine calls (buy/sell/edit/cancel*) draw from their own bucket.
- Pure: clocks (ms wall clock for signatures, monotonic seconds for buckets) are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field
from typing import Any

from simulator.twin import Credentials

__all__ = [
    "DeribitError", "rpc_error", "rpc_request", "rpc_params", "sign", "client_signature_payload", "rest_signature_payload",
    "parse_hmac_header", "verify_hmac_header", "Token", "TokenStore", "RateLimits", "CreditLimiter",
    "MATCHING_ENGINE_METHODS",
]

_MESSAGES: dict[int, str] = {
    10001: "error", 10002: "qty_too_low", 10004: "order_not_found", 10009: "not_enough_funds",
    10012: "book_closed", 10041: "settlement_in_progress", 13019: "orderbook_closed",
    10020: "invalid_or_unsupported_instrument", 10021: "invalid_amount", 10023: "invalid_price",
    10028: "too_many_requests", 10040: "retry", 10043: "price_wrong_tick", 11030: "other_reject",
    11044: "not_open_order", 11054: "post_only_reject", 11094: "internal_server_error",
    13004: "invalid_credentials", 13009: "unauthorized", 13028: "temporarily_unavailable",
    13032: "non_unique_order_label", 13403: "scope_exceeded",
    13778: "raw_subscriptions_not_available_for_unauthorized", -32600: "Invalid Request",
    -32601: "Method not found", -32602: "Invalid params", -32700: "Parse error",
}
_STATUS: dict[int, int] = {13004: 401, 13009: 401, 10028: 429, 11094: 500, 13028: 503, -32601: 404}

MATCHING_ENGINE_METHODS = frozenset({
    "private/buy", "private/sell", "private/edit", "private/edit_by_label", "private/cancel", "private/cancel_all",
    "private/cancel_all_by_instrument", "private/cancel_all_by_currency", "private/cancel_by_label",
    "private/close_position",
})


class DeribitError(Exception):
    """A JSON-RPC error: ``{"code": code, "message": message[, "data": data]}``, sent with HTTP ``status``."""

    def __init__(self, code: int, message: str | None = None, data: dict[str, Any] | None = None,
                 status: int | None = None) -> None:
        self.code = code
        self.message = message if message is not None else _MESSAGES.get(code, "error")
        self.data = data
        self.status = status if status is not None else _STATUS.get(code, 400)
        super().__init__(f"deribit error {code} (HTTP {self.status}): {self.message}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.data is not None:
            out["data"] = self.data
        return out


def rpc_error(code: int, reason: str | None = None, param: str | None = None) -> DeribitError:
    """An error with Deribit's ``data`` (``reason`` / ``param``) when given, e.g. -32602 Invalid params."""
    data: dict[str, Any] | None = None
    if reason is not None:
        data = {"reason": reason} | ({"param": param} if param else {})
    return DeribitError(code, data=data)


def rpc_request(text: str) -> dict[str, Any]:
    """The JSON-RPC request object in ``text`` (an HTTP POST body or a WebSocket frame).

    Raises:
        DeribitError: -32700 for invalid JSON, -32600 for a non-object.
    """
    try:
        request = json.loads(text)
    except json.JSONDecodeError:
        raise DeribitError(-32700) from None
    if not isinstance(request, dict):
        raise DeribitError(-32600)
    return request


def rpc_params(request: dict[str, Any]) -> dict[str, Any]:
    """The request's ``params`` object (``{}`` when it has none).

    Raises:
        DeribitError: -32602 when ``params`` is not an object.
    """
    params = request.get("params", {})
    if not isinstance(params, dict):
        raise DeribitError(-32602)
    return params


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` keyed by ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def client_signature_payload(timestamp: int | str, nonce: str, data: str) -> str:
    """StringToSign of the ``client_signature`` grant."""
    return f"{timestamp}\n{nonce}\n{data}"


def rest_signature_payload(ts: int | str, nonce: str, method: str, uri: str, body: str) -> str:
    """StringToSign of the ``deri-hmac-sha256`` header (three trailing lines even for an empty body)."""
    return f"{ts}\n{nonce}\n{method.upper()}\n{uri}\n{body}\n"


def parse_hmac_header(value: str) -> dict[str, str] | None:
    """``{"id", "ts", "sig", "nonce"}`` from a ``deri-hmac-sha256 ...`` header, or None if not that scheme."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "deri-hmac-sha256":
        return None
    out: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            out[key.strip()] = val.strip()
    return out


def verify_hmac_header(keys: dict[str, Credentials], header: str, method: str, uri: str, body: str,
                       server_ms: int, window_ms: int) -> Credentials:
    """Check a ``deri-hmac-sha256`` header.

    Raises:
        DeribitError: 13004 for an unknown client id, 13009 for missing fields, a stale/future timestamp
            (``data.reason`` "invalid timestamp") or a wrong signature.
    """
    fields = parse_hmac_header(header) or {}
    if not all(fields.get(k) for k in ("id", "ts", "sig", "nonce")):
        raise DeribitError(13009)
    cred = keys.get(fields["id"])
    if cred is None:
        raise DeribitError(13004)
    if not fields["ts"].isdigit() or abs(server_ms - int(fields["ts"])) > window_ms:
        raise rpc_error(13009, "invalid timestamp")  # the reason names it: clients resync their clock
    expected = sign(cred.secret, rest_signature_payload(fields["ts"], fields["nonce"], method, uri, body))
    if not hmac.compare_digest(fields["sig"].lower(), expected):
        raise DeribitError(13009)
    return cred


@dataclass(slots=True)
class Token:
    """An issued access/refresh token pair and what it grants."""

    access: str
    refresh: str
    client_id: str
    scope: str
    expires_ms: int


class TokenStore:
    """Access and refresh tokens issued by ``public/auth``.

    Args:
        rng: Randomness for token text (seeded by the twin).
        ttl_s: Access-token lifetime (``expires_in``).
    """

    def __init__(self, rng: random.Random, ttl_s: int) -> None:
        self._rng = rng
        self.ttl_s = ttl_s
        self._by_access: dict[str, Token] = {}
        self._by_refresh: dict[str, Token] = {}

    def _text(self, now_ms: int, n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        body = "".join(self._rng.choice(alphabet) for _ in range(n))
        return f"{now_ms}.{body[:8]}.{body[8:]}"

    def issue(self, client_id: str, scope: str, now_ms: int) -> Token:
        token = Token(self._text(now_ms, 120), self._text(now_ms, 120), client_id, scope, now_ms + self.ttl_s * 1000)
        self._by_access[token.access] = token
        self._by_refresh[token.refresh] = token
        return token

    def resolve(self, access: str, now_ms: int) -> Token | None:
        """The live token for ``access``, or None when unknown or expired."""
        token = self._by_access.get(access)
        return token if token is not None and token.expires_ms > now_ms else None

    def refresh(self, refresh: str, now_ms: int) -> Token | None:
        """Exchange a refresh token for a new pair (the old pair is revoked)."""
        old = self._by_refresh.pop(refresh, None)
        if old is None:
            return None
        self._by_access.pop(old.access, None)
        return self.issue(old.client_id, old.scope, now_ms)

    def expire_all(self) -> None:
        """Make every access token invalid (tests of re-authentication)."""
        for token in self._by_access.values():
            token.expires_ms = 0


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Credit-bucket limits (defaults are the commonly documented ones; tests shrink them)."""

    credits_per_request: int = 500
    credit_pool: int = 50_000
    credit_refill_per_s: int = 10_000
    matching_engine_burst: int = 250
    matching_engine_rate: float = 200.0


@dataclass(slots=True)
class _Bucket:
    capacity: float
    refill_per_s: float
    level: float
    at: float = field(default=-1.0)

    def take(self, cost: float, now_s: float) -> bool:
        if self.at >= 0:
            self.level = min(self.capacity, self.level + (now_s - self.at) * self.refill_per_s)
        self.at = now_s
        if self.level < cost:
            return False
        self.level -= cost
        return True


class CreditLimiter:
    """The two credit buckets of the one account the twin serves."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.non_matching = _Bucket(limits.credit_pool, limits.credit_refill_per_s, limits.credit_pool)
        self.matching = _Bucket(limits.matching_engine_burst, limits.matching_engine_rate, limits.matching_engine_burst)

    def charge(self, method: str, now_s: float) -> None:
        """Spend the credits of one call.

        Raises:
            DeribitError: 10028 too_many_requests when the bucket is dry.
        """
        if method in MATCHING_ENGINE_METHODS:
            ok = self.matching.take(1, now_s)
        else:
            ok = self.non_matching.take(self.limits.credits_per_request, now_s)
        if not ok:
            raise DeribitError(10028)
