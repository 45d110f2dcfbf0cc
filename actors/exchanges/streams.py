"""StreamSet: one venue's WebSocket connections: opening them, pacing control frames, keep-alive, the data
watchdog and reconnects with full jitter.

Rules:
- One ``Stream`` per ``StreamSpec`` the adapter asks for, each kept open by a ``WsTransport`` (capped
  full-jitter reconnects; the attempt counter resets once a connection has been stable).
- Control frames (login, subscribe) are paced to the venue's control-message limit per connection.
- Liveness is data: a stream with ``stale_after_s`` that has carried no market or private data for that
  long (pings and acks do not count) is replaced, once per limit, with DATA_GAP; the first data after that
  gives DATA_OK, so the health monitor holds the venue degraded exactly as long as its data is missing.
- Frames go straight from the transport to the owner's ``on_frame`` (the hot path: no queue hop); the
  owner stamps ``last_data`` when a frame carried data.
- Time comes from the injected clock.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
import anyio
from aiolimiter import AsyncLimiter

from actors.backoff import Backoff
from actors.clock import Clock
from actors.pacing import Pacing
from actors.transport import WsTransport
from messages import SignalKind
from venues.errors import VenueUnavailable
from venues.session import StreamSpec

__all__ = ["Stream", "StreamSet", "StreamOwner"]


class Stream:
    """One WebSocket connection the actor keeps open, and what is known of its liveness."""

    __slots__ = ("spec", "transport", "last_data", "live_from", "stalled_at", "connected", "ready", "limiter",
                 "connects", "subscribing")

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.transport: WsTransport | None = None
        self.last_data = 0.0  # the last frame that carried data (written on the hot path only)
        self.live_from = 0.0  # liveness is judged from here: (re)connected, subscribed, or a stall answered
        self.stalled_at: float | None = None  # a DATA_GAP was signalled and no data has come since
        self.connected = False
        self.ready = anyio.Event()
        self.limiter = AsyncLimiter(spec.control_rate_per_s, 1.0)
        self.connects = 0
        self.subscribing = False  # the owner's on_connected (login, subscribe) still running: not judged stale


class StreamOwner(Protocol):
    """What a StreamSet calls back (the exchange actor)."""

    def on_frame(self, stream: Stream, data: str | bytes, ts: int) -> None: ...

    async def on_stream_up(self, stream: Stream) -> None:
        """Log in and subscribe on a fresh connection (before its frames are read)."""
        ...

    def on_stream_down(self, stream: Stream, reason: str) -> None: ...

    def signal(self, kind: SignalKind, value: float, detail: str, stream: str = "") -> None: ...


class StreamSet:
    def __init__(
        self,
        name: str,
        owner: StreamOwner,
        session: aiohttp.ClientSession,
        *,
        clock: Clock,
        rng: random.Random,
        backoff: Backoff,
    ) -> None:
        self.name = name
        self._owner = owner
        self._session = session
        self.clock = clock
        self._pacing = Pacing(clock, rng, backoff)  # every stream's transport reconnects with it
        self.streams: dict[str, Stream] = {}

    def add(self, spec: StreamSpec, url: Callable[[], Awaitable[str]], ping_frame: Callable[[], bytes]) -> Stream:
        """A stream and its transport (started by the caller with ``run``)."""
        st = Stream(spec)
        self.streams[spec.name] = st
        p = self._pacing
        st.transport = WsTransport(
            f"{self.name}.{spec.name}",
            url,
            _Handler(self, st),
            self._session,
            clock=p.clock,
            rng=p.rng,
            backoff=p.backoff,
            ping_interval_s=spec.ping_interval_s,
            ping_frame=ping_frame,
            protocol_heartbeat_s=spec.protocol_heartbeat_s,
        )
        return st

    async def wait_ready(self, timeout_s: float) -> None:
        with anyio.move_on_after(timeout_s):
            for st in self.streams.values():
                await st.ready.wait()

    async def send(self, stream: str, frame: bytes) -> None:
        """Send a control frame, paced to the venue's control-message limit.

        Raises:
            VenueUnavailable: the stream is not connected.
        """
        st = self.streams[stream]
        if st.transport is None:
            raise VenueUnavailable(self.name, "not_connected", f"stream {stream} not started")
        async with st.limiter:
            await st.transport.send(frame)

    async def reconnect(self, stream: str, reason: str) -> None:
        st = self.streams.get(stream)
        if st is not None and st.transport is not None:
            await st.transport.reconnect(reason)

    @property
    def connected(self) -> int:
        return sum(1 for s in self.streams.values() if s.connected)

    @property
    def frames(self) -> int:
        return sum(st.transport.stats.frames for st in self.streams.values() if st.transport is not None)

    @property
    def reconnects(self) -> int:
        return sum(max(0, st.connects - 1) for st in self.streams.values())

    # -- transport callbacks -----------------------------------------------------------------------
    async def _up(self, st: Stream) -> None:
        st.connected = True
        st.connects += 1
        st.live_from = self.clock.monotonic()
        st.subscribing = True
        try:
            await self._owner.on_stream_up(st)
        finally:
            st.subscribing = False
        # The liveness clock starts once the subscriptions are out: paced control frames can take longer
        # than the stale limit, and a connection must not be replaced before it could carry data.
        st.live_from = self.clock.monotonic()
        self._owner.signal(SignalKind.WS_OPEN, float(st.connects), st.spec.name, st.spec.name)
        st.ready.set()

    def _down(self, st: Stream, reason: str) -> None:
        was = st.connected
        st.connected = False
        self._owner.on_stream_down(st, reason)
        if was:
            self._owner.signal(SignalKind.WS_CLOSED, 0.0, f"{st.spec.name}: {reason}"[:200], st.spec.name)

    # -- the data watchdog -------------------------------------------------------------------------
    @property
    def watchdog_period(self) -> float:
        """A tenth of the tightest liveness limit (5-50 ms): a stall is seen at most 10 % late."""
        limits = [st.spec.stale_after_s for st in self.streams.values() if st.spec.stale_after_s]
        return min(0.05, max(0.005, min(limits) / 10)) if limits else 0.05

    async def watchdog(self) -> None:
        """Replace a connection that has carried no data for its liveness limit; say when data is back."""
        while True:
            await self.clock.sleep(self.watchdog_period)
            now = self.clock.monotonic()
            for st in self.streams.values():
                limit = st.spec.stale_after_s
                if limit is None:
                    continue
                name = st.spec.name
                if st.stalled_at is not None and st.last_data > st.stalled_at:
                    gap_s = st.last_data - st.stalled_at
                    st.stalled_at = None
                    self._owner.signal(SignalKind.DATA_OK, gap_s * 1000.0, f"data flows again on {name}", name)
                if not st.connected or st.subscribing or st.transport is None:
                    continue
                idle = now - max(st.last_data, st.live_from)
                if idle > limit:
                    reason = f"no data on {name} for {idle:.2f} s (limit {limit} s)"
                    if st.stalled_at is None:
                        st.stalled_at = now
                    self._owner.signal(SignalKind.DATA_GAP, idle * 1000.0, reason, name)
                    st.live_from = now  # one reconnect per stall
                    await st.transport.reconnect(reason)


class _Handler:
    """WsHandler for one stream."""

    __slots__ = ("_set", "_st", "on_frame")

    def __init__(self, streams: StreamSet, st: Stream) -> None:
        self._set = streams
        self._st = st
        self.on_frame = functools.partial(streams._owner.on_frame, st)  # (data, ts_recv); a C-level call

    async def on_connected(self, transport: WsTransport) -> None:
        await self._set._up(self._st)

    def on_disconnected(self, reason: str) -> None:
        self._set._down(self._st, reason)
