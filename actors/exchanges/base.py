"""ExchangeActor: one venue's connections, joined to its codec (through a VenueAdapter) and the bus.

It is three parts a newcomer finds by name, and the actor that joins them:
- ``rest_gateway.RestGateway``: signing, clock offset, rate limit (with a reserve for cancels and probes),
  retries of idempotent requests, bans and pauses;
- ``streams.StreamSet``: the WebSockets, control-frame pacing, keep-alive, the data watchdog, reconnects;
- ``resync.ResyncWorker``: control frames, snapshots and other fetches the session asks for, one at a time;
and the venue's sans-IO ``VenueSession`` (venues/<venue>/session.py), whose effects the actor executes:
login, subscriptions, listenKeys, book bootstraps and timers are the session's, never the actor's.

Rules:
- Venue-agnostic: every venue difference is an adapter call; no venue name appears in a branch here.
- The mailbox loop never awaits a round trip. Each command's request runs as a task the actor owns
  (``Actor.pipe``), in a lane: cancels in their own lane (and spending the limiter's reserve), health probes
  in theirs, everything else bounded by ``max_in_flight``. So a venue serves many requests at once, a cancel
  never waits behind a placement, and a probe measures the venue, not our queue.
- No per-order state here: the order router owns it. The actor reports what the venue said: an answer, a
  typed rejection, or ``OutcomeUnknown`` when a placement may have reached the venue (timeout, lost
  connection, 5xx, a taken client id); the router resolves that by querying the client order id. When the
  private stream may have missed updates (a reconnect, an unreadable private frame) the actor publishes
  ``ReconcileNeeded`` (at most one per ``reconcile_min_interval_s``) and the router reconciles.
- A request the adapter builds for a stream (``RequestSpec.stream``: a venue that takes orders on its socket)
  goes through the same gateway (limits, timeout, retries) as a frame on that connection; the codec's
  ``Answered`` event brings its answer back, and a connection that goes fails whatever waits on it
  (``VenueUnavailable``: for a placement, ``OutcomeUnknown``), as a dropped HTTP connection does.
- Hot path: transport frame -> ``adapter.feed`` -> ``bus.publish`` synchronously, no queue hop; topic
  strings cached per (message type, instrument).
- The clock is injected everywhere.
"""

from __future__ import annotations

import functools
import logging
import random
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import anyio
import msgspec

from actors import topics
from actors.backoff import Backoff
from actors.base import Actor, Later
from actors.bus import Bus
from actors.clock import Clock
from actors.exchanges.adapter import VenueAdapter
from actors.exchanges.rest_gateway import RestGateway, RestSettings
from actors.exchanges.resync import ResyncWorker, WorkItem
from actors.exchanges.streams import Stream, StreamSet
from actors.ratelimit import VenueLimiter
from actors.stats import Histogram
from messages import (
    BookSnapshot,
    CancelOrder,
    DeadMansSwitch,
    ExchangeStats,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    GetStats,
    HealthCheck,
    HealthReport,
    HealthStatus,
    InstrumentId,
    LatencyHistogram,
    Message,
    OrderRejected,
    OrderUpdate,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Quote,
    ReconcileNeeded,
    SignalKind,
    SubscribeMarketData,
    SwitchState,
    VenueSignal,
)
from venues import Credentials
from venues.errors import (
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    InstrumentError,
    RateLimited,
    SwitchNotArmed,
    VenueReject,
    VenueUnavailable,
)
from venues.events import SUPERSEDED, Answered, CodecEvent, Dropped, LoginFailed, Pong, SubscribeFailed
from venues.http import RequestSpec, Response
from venues.session import Effect, Fetch, Out, Reconnect, Send, SetTimer

__all__ = ["ExchangeActor", "ExchangeConfig", "OutcomeUnknown"]

ExchangeMessage = (PlaceOrder | CancelOrder | QueryOrder | GetBalances | GetPositions | GetOpenOrders | GetStats | HealthCheck
                   | SubscribeMarketData)
"""What an exchange actor takes (ask / tell); its answers are the venue's, typed (OrderUpdate, Balance ...)."""

log = logging.getLogger("crossbook.exchange")


