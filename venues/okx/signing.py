"""OKX v5 request signing: base64(HMAC-SHA256(secret, prehash)).

Rules (OKX docs, overview-rest-authentication and websocket-login):
- REST prehash = timestamp + METHOD + requestPath + body. The timestamp is an ISO-8601 UTC string with
  milliseconds (``2020-12-08T09:08:57.715Z``), the same string goes in OK-ACCESS-TIMESTAMP; requestPath
  includes ``?query`` for GET; body is the exact JSON text sent (empty for GET).
- WS login prehash = Unix SECONDS (string) + "GET" + "/users/self/verify".
- The digest is base64 encoded (not hex).
- Time is passed in (``now_ms`` already offset-corrected by the caller); secrets never appear in any
  return value other than the signature itself, nor in any message.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac

from venues import Credentials

__all__ = [
    "iso_timestamp",
    "sign",
    "rest_prehash",
    "rest_headers",
    "ws_login_args",
    "WS_LOGIN_PATH",
]

WS_LOGIN_PATH = "/users/self/verify"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def iso_timestamp(now_ms: int) -> str:
    """Epoch milliseconds -> OKX's ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    Args:
        now_ms: Unix time in milliseconds (UTC).

    Returns:
        The ISO-8601 UTC string with exactly three fractional digits and a ``Z``.
    """
    moment = _EPOCH + datetime.timedelta(milliseconds=now_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now_ms % 1000:03d}Z"


def sign(secret: str, prehash: str) -> str:
    """Base64 of HMAC-SHA256(secret, prehash).

    Args:
        secret: the API secret.
        prehash: the exact string to sign.

    Returns:
        The base64 signature (ASCII).
    """
    digest = hmac.new(secret.encode("utf-8"), prehash.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def rest_prehash(timestamp: str, method: str, request_path: str, body: str | bytes = "") -> str:
    """The REST prehash string: timestamp + METHOD + requestPath (with query) + body."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return f"{timestamp}{method.upper()}{request_path}{text}"


def rest_headers(
    creds: Credentials,
    now_ms: int,
    method: str,
    request_path: str,
    body: str | bytes = "",
    demo: bool = False,
) -> dict[str, str]:
    """Signed headers for one private REST request.

    Args:
        creds: API key, secret and passphrase.
        now_ms: request time in epoch ms, already corrected by the venue clock offset.
        method: HTTP method.
        request_path: path plus ``?query`` for GET, exactly as sent.
        body: the exact JSON body sent ("" for GET).
        demo: add ``x-simulated-trading: 1`` for OKX demo trading.

    Returns:
        The headers to send (OK-ACCESS-KEY/SIGN/TIMESTAMP/PASSPHRASE, Content-Type).
    """
    ts = iso_timestamp(now_ms)
    headers = {
        "OK-ACCESS-KEY": creds.api_key,
        "OK-ACCESS-SIGN": sign(creds.secret, rest_prehash(ts, method, request_path, body)),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": creds.passphrase,
        "Content-Type": "application/json",
    }
    if demo:
        headers["x-simulated-trading"] = "1"
    return headers


def ws_login_args(creds: Credentials, now_s: int) -> dict[str, str]:
    """The single ``args`` item of a WS login request.

    Args:
        creds: API key, secret and passphrase.
        now_s: Unix time in SECONDS (OKX rejects logins more than 30 s off).

    Returns:
        ``{"apiKey", "passphrase", "timestamp", "sign"}`` with string values.
    """
    ts = str(now_s)
    return {
        "apiKey": creds.api_key,
        "passphrase": creds.passphrase,
        "timestamp": ts,
        "sign": sign(creds.secret, f"{ts}GET{WS_LOGIN_PATH}"),
    }
