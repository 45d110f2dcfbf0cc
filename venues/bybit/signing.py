"""Bybit v5 request signing (docs/v5/guide.mdx, websocket/wss-authentication.mdx).

Rules:
- String to sign: ``timestamp + apiKey + recvWindow + payload``; payload is the raw query string for
  GET and the exact JSON body bytes for POST. HMAC-SHA256, lowercase hex.
- Private WebSocket auth signs ``"GET/realtime" + expires`` (expires: a future time in ms).
- Time is passed in (``now_ms``, already corrected by the caller's server-time offset). Secrets never
  leave this module except as the digest; nothing here logs or formats them.
"""

from __future__ import annotations

import hashlib
import hmac

from venues import Credentials

__all__ = ["DEFAULT_RECV_WINDOW_MS", "sign", "string_to_sign", "signed_headers", "ws_auth_signature"]

DEFAULT_RECV_WINDOW_MS = 5000


def sign(secret: str, payload: bytes | str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` under ``secret``."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def string_to_sign(
    timestamp_ms: int | str, api_key: str, recv_window_ms: int | str, payload: bytes | str
) -> bytes:
    """The exact bytes Bybit signs for a REST request.

    Args:
        timestamp_ms: the ``X-BAPI-TIMESTAMP`` value.
        api_key: the ``X-BAPI-API-KEY`` value.
        recv_window_ms: the ``X-BAPI-RECV-WINDOW`` value.
        payload: raw query string (GET) or the body bytes exactly as sent (POST).

    Returns:
        ``timestamp + apiKey + recvWindow + payload`` as bytes.
    """
    body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    return f"{timestamp_ms}{api_key}{recv_window_ms}".encode() + body


def signed_headers(
    creds: Credentials, now_ms: int, payload: bytes | str, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
) -> dict[str, str]:
    """The four authentication headers for one REST request.

    Args:
        creds: API key and secret.
        now_ms: the request time in ms, already offset-corrected to the venue's clock.
        payload: raw query string (GET) or the exact body bytes (POST).
        recv_window_ms: how long after ``now_ms`` the venue may still accept the request.

    Returns:
        ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-SIGN``, ``X-BAPI-RECV-WINDOW``.
    """
    signature = sign(creds.secret, string_to_sign(now_ms, creds.api_key, recv_window_ms, payload))
    return {
        "X-BAPI-API-KEY": creds.api_key,
        "X-BAPI-TIMESTAMP": str(now_ms),
        "X-BAPI-SIGN": signature,
        "X-BAPI-RECV-WINDOW": str(recv_window_ms),
    }


def ws_auth_signature(secret: str, expires_ms: int) -> str:
    """Hex HMAC-SHA256 of ``"GET/realtime" + expires`` for the private WebSocket ``auth`` op."""
    return sign(secret, f"GET/realtime{expires_ms}")