class OutcomeUnknown(VenueUnavailable):
    """A placement may or may not be live at the venue (timeout, lost connection, 5xx, or the venue says the
    client id is taken); the order router resolves it by querying the client order id."""


MAX_PAGES = 50  # pages of one list read at most before the read fails (a cursor that never ends is a bug)


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instruments: list[str]
    depth_levels: int = 10  # top-N BookSnapshot published per book (0: none)
    depth_interval_s: float = 0.1
    rest_timeout_s: float = 10.0
    rest_retries: int = 3
    clock_sync_interval_s: float = 60.0
    stats_interval_s: float = 1.0  # ExchangeStats on the bus this often
    connect_timeout_s: float = 10.0
    # A request that would wait longer than this behind a ban / retry-after fails at once with the venue's
    # error (nothing is sent), so no ask is held for the length of a ban.
    max_pause_wait_s: float = 2.0
    max_in_flight: int = 16  # placements, queries and account reads in flight at once
    cancel_in_flight: int = 8  # cancels in flight at once, in their own lane
    reconcile_min_interval_s: float = 1.0  # ReconcileNeeded at most this often (private-stream trouble)
    backoff: Backoff = Backoff(base_s=0.2, cap_s=10.0, reset_after_s=30.0)


class ExchangeActor(Actor):
    """One venue. Answers PlaceOrder, CancelOrder, QueryOrder, GetBalances, GetPositions, GetOpenOrders,
    HealthCheck and SubscribeMarketData through ``ask``; publishes market data, order updates, book
    integrity, rate limits, reconcile requests and health signals on the bus."""

    observe_response: Callable[[RequestSpec, Response], None] | None = None
    """Sees every REST answer before it is checked (the doctor's strict reading; None in the daemon)."""

    bus: Bus  # always given (the base class's is optional)

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
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._rest: RestGateway | None = None
        self._streams: StreamSet | None = None
        self.session = adapter.session(credentials, self.nonce)
        self._feed = self.session.feed
        self.resync = ResyncWorker(self.name, self._perform, self._work_failed, clock=self.clock, rng=self._rng,
                                   backoff=config.backoff)
        self._timers: dict[str, int] = {}  # timer key -> generation of the one that counts
        self._lanes = {
            "normal": anyio.CapacityLimiter(config.max_in_flight),
            "cancel": anyio.CapacityLimiter(config.cancel_in_flight),
            "probe": anyio.CapacityLimiter(2),
        }
        self._instruments: list[InstrumentId] = [InstrumentId(i) for i in config.instruments]
        self._topics: dict[tuple[type, str], str] = {}
        self._quote_topics: dict[InstrumentId, str] = {}
        self._mono = self.clock.monotonic
        self.dropped: Counter[str] = Counter()
        self._drop_signalled: dict[str, float] = {}
        self._drop_reported: dict[str, int] = {}
        self._reconcile_asked_at = -1e18
        self._reconcile_deferred: str | None = None  # a reason that came inside the interval, sent at its end
        self.reconciles = 0  # ReconcileNeeded published
        self.ready_at_ns = 0

    # -- parts -------------------------------------------------------------------------------------
    @property
    def rest(self) -> RestGateway:
        if self._rest is None:
            msg = f"{self.name} is not started"
            raise VenueUnavailable(str(self.venue), "not_started", msg)
        return self._rest

    @property
    def streams(self) -> dict[str, Stream]:
        return self._streams.streams if self._streams is not None else {}

    @property
    def offset_ms(self) -> float:
        return self._rest.offset_ms if self._rest is not None else 0.0

    @property
    def limiter(self) -> VenueLimiter:
        return self.rest.limiter

    @property
    def latencies_ms(self) -> Sequence[float]:
        """REST and ping round trips, the last 1000 (ms)."""
        return self._rest.latencies_ms if self._rest is not None else ()

    @property
    def rest_latency_hist(self) -> Histogram:
        return self._rest.latency_hist if self._rest is not None else Histogram()

    @property
    def resyncs(self) -> int:
        return self.resync.resyncs

    # -- context offered to the adapter ------------------------------------------------------------
    def now_ms(self) -> int:
        return self.rest.now_ms()

    def nonce(self) -> str:
        return secrets.token_hex(8)

    async def send(self, stream: str, frame: bytes) -> None:
        assert self._streams is not None
        await self._streams.send(stream, frame)

    async def _send_request_frame(self, stream: str, frame: bytes) -> None:
        """A request the session's venue takes on a stream (``RequestSpec.stream``): sent at once on the
        current connection, not paced as a control frame (the rate limiter has counted it).

        Raises:
            VenueUnavailable: the stream is not connected (nothing was sent) or the send failed.
        """
        st = self.streams.get(stream)
        if st is None or st.transport is None or not st.connected:
            msg = f"{self.name}: stream {stream} is not connected; request not sent"
            raise VenueUnavailable(str(self.venue), "not_connected", msg)
        try:
            await st.transport.send(frame)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:  # closing under us
            msg = f"{self.name}: sending on {stream}: {type(exc).__name__}: {exc}"
            raise VenueUnavailable(str(self.venue), "connection", msg) from None

    async def reconnect(self, stream: str, reason: str) -> None:
        if self._streams is not None:
            await self._streams.reconnect(stream, reason)

    def signal(self, kind: SignalKind, value: float, detail: str, stream: str = "") -> None:
        self.bus.publish_msg(VenueSignal(venue=self.venue, kind=kind, value=value, detail=detail, ts=self.clock.time_ns(),
                                  stream=stream))

    # -- lifecycle ---------------------------------------------------------------------------------
    async def on_start(self) -> None:
        cfg = self.config
        self._session = aiohttp.ClientSession()
        # aiohttp re-sends a GET / PUT / DELETE once, by itself, when a kept-alive connection drops: a write
        # sent with one of those methods (a cancel as DELETE) could reach the venue twice. Only the gateway
        # retries, and never a placement. (No public switch in aiohttp 3.14: the session's own flag.)
        self._session._retry_connection = False  # noqa: SLF001
        settings = RestSettings(timeout_s=cfg.rest_timeout_s, retries=cfg.rest_retries,
                                max_pause_wait_s=cfg.max_pause_wait_s, backoff=cfg.backoff)
        self._rest = RestGateway(self.adapter, self._session, settings, clock=self.clock, rng=self._rng,
                                 publish=self.bus.publish_msg, send_frame=self._send_request_frame,
                                 observe=self.observe_response)
        await self._rest.sync_clock()
        for spec in self.adapter.instruments_requests():
            resp = await self._rest.request(spec)
            for inst in self.adapter.parse_instruments(resp):
                try:
                    self.registry.add(inst)
                except InstrumentError as exc:
                    log.warning("%s: %s", self.name, exc)
        for iid in self._instruments:
            self.registry.get(self.venue, iid)  # unknown instrument: fail the start with a clear error
        self._dispatch(self.session.subscribe(self._instruments, self.now_ms()), "")  # no stream is up yet
        await self._start_session()  # knows the instruments, so it can read their settings (position modes)
        self.start_soon(self.resync.run)
        self._streams = StreamSet(str(self.venue), self, self._session, clock=self.clock, rng=self._rng,
                                  backoff=cfg.backoff)
        for sspec in self.session.streams():
            st = self._streams.add(sspec, self._url_factory(sspec.name), self._ping_factory(sspec.name))
            assert st.transport is not None
            self.start_soon(st.transport.run)
        self.start_soon(self._streams.watchdog)
        self.start_soon(self._housekeeping)
        self.publish_every(cfg.stats_interval_s, topics.exchange_stats(self.venue), self.stats)
        if cfg.depth_levels > 0:
            self.start_soon(self._depth_publisher)
        await self._streams.wait_ready(cfg.connect_timeout_s)
        self.ready_at_ns = self.clock.time_ns()

    async def on_stop(self) -> None:
        self.resync.close()
        if self._session is not None:
            with anyio.CancelScope(shield=True):
                await self._session.close()

    async def _start_session(self) -> None:
        """What the session reads before any stream opens (the account's position mode...): its fetches are
        done here, in order, so no order leaves before the account's settings are known.

        Raises:
            VenueReject, VenueUnavailable: the venue refused or could not answer (the start fails, clearly).
        """
        for out in self.session.start(self.now_ms()):
            if isinstance(out, Fetch) and not out.urgent:
                await self._fetch_now(out, "")
            else:
                self._dispatch([out], "")

    async def _fetch_now(self, fetch: Fetch, stream: str) -> None:
        """A session fetch done in line: the request, then its answer (or the failure, re-raised) back to the
        session."""
        try:
            resp = await self.rest.request(fetch.spec)
        except (VenueReject, VenueUnavailable) as exc:
            self._dispatch(self.session.failed(fetch.key, exc, self.now_ms()), stream)
            raise
        self._dispatch(self.session.response(fetch.key, resp, self.now_ms()), stream)

    @property
    def position_mode(self) -> PositionMode:
        """The account's position mode, as the session knows it (request builders read it through the ctx)."""
        return self.session.position_mode

    def _ping_factory(self, stream: str) -> Callable[[], bytes]:
        return lambda: self.session.ping_frame(stream, self.clock.time_ns()) or b""

    def _url_factory(self, stream: str) -> Callable[[], Awaitable[str]]:
        async def url() -> str:
            """The session's URL for ``stream``, after the fetches it needs first (a listenKey)."""
            session = self.session
            for _ in range(8):  # a session needs at most a fetch or two before it knows where to go
                step = session.url(stream, self.now_ms())
                if isinstance(step, str):
                    return step
                await self._fetch_now(step, stream)
            msg = f"{self.name}: the session gave no URL for {stream} after 8 fetches"
            raise VenueUnavailable(str(self.venue), "no_url", msg)

        return url

    # -- hot path ----------------------------------------------------------------------------------
    def on_frame(self, st: Stream, data: str | bytes, ts: int) -> None:
        name = st.spec.name
        outs = self._feed(name, data, ts)
        if outs:
            if len(outs) == 1:
                o = outs[0]
                if o.__class__ is Quote:  # the common case: one Quote, straight to the bus
                    topic = self._quote_topics.get(o.instrument)
                    if topic is None:
                        topic = self._quote_topics[o.instrument] = topics.topic_for(o)
                    self.bus.publish(topic, o)
                    st.last_data = self._mono()
                    return
            if self._dispatch(outs, name):
                st.last_data = self._mono()

    def _dispatch(self, outs: Sequence[Out], stream: str) -> bool:
        """Publish messages, act on codec notices and execute session effects; True when data was published
        (or a book update superseded by its snapshot arrived: the stream carries data)."""
        publish = self.bus.publish
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
                if o.__class__ is DeadMansSwitch:
                    self._switch_changed(o)
            elif isinstance(o, Effect):
                self._effect(o)
            elif o is SUPERSEDED:
                data = True  # the stream carries data, behind the snapshot (liveness)
            else:
                self._on_event(o, stream)
        return data

    def _effect(self, effect: Effect) -> None:
        match effect:
            case Send(stream=stream):
                st = self.streams.get(stream)
                self.resync.want(effect, st.connects if st is not None else 0)  # for this connection only
            case Fetch(urgent=True):
                self._fetch_urgent(effect)
            case Fetch() | Reconnect():
                self.resync.want(effect)
            case SetTimer(key=key, after_s=after_s):
                self._set_timer(key, after_s)

    def _fetch_urgent(self, fetch: Fetch) -> None:
        """An urgent session fetch (the dead-man's switch): at once, beside the resync queue, allowed the rate
        limiter's reserve; its answer or failure goes back to the session through the actor's loop."""

        async def work() -> Response | Exception:
            try:
                return await self.rest.request(fetch.spec, urgent=True)
            except (VenueReject, VenueUnavailable) as exc:
                return exc

        def then(result: Response | Exception) -> None:
            now = self.now_ms()
            if isinstance(result, Exception):
                outs = self.session.failed(fetch.key, result, now)
            else:
                try:
                    outs = self.session.response(fetch.key, result, now)
                except (VenueReject, DecodeError) as exc:  # the answer is an error or unreadable
                    outs = self.session.failed(fetch.key, exc, now)
            self._dispatch(outs, "")

        self.pipe(work, then, name=f"{self.name}:{fetch.key}")

    def _switch_changed(self, sw: DeadMansSwitch) -> None:
        """The dead-man's switch changed state: say so (the message itself is on ``venue.switch.<venue>``)."""
        level = logging.INFO if sw.state is SwitchState.ARMED else logging.WARNING
        if sw.state is SwitchState.REFUSED:
            level = logging.ERROR
        log.log(level, "%s: dead-man's switch %s (window %.0f s): %s", self.name, sw.state.value, sw.window_s,
                sw.detail)

    def _set_timer(self, key: str, after_s: float) -> None:
        """Call the session's ``timer(key)`` after ``after_s``; a later timer of the same key replaces it."""
        generation = self._timers[key] = self._timers.get(key, 0) + 1

        async def fire() -> None:
            await self.clock.sleep(after_s)
            if self._timers.get(key) == generation:
                self._dispatch(self.session.timer(key, self.now_ms()), "")

        self.start_soon(fire, name=f"{self.name}:timer:{key}")


    def _on_event(self, ev: CodecEvent, stream: str) -> None:
        """A codec notice: counted or reported here (venue-agnostic), then handed to the session."""
        match ev:
            case Dropped(reason=reason, error=error):
                self._on_dropped(reason, error, stream)
            case Pong(ts_sent=ts_sent):
                if ts_sent and self._rest is not None:
                    self._rest.latencies_ms.append((self.clock.time_ns() - ts_sent) / 1e6)
            case LoginFailed(code=code, text=text):
                log.error("%s: login failed on %s: %s %s", self.name, stream, code, text)
                self.signal(SignalKind.REST_ERROR, 0.0, f"login failed: {code} {text}"[:200])
            case SubscribeFailed(code=code, text=text):
                log.error("%s: subscribe failed on %s: %s %s", self.name, stream, code, text)
            case Answered(request_id=rid, body=body):  # a request sent on the stream (RequestSpec.stream)
                if self._rest is not None:
                    self._rest.answered(stream, rid, body)
                return
        self._dispatch(self.session.on_event(ev, stream, self.now_ms()), stream)

    def _on_dropped(self, reason: str, error: str, stream: str) -> None:
        """Count an unusable frame; report at most one signal per reason per second (a broken feed must not
        flood the bus). A private frame we could not read may have been an order update: reconcile."""
        self.dropped[reason] += 1
        now = self._mono()
        if now - self._drop_signalled.get(reason, -1e9) >= 1.0:
            n = self.dropped[reason] - self._drop_reported.get(reason, 0)
            self._drop_signalled[reason] = now
            self._drop_reported[reason] = self.dropped[reason]
            self.signal(SignalKind.FRAME_DROPPED, float(n), f"{stream}: {reason}: {error}"[:200])
        st = self.streams.get(stream)
        if st is not None and st.spec.private:
            self._ask_reconcile(f"unreadable frame on {stream}: {reason}")

    def _ask_reconcile(self, reason: str) -> None:
        """Tell the order router its view of this venue may be stale, at most once per interval. A reason
        that comes inside the interval is never dropped: it goes out when the interval ends (what was missed
        since the last reconcile began must still be looked for)."""
        wait = self._reconcile_asked_at + self.config.reconcile_min_interval_s - self._mono()
        if wait <= 0:
            self._publish_reconcile(reason)
            return
        if self._reconcile_deferred is None:
            self.pipe(functools.partial(self.clock.sleep, wait), lambda _: self._publish_reconcile(None),
                      name=f"{self.name}:reconcile-later")
        self._reconcile_deferred = reason

    def _publish_reconcile(self, reason: str | None) -> None:
        reason = reason if reason is not None else self._reconcile_deferred
        self._reconcile_deferred = None
        if reason is None:
            return
        self._reconcile_asked_at = self._mono()
        self.reconciles += 1
        self.bus.publish_msg(ReconcileNeeded(venue=self.venue, reason=reason, ts=self.clock.time_ns()))

    # -- stream callbacks (StreamOwner) ------------------------------------------------------------
    async def on_stream_up(self, st: Stream) -> None:
        """The session's login and subscriptions go out in order, paced, before the stream's frames are read."""
        name = st.spec.name
        for out in self.session.connected(name, self.now_ms()):
            if isinstance(out, Send) and out.stream == name:
                await self.send(name, out.frame)
            else:
                self._dispatch([out], name)
        if st.spec.private and st.connects > 1:
            self._ask_reconcile(f"{name} reconnected")

    def on_stream_down(self, st: Stream, reason: str) -> None:
        if self._rest is not None:  # requests waiting for an answer on it: VenueUnavailable, never a silent loss
            self._rest.stream_down(st.spec.name, reason)
        self._dispatch(self.session.disconnected(st.spec.name, self.now_ms()), st.spec.name)
        self.resync.forget()

    # -- background work ---------------------------------------------------------------------------
    async def _perform(self, item: WorkItem, tag: int) -> None:
        """One session effect from the resync queue (the ResyncWorker's executor)."""
        match item:
            case Send(stream=stream, frame=frame):
                st = self.streams.get(stream)
                if st is not None and st.connects != tag:
                    return  # queued for a connection that is gone: its successor subscribed afresh
                await self.send(stream, frame)
            case Fetch(key=key, spec=spec):
                resp = await self.rest.request(spec)
                self._dispatch(self.session.response(key, resp, self.now_ms()), "")
            case Reconnect(stream=stream, reason=reason):
                await self.reconnect(stream, reason)

    def _work_failed(self, item: WorkItem, error: Exception) -> None:
        if isinstance(item, Fetch):
            self._dispatch(self.session.failed(item.key, error, self.now_ms()), "")

    async def _housekeeping(self) -> None:
        while True:
            await self.clock.sleep(self.config.clock_sync_interval_s)
            try:
                await self.rest.sync_clock()
            except (VenueReject, VenueUnavailable) as exc:
                log.warning("%s: clock sync: %s", self.name, exc)

    async def _depth_publisher(self) -> None:
        """Every ``depth_interval_s``: a top-N BookSnapshot of every live book whose topic anyone subscribes
        to (nobody listening: nothing is built, not even the top-N read)."""
        n = self.config.depth_levels
        bus = self.bus
        book_topics: dict[InstrumentId, str] = {}

        def topic_of(inst: InstrumentId) -> str:
            topic = book_topics.get(inst)
            if topic is None:
                topic = book_topics[inst] = topics.book(self.venue, inst)
            return topic

        while True:
            await self.clock.sleep(self.config.depth_interval_s)
            if not any(bus.has_subscribers(topic_of(inst)) for inst in self._instruments):
                continue
            ts = self.clock.time_ns()
            for inst, bids, asks in self.session.top_of_books(n):
                topic = topic_of(inst)
                if bus.has_subscribers(topic):
                    bus.publish(topic, BookSnapshot(venue=self.venue, instrument=inst, bids=tuple(bids),
                                                    asks=tuple(asks), sequence=0, ts_event=ts, ts_recv=ts))

    # -- commands: each round trip runs as a piped task, never in the mailbox loop ---------------------
    async def handle(self, msg: ExchangeMessage) -> Any:
        match msg:
            case PlaceOrder():
                return self.pipe(functools.partial(self._place, msg), functools.partial(self._placed, msg),
                                 lane=self._lanes["normal"], name=f"{self.name}:place")
            case CancelOrder():
                return self.pipe(functools.partial(self._cancel, msg), self._publish_updates,
                                 lane=self._lanes["cancel"], name=f"{self.name}:cancel")
            case QueryOrder():
                return self.pipe(functools.partial(self._query, msg), self._publish_updates,
                                 lane=self._lanes["normal"], name=f"{self.name}:query")
            case GetBalances():
                return self._read(self.adapter.balances, self.adapter.parse_balances, publish=True)
            case GetPositions():
                return self._read(self.adapter.positions, self.adapter.parse_positions, publish=True)
            case GetOpenOrders(instrument=inst):
                return self._read(functools.partial(self.adapter.open_orders, inst), self.adapter.parse_open_orders,
                                  publish=False)
            case GetStats():
                return self.stats()
            case HealthCheck():
                return self.pipe(self._probe, self._health_report, lane=self._lanes["probe"], name=f"{self.name}:probe")
            case SubscribeMarketData(instrument=inst):
                return self._subscribe(msg, inst)
        msg_ = f"{self.name} cannot handle {type(msg).__name__}"  # type: ignore[unreachable]  # told at run time
        raise TypeError(msg_)

    def _subscribe(self, msg: SubscribeMarketData, inst: InstrumentId) -> None:
        self.registry.get(self.venue, inst)
        missing = self.adapter.unsupported_market_data(msg.trades, msg.klines)
        if missing:  # refused whole, never half-served in silence
            text = (f"{self.name}: {', '.join(missing)} not subscribed on {self.venue} for any instrument; "
                    f"set trades / klines in the [venues.{self.venue}] section")
            raise ConfigError(text)
        if inst not in self._instruments:
            self._instruments.append(inst)
            self._dispatch(self.session.subscribe([inst], self.now_ms()), "")  # frames go out paced, in order
        return None

    def _publish_updates(self, upd: OrderUpdate | None) -> OrderUpdate | None:
        if upd is not None:
            self._dispatch([upd], "")
        return upd

    async def _place(self, order: PlaceOrder) -> Response:
        """The placement's one send: never retried here (the router decides, after asking the venue).

        Raises:
            SwitchNotArmed: the venue's dead-man's switch is configured and not armed: nothing leaves.
        """
        switch = self.session.switch
        if switch is not None and not switch.armed:
            msg = (f"{self.venue}: dead-man's switch {switch.state.value} ({switch.detail}); "
                   f"{order.client_order_id} not sent")
            raise SwitchNotArmed(msg)
        try:
            return await self.rest.request(lambda: self.adapter.place_order(order, self), retries=0)
        except RateLimited:
            raise  # refused by the pause or the venue's limit: it did not reach the venue's matching
        except DuplicateClientOrderId as exc:
            # Ours may already be at the venue (e.g. a re-send after an unknown outcome): the router asks.
            raise OutcomeUnknown(str(self.venue), "duplicate_client_order_id", str(exc)) from None
        except VenueUnavailable as exc:  # timeout, connection error or 5xx: it may have reached the venue
            text = f"placing {order.client_order_id} on {self.venue}: {exc}; outcome unknown"
            raise OutcomeUnknown(str(self.venue), "unknown_outcome", text) from None
        except VenueReject as exc:
            self.bus.publish_msg(OrderRejected(venue=self.venue, instrument=order.instrument,
                                        client_order_id=order.client_order_id, code=exc.code, text=exc.text,
                                        ts=self.clock.time_ns()))
            raise

    def _placed(self, order: PlaceOrder, resp: Response) -> OrderUpdate:
        upd = self.adapter.parse_place(order, resp, self.clock.time_ns())
        self._dispatch([upd], "")
        return upd

    async def _cancel(self, cmd: CancelOrder) -> OrderUpdate | None:
        resp = await self.rest.request(lambda: self.adapter.cancel_order(cmd, self), urgent=True)
        return self.adapter.parse_cancel(cmd, resp, self.clock.time_ns())

    async def _query(self, cmd: QueryOrder) -> OrderUpdate:
        first = self.adapter.query_order(cmd, self)
        resp = await self.rest.request(lambda: self.adapter.query_order(cmd, self))
        resp = (await self._followed(first, resp, pages=2))[-1]  # e.g. order history after an empty realtime
        return self.adapter.parse_query(cmd, resp, self.clock.time_ns())

    async def _followed(self, spec: RequestSpec, resp: Response, *, pages: int = MAX_PAGES) -> list[Response]:
        """``resp`` and the answers to the requests that continue it (the adapter's optional ``follow``: the
        next page of a list, a second place to look), at most ``pages`` answers in all.

        Raises:
            VenueUnavailable: the list was still going after ``pages`` pages (nothing is concluded from half).
        """
        follow = getattr(self.adapter, "follow", None)
        out = [resp]
        while follow is not None:
            nxt = follow(spec, resp, self)
            if nxt is None:
                return out
            if len(out) >= pages:
                msg = f"{self.name}: {spec.path} still had more after {pages} pages"
                raise VenueUnavailable(str(self.venue), "too_many_pages", msg)
            # Built again for each attempt (a retry after a clock re-sync signs with a fresh timestamp).
            again = functools.partial(_follow_again, follow, spec, resp, self, nxt)
            spec, resp = nxt, await self.rest.request(again)
            out.append(resp)
        return out

    def _read(
        self,
        make: Callable[[Any], list[RequestSpec]],
        parse: Callable[[Response, int], Sequence[Any]],
        *,
        publish: bool,
    ) -> Later[list[Any]]:
        async def work() -> list[Any]:
            out: list[Any] = []
            firsts = make(self)
            for spec, resp in zip(firsts, await self.rest.request_all(lambda: make(self)), strict=True):
                for page in await self._followed(spec, resp):  # every page of a list
                    out.extend(parse(page, self.clock.time_ns()))
            return out

        def then(out: list[Any]) -> list[Any]:
            if publish:
                self._dispatch(out, "")
            return out

        return self.pipe(work, then, lane=self._lanes["normal"], name=f"{self.name}:read")

    async def _probe(self) -> tuple[bool, float, str]:
        """One server-time round trip (urgent: it does not wait behind trading traffic in the limiter)."""
        rest = self.rest
        if rest.limiter.paused:
            # Banned or told to retry later: answer now instead of queueing behind the pause.
            return False, 0.0, f"requests paused by the venue for {rest.pause_left_s:.1f} s more (rate limit / ban)"
        t0 = self.clock.monotonic()
        try:
            await rest.request(self.adapter.server_time_request(), retries=0, urgent=True)
        except (VenueReject, VenueUnavailable) as exc:
            return False, (self.clock.monotonic() - t0) * 1000.0, str(exc)[:200]
        return True, (self.clock.monotonic() - t0) * 1000.0, ""

    def _health_report(self, probe: tuple[bool, float, str]) -> HealthReport:
        rest_ok, latency, detail = probe
        streams = self.streams
        connected = sum(1 for s in streams.values() if s.connected)
        live = sum(1 for i in self._instruments if self.adapter.book_state_live(i))
        if not rest_ok or connected == 0:
            status = HealthStatus.DOWN
        elif connected < len(streams) or live < len(self._instruments) or latency > 500.0:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.OK
        return HealthReport(venue=self.venue, status=status, latency_ms=latency, connected_streams=connected,
                            books_live=live, books_total=len(self._instruments), clock_offset_ms=self.offset_ms,
                            detail=detail, ts=self.clock.time_ns())

    def stats(self) -> ExchangeStats:
        """A snapshot of the counters (published every ``stats_interval_s`` on ``stats.exchange.<venue>``, and
        the answer to GetStats)."""
        rest = self._rest
        lat = sorted(rest.latencies_ms) if rest is not None else []
        ss = self._streams
        hist = self.rest_latency_hist
        sw = self.session.switch
        return ExchangeStats(
            venue=self.venue,
            frames=ss.frames if ss is not None else 0,
            reconnects=ss.reconnects if ss is not None else 0,
            connected=ss.connected if ss is not None else 0,
            streams=len(self.streams),
            books_live=sum(1 for i in self._instruments if self.adapter.book_state_live(i)),
            books_total=len(self._instruments),
            resyncs=self.resync.resyncs,
            reconciles=self.reconciles,
            dropped=sum(self.dropped.values()),
            ignored=sum(getattr(getattr(self.adapter, "codec", None), "ignored", {}).values()),
            rest_p50_ms=lat[len(lat) // 2] if lat else float("nan"),
            rest_p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
            clock_offset_ms=self.offset_ms,
            ratelimit_headroom=rest.limiter.headroom("default") if rest is not None else 1.0,
            paused=rest.limiter.paused if rest is not None else False,
            in_flight=rest.in_flight if rest is not None else 0,
            rest_latency=LatencyHistogram(bounds_ms=hist.bounds, counts=tuple(hist.counts), count=hist.count,
                                          total_ms=hist.total),
            ts=self.clock.time_ns(),
            switch=sw.state if sw is not None else None,
            switch_window_s=sw.window_s if sw is not None else 0.0,
            switch_detail=sw.detail if sw is not None else "",
            switch_age_s=round((self.now_ms() - sw.refreshed_ms) / 1000, 1) if sw is not None and sw.refreshed_ms
            else None,
        )


def _follow_again(follow: Callable[..., RequestSpec | None], spec: RequestSpec, resp: Response, ctx: ExchangeActor,
                  first: RequestSpec) -> RequestSpec:
    return follow(spec, resp, ctx) or first
