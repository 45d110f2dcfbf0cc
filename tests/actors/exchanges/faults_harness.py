"""Shared rig for the end-to-end fault tests: a twin at a hand-driven market, a real ExchangeActor, a
timeline of everything the actor reports, and the measurement/report plumbing.

A venue joins the fault suite by adding one ``VenueCase`` to ``VENUE_CASES`` (its adapter factory, the
instrument/symbol pair, how its ban looks, which twin faults its wire actually has). The fault scenarios in
test_faults.py only use the actor's venue-agnostic surface (bus topics, ``adapter.codec.book``,
``ask``), so they run unchanged for every case.

Timing: every bus message the actor publishes on ``venue.>`` / ``orders.>`` is stamped with
``time.perf_counter()`` at delivery (the bus delivers synchronously inside ``publish``), so detection
time = first matching message - injection, with no polling error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import anyio

from actors.backoff import Backoff
from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from messages import (
    BookIntegrity,
    BookState,
    ClientOrderId,
    HealthCheck,
    HealthReport,
    InstrumentId,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
    Venue,
    VenueSignal,
)
from messages.control import SignalKind
from simulator.runner import RunningTwin, Twins, start_twins
from tests.actors.exchanges.conftest import endpoints
from venues import Credentials
from venues.errors import IpBanned
from venues.errors import RateLimited as RateLimitedError
from venues.symbols import InstrumentRegistry

__all__ = ["BAN_S", "VenueCase", "VENUE_CASES", "Timeline", "Stepper", "Rig", "fault_rig", "report", "ALL_FAULTS"]

ALL_FAULTS = (
    "drop_ws", "stall", "latency", "http_5xx", "rate_limit", "ban", "skip_sequence", "corrupt_checksum",
    "malformed_frame", "refuse_connections", "expire_listen_key", "clock_skew",
)


# -- venue table ---------------------------------------------------------------------------------------
BAN_S = 2.0  # length of the injected ban (venues whose ban answer names no end are told it: Bybit's ip_ban_s)


@dataclass(frozen=True)
class VenueCase:
    """What the fault suite needs to know about one venue.

    ``make_adapter(rt, stale_after_s)`` builds the adapter pointed at the twin. ``faults`` lists the twin
    faults that exist on this venue's wire; the others are injected too and must change nothing (no false
    alarm). ``session_token(actor)`` identifies the private-stream session (Binance's listenKey) so a test
    can see it renewed.

    How the venue bans (the twin's ``ban`` fault answers the venue's way): ``ban_error`` is the error an
    order gets; ``ban_is_ip_ban`` whether it is reported as a ban (RateLimited(banned=True) and a
    RATE_LIMIT_BAN signal) rather than a rate limit; ``ban_timed`` whether the actor knows when it ends (then
    every request fails locally at once until then); ``ban_closes_ws`` whether the venue also ends the
    WebSocket session (Deribit 10028).

    ``clock_skew_ms`` is a clock jump outside the venue's timestamp window (Binance/Bybit refuse a few
    seconds, OKX 30 s, Deribit 60 s). ``book_depth`` is the depth the adapter keeps (the twin's book is cut
    to it for the comparison). ``http_5xx_marks``: one of them is in the REST_ERROR detail of a 503.
    """

    name: str
    venue: Venue
    instrument: InstrumentId
    symbol: str
    make_adapter: Callable[[RunningTwin, float], Any]
    faults: frozenset[str]
    order_qty: Decimal
    session_token: Callable[[Any], str | None] = lambda actor: None
    twin_options: dict[str, Any] = field(default_factory=dict)
    private_stream: str = "private"
    public_stream: str = "public"
    ws_suffix: str = ""
    book_depth: int = 1000
    ban_error: type[Exception] = IpBanned
    ban_is_ip_ban: bool = True
    ban_timed: bool = True
    ban_closes_ws: bool = False
    clock_skew_ms: int = -3000
    http_5xx_marks: tuple[str, ...] = ("503",)
    market_tif: TimeInForce = TimeInForce.GTC
    fill_in_answer: bool = True  # a market order's REST answer says FILLED (Bybit/OKX ack with ids only)

    def credentials(self, rt: RunningTwin) -> Credentials:
        c = rt.twin.credentials
        return Credentials(c.api_key, c.secret, c.passphrase) if c.passphrase else Credentials(c.api_key, c.secret)

    def market_order(self, cid: str, side: Side = Side.BUY) -> PlaceOrder:
        return PlaceOrder(venue=self.venue, instrument=self.instrument, client_order_id=ClientOrderId(cid), side=side,
                          quantity=self.order_qty, order_type=OrderType.MARKET, time_in_force=self.market_tif)


def _binance_adapter(rt: RunningTwin, stale_after_s: float) -> Any:
    from actors.exchanges.binance import BinanceAdapter

    return BinanceAdapter(InstrumentRegistry(), endpoints(rt), stale_after_s=stale_after_s)


def _bybit_adapter(rt: RunningTwin, stale_after_s: float) -> Any:
    from actors.exchanges.bybit import BybitAdapter

    # Bybit's 403 names no end ("at least 10 minutes"): the adapter is told how long the injected one lasts.
    return BybitAdapter(InstrumentRegistry(), endpoints(rt), stale_after_s=stale_after_s, ip_ban_s=BAN_S)


def _okx_adapter(rt: RunningTwin, stale_after_s: float) -> Any:
    from actors.exchanges.okx import OkxAdapter

    return OkxAdapter(InstrumentRegistry(), endpoints(rt), stale_after_s=stale_after_s)


def _deribit_adapter(rt: RunningTwin, stale_after_s: float) -> Any:
    from actors.exchanges.deribit import DeribitAdapter

    return DeribitAdapter(InstrumentRegistry(), endpoints(rt), stale_after_s=stale_after_s)


_NO_LISTEN_KEY = frozenset(ALL_FAULTS) - {"expire_listen_key"}  # a listenKey is Binance's alone

VENUE_CASES: dict[str, VenueCase] = {
    "binance": VenueCase(
        name="binance",
        venue=Venue.BINANCE,
        instrument=InstrumentId("BTC-USDT-PERP"),
        symbol="BTCUSDT",
        make_adapter=_binance_adapter,
        faults=frozenset(ALL_FAULTS) - {"corrupt_checksum"},  # Binance depth has no checksum
        order_qty=Decimal("0.005"),
        session_token=lambda actor: actor.session.listen_key,
        ws_suffix="/ws",
        http_5xx_marks=("503", "-1000"),
    ),
    "bybit": VenueCase(
        name="bybit",
        venue=Venue.BYBIT,
        instrument=InstrumentId("BTC-USDT-PERP"),
        symbol="BTCUSDT",
        make_adapter=_bybit_adapter,
        faults=_NO_LISTEN_KEY - {"corrupt_checksum"},  # no checksum on Bybit books; u-gaps via contiguous_u
        order_qty=Decimal("0.005"),
        book_depth=50,
        http_5xx_marks=("503", "10016"),
        fill_in_answer=False,
    ),
    "okx": VenueCase(
        name="okx",
        venue=Venue.OKX,
        instrument=InstrumentId("BTC-USDT-PERP"),
        symbol="BTC-USDT-SWAP",
        make_adapter=_okx_adapter,
        faults=_NO_LISTEN_KEY - {"corrupt_checksum"},  # OKX checksums are 0 since 2026-06-23: ignored, no resync
        order_qty=Decimal("2"),  # contracts
        ban_error=RateLimitedError,  # no timed ban documented: 50011 over HTTP 429
        ban_is_ip_ban=False,
        ban_timed=False,
        clock_skew_ms=-40_000,  # OKX accepts 30 s
        http_5xx_marks=("503", "50001"),
        fill_in_answer=False,
    ),
    "deribit": VenueCase(
        name="deribit",
        venue=Venue.DERIBIT,
        instrument=InstrumentId("BTC-USD-PERP"),
        symbol="BTC-PERPETUAL",
        make_adapter=_deribit_adapter,
        faults=_NO_LISTEN_KEY - {"corrupt_checksum"},  # no checksum on Deribit books
        order_qty=Decimal("10"),  # USD
        private_stream="main",
        public_stream="main",
        ban_error=RateLimitedError,  # 10028 too_many_requests, and the session is terminated
        ban_is_ip_ban=False,
        ban_timed=False,
        ban_closes_ws=True,
        clock_skew_ms=-70_000,  # Deribit accepts 60 s
        http_5xx_marks=("503", "13028"),
        market_tif=TimeInForce.IOC,
    ),
}


# -- timeline ------------------------------------------------------------------------------------------
class Timeline:
    """A bus target recording (perf_counter, topic, message) for every delivery, synchronously."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, Any]] = []

    def deliver(self, topic: str, item: Any) -> None:
        self.events.append((time.perf_counter(), topic, item))

    def after(self, t0: float, pred: Callable[[str, Any], bool]) -> list[tuple[float, Any]]:
        return [(t, m) for t, topic, m in self.events if t >= t0 and pred(topic, m)]

    def first(self, t0: float, pred: Callable[[str, Any], bool]) -> tuple[float, Any] | None:
        for t, topic, m in self.events:
            if t >= t0 and pred(topic, m):
                return t, m
        return None

    async def wait(self, t0: float, pred: Callable[[str, Any], bool], timeout: float = 10.0,
                   what: str = "event") -> tuple[float, Any]:
        with anyio.fail_after(timeout):
            while True:
                hit = self.first(t0, pred)
                if hit is not None:
                    return hit
                await anyio.sleep(0.005)
        raise AssertionError(what)  # pragma: no cover - fail_after raises first


