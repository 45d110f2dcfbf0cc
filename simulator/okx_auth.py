"""OKX v5 request authentication and per-endpoint rate limits (pure: the clock is passed in).

Invariants:
- REST: ``OK-ACCESS-SIGN = base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + body))`` where
  ``timestamp`` is the ISO-8601 UTC string with milliseconds sent in ``OK-ACCESS-TIMESTAMP``, ``requestPath``
  is the path plus the raw query string exactly as sent (GET), and ``body`` the raw JSON text (POST).
- WS login: same HMAC over ``timestamp + "GET" + "/users/self/verify"`` with ``timestamp`` in Unix SECONDS.
- Check order (REST): key header present (50103), passphrase present (50104), sign present (50106),
  timestamp present (50107) and parseable (50112), key known (50111), timestamp within the window (50102),
  passphrase matches (50105), signature (50113). All are HTTP 401 with ``{"code","msg","data":[]}``.
- Rate limits: fixed windows on the server clock (2 s; 1 s for ``trade/cancel-all-after``, whose limit OKX
  gives per second), one counter per (endpoint, scope key); a request over the limit is refused with 50011
  (HTTP 429) and not counted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulator.twin import Credentials

__all__ = [
    "OkxError", "sign", "iso_ms", "parse_iso_ms", "verify_rest", "verify_login", "DEFAULT_LIMITS",
    "DEFAULT_WINDOWS_MS", "RateLimits", "LimitState", "RATE_LIMIT_MSG", "ip_not_allowed",
]

RATE_LIMIT_MSG = "Rate limit reached. Please refer to API documentation and throttle requests accordingly."


class OkxError(Exception):
    """An OKX error reply: ``{"code": code, "msg": msg, "data": []}`` with HTTP ``status``."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        self.code, self.msg, self.status = code, msg, status
        super().__init__(f"okx error {code} (HTTP {status}): {msg}")


def ip_not_allowed(remote: str | None) -> OkxError:
    """OKX's refusal of a key used from an IP that is not on its whitelist: 50110, HTTP 401 (error catalog,
    "API Class"). The twin sends the same code in the WS login's ``event: error`` (OKX documents no separate
    WebSocket code for it)."""
    ip = remote or "unknown"
    return OkxError("50110", f"Your IP {ip} is not included in your API key's IP whitelist.", 401)


def sign(secret: str, prehash: str) -> str:
    """Base64 of the raw HMAC-SHA256 digest of ``prehash``."""
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def iso_ms(epoch_ms: int) -> str:
    """``2020-12-08T09:08:57.715Z`` for an epoch-ms value."""
    dt = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int | None:
    """Epoch ms of an ISO-8601 UTC timestamp (``...Z``, milliseconds optional), or None if malformed."""
    if not text.endswith("Z"):
        return None
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return None
    return round(dt.timestamp() * 1000)


def verify_rest(keys: Mapping[str, Credentials], headers: Mapping[str, str], method: str, request_path: str,
                body: str, server_ms: int, window_ms: int) -> Credentials:
    """Check a private REST request's OK-ACCESS-* headers.

    Args:
        keys: Accepted credentials by API key.
        headers: Request headers (case-insensitive mapping).
        method: HTTP method as sent (upper case).
        request_path: Path plus ``?query`` exactly as sent.
        body: Raw request body text ("" for GET).
        server_ms: Server clock.
        window_ms: Allowed |server - timestamp|.

    Returns:
        The matched credentials.

    Raises:
        OkxError: 501xx, HTTP 401, in the order given in the module docstring.
    """
    key = headers.get("OK-ACCESS-KEY", "")
    passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
    signature = headers.get("OK-ACCESS-SIGN", "")
    ts_text = headers.get("OK-ACCESS-TIMESTAMP", "")
    if not key:
        raise OkxError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
    if not passphrase:
        raise OkxError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
    if not signature:
        raise OkxError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
    if not ts_text:
        raise OkxError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
    ts = parse_iso_ms(ts_text)
    if ts is None:
        raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
    cred = keys.get(key)
    if cred is None:
        raise OkxError("50111", "Invalid OK-ACCESS-KEY.", 401)
    if abs(server_ms - ts) > window_ms:
        raise OkxError("50102", "Timestamp request expired.", 401)
    if cred.passphrase is not None and not hmac.compare_digest(passphrase, cred.passphrase):
        raise OkxError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
    expected = sign(cred.secret, ts_text + method.upper() + request_path + body)
    if not hmac.compare_digest(signature, expected):
        raise OkxError("50113", "Invalid signature.", 401)
    return cred


