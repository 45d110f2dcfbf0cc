"""What every venue twin provides, and the venue-neutral HTTP plumbing they share (admin API, faults).

Invariants:
- A twin is one aiohttp ``web.Application`` serving one venue; it owns a ``FaultController`` and a
  ``MatchingEngine`` and reads the shared ``MarketModel``; it never steps the model itself.
- The runner calls ``twin.on_market(changes, now_ms)`` after every model step; the twin pushes to its own
  subscribers. Every twin serves the admin API under ``/__admin`` (never subject to faults, limits or
  latency).
- ``TwinBase`` is the skeleton the four twins share: the config (``TwinConfig`` fields first; credentials drawn
  from the seed when none were given), credentials by API key, the injected clock (plus any CLOCK_SKEW fault),
  faults, latency, received placements, the venue's books in the shared model, and ``on_market``'s one step
  (skewed clock, each symbol matched then published, then the venue's after-step work, through its hooks);
  ``twin_app`` assembles the app (fault middleware, admin API, then the venue's routes).
- ``TwinLike`` is what every venue's REST/WS modules use of their twin; each venue's ``<venue>_config.py``
  extends it with the rest of its surface.
- The venue decides how faults look on its wire through the ``error_response`` hook.
- ``fault_middleware`` is the one place REST requests are delayed (``twin.latency``: inbound before anything
  else but a refused connection, outbound after the answer is built) and the one place a placement's answer
  is lost to EXECUTE_THEN_5XX / EXECUTE_THEN_DROP (requests the handler marked, see order_entry.py).
"""

from __future__ import annotations

import json
import random
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware

from simulator.book import BookChanges, BookMirror, Depth, Level, PublicTrade, VenueBook
from simulator.faults import FaultController, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import KlineAggregator
from simulator.latency import Latency, LatencyProfile
from simulator.market import MarketModel
from simulator.matching import MatchingEngine
from simulator.order_entry import PLACEMENT, ReceivedOrders, lost_answer

