"""ExchangeActor: one venue's connections, joined to its codec (through a VenueAdapter) and the bus.

Rules:
- Venue-agnostic: every venue difference is an adapter call; no venue name appears in a branch here.
- Hot path: transport frame -> ``adapter.feed`` -> ``bus.publish`` synchronously, no queue hop; topic
  strings cached per (message type, instrument).
- Slow work triggered by frames (sending a frame, fetching a snapshot, resubscribing, reconnecting,
  reconciling) goes through one work queue served by one task, so resyncs across the venue are serial and
  paced by the venue's REST budget: no snapshot storm after a mass reconnect.
- Every REST call goes through the rate limiter; the venue's usage headers correct it; a 429/ban pauses
  every request to the venue and is published. Only idempotent requests are retried (full-jitter backoff).
  An order placement that times out is an unknown outcome, resolved by querying its client order id.
- Liveness is measured on data per stream: no market or private data for ``stale_after_s`` and the
  connection is replaced (pings and acks do not count).
- The clock offset to the venue is measured at start and refreshed, and re-measured on a timestamp error.
"""

from __future__ import annotations

import functools
import logging
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import anyio
import msgspec
from aiolimiter import AsyncLimiter

from actors import topics
from actors.backoff import Backoff
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from actors.exchanges.adapter import StreamSpec, VenueAdapter
from actors.mailbox import fifo_mailbox
from actors.ratelimit import VenueLimiter
from actors.stats import Histogram
from actors.transport import RestClient, TransportTimeout, WsTransport
from messages import (
    Balance,
    BookSnapshot,
    CancelOrder,
    ClientOrderId,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    HealthCheck,
    HealthReport,
    InstrumentId,
    Message,
    OrderRejected,
    OrderUpdate,
    PlaceOrder,
    Position,
    QueryOrder,
    Quote,
    RateLimited,
    SignalKind,
    SubscribeMarketData,
    VenueSignal,
)
from venues import Credentials
from venues.errors import (
    ConfigError,
    DuplicateClientOrderId,
    InstrumentError,
    IpBanned,
    RemoteError,
    TimestampError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.errors import (
    RateLimited as RateLimitedError,
)
from venues.events import (
    CodecEvent,
    Dropped,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    NeedSnapshot,
    Pong,
    SendFrame,
    StreamExpired,
    SubscribeFailed,
)
from venues.http import RequestSpec, Response

__all__ = ["ExchangeActor", "ExchangeConfig", "OutcomeUnknown"]

log = logging.getLogger("crossbook.exchange")


class OutcomeUnknown(VenueUnavailable):
    """An order may or may not be live: the placement timed out and the follow-up query failed too."""


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instruments: list[str]
    depth_levels: int = 10  # top-N BookSnapshot published per book (0: none)
    depth_interval_s: float = 0.1
    rest_timeout_s: float = 10.0
    rest_retries: int = 3
    clock_sync_interval_s: float = 60.0
    connect_timeout_s: float = 10.0
    unknown_outcome_grace_s: float = 0.5
    # A request that would wait longer than this behind a ban / retry-after fails at once with the venue's
    # error (nothing is sent): commands are handled one at a time, so waiting out a 2-minute ban would
    # block every other ask (health checks, cancels) behind it.
    max_pause_wait_s: float = 2.0
    backoff: Backoff = Backoff(base_s=0.2, cap_s=10.0, reset_after_s=30.0)


class _Stream:
    __slots__ = ("spec", "transport", "last_data", "live_from", "stalled_at", "connected", "ready", "limiter", "connects",
                 "subscribing")

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.transport: WsTransport | None = None
        self.last_data = 0.0  # the last frame that carried data (written on the hot path only)
        self.live_from = 0.0  # liveness is judged from here: (re)connected, subscribed, or a stall answered
        self.stalled_at: float | None = None  # a DATA_GAP was signalled and no data has come since
        self.connected = False
        self.ready = anyio.Event()
        self.limiter: Any = None
        self.connects = 0
        self.subscribing = False  # on_connected (login, subscribe) still running: not judged stale yet


class ExchangeActor(Actor):
    """One venue. Answers PlaceOrder, CancelOrder, QueryOrder, GetBalances, GetPositions, GetOpenOrders,
    HealthCheck and SubscribeMarketData through ``ask``; publishes market data, order updates, book
    integrity, rate limits and health signals on the bus."""

    def __init__(
        self,
        adapter: VenueAdapter,
        config: ExchangeConfig,
        *,
        bus: Bus,
        credentials: Credentials | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name or f"exchange.{adapter.venue}", bus=bus, clock=clock)
        self.adapter = adapter
        self.venue = adapter.venue
        self.config = config
        self.credentials = credentials
        self.registry = adapter.registry  # one registry: the codec maps symbols with what the actor loaded
        self._bus = bus
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._rest: RestClient | None = None
        buckets, routes = adapter.rate_buckets()
        self.limiter = VenueLimiter(str(self.venue), buckets, clock=self.clock, routes=routes)
        self._pause_banned = False
        self._pause_why = ""
        self.offset_ms = 0.0
        self._streams: dict[str, _Stream] = {}
        self._instruments: list[InstrumentId] = [InstrumentId(i) for i in config.instruments]
        self._topics: dict[tuple[type, str], str] = {}
        self._quote_topics: dict[InstrumentId, str] = {}
        self._work_tx, self._work_rx = fifo_mailbox(65_536, f"{self.name}.work")
        self._pending_resync: set[InstrumentId] = set()
        self._tracked: dict[ClientOrderId, PlaceOrder] = {}
        self.dropped: Counter[str] = Counter()
        self._drop_signalled: dict[str, float] = {}
        self._drop_reported: dict[str, int] = {}
        self._reconcile_pending = False
        self.reconciles = 0
        self.resyncs = 0
        self.latencies_ms: deque[float] = deque(maxlen=1000)
        self.rest_latency_hist = Histogram()  # cumulative, for the metrics endpoint
        self.ready_at_ns = 0

    # -- context offered to the adapter ------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock.time_ns() // 1_000_000 + self.offset_ms)

    def nonce(self) -> str:
        return secrets.token_hex(8)

    async def send(self, stream: str, frame: bytes) -> None:
        st = self._streams[stream]
        if st.transport is None:
            raise VenueUnavailable(str(self.venue), "not_connected", f"stream {stream} not started")
        async with st.limiter:
            await st.transport.send(frame)

    async def reconnect(self, stream: str, reason: str) -> None:
        st = self._streams.get(stream)
        if st is not None and st.transport is not None:
            await st.transport.reconnect(reason)

    async def request(self, spec: RequestSpec | Callable[[], RequestSpec], *, retries: int | None = None) -> Response:
        """Send a request through the rate limiter, raising the venue's typed errors.

        ``spec`` may be a builder, called again for each attempt so signatures carry a fresh timestamp.
        Only idempotent requests are retried (on 5xx, timeouts, connection errors and rate limits).
        """
        assert self._rest is not None
        build = spec if callable(spec) else (lambda: spec)
        max_retries = self.config.rest_retries if retries is None else retries
        attempt = 0
        resynced = False
        while True:
            req = build()
            left = self.limiter.paused_until - self.clock.monotonic()
            if left > self.config.max_pause_wait_s:
                text = f"requests paused for {left:.1f} s more after the venue's {self._pause_why}; not sent"
                if self._pause_banned:
                    raise IpBanned(str(self.venue), "paused", text, retry_after_s=left)
                raise RateLimitedError(str(self.venue), "paused", text, retry_after_s=left)
            await self.limiter.acquire(req)
            t0 = time.perf_counter()
            try:
                resp = await self._rest.send(req)
                self.adapter.observe_headers(resp.headers, self.limiter)
                self.adapter.raise_for_error(resp)
            except TimestampError as exc:
                if resynced:
                    raise
                resynced = True
                before = self.offset_ms
                await self._sync_clock()
                self._emit_signal(SignalKind.CLOCK_RESYNC, self.offset_ms,
                                  f"timestamp refused ({exc.code}); offset {before:.0f} -> {self.offset_ms:.0f} ms")
                continue  # the venue refused it: re-sending with a corrected timestamp is safe
            except IpBanned as exc:
                self._banned(exc)
                raise
            except RateLimitedError as exc:
                self._rate_limited(exc)
                if not req.idempotent or attempt >= max_retries:
                    raise
            except TransportTimeout:
                self._emit_signal(SignalKind.REST_TIMEOUT, 0.0, f"{req.method} {req.path}")
                if not req.idempotent or attempt >= max_retries:
                    raise
            except VenueUnavailable as exc:
                self._emit_signal(SignalKind.REST_ERROR, 0.0, str(exc)[:200])
                if not req.idempotent or attempt >= max_retries:
                    raise
            else:
                ms = (time.perf_counter() - t0) * 1000.0
                self.latencies_ms.append(ms)
                self.rest_latency_hist.observe(ms)
                self._emit_signal(SignalKind.LATENCY, ms, req.path)
                return resp
            delay = self.config.backoff.delay(attempt, self._rng)
            attempt += 1
            await self.clock.sleep(delay)

    @staticmethod
    def _builders(make: Callable[[], list[RequestSpec]]) -> list[Callable[[], RequestSpec]]:
        """One builder per request ``make`` returns, each re-signing with a fresh timestamp when called, so
        a retry after a clock re-sync (or a 5xx) does not re-send a stale, refused timestamp."""
        def nth(i: int) -> Callable[[], RequestSpec]:
            return lambda: make()[i]

        return [nth(i) for i in range(len(make()))]

    def _banned(self, exc: IpBanned) -> None:
        now = self.clock.monotonic()
        if exc.until_ms is not None:
            wait = max(0.0, exc.until_ms / 1000.0 - self.now_ms() / 1000.0)
        else:
            wait = exc.retry_after_s if exc.retry_after_s is not None else 60.0
        self.limiter.pause_until(now + wait)
        self._pause_banned, self._pause_why = True, f"IP ban ({exc.code})"
        until_ns = self.clock.time_ns() + int(wait * 1e9)
        self._publish(RateLimited(venue=self.venue, code=exc.code, banned=True, until_ns=until_ns, ts=self.clock.time_ns()))
        self._emit_signal(SignalKind.RATE_LIMIT_BAN, wait, exc.text[:200])

    def _rate_limited(self, exc: RateLimitedError) -> None:
        wait = exc.retry_after_s if exc.retry_after_s is not None else 1.0
        if not self.limiter.paused:
            self._pause_banned, self._pause_why = False, f"rate limit ({exc.code})"
        self.limiter.pause_until(self.clock.monotonic() + wait)
        until_ns = self.clock.time_ns() + int(wait * 1e9)
        self._publish(RateLimited(venue=self.venue, code=exc.code, banned=False, until_ns=until_ns, ts=self.clock.time_ns()))

    # -- lifecycle ---------------------------------------------------------------------------------
    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._rest = RestClient(self.adapter.endpoints.rest, self._session, timeout_s=self.config.rest_timeout_s)
        await self._sync_clock()
        for spec in self.adapter.instruments_requests():
            resp = await self.request(spec)
            for inst in self.adapter.parse_instruments(resp):
                try:
                    self.registry.add(inst)
                except InstrumentError as exc:
                    log.warning("%s: %s", self.name, exc)
        for iid in self._instruments:
            self.registry.get(self.venue, iid)  # unknown instrument: fail the start with a clear error
        self.start_soon(self._worker)
        for sspec in self.adapter.streams(self.credentials is not None):
            st = _Stream(sspec)
            st.limiter = AsyncLimiter(sspec.control_rate_per_s, 1.0)
            self._streams[sspec.name] = st
            st.transport = WsTransport(
                f"{self.venue}.{sspec.name}",
                self._url_factory(sspec.name),
                _Handler(self, st),
                self._session,
                clock=self.clock,
                rng=self._rng,
                backoff=self.config.backoff,
                ping_interval_s=sspec.ping_interval_s,
                ping_frame=self._ping_factory(sspec.name),
                protocol_heartbeat_s=sspec.protocol_heartbeat_s,
            )
            self.start_soon(st.transport.run)
        self.start_soon(self._watchdog)
        self.start_soon(self._housekeeping)
        if self.config.depth_levels > 0:
            self.start_soon(self._depth_publisher)
        with anyio.move_on_after(self.config.connect_timeout_s):
            for st in self._streams.values():
                await st.ready.wait()
        self.ready_at_ns = self.clock.time_ns()

    async def on_stop(self) -> None:
        self._work_tx.close()
        self._work_rx.close()
        if self._session is not None:
            with anyio.CancelScope(shield=True):
                await self._session.close()

    def _ping_factory(self, stream: str) -> Callable[[], bytes]:
        return lambda: self.adapter.ping_frame(stream, time.time_ns()) or b""

    def _url_factory(self, stream: str) -> Callable[[], Any]:
        async def url() -> str:
            return await self.adapter.stream_url(stream, self)

        return url

    async def _sync_clock(self) -> None:
        assert self._rest is not None
        spec = self.adapter.server_time_request()
        t0 = self.clock.time_ns()
        resp = await self._rest.send(spec)
        t1 = self.clock.time_ns()
        self.adapter.raise_for_error(resp)
        server_ms = self.adapter.parse_server_time(resp)
        local_mid_ms = (t0 + t1) / 2 / 1e6
        self.offset_ms = server_ms - local_mid_ms
        self.latencies_ms.append((t1 - t0) / 1e6)

    # -- hot path ----------------------------------------------------------------------------------
    def _on_frame(self, st: _Stream, data: str | bytes, ts: int) -> None:
        name = st.spec.name
        outs = self.adapter.feed(name, data, ts)
        if outs:
            if len(outs) == 1:
                o = outs[0]
                if o.__class__ is Quote:  # the common case: one Quote, straight to the bus
                    topic = self._quote_topics.get(o.instrument)
                    if topic is None:
                        topic = self._quote_topics[o.instrument] = topics.topic_for(o)
                    self._bus.publish(topic, o)
                    st.last_data = time.monotonic()
                    return
            if self._dispatch(outs, name):
                st.last_data = time.monotonic()

    def _dispatch(self, outs: Sequence[Message | CodecEvent], stream: str) -> bool:
        publish = self._bus.publish
        cache = self._topics
        data = False
        for o in outs:
            if isinstance(o, Message):
                inst = getattr(o, "instrument", None)
                key = (type(o), inst or "")
                topic = cache.get(key)
                if topic is None:
                    topic = cache[key] = topics.topic_for(o)
                publish(topic, o)
                data = True
                if type(o) is OrderUpdate:
                    self._on_order_update(o)
            else:
                self._on_event(o, stream)
        return data

    def _publish(self, msg: Message) -> None:
        self._bus.publish(topics.topic_for(msg), msg)

    def _emit_signal(self, kind: SignalKind, value: float, detail: str, stream: str = "") -> None:
        self._publish(VenueSignal(venue=self.venue, kind=kind, value=value, detail=detail, ts=self.clock.time_ns(),
                                  stream=stream))

    def _on_order_update(self, upd: OrderUpdate) -> None:
        cid = upd.client_order_id
        if cid is not None and upd.status.is_terminal:
            self._tracked.pop(cid, None)

    def _on_event(self, ev: CodecEvent, stream: str) -> None:
        match ev:
            case SendFrame(frame=frame):
                self._work_tx.send_nowait(("send", stream, frame))
            case NeedSnapshot(instrument=inst):
                if inst not in self._pending_resync:
                    self._pending_resync.add(inst)
                    self.resyncs += 1
                    self._work_tx.send_nowait(("snapshot", inst))
            case NeedResubscribe(instrument=inst):
                if inst not in self._pending_resync:
                    self._pending_resync.add(inst)
                    self.resyncs += 1
                    self._work_tx.send_nowait(("resubscribe", inst))
            case StreamExpired(reason=reason):
                self._work_tx.send_nowait(("reconnect", stream, reason))
            case Dropped(reason=reason, error=error):
                self._on_dropped(reason, error, stream)
            case Pong(ts_sent=ts_sent):
                if ts_sent:
                    self.latencies_ms.append((time.time_ns() - ts_sent) / 1e6)
            case LoginFailed(code=code, text=text):
                log.error("%s: login failed on %s: %s %s", self.name, stream, code, text)
                self._emit_signal(SignalKind.REST_ERROR, 0.0, f"login failed: {code} {text}"[:200])
            case SubscribeFailed(code=code, text=text):
                log.error("%s: subscribe failed on %s: %s %s", self.name, stream, code, text)
            case LoggedIn():
                pass
            case _:
                pass

    def _on_dropped(self, reason: str, error: str, stream: str) -> None:
        """Count an unusable frame; report at most one signal per reason per second (a broken feed must not
        flood the bus). A private frame we could not read may have been an order update: reconcile."""
        self.dropped[reason] += 1
        now = time.monotonic()
        if now - self._drop_signalled.get(reason, -1e9) >= 1.0:
            n = self.dropped[reason] - self._drop_reported.get(reason, 0)
            self._drop_signalled[reason] = now
            self._drop_reported[reason] = self.dropped[reason]
            self._emit_signal(SignalKind.FRAME_DROPPED, float(n), f"{stream}: {reason}: {error}"[:200])
        st = self._streams.get(stream)
        if st is not None and st.spec.private and not self._reconcile_pending:
            self._reconcile_pending = True
            self._work_tx.send_nowait(("reconcile",))

    # -- background work ---------------------------------------------------------------------------
    async def _worker(self) -> None:
        rx = self._work_rx
        while True:
            item = await rx.receive()
            try:
                await self._do(item)
            except (RemoteError, InstrumentError) as exc:  # venue errors, undecodable answers
                log.warning("%s: %s failed: %s", self.name, item[0], exc)
                if item[0] == "reconcile" and not self._reconcile_pending:
                    await self.clock.sleep(self.config.backoff.delay(1, self._rng))
                    self._reconcile_pending = True
                    self._work_tx.send_nowait(("reconcile",))
                if item[0] in ("snapshot", "resubscribe"):
                    inst = item[1]
                    self._pending_resync.discard(inst)
                    await self.clock.sleep(self.config.backoff.delay(1, self._rng))
                    self._on_event(NeedSnapshot(instrument=inst, reason="retry") if item[0] == "snapshot"
                                   else NeedResubscribe(instrument=inst, reason="retry"), "")

    async def _do(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "send":
            await self.send(item[1], item[2])
        elif kind == "snapshot":
            inst: InstrumentId = item[1]
            spec = self.adapter.snapshot_request(inst)
            self._pending_resync.discard(inst)
            if spec is None:
                return
            resp = await self.request(spec)
            self._dispatch(self.adapter.apply_snapshot(inst, resp, time.time_ns()), "")
        elif kind == "resubscribe":
            inst = item[1]
            self._pending_resync.discard(inst)
            for stream, frame in self.adapter.resubscribe_frames(inst):
                await self.send(stream, frame)
        elif kind == "reconnect":
            await self.reconnect(item[1], item[2])
        elif kind == "reconcile":
            self._reconcile_pending = False
            await self.reconcile()

    async def reconcile(self) -> list[OrderUpdate]:
        """Ask the venue for every order we track and every open order; publish what it says.

        Runs after every private reconnect so no fill is missed while the stream was down.
        """
        self.reconciles += 1
        out: list[OrderUpdate] = []
        ts = time.time_ns()
        for spec_fn in self._builders(lambda: self.adapter.open_orders(None, self)):
            resp = await self.request(spec_fn)
            out.extend(self.adapter.parse_open_orders(resp, ts))
        seen = {u.client_order_id for u in out}
        for cid, order in list(self._tracked.items()):
            if cid in seen:
                continue
            try:
                out.append(await self._query(QueryOrder(venue=self.venue, instrument=order.instrument, client_order_id=cid)))
            except UnknownOrder:
                continue
        self._dispatch(out, "")
        return out

    @property
    def _watchdog_period(self) -> float:
        """A tenth of the tightest liveness limit (5-50 ms): a stall is seen at most 10 % late."""
        limits = [st.spec.stale_after_s for st in self._streams.values() if st.spec.stale_after_s]
        return min(0.05, max(0.005, min(limits) / 10)) if limits else 0.05

    async def _watchdog(self) -> None:
        """Replace a connection that has carried no data for its liveness limit; say when data is back.

        DATA_GAP when a stream has been idle past its limit (then it is reconnected, once per limit);
        DATA_OK on the first data after that, so the health monitor holds the venue degraded exactly as
        long as its market data is missing, whatever its REST calls do.
        """
        while True:
            await anyio.sleep(self._watchdog_period)
            now = time.monotonic()
            for st in self._streams.values():
                limit = st.spec.stale_after_s
                if limit is None:
                    continue
                name = st.spec.name
                if st.stalled_at is not None and st.last_data > st.stalled_at:
                    gap_s = st.last_data - st.stalled_at
                    st.stalled_at = None
                    self._emit_signal(SignalKind.DATA_OK, gap_s * 1000.0, f"data flows again on {name}", name)
                if not st.connected or st.subscribing or st.transport is None:
                    continue
                idle = now - max(st.last_data, st.live_from)
                if idle > limit:
                    reason = f"no data on {name} for {idle:.2f} s (limit {limit} s)"
                    if st.stalled_at is None:
                        st.stalled_at = now
                    self._emit_signal(SignalKind.DATA_GAP, idle * 1000.0, reason, name)
                    st.live_from = now  # one reconnect per stall
                    await st.transport.reconnect(reason)

    async def _housekeeping(self) -> None:
        next_sync = self.clock.monotonic() + self.config.clock_sync_interval_s
        next_keepalive = self.clock.monotonic() + self.adapter.keepalive_interval_s
        while True:
            await self.clock.sleep(1.0)
            now = self.clock.monotonic()
            try:
                if now >= next_sync:
                    next_sync = now + self.config.clock_sync_interval_s
                    await self._sync_clock()
                if now >= next_keepalive:
                    next_keepalive = now + self.adapter.keepalive_interval_s
                    await self.adapter.keepalive(self)
            except (VenueReject, VenueUnavailable) as exc:
                log.warning("%s: housekeeping: %s", self.name, exc)

    async def _depth_publisher(self) -> None:
        """Every ``depth_interval_s``: a top-N BookSnapshot of every live book whose topic anyone subscribes
        to (nobody listening: nothing is built, not even the top-N read)."""
        n = self.config.depth_levels
        bus = self._bus
        book_topics: dict[InstrumentId, str] = {}

        def topic_of(inst: InstrumentId) -> str:
            topic = book_topics.get(inst)
            if topic is None:
                topic = book_topics[inst] = topics.book(self.venue, inst)
            return topic

        while True:
            await anyio.sleep(self.config.depth_interval_s)
            if not any(bus.has_subscribers(topic_of(inst)) for inst in self._instruments):
                continue
            ts = time.time_ns()
            for inst, bids, asks in self.adapter.top_of_books(n):
                topic = topic_of(inst)
                if bus.has_subscribers(topic):
                    bus.publish(topic, BookSnapshot(venue=self.venue, instrument=inst, bids=tuple(bids),
                                                    asks=tuple(asks), sequence=0, ts_event=ts, ts_recv=ts))

    # -- commands ----------------------------------------------------------------------------------
    async def handle(self, msg: Any) -> Any:
        match msg:
            case PlaceOrder():
                return await self._place(msg)
            case CancelOrder():
                resp = await self.request(lambda: self.adapter.cancel_order(msg, self))
                upd = self.adapter.parse_cancel(msg, resp, time.time_ns())
                if upd is not None:
                    self._dispatch([upd], "")
                return upd
            case QueryOrder():
                return await self._query(msg)
            case GetBalances():
                return await self.balances()
            case GetPositions():
                return await self.positions()
            case GetOpenOrders(instrument=inst):
                out: list[OrderUpdate] = []
                for spec in self._builders(lambda: self.adapter.open_orders(inst, self)):
                    out.extend(self.adapter.parse_open_orders(await self.request(spec), time.time_ns()))
                return out
            case HealthCheck():
                return await self.health()
            case SubscribeMarketData(instrument=inst):
                self.registry.get(self.venue, inst)
                missing = self.adapter.unsupported_market_data(msg.trades, msg.klines)
                if missing:  # refused whole, never half-served in silence
                    text = (f"{self.name}: {', '.join(missing)} not subscribed on {self.venue} for any instrument; "
                            f"set trades / klines in the [venues.{self.venue}] section")
                    raise ConfigError(text)
                if inst not in self._instruments:
                    self._instruments.append(inst)
                    for st in self._streams.values():
                        if st.connected:
                            await self.adapter.on_connected(st.spec.name, self, [inst])
                return None
        msg_ = f"{self.name} cannot handle {type(msg).__name__}"
        raise TypeError(msg_)

    async def _query(self, cmd: QueryOrder) -> OrderUpdate:
        resp = await self.request(lambda: self.adapter.query_order(cmd, self))
        upd = self.adapter.parse_query(cmd, resp, time.time_ns())
        self._dispatch([upd], "")
        return upd

    async def _place(self, order: PlaceOrder) -> OrderUpdate:
        self._tracked[order.client_order_id] = order
        try:
            resp = await self.request(lambda: self.adapter.place_order(order, self), retries=0)
        except VenueUnavailable as exc:  # timeout, connection error or 5xx: it may have reached the venue
            return await self._resolve_unknown(order, exc)
        except DuplicateClientOrderId:
            # Ours already reached the venue (e.g. a retry after an unknown outcome): ask for its state.
            return await self._query(QueryOrder(venue=self.venue, instrument=order.instrument, client_order_id=order.client_order_id))
        except VenueReject as exc:
            self._tracked.pop(order.client_order_id, None)
            self._publish(OrderRejected(venue=self.venue, instrument=order.instrument, client_order_id=order.client_order_id,
                                        code=exc.code, text=exc.text, ts=self.clock.time_ns()))
            raise
        upd = self.adapter.parse_place(order, resp, time.time_ns())
        self._dispatch([upd], "")
        return upd

    async def _resolve_unknown(self, order: PlaceOrder, cause: Exception) -> OrderUpdate:
        """The placement may or may not have reached the venue: ask about the client order id, never re-send."""
        q = QueryOrder(venue=self.venue, instrument=order.instrument, client_order_id=order.client_order_id)
        for attempt in range(3):
            await self.clock.sleep(self.config.unknown_outcome_grace_s * (attempt + 1))
            try:
                return await self._query(q)
            except UnknownOrder:
                continue
            except (VenueUnavailable, RateLimitedError):
                continue
        msg = f"placing {order.client_order_id} on {self.venue}: {cause}; its state could not be confirmed"
        raise OutcomeUnknown(str(self.venue), "unknown_outcome", msg) from None

    async def balances(self) -> list[Balance]:
        out: list[Balance] = []
        for spec in self._builders(lambda: self.adapter.balances(self)):
            out.extend(self.adapter.parse_balances(await self.request(spec), time.time_ns()))
        self._dispatch(out, "")
        return out

    async def positions(self) -> list[Position]:
        out: list[Position] = []
        for spec in self._builders(lambda: self.adapter.positions(self)):
            out.extend(self.adapter.parse_positions(await self.request(spec), time.time_ns()))
        self._dispatch(out, "")
        return out

    async def health(self) -> HealthReport:
        t0 = time.perf_counter()
        detail = ""
        if self.limiter.paused:
            # Banned or told to retry later: answer now instead of queueing behind the pause.
            left = self.limiter.paused_until - self.clock.monotonic()
            latency = 0.0
            rest_ok = False
            detail = f"requests paused by the venue for {left:.1f} s more (rate limit / ban)"
        else:
            try:
                await self.request(self.adapter.server_time_request(), retries=0)
                latency = (time.perf_counter() - t0) * 1000.0
                rest_ok = True
            except (VenueReject, VenueUnavailable) as exc:
                latency = (time.perf_counter() - t0) * 1000.0
                rest_ok = False
                detail = str(exc)[:200]
        connected = sum(1 for s in self._streams.values() if s.connected)
        live = sum(1 for i in self._instruments if self.adapter.book_state_live(i))
        if not rest_ok or connected == 0:
            status = "down"
        elif connected < len(self._streams) or live < len(self._instruments) or latency > 500.0:
            status = "degraded"
        else:
            status = "ok"
        return HealthReport(venue=self.venue, status=status, latency_ms=latency, connected_streams=connected,
                            books_live=live, books_total=len(self._instruments), clock_offset_ms=self.offset_ms,
                            detail=detail, ts=self.clock.time_ns())

    # -- stream callbacks --------------------------------------------------------------------------
    async def _on_connected(self, st: _Stream) -> None:
        st.connected = True
        st.connects += 1
        st.live_from = time.monotonic()
        st.subscribing = True
        try:
            await self.adapter.on_connected(st.spec.name, self, self._instruments)
        finally:
            st.subscribing = False
        # The liveness clock starts once the subscriptions are out: paced control frames can take longer
        # than the stale limit, and a connection must not be replaced before it could carry data.
        st.live_from = time.monotonic()
        self._emit_signal(SignalKind.WS_OPEN, float(st.connects), st.spec.name, st.spec.name)
        if st.spec.private and st.connects > 1 and not self._reconcile_pending:
            self._reconcile_pending = True
            self._work_tx.send_nowait(("reconcile",))
        st.ready.set()

    def _on_disconnected(self, st: _Stream, reason: str) -> None:
        was = st.connected
        st.connected = False
        self._dispatch(self.adapter.reset_stream(st.spec.name, time.time_ns()), st.spec.name)
        self._pending_resync.clear()
        if was:
            self._emit_signal(SignalKind.WS_CLOSED, 0.0, f"{st.spec.name}: {reason}"[:200], st.spec.name)

    @property
    def streams(self) -> dict[str, _Stream]:
        return self._streams

    def stats(self) -> dict[str, Any]:
        """A read-only snapshot of counters for the status view and metrics (no state is shared)."""
        lat = sorted(self.latencies_ms)
        frames = sum(st.transport.stats.frames for st in self._streams.values() if st.transport is not None)
        reconnects = sum(max(0, st.connects - 1) for st in self._streams.values())
        live = sum(1 for i in self._instruments if self.adapter.book_state_live(i))
        return {
            "frames": frames,
            "reconnects": reconnects,
            "connected": sum(1 for st in self._streams.values() if st.connected),
            "streams": len(self._streams),
            "books_live": live,
            "books_total": len(self._instruments),
            "resyncs": self.resyncs,
            "reconciles": self.reconciles,
            "dropped": sum(self.dropped.values()),
            "rest_p50_ms": lat[len(lat) // 2] if lat else float("nan"),
            "rest_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
            "clock_offset_ms": self.offset_ms,
            "ratelimit_headroom": self.limiter.headroom("default"),
            "paused": self.limiter.paused,
            "tracked_orders": len(self._tracked),
        }


class _Handler:
    """WsHandler for one stream of an ExchangeActor."""

    __slots__ = ("_actor", "_st", "on_frame")

    def __init__(self, actor: ExchangeActor, st: _Stream) -> None:
        self._actor = actor
        self._st = st
        self.on_frame = functools.partial(actor._on_frame, st)  # (data, ts_recv); a C-level call

    async def on_connected(self, transport: WsTransport) -> None:
        await self._actor._on_connected(self._st)

    def on_disconnected(self, reason: str) -> None:
        self._actor._on_disconnected(self._st, reason)


