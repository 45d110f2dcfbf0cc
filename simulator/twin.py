"""What every venue twin provides, and the venue-neutral HTTP plumbing they share (admin API, faults).

Invariants:
- A twin is one aiohttp ``web.Application`` serving one venue; it owns a ``FaultController`` and a
  ``MatchingEngine`` and reads the shared ``MarketModel``; it never steps the model itself.
- The runner calls ``twin.on_market(changes, now_ms)`` after every model step; the twin pushes to its own
  subscribers. Every twin serves the admin API under ``/__admin`` (never subject to faults or limits).
- The venue decides how faults look on its wire through the ``error_response`` hook.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware

from simulator.book import BookChanges
from simulator.faults import FaultController, FaultKind

__all__ = ["Credentials", "TwinUrls", "Twin", "ErrorKind", "admin_routes", "fault_middleware", "book_json",
           "ban_remaining_s"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """The API credentials a twin accepts (passphrase only for OKX)."""

    api_key: str
    secret: str
    passphrase: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"api_key": self.api_key, "secret": self.secret}
        if self.passphrase is not None:
            out["passphrase"] = self.passphrase
        return out


@dataclass(frozen=True, slots=True)
class TwinUrls:
    """Where a running twin listens. ``ws`` maps a purpose (e.g. ``public``) to a WebSocket URL."""

    rest: str
    ws: dict[str, str] = field(default_factory=dict)


class ErrorKind:
    """Names passed to ``Twin.error_response`` by the shared fault middleware."""

    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    BANNED = "banned"  # a BAN fault: the venue's IP-ban answer (``ban_remaining_s`` says for how long)


class Twin(Protocol):
    """The interface the runner and tests use; each venue module implements it.

    Attributes:
        venue: Venue name (``"binance"``).
        app: The aiohttp application to serve.
        faults: This twin's fault controller.
        credentials: What the twin accepts.
    """

    venue: str
    app: web.Application
    faults: FaultController
    credentials: Credentials

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        """Public URLs given the server's base (e.g. ``http://127.0.0.1:8101``)."""
        ...

    def on_market(self, changes: dict[str, BookChanges], now_ms: int) -> None:
        """Publish one model step (changes by this twin's symbols) to subscribers; never blocks."""
        ...

    def book_json(self, symbol: str, depth: int) -> dict[str, Any] | None:
        """The book clients should hold right now (the published one), or None for an unknown symbol."""
        ...

    def error_response(self, kind: str, status: int) -> web.Response:
        """The venue's own body for a fault-made error (``ErrorKind``)."""
        ...

    async def aclose(self) -> None:
        """Close every WebSocket the twin holds."""
        ...


def ban_remaining_s(faults: FaultController, default_s: float = 60.0) -> float:
    """Seconds left of an active BAN fault (``default_s`` for one injected without a duration; 0 if none)."""
    fault = faults.active(FaultKind.BAN)
    if fault is None:
        return 0.0
    if fault.until is None:
        return default_s
    return max(0.0, fault.until - faults.now())


def book_json(bids: list[tuple[Any, Any]], asks: list[tuple[Any, Any]], update_id: int) -> dict[str, Any]:
    """Admin book payload: price/size strings exactly as the venue prints them."""
    return {"update_id": update_id, "bids": [[str(p), str(s)] for p, s in bids], "asks": [[str(p), str(s)] for p, s in asks]}


def admin_routes(twin: Twin) -> list[web.RouteDef]:
    """Routes of the admin API (see simulator/README.md)."""

    async def get_faults(_: web.Request) -> web.Response:
        return web.json_response({"faults": twin.faults.snapshot()})

    async def post_faults(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            kind = body.pop("fault")
            duration = body.pop("duration_s", None)
            params = body.pop("params", {}) | body
            fault = twin.faults.inject(kind, duration, **params)
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"injected": fault.kind.value, "faults": twin.faults.snapshot()})

    async def delete_faults(request: web.Request) -> web.Response:
        kind = request.query.get("fault")
        try:
            twin.faults.clear(kind)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"faults": twin.faults.snapshot()})

    async def get_book(request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        depth = int(request.query.get("depth", "1000"))
        payload = twin.book_json(symbol, depth)
        if payload is None:
            return web.json_response({"error": f"unknown symbol {symbol!r}"}, status=404)
        return web.json_response(payload)

    return [
        web.get("/__admin/faults", get_faults),
        web.post("/__admin/faults", post_faults),
        web.delete("/__admin/faults", delete_faults),
        web.get("/__admin/book", get_book),
    ]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fault_middleware(twin: Twin) -> Middleware:
    """Middleware applying REFUSE_CONNECTIONS, LATENCY, BAN, HTTP_5XX and RATE_LIMIT to non-admin requests."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__admin"):
            return await handler(request)
        faults = twin.faults
        if faults.active(FaultKind.REFUSE_CONNECTIONS) is not None:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        delay_ms = faults.param(FaultKind.LATENCY, "ms", 200)
        if delay_ms > 0:
            await anyio.sleep(delay_ms / 1000)
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if not is_ws:
            if faults.active(FaultKind.BAN) is not None:
                return twin.error_response(ErrorKind.BANNED, 0)
            fault = faults.active(FaultKind.HTTP_5XX)
            if fault is not None:
                return twin.error_response(ErrorKind.SERVER_ERROR, int(fault.params.get("status", 503)))
            if faults.active(FaultKind.RATE_LIMIT) is not None:
                return twin.error_response(ErrorKind.RATE_LIMITED, 429)
        return await handler(request)

    return middleware
