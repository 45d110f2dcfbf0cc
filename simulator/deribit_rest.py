"""Deribit v2 JSON-RPC dispatch and its HTTP transport (``GET|POST /api/v2/<method>``, ``POST /api/v2``).

Invariants:
- ``dispatch`` is the one place a method name is resolved, credits are charged (before anything else) and
  private calls are authorised (token scope checked for trading); both transports go through it.
- HTTP private calls are authorised by ``Authorization: bearer <token>``, by the signed
  ``Authorization: deri-hmac-sha256 ...`` header (URI = path with the query exactly as sent, body = raw
  body), or by an ``access_token`` parameter. Anything else is 13009 unauthorized (HTTP 401).
- Every reply is ``{"jsonrpc":"2.0"[, "id"], "result"|"error", "usIn", "usOut", "usDiff", "testnet"}``; ``id``
  is echoed only when the request was a JSON-RPC body carrying one (GET requests have no id).
- HTTP status: 200 for results, 400 for most errors, 401 auth, 429 too_many_requests, 404 unknown method,
  5xx for server faults (see ``DeribitError``).
- A key used from an IP outside its whitelist (``DeribitConfig.ip_allowed=False``): ``public/auth`` and
  every private call answer 13021 ``forbidden``. Deribit's documentation names no code of its own for a
  whitelist refusal (its error table, read 2026-12-06; support article "Account Security Configurations"
  describes the whitelist only); 13021 is its code for "not enough permissions to execute the request,
  forbidden", the closest it documents.
- ``private/buy`` and ``private/sell`` are placements: ``received_placement`` counts each by its ``label``
  (order_entry.py) on either transport, before authorisation, credits or validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulator.deribit_auth import (
    MATCHING_ENGINE_METHODS,
    DeribitError,
    Token,
    rpc_params,
    rpc_request,
    verify_hmac_header,
)
from simulator.deribit_market import DEFAULT_SCOPE, PUBLIC_METHODS, Call
from simulator.deribit_trading import PRIVATE_METHODS

if TYPE_CHECKING:
    from simulator.deribit_config import DeribitTwinLike

__all__ = ["routes", "dispatch", "received_placement", "WS_ONLY_METHODS", "PLACEMENT_METHODS"]

WS_ONLY_METHODS = frozenset({
    "public/subscribe", "public/unsubscribe", "public/unsubscribe_all", "private/subscribe",
    "private/unsubscribe", "private/unsubscribe_all", "public/set_heartbeat", "public/disable_heartbeat",
    "private/logout",
})
PLACEMENT_METHODS = frozenset({"private/buy", "private/sell"})


def received_placement(twin: DeribitTwinLike, call: Call, request: web.Request | None = None) -> bool:
    """Count ``call`` in ``twin.received`` if it places an order (HTTP: mark ``request``); return whether it does."""
    if call.method not in PLACEMENT_METHODS:
        return False
    twin.received.add([str(call.params.get("label") or "")], request)
    return True


def _token_from_params(twin: DeribitTwinLike, params: dict[str, Any]) -> Token | None:
    raw = params.get("access_token")
    if not raw:
        return None
    token = twin.tokens.resolve(str(raw), twin.now_ms())
    if token is None:
        raise DeribitError(13009)
    return token


def dispatch(twin: DeribitTwinLike, call: Call, http_token: Token | None = None) -> Any:
    """Run one JSON-RPC call.

    Args:
        twin: The twin.
        call: Method, params, transport and (for WS) the connection.
        http_token: The token an HTTP ``Authorization`` header resolved to, if any.

    Returns:
        The ``result`` value.

    Raises:
        DeribitError: -32601 unknown method, 10030 WS-only method over HTTP, 10028 out of credits, 13021
            forbidden (``ip_allowed=False``: this IP is not on the key's whitelist), 13009 unauthorised
            private call, 13403 scope_exceeded, or the handler's own error.
    """
    method = call.method
    handler = PUBLIC_METHODS.get(method) or PRIVATE_METHODS.get(method)
    if handler is None:
        if method in WS_ONLY_METHODS:
            raise DeribitError(10030, "must_be_websocket_request")
        raise DeribitError(-32601)
    twin.limiter.charge(method, twin.monotonic())
    if not twin.config.ip_allowed and (method == "public/auth" or method.startswith("private/")):
        raise DeribitError(13021, "forbidden")
    if method.startswith("private/"):
        token = _token_from_params(twin, call.params) or http_token
        if token is None and call.conn is not None and call.conn.token:
            token = twin.tokens.resolve(call.conn.token, twin.now_ms())
        if token is None:
            raise DeribitError(13009)
        if method in MATCHING_ENGINE_METHODS and "trade:read_write" not in token.scope.split():
            raise DeribitError(13403)
        call.token = token
    return handler(twin, call)


def _http_token(twin: DeribitTwinLike, request: web.Request, raw_body: str) -> Token | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    now = twin.now_ms()
    if scheme.lower() == "bearer":
        token = twin.tokens.resolve(value.strip(), now)
        if token is None:
            raise DeribitError(13009)
        return token
    if scheme.lower() == "deri-hmac-sha256":
        cred = verify_hmac_header(twin.keys, header, request.method, request.raw_path, raw_body, now,
                                  twin.config.signature_window_ms)
        return Token("", "", cred.api_key, DEFAULT_SCOPE, now + 1)
    raise DeribitError(13009)


def _parse_body(raw_body: str) -> tuple[dict[str, Any], bool]:
    """A JSON-RPC request object from a POST body and whether it carried an id.

    Raises:
        DeribitError: -32700 for invalid JSON, -32600 for a non-object, -32602 for non-object params.
    """
    if not raw_body.strip():
        return {}, False
    body = rpc_request(raw_body)
    rpc_params(body)
    return body, "id" in body


def routes(twin: DeribitTwinLike) -> list[web.RouteDef]:
    """The HTTP routes of the twin."""

    async def view(request: web.Request) -> web.Response:
        us_in = twin.now_us()
        raw_body = await request.text() if request.can_read_body else ""
        req_id: Any = None
        with_id = False
        try:
            body, with_id = _parse_body(raw_body) if request.method == "POST" else ({}, False)
            req_id = body.get("id")
            method = request.match_info.get("method") or str(body.get("method", ""))
            if body.get("method") and request.match_info.get("method") and body["method"] != method:
                raise DeribitError(-32602, data={"reason": "method in body differs from path", "param": "method"})
            params: dict[str, Any] = dict(request.query) | dict(body.get("params") or {})
            call = Call(method, params, "http")
            received_placement(twin, call, request)
            token = _http_token(twin, request, raw_body) if method.startswith("private/") else None
            result = dispatch(twin, call, token)
        except DeribitError as exc:
            return web.json_response(twin.envelope(req_id, error=exc, us_in=us_in, with_id=with_id), status=exc.status)
        return web.json_response(twin.envelope(req_id, result=result, us_in=us_in, with_id=with_id))

    return [
        web.route("*", "/api/v2/{method:(public|private)/[A-Za-z0-9_]+}", view),
        web.post("/api/v2", view), web.post("/api/v2/", view),
        web.route("*", "/api/v2/{tail:.*}", view),
    ]