def signal(kind: SignalKind, detail_prefix: str = "") -> Callable[[str, Any], bool]:
    return lambda topic, m: (isinstance(m, VenueSignal) and m.kind is kind
                             and detail_prefix in m.detail)


def integrity(state: BookState) -> Callable[[str, Any], bool]:
    return lambda topic, m: isinstance(m, BookIntegrity) and m.state is state


def of_type(cls: type, **attrs: Any) -> Callable[[str, Any], bool]:
    return lambda topic, m: isinstance(m, cls) and all(getattr(m, k) == v for k, v in attrs.items())


# -- the market ----------------------------------------------------------------------------------------
class Stepper:
    """Steps the twins' market at ``rate`` Hz in a background task; ``pause`` freezes it so the actor's
    book can be compared with the twin's exactly."""

    def __init__(self, twins: Twins, rate: float) -> None:
        self.twins = twins
        self.period = 1.0 / rate
        self.paused = False
        self.steps = 0

    async def run(self) -> None:
        while True:
            if not self.paused:
                self.twins.step()
                self.steps += 1
            await anyio.sleep(self.period)


# -- the rig -------------------------------------------------------------------------------------------
@dataclass
class Rig:
    case: VenueCase
    twins: Twins
    rt: RunningTwin
    actor: ExchangeActor
    ref: Any
    bus: Bus
    timeline: Timeline
    stepper: Stepper
    http: aiohttp.ClientSession

    @property
    def adapter(self) -> Any:
        """The venue adapter (its ``codec`` holds the book)."""
        return self.actor.adapter

    @property
    def twin(self) -> Any:
        return self.rt.twin

    def rest_requests(self) -> int:
        """REST requests the actor has put on the wire so far."""
        rest = self.actor._rest  # noqa: SLF001
        assert rest is not None
        return rest.requests

    def live(self) -> bool:
        return bool(self.actor.adapter.book_state_live(self.case.instrument))

    async def wait_live(self, timeout: float = 10.0) -> float:
        """perf_counter time at which the book is LIVE (now if it already is)."""
        with anyio.fail_after(timeout):
            while not self.live():  # noqa: ASYNC110 - polled at 2 ms to time the recovery
                await anyio.sleep(0.002)
        return time.perf_counter()

    async def recovered_live(self, t_from: float, timeout: float = 10.0) -> float:
        """When the book went LIVE again after leaving it at/after ``t_from`` (waits for it)."""
        left = self.timeline.first(t_from, lambda _t, m: isinstance(m, BookIntegrity) and m.state is not BookState.LIVE)
        if left is None:
            return t_from  # never left LIVE
        t, _ = await self.timeline.wait(left[0], integrity(BookState.LIVE), timeout, "book LIVE again")
        return t

    async def inject_http(self, fault: str, duration_s: float | None = None, **params: Any) -> None:
        """Inject through the twin's admin endpoint (``POST /__admin/faults``)."""
        body: dict[str, Any] = {"fault": fault, **params}
        if duration_s is not None:
            body["duration_s"] = duration_s
        async with self.http.post(f"{self.rt.rest}/__admin/faults", json=body) as resp:
            assert resp.status == 200, await resp.text()

    async def twin_book_http(self) -> dict[str, Any]:
        async with self.http.get(f"{self.rt.rest}/__admin/book", params={"symbol": self.case.symbol, "depth": str(self.case.book_depth)}) as resp:
            assert resp.status == 200
            return dict(await resp.json())

    async def assert_book_equals_twin(self, timeout: float = 5.0) -> None:
        """Pause the market, let the last frames land, and compare the whole book with the twin's."""
        self.stepper.paused = True
        try:
            last: tuple[Any, Any] = ([], [])
            twin_bids: list[tuple[float, float]] = []
            twin_asks: list[tuple[float, float]] = []
            with anyio.move_on_after(timeout):
                while True:
                    await anyio.sleep(0.05)
                    tb = self.twin.book_json(self.case.symbol, self.case.book_depth)
                    twin_bids = [(float(p), float(s)) for p, s in tb["bids"]]
                    twin_asks = [(float(p), float(s)) for p, s in tb["asks"]]
                    if self.live():
                        last = self.adapter.codec.book(self.case.instrument).as_sorted()
                        if last[0] == twin_bids and last[1] == twin_asks:
                            return
            assert self.live(), (f"book not LIVE: {self.adapter.codec.book_state(self.case.instrument)}\n"
                                 + self.dump())
            assert last[0] == twin_bids and last[1] == twin_asks, "book differs from the twin's"
        finally:
            self.stepper.paused = False

    def dump(self, last: int = 40) -> str:
        """The last reports (not latency samples), for failure messages."""
        rows = []
        t_first = self.timeline.events[0][0] if self.timeline.events else 0.0
        for t, topic, m in self.timeline.events:
            if isinstance(m, VenueSignal) and m.kind is SignalKind.LATENCY:
                continue
            what = getattr(m, "kind", None) or getattr(m, "state", None) or type(m).__name__
            detail = getattr(m, "detail", None) or getattr(m, "reason", "")
            rows.append(f"{(t - t_first) * 1000:9.1f} ms {topic} {what} {str(detail)[:120]}")
        return "\n".join(rows[-last:])

    async def assert_alive(self, want_ok: bool = True, timeout: float = 5.0) -> HealthReport:
        assert self.actor.alive, f"actor died: {self.actor.state}"
        report: HealthReport | None = None
        with anyio.fail_after(timeout):
            while True:
                report = await self.ref.ask(HealthCheck(venue=self.case.venue))
                assert isinstance(report, HealthReport)
                if not want_ok or report.status == "ok":
                    return report
                await anyio.sleep(0.05)


