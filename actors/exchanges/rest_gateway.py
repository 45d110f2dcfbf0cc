"""RestGateway: one venue's REST requests: signing with a fresh timestamp, the clock offset, the rate limit,
retries of idempotent requests, bans and pauses. Many requests run through it at once.

Rules:
- Every request goes through the venue's limiter; the venue's usage headers correct it. Urgent requests
  (cancels, health probes) may spend the limiter's reserve, so a burst of placements cannot delay them.
- A 429 / ban pauses every request to the venue and is published (RateLimited, RATE_LIMIT_BAN). A request
  that would wait longer than ``max_pause_wait_s`` behind a pause fails at once with the venue's error
  (nothing sent), so an ask is never held for minutes.
- Only idempotent requests are retried (5xx, timeouts, connection errors, rate limits) with full-jitter
  backoff; an order placement is sent once, and a failure that may have reached the venue is the caller's
  unknown outcome.
- A request is built by a builder called for each attempt, so a retry after a clock re-sync (or a 5xx)
  carries a fresh timestamp and signature. A timestamp refusal re-measures the offset once and re-sends
  (the venue refused it: nothing happened).
- The clock is injected; ``latency`` measures the round trip only (after the limiter), never a queue.
- A request whose spec names a ``stream`` goes as a frame on that WebSocket (``send_frame``) instead of
  over HTTP, through the same limiter, timeout and retry rules; it is built again just before it is sent
  (after the limiter), so it is built for the connection it goes out on. Its answer comes back through
  ``answered`` (the codec's ``Answered`` event, matched by request id); ``stream_down`` fails every request
  still waiting on that stream with ``VenueUnavailable``, and a timeout is ``TransportTimeout``, as over
  HTTP: never a silent loss.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
import anyio
import msgspec

from actors.backoff import Backoff
from actors.clock import Clock
from actors.ratelimit import VenueLimiter
from actors.stats import Histogram
from actors.transport import RestClient, TransportTimeout
from messages import Message, RateLimited, SignalKind, Venue, VenueSignal
from venues.errors import IpBanned, TimestampError, VenueUnavailable
from venues.errors import RateLimited as RateLimitedError
from venues.http import RequestSpec, Response

if TYPE_CHECKING:
    from actors.exchanges.adapter import VenueAdapter

__all__ = ["RestGateway", "RestSettings"]

Builder = RequestSpec | Callable[[], RequestSpec]
SendFrame = Callable[[str, bytes], Awaitable[None]]
"""Sends one frame on a named stream (raises VenueUnavailable when it is not connected)."""


class _Waiting:
    """A stream request waiting for its answer frame, or for its connection to go."""

    __slots__ = ("done", "body", "lost")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.body: bytes | None = None
        self.lost = ""


class RestSettings(msgspec.Struct, frozen=True, kw_only=True):
    timeout_s: float = 10.0
    retries: int = 3
    max_pause_wait_s: float = 2.0
    backoff: Backoff = Backoff(base_s=0.2, cap_s=10.0, reset_after_s=30.0)


class RestGateway:
    """The REST side of one venue connection.

    Args:
        adapter: The venue's adapter (error mapping, usage headers, server time).
        session: The aiohttp session (owned by the caller).
        publish: Where RateLimited and VenueSignal messages go (the bus).
        observe: Called with every request and its answer before the answer is checked (None: nobody).
        send_frame: Sends a frame on a stream, for specs with a ``stream`` (None: such specs fail).
    """

    def __init__(
        self,
        adapter: VenueAdapter,
        session: aiohttp.ClientSession,
        settings: RestSettings,
        *,
        clock: Clock,
        rng: random.Random,
        publish: Callable[[Message], object],
        send_frame: SendFrame | None = None,
        observe: Callable[[RequestSpec, Response], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self._observe = observe  # every answer as it came (the doctor's strict reading), before any check
        self.venue: Venue = adapter.venue
        self.settings = settings
        self.clock = clock
        self._rng = rng
        self._publish = publish
        self._client = RestClient(adapter.endpoints.rest, session, timeout_s=settings.timeout_s)
        buckets, routes = adapter.rate_buckets()
        self.limiter = VenueLimiter(str(self.venue), buckets, clock=clock, routes=routes)
        self._pause_banned = False
        self._pause_why = ""
        self.offset_ms = 0.0
        self.in_flight = 0
        self._idle: anyio.Event | None = None  # set when in_flight falls to 0 (someone waits in ``idle``)
        self.latencies_ms: deque[float] = deque(maxlen=1000)
        self.latency_hist = Histogram()  # cumulative, for the metrics endpoint
        self._send_frame = send_frame
        self._waiting: dict[tuple[str, str], _Waiting] = {}  # (stream, request id) -> its answer
        self.stream_requests = 0  # requests sent as frames on a stream

    def now_ms(self) -> int:
        """Epoch ms on the venue's clock (ours corrected by the measured offset)."""
        return int(self.clock.time_ns() // 1_000_000 + self.offset_ms)

    def signal(self, kind: SignalKind, value: float, detail: str, stream: str = "") -> None:
        self._publish(VenueSignal(venue=self.venue, kind=kind, value=value, detail=detail, ts=self.clock.time_ns(),
                                  stream=stream))

    async def sync_clock(self) -> None:
        """Measure the offset to the venue's clock (half the round trip either side)."""
        spec = self.adapter.server_time_request()
        t0 = self.clock.time_ns()
        resp = await self._client.send(spec)
        t1 = self.clock.time_ns()
        self.adapter.raise_for_error(resp)
        server_ms = self.adapter.parse_server_time(resp)
        self.offset_ms = server_ms - (t0 + t1) / 2 / 1e6
        self.latencies_ms.append((t1 - t0) / 1e6)

    async def idle(self) -> None:
        """Return once no request is in flight (the doctor, before it turns a dead-man's switch off)."""
        while self.in_flight:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def request(self, spec: Builder, *, retries: int | None = None, urgent: bool = False) -> Response:
        """Send a request through the rate limiter, raising the venue's typed errors.

        Raises:
            VenueReject, VenueUnavailable, RateLimited, IpBanned: as the venue (or the link) said.
        """
        build = spec if callable(spec) else (lambda: spec)
        max_retries = self.settings.retries if retries is None else retries
        attempt = 0
        resynced = False
        while True:
            req = build()
            left = self.limiter.paused_until - self.clock.monotonic()
            if left > self.settings.max_pause_wait_s:
                text = f"requests paused for {left:.1f} s more after the venue's {self._pause_why}; not sent"
                if self._pause_banned:
                    raise IpBanned(str(self.venue), "paused", text, retry_after_s=left)
                raise RateLimitedError(str(self.venue), "paused", text, retry_after_s=left)
            await self.limiter.acquire(req, urgent=urgent)
            if req.stream:
                req = build()  # for the connection it goes out on (the limiter may have waited)
            t0 = self.clock.monotonic()
            self.in_flight += 1
            try:
                resp = await (self._over_stream(req) if req.stream else self._client.send(req))
                if self._observe is not None:
                    self._observe(req, resp)
                self.adapter.observe_headers(resp.headers, self.limiter)
                self.adapter.raise_for_error(resp)
            except TimestampError as exc:
                if resynced:
                    raise
                resynced = True
                before = self.offset_ms
                await self.sync_clock()
                self.signal(SignalKind.CLOCK_RESYNC, self.offset_ms,
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
                self.signal(SignalKind.REST_TIMEOUT, 0.0, f"{req.method} {req.path}")
                if not req.idempotent or attempt >= max_retries:
                    raise
            except VenueUnavailable as exc:
                self.signal(SignalKind.REST_ERROR, 0.0, str(exc)[:200])
                if not req.idempotent or attempt >= max_retries:
                    raise
            else:
                ms = (self.clock.monotonic() - t0) * 1000.0
                self.latencies_ms.append(ms)
                self.latency_hist.observe(ms)
                self.signal(SignalKind.LATENCY, ms, req.path)
                return resp
            finally:
                self.in_flight -= 1
                if self.in_flight == 0 and self._idle is not None:
                    self._idle.set()
                    self._idle = None
            delay = self.settings.backoff.delay(attempt, self._rng)
            attempt += 1
            await self.clock.sleep(delay)

    async def request_all(self, make: Callable[[], list[RequestSpec]], *, urgent: bool = False) -> list[Response]:
        """Every request ``make`` returns, in order, each re-signed by calling ``make`` again per attempt."""
        return [await self.request(functools.partial(_nth, make, i), urgent=urgent) for i in range(len(make()))]

    async def _over_stream(self, req: RequestSpec) -> Response:
        """Send ``req.body`` as a frame on ``req.stream`` and wait for the answer with ``req.request_id``.

        Raises:
            TransportTimeout: no answer within the timeout (for a write, its outcome is unknown).
            VenueUnavailable: the stream is not connected, or its connection went before the answer.
        """
        where = f"{req.path} (id {req.request_id}) on {self.venue} {req.stream}"
        if self._send_frame is None:
            msg = f"{where}: this gateway sends no frames"
            raise VenueUnavailable(str(self.venue), "no_stream", msg)
        key = (req.stream, req.request_id)
        waiting = self._waiting[key] = _Waiting()
        try:
            with anyio.move_on_after(self.settings.timeout_s):
                await self._send_frame(req.stream, req.body)  # registered first: the answer cannot come too soon
                self.stream_requests += 1
                await waiting.done.wait()
            if waiting.body is not None:
                return Response(status=200, headers={}, body=waiting.body)
            if waiting.lost:
                msg = f"{where}: the connection went before the answer ({waiting.lost})"
                raise VenueUnavailable(str(self.venue), "connection", msg[:300])
            msg = f"{where}: no answer within {self.settings.timeout_s} s"
            raise TransportTimeout(str(self.venue), "timeout", msg)
        finally:
            self._waiting.pop(key, None)

    def answered(self, stream: str, request_id: str, body: bytes) -> None:
        """The answer frame to a stream request (unknown ids, e.g. of a request that timed out, are ignored)."""
        waiting = self._waiting.get((stream, request_id))
        if waiting is not None:
            waiting.body = body
            waiting.done.set()

    def stream_down(self, stream: str, reason: str) -> None:
        """``stream``'s connection went: every request still waiting for an answer on it fails."""
        for (name, _), waiting in list(self._waiting.items()):
            if name == stream and waiting.body is None:
                waiting.lost = reason or "closed"
                waiting.done.set()

    @property
    def requests(self) -> int:
        """Requests put on the wire so far."""
        return self._client.requests

    @property
    def pause_left_s(self) -> float:
        return max(0.0, self.limiter.paused_until - self.clock.monotonic())

    def _banned(self, exc: IpBanned) -> None:
        if exc.until_ms is not None:
            wait = max(0.0, exc.until_ms / 1000.0 - self.now_ms() / 1000.0)
        else:
            wait = exc.retry_after_s if exc.retry_after_s is not None else 60.0
        self.limiter.pause_until(self.clock.monotonic() + wait)
        self._pause_banned, self._pause_why = True, f"IP ban ({exc.code})"
        now_ns = self.clock.time_ns()
        self._publish(RateLimited(venue=self.venue, code=exc.code, banned=True, until_ns=now_ns + int(wait * 1e9), ts=now_ns))
        self.signal(SignalKind.RATE_LIMIT_BAN, wait, exc.text[:200])

    def _rate_limited(self, exc: RateLimitedError) -> None:
        wait = exc.retry_after_s if exc.retry_after_s is not None else 1.0
        if not self.limiter.paused:
            self._pause_banned, self._pause_why = False, f"rate limit ({exc.code})"
        self.limiter.pause_until(self.clock.monotonic() + wait)
        now_ns = self.clock.time_ns()
        self._publish(RateLimited(venue=self.venue, code=exc.code, banned=False, until_ns=now_ns + int(wait * 1e9), ts=now_ns))


def _nth(make: Callable[[], list[RequestSpec]], i: int) -> RequestSpec:
    return make()[i]