def verify_login(keys: Mapping[str, Credentials], arg: Mapping[str, object], server_ms: int, window_ms: int) -> Credentials:
    """Check one ``op: login`` argument (apiKey, passphrase, timestamp in Unix seconds, sign).

    Raises:
        OkxError: 60009 malformed, 60005 unknown key, 60006 stale timestamp, 60024 wrong passphrase,
            60007 bad signature (WS error codes; status unused).
    """
    api_key, passphrase = str(arg.get("apiKey", "")), str(arg.get("passphrase", ""))
    ts_text, signature = str(arg.get("timestamp", "")), str(arg.get("sign", ""))
    if not (api_key and passphrase and ts_text and signature):
        raise OkxError("60009", "Login failed.")
    try:
        ts_s = float(ts_text)
    except ValueError:
        raise OkxError("60009", "Login failed.") from None
    cred = keys.get(api_key)
    if cred is None:
        raise OkxError("60005", "Invalid OK-ACCESS-KEY")
    if abs(server_ms - ts_s * 1000) > window_ms:
        raise OkxError("60006", "Timestamp request expired")
    if cred.passphrase is not None and not hmac.compare_digest(passphrase, cred.passphrase):
        raise OkxError("60024", "Wrong passphrase")
    if not hmac.compare_digest(signature, sign(cred.secret, ts_text + "GET/users/self/verify")):
        raise OkxError("60007", "Invalid sign")
    return cred


DEFAULT_LIMITS: dict[str, int] = {
    # requests per 2 s, from the OKX v5 endpoint docs
    "public/time": 10, "public/instruments": 20, "market/books": 40, "market/candles": 40,
    "market/history-candles": 20, "market/trades": 100, "market/ticker": 20, "market/tickers": 20,
    "account/balance": 10, "account/positions": 10, "account/config": 5, "account/leverage-info": 20,
    "account/set-leverage": 20, "account/set-position-mode": 5, "account/trade-fee": 5, "asset/currencies": 6, "trade/order": 60,
    "trade/order-get": 60, "trade/batch-orders": 300, "trade/cancel-order": 60, "trade/cancel-batch-orders": 300,
    "trade/orders-pending": 60, "trade/orders-history": 40, "trade/fills": 60,
    "trade/cancel-all-after": 1,  # per second (DEFAULT_WINDOWS_MS), per User ID + tag
}

DEFAULT_WINDOWS_MS: dict[str, int] = {"trade/cancel-all-after": 1000}
"""Endpoints whose limit OKX gives per another period than 2 s (window in ms)."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-endpoint limits per window (``window_ms``, 2 s, unless ``DEFAULT_WINDOWS_MS`` or ``windows`` give
    the endpoint its own); ``overrides`` replaces entries of ``DEFAULT_LIMITS`` (tests trip them cheaply)."""

    overrides: Mapping[str, int] = field(default_factory=dict)
    window_ms: int = 2000
    windows: Mapping[str, int] = field(default_factory=dict)

    def limit(self, endpoint: str) -> int | None:
        return self.overrides.get(endpoint, DEFAULT_LIMITS.get(endpoint))

    def window(self, endpoint: str) -> int:
        """The endpoint's window in ms."""
        return self.windows.get(endpoint, DEFAULT_WINDOWS_MS.get(endpoint, self.window_ms))


class LimitState:
    """Counters in fixed windows keyed by (endpoint, scope) (scope: API key, optionally + instId or tag)."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}  # (endpoint, scope) -> (window, used)

    def charge(self, endpoint: str, scope: str, now_ms: int) -> None:
        """Count one request.

        Raises:
            OkxError: 50011 / HTTP 429 when the endpoint's limit for this window is used up.
        """
        limit = self.limits.limit(endpoint)
        if limit is None:
            return
        window = now_ms // self.limits.window(endpoint)
        key = (endpoint, scope)
        counted, used = self._counts.get(key, (window, 0))
        if counted != window:
            used = 0
        if used >= limit:
            raise OkxError("50011", RATE_LIMIT_MSG, 429)
        self._counts[key] = (window, used + 1)
