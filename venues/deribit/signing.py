"""Deribit signature schemes (HMAC-SHA256, lowercase hex). Pure functions: time and nonces come in.

- WebSocket/REST ``public/auth`` with ``grant_type=client_signature``:
  ``StringToSign = timestamp + "\\n" + nonce + "\\n" + data`` (both newlines even when data is empty).
- REST request signature, header ``Authorization: deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..``:
  ``StringToSign = timestamp + "\\n" + nonce + "\\n" + METHOD + "\\n" + URI + "\\n" + BODY + "\\n"``
  where URI is the path with its query string.
- ``timestamp`` is epoch MILLISECONDS (already offset-corrected by the caller); Deribit rejects it when
  it is more than about 60 s old.

Nothing here logs or formats a secret: functions return signatures, never the key.
"""

from __future__ import annotations

import hashlib
import hmac

from venues import Credentials

__all__ = [
    "client_signature_payload",
    "client_signature",
    "rest_string_to_sign",
    "rest_signature",
    "rest_authorization",
]


def client_signature_payload(timestamp_ms: int, nonce: str, data: str = "") -> str:
    """The string signed for ``public/auth`` with ``client_signature``.

    Args:
        timestamp_ms: epoch milliseconds.
        nonce: a fresh random string chosen by the caller.
        data: optional extra data (usually empty).

    Returns:
        ``f"{timestamp_ms}\\n{nonce}\\n{data}"``.
    """
    return f"{timestamp_ms}\n{nonce}\n{data}"


def _hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def client_signature(credentials: Credentials, timestamp_ms: int, nonce: str, data: str = "") -> str:
    """HMAC-SHA256 hex signature for ``public/auth`` (grant_type ``client_signature``).

    Args:
        credentials: client id (``api_key``) and client secret.
        timestamp_ms: epoch milliseconds.
        nonce: a fresh random string.
        data: optional extra data.

    Returns:
        64 lowercase hex characters.
    """
    return _hmac_hex(credentials.secret, client_signature_payload(timestamp_ms, nonce, data))


def rest_string_to_sign(timestamp_ms: int, nonce: str, method: str, uri: str, body: bytes | str = b"") -> str:
    """The string signed for a ``deri-hmac-sha256`` REST request.

    Args:
        timestamp_ms: epoch milliseconds.
        nonce: a fresh random string.
        method: HTTP method; upper-cased here.
        uri: path plus query string exactly as sent, e.g. ``/api/v2/private/get_account_summary?currency=BTC``.
        body: the exact body bytes (empty for GET).

    Returns:
        ``ts\\nnonce\\nMETHOD\\nURI\\nBODY\\n``.
    """
    text = body.decode() if isinstance(body, bytes) else body
    return f"{timestamp_ms}\n{nonce}\n{method.upper()}\n{uri}\n{text}\n"


def rest_signature(
    credentials: Credentials, timestamp_ms: int, nonce: str, method: str, uri: str, body: bytes | str = b""
) -> str:
    """HMAC-SHA256 hex signature of a REST request (see rest_string_to_sign for the arguments)."""
    return _hmac_hex(credentials.secret, rest_string_to_sign(timestamp_ms, nonce, method, uri, body))


def rest_authorization(
    credentials: Credentials, timestamp_ms: int, nonce: str, method: str, uri: str, body: bytes | str = b""
) -> str:
    """The ``Authorization`` header value for a signed REST request.

    Returns:
        ``deri-hmac-sha256 id=<clientId>,ts=<ms>,sig=<hex>,nonce=<nonce>``.
    """
    sig = rest_signature(credentials, timestamp_ms, nonce, method, uri, body)
    return f"deri-hmac-sha256 id={credentials.api_key},ts={timestamp_ms},sig={sig},nonce={nonce}"
