"""Binance USD-M request signing: hex HMAC-SHA256 over ``totalParams``.

Rules (developers.binance.com USD-M "General Info", SIGNED endpoints):
- ``totalParams`` is the encoded query string concatenated *directly* with the encoded form body: no ``&``
  between them (the doc's mixed example prints a stray space after ``timestamp=``; its published signature
  only reproduces with that typo, see PROTOCOLS.md).
- Parameters are signed in the order they are sent; ``signature`` is always the last parameter, appended to
  the part (query or body) that carries ``timestamp``.
- ``timestamp`` is epoch milliseconds (already offset-corrected by the caller), ``recvWindow`` in ms.
- The API key travels in the ``X-MBX-APIKEY`` header; bodies are ``application/x-www-form-urlencoded``.
- Values are percent-encoded as UTF-8 before signing (the spot doc's non-ASCII vector).

Nothing here reads a clock; the secret never leaves this module inside a string other than the HMAC input.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlencode

from venues import Credentials
from venues.http import Method, RequestSpec

__all__ = [
    "sign",
    "encode_params",
    "signed_request",
    "api_key_request",
    "API_KEY_HEADER",
    "FORM_CONTENT_TYPE",
]

API_KEY_HEADER = "X-MBX-APIKEY"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DEFAULT_RECV_WINDOW_MS = 5000

Params = Sequence[tuple[str, str]]


def sign(secret: str, total_params: str) -> str:
    """Hex HMAC-SHA256 of ``total_params`` keyed with ``secret``.

    Args:
        secret: The API secret.
        total_params: Query string concatenated with the form body, exactly as sent.

    Returns:
        The lowercase hex digest (Binance compares HMAC signatures case-insensitively).
    """
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def encode_params(params: Params) -> str:
    """Percent-encode ``params`` in the given order (UTF-8, ``application/x-www-form-urlencoded`` rules).

    Args:
        params: Name/value pairs in the order they will be sent.

    Returns:
        ``a=1&b=2`` without a leading ``?``.
    """
    return urlencode(params)


def signed_request(
    method: Method,
    path: str,
    creds: Credentials,
    now_ms: int,
    *,
    query: Params = (),
    body: Params = (),
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
    weight: int = 1,
    endpoint: str = "",
    idempotent: bool = True,
) -> RequestSpec:
    """Build a SIGNED (TRADE / USER_DATA) request.

    ``recvWindow``, ``timestamp`` and ``signature`` are appended, in that order, to the body when the body
    has parameters and to the query string otherwise; the signature covers query + body as sent.

    Args:
        method: HTTP method.
        path: Request path, e.g. ``/fapi/v1/order``.
        creds: API key and secret; only the key goes into a header.
        now_ms: Epoch milliseconds, already corrected by the caller's server-time offset.
        query: Parameters for the query string, in send order.
        body: Parameters for the form body, in send order.
        recv_window_ms: Validity window after ``now_ms``.
        weight: Binance request weight of this call.
        endpoint: Rate-limit bucket name.
        idempotent: Whether retrying after a timeout is safe.

    Returns:
        A RequestSpec whose query and body are exactly the signed bytes.
    """
    timing = [("recvWindow", str(recv_window_ms)), ("timestamp", str(now_ms))]
    if body:
        query_str = encode_params(query)
        body_str = encode_params([*body, *timing])
        body_str += "&signature=" + sign(creds.secret, query_str + body_str)
    else:
        query_str = encode_params([*query, *timing])
        query_str += "&signature=" + sign(creds.secret, query_str)
        body_str = ""
    headers = {API_KEY_HEADER: creds.api_key}
    if body_str:
        headers["Content-Type"] = FORM_CONTENT_TYPE
    return RequestSpec(
        method=method,
        path=path,
        query=query_str,
        headers=headers,
        body=body_str.encode(),
        weight=weight,
        endpoint=endpoint,
        idempotent=idempotent,
        signed=True,
    )


def api_key_request(
    method: Method,
    path: str,
    creds: Credentials,
    *,
    weight: int = 1,
    endpoint: str = "",
    idempotent: bool = True,
) -> RequestSpec:
    """A USER_STREAM request: API key header, no signature (listenKey create / keepalive / close).

    Args:
        method: HTTP method.
        path: Request path.
        creds: Only ``api_key`` is used.
        weight: Binance request weight.
        endpoint: Rate-limit bucket name.
        idempotent: Whether retrying after a timeout is safe.

    Returns:
        The unsigned RequestSpec.
    """
    return RequestSpec(
        method=method,
        path=path,
        headers={API_KEY_HEADER: creds.api_key},
        weight=weight,
        endpoint=endpoint,
        idempotent=idempotent,
        signed=False,
    )