@asynccontextmanager
async def fault_rig(
    case: VenueCase,
    *,
    rate: float = 40.0,
    stale_after_s: float = 0.4,
    backoff: Backoff = Backoff(base_s=0.05, cap_s=0.4, reset_after_s=1.0),
    rest_retries: int = 3,
    credentials: bool = True,
) -> AsyncIterator[Rig]:
    """Twins at rate=0 stepped by a ``Stepper``, one actor with a LIVE book, everything it reports timed."""
    bus = Bus()
    timeline = Timeline()
    bus.subscribe("venue.>", timeline, name="fault-timeline")
    bus.subscribe("orders.>", timeline, name="fault-timeline-orders")
    async with start_twins([case.name], symbols=[case.instrument.split("-")[0]], rate=0,
                           options={case.name: dict(case.twin_options)} if case.twin_options else None) as twins:
        rt = twins[case.name]
        stepper = Stepper(twins, rate)
        adapter = case.make_adapter(rt, stale_after_s)
        config = ExchangeConfig(instruments=[case.instrument], depth_levels=0, backoff=backoff,
                                rest_retries=rest_retries, rest_timeout_s=5.0,
                                max_pause_wait_s=1.0)
        actor = ExchangeActor(adapter, config, bus=bus, credentials=case.credentials(rt) if credentials else None)
        async with aiohttp.ClientSession() as http, anyio.create_task_group() as tg:
            tg.start_soon(stepper.run)
            ref = await tg.start(actor.run)
            rig = Rig(case, twins, rt, actor, ref, bus, timeline, stepper, http)
            await rig.wait_live()
            await anyio.sleep(0.2)  # a few applied events past the snapshot
            try:
                yield rig
            finally:
                tg.cancel_scope.cancel()
    bus.close()


# -- reporting -----------------------------------------------------------------------------------------
def report(venue: str, fault: str, detect_ms: float | None, recover_ms: float | None, **extra: Any) -> None:
    """Print the measurement (``pytest -s``) and add it to $CROSSBOOK_FAULT_REPORT (JSON) when set."""
    d = "n/a" if detect_ms is None else f"{detect_ms:.1f} ms"
    r = "n/a" if recover_ms is None else f"{recover_ms:.1f} ms"
    more = "".join(f", {k} {v:.1f}" if isinstance(v, float) else f", {k} {v}" for k, v in extra.items())
    print(f"FAULT {venue}/{fault}: detect {d}, recover {r}{more}")
    path = os.environ.get("CROSSBOOK_FAULT_REPORT")
    if not path:
        return
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data[f"{venue}/{fault}"] = {"venue": venue, "fault": fault, "detect_ms": detect_ms, "recover_ms": recover_ms, **extra}
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)


def ms(a: float, b: float) -> float:
    return (b - a) * 1000.0