__all__ = ["Credentials", "TwinConfig", "TwinUrls", "Twin", "TwinLike", "BookTwinLike", "TwinBase", "ErrorKind",
           "admin_routes", "fault_middleware", "twin_app", "ban_remaining_s", "random_credentials"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


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


def random_credentials(seed: int, key_len: int, secret_len: int, secret_extra: str = "") -> Credentials:
    """Credentials drawn from ``seed``: an alphanumeric key, then a secret (alphanumeric plus ``secret_extra``)."""
    rng = random.Random(seed)
    return Credentials("".join(rng.choice(_ALNUM) for _ in range(key_len)),
                       "".join(rng.choice(_ALNUM + secret_extra) for _ in range(secret_len)))


@dataclass(frozen=True, slots=True)
class TwinConfig:
    """The knobs every twin's config has (each venue's config record adds its own after these).

    ``credentials``: the keys the twin accepts (none: the twin draws one set from its seed).
    ``send_queue``: frames buffered per WebSocket connection before a slow consumer is dropped.
    ``ip_allowed``: False plays a key used from an IP not on its allow-list (the venue's config says how it
    answers).
    """

    credentials: tuple[Credentials, ...] = ()
    send_queue: int = 10_000
    ip_allowed: bool = True


ConfigT = TypeVar("ConfigT", bound=TwinConfig)


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
        latency: This twin's network delays (``latency.set(LatencyProfile(...))`` changes them).
        received: Placements received per client order id (order_entry.py).
        credentials: What the twin accepts.
        engine: The account's orders and positions (matching.py).
    """

    venue: str
    app: web.Application
    faults: FaultController
    latency: Latency
    received: ReceivedOrders
    credentials: Credentials
    engine: MatchingEngine

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


class TwinLike(Twin, Protocol[ConfigT]):
    """What a venue's REST and WebSocket modules use of every twin (``TwinBase`` and the venue provide it)."""

    config: ConfigT
    keys: dict[str, Credentials]
    klines: dict[str, dict[str, KlineAggregator]]
    specs: dict[str, InstrumentSpec]

    def now_ms(self) -> int: ...


class BookTwinLike(TwinLike[ConfigT], Protocol[ConfigT]):
    """A twin that publishes each symbol's book through a ``Depth`` and keeps its recent public trades."""

    depth: dict[str, Depth]
    trades: dict[str, deque[tuple[PublicTrade, int]]]


class TwinBase(ABC, Generic[ConfigT]):
    """What every venue twin holds before its venue's own state (see the module invariants).

    Args:
        model: The shared market model.
        config: The venue's config; with no ``credentials``, ``draw_credentials()`` makes the one set accepted
            (the first credentials are advertised as ``credentials``).
        clock_ms: Wall clock in epoch ms (None: the system clock).
        rng: The twin's seeded source of ids.
        draw_credentials: The venue's credentials, drawn from the twin's seed.
    """

    venue: str
    engine: MatchingEngine

    def __init__(self, model: MarketModel, config: ConfigT, clock_ms: Callable[[], int] | None,
                 rng: random.Random, draw_credentials: Callable[[], Credentials]) -> None:
        if not config.credentials:
            config = replace(config, credentials=(draw_credentials(),))
        self.config = config
        self.credentials = config.credentials[0]
        self.keys = {c.api_key: c for c in config.credentials}
        self.model = model
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.rng = rng
        self.faults = FaultController()
        self.latency = Latency(self.faults)
        self.received = ReceivedOrders()
        self.specs: dict[str, InstrumentSpec] = {}
        self.min_notional: dict[str, Decimal] = {}  # by symbol, where the venue has a minimum order value

    def add_books(self, specs: Iterable[InstrumentSpec]) -> dict[str, VenueBook]:
        """Give each spec a book in the shared model; every book of the twin by symbol."""
        for spec in specs:
            self.model.add_book(self.venue, spec)
            self.specs[spec.symbol] = spec
        return {s: self.model.book(self.venue, s) for s in self.specs}

    def add_sized_books(self, sized: Iterable[tuple[InstrumentSpec, Decimal]]) -> dict[str, VenueBook]:
        """``add_books`` for venues whose instruments also carry a minimum order value: kept in ``min_notional``."""
        sized = list(sized)
        self.min_notional.update((spec.symbol, notional) for spec, notional in sized)
        return self.add_books(spec for spec, _ in sized)

    def skewed(self, clock_ms: int) -> int:
        """``clock_ms`` as the twin's server reports it: plus any CLOCK_SKEW fault."""
        return clock_ms + int(self.faults.param(FaultKind.CLOCK_SKEW, "ms", 0))

    def now_ms(self) -> int:
        """Server time: the injected clock plus any CLOCK_SKEW fault."""
        return self.skewed(self._clock_ms())

    def book_json(self, symbol: str, depth: int) -> dict[str, Any] | None:
        """The admin book (the Twin protocol): ``symbol``'s published book, ``depth`` levels a side printed as
        the venue prints them (``_print_level``); None for an unknown symbol."""
        published = self._published(symbol)
        if published is None:
            return None
        spec, mirror = published

        def rows(levels: list[Level]) -> list[list[str]]:
            return [list(self._print_level(spec, p, s)) for p, s in levels]

        return {"update_id": mirror.update_id, "bids": rows(mirror.bids(depth)), "asks": rows(mirror.asks(depth))}

    @abstractmethod
    def _published(self, symbol: str) -> tuple[InstrumentSpec, BookMirror] | None:
        """The spec and published book of ``symbol`` as the admin API names it (None if unknown)."""

    def _print_level(self, spec: InstrumentSpec, price: Decimal, size: Decimal) -> tuple[str, str]:
        """A level's price and size as the venue prints them (by default to the tick's and lot's exponents, as
        Binance and Bybit do)."""
        return str(price.quantize(spec.tick)), str(size.quantize(spec.lot))

    def on_market(self, changes: dict[str, BookChanges], now_ms: int) -> None:
        """Publish one model step at the skewed time: ``_before_step``, then each symbol's changes matched
        against resting orders and ``_publish``ed, then ``_after_step`` (user data and the venue's other pushes)."""
        now = self.skewed(now_ms)
        self._before_step(now)
        for symbol, ch in changes.items():
            self._publish(symbol, self.engine.match(symbol, ch, now), now)
        self._after_step(now)

    def _before_step(self, now: int) -> None:
        """Venue work due before this step's matching (none by default)."""

    @abstractmethod
    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        """Publish one symbol's changes (after matching) on the venue's market channels."""

    @abstractmethod
    def _after_step(self, now: int) -> None:
        """Venue work after every symbol was published: flush user data, slower channels."""


def twin_app(twin: Twin, *routes: Iterable[web.RouteDef]) -> web.Application:
    """The twin's app: the fault middleware, the admin API, then ``routes`` in order."""
    app = web.Application(middlewares=[fault_middleware(twin)])
    app.add_routes(admin_routes(twin))
    for group in routes:
        app.add_routes(group)
    return app


def ban_remaining_s(faults: FaultController, default_s: float = 60.0) -> float:
    """Seconds left of an active BAN fault (``default_s`` for one injected without a duration; 0 if none)."""
    fault = faults.active(FaultKind.BAN)
    if fault is None:
        return 0.0
    if fault.until is None:
        return default_s
    return max(0.0, fault.until - faults.now())


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

    async def get_latency(_: web.Request) -> web.Response:
        return web.json_response({"latency": twin.latency.profile.to_json()})

    async def post_latency(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError(f"expected a JSON object of latency fields, got {body!r}")
            twin.latency.set(LatencyProfile.from_json(body))
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"latency": twin.latency.profile.to_json()})

    async def delete_latency(_: web.Request) -> web.Response:
        twin.latency.set(None)
        return web.json_response({"latency": twin.latency.profile.to_json()})

    async def get_received(request: web.Request) -> web.Response:
        cid = request.query.get("client_order_id")
        return web.json_response(twin.received.to_json() if cid is None else {cid: twin.received.count(cid)})

    async def delete_received(_: web.Request) -> web.Response:
        twin.received.clear()
        return web.json_response({})

    async def get_orders(_: web.Request) -> web.Response:
        """The account's open orders (what a test outside the process checks after killing a client)."""
        rows = [{"client_order_id": o.client_id, "symbol": o.symbol, "status": o.status.value,
                 "updated_ms": o.updated_ms} for o in twin.engine.open_orders()]
        return web.json_response({"open": rows})

    return [
        web.get("/__admin/faults", get_faults),
        web.post("/__admin/faults", post_faults),
        web.delete("/__admin/faults", delete_faults),
        web.get("/__admin/book", get_book),
        web.get("/__admin/latency", get_latency),
        web.post("/__admin/latency", post_latency),
        web.delete("/__admin/latency", delete_latency),
        web.get("/__admin/received", get_received),
        web.delete("/__admin/received", delete_received),
        web.get("/__admin/orders", get_orders),
    ]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fault_middleware(twin: Twin) -> Middleware:
    """Middleware applying REFUSE_CONNECTIONS, the latency (profile and LATENCY fault), BAN, HTTP_5XX,
    RATE_LIMIT and, after a placement was handled, EXECUTE_THEN_5XX / EXECUTE_THEN_DROP to non-admin requests.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__admin"):
            return await handler(request)
        faults, latency = twin.faults, twin.latency
        if faults.active(FaultKind.REFUSE_CONNECTIONS) is not None:
            _drop(request)
            raise web.HTTPServiceUnavailable()
        if request.headers.get("Upgrade", "").lower() == "websocket":
            await _sleep(latency.rest_in_s() + latency.rest_out_s())  # the handshake's round trip
            return await handler(request)
        await _sleep(latency.rest_in_s())
        refusal = _refusal(twin)
        response = refusal if refusal is not None else await handler(request)
        lost = lost_answer(faults) if request.get(PLACEMENT) else None
        if lost is not None and not lost.drop:
            response = twin.error_response(ErrorKind.SERVER_ERROR, lost.status)
        await _sleep(latency.rest_out_s())
        if lost is not None and lost.drop:
            _drop(request)
        return response

    return middleware


def _refusal(twin: Twin) -> web.Response | None:
    """The answer of an active BAN, HTTP_5XX or RATE_LIMIT fault (given before any handler runs), if any."""
    faults = twin.faults
    if faults.active(FaultKind.BAN) is not None:
        return twin.error_response(ErrorKind.BANNED, 0)
    fault = faults.active(FaultKind.HTTP_5XX)
    if fault is not None:
        return twin.error_response(ErrorKind.SERVER_ERROR, int(fault.params.get("status", 503)))
    if faults.active(FaultKind.RATE_LIMIT) is not None:
        return twin.error_response(ErrorKind.RATE_LIMITED, 429)
    return None


def _drop(request: web.Request) -> None:
    """Abort the request's TCP connection: the client gets no (further) bytes, only a reset."""
    if request.transport is not None:
        request.transport.abort()


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await anyio.sleep(seconds)
