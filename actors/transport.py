"""The I/O shell: one WebSocket connection that survives faults, and a REST client. Venue-agnostic.

Rules:
- Nothing here knows a venue: no venue name in any branch. The venue's behaviour comes in through the
  ``WsHandler`` (subscribe/login on connect, frames out) and ``RequestSpec`` (already signed).
- The reader is trivial: read, stamp ``time.time_ns()``, hand the frame to ``handler.on_frame``
  synchronously (no queue hop), and yield to the loop every ``yield_every`` frames so a burst cannot
  starve the consumers.
- Reconnects use capped full-jitter backoff; the attempt counter resets only after the connection has
  been up for ``backoff.reset_after_s``, so many connections dropped at once do not reconnect in a burst.
- Liveness is measured on data by the caller (per channel); ``reconnect(reason)`` is how it asks for a
  new connection. Protocol-level pings (aiohttp autoping) are answered here; application pings come
  from the handler's ``ping_frame`` on its interval.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
import anyio
import yarl

from actors.backoff import Backoff
from actors.clock import Clock, LiveClock
from actors.pacing import Pacing
from venues.errors import RemoteError, VenueUnavailable
from venues.http import RequestSpec, Response

__all__ = ["WsHandler", "WsTransport", "RestClient", "TransportTimeout", "ConnectionStats"]


class WsHandler(Protocol):
    async def on_connected(self, transport: WsTransport) -> None:
        """Subscribe / log in. Runs before frames are read; an error here drops the connection."""
        ...

    def on_frame(self, data: str | bytes, ts_recv: int) -> None:
        """One frame; must not block."""
        ...

    def on_disconnected(self, reason: str) -> None: ...


class ConnectionStats:
    __slots__ = ("connects", "disconnects", "frames", "bytes", "last_frame_mono", "last_reason", "connected")

    def __init__(self) -> None:
        self.connects = 0
        self.disconnects = 0
        self.frames = 0
        self.bytes = 0
        self.last_frame_mono = 0.0
        self.last_reason = ""
        self.connected = False


class TransportTimeout(VenueUnavailable):
    """A request got no answer in time: for a write, its outcome is unknown."""


class WsTransport:
    """One logical WebSocket: connect, hand frames over, keep alive, reconnect."""

    def __init__(
        self,
        name: str,
        url: Callable[[], Awaitable[str]],
        handler: WsHandler,
        session: aiohttp.ClientSession,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        backoff: Backoff = Backoff(base_s=0.2, cap_s=30.0, reset_after_s=30.0),
        ping_interval_s: float | None = None,
        ping_frame: Callable[[], str | bytes] | None = None,
        protocol_heartbeat_s: float | None = None,
        connect_timeout_s: float = 10.0,
        yield_every: int = 1,
        max_msg_size: int = 16 * 1024 * 1024,
    ) -> None:
        self.name = name
        self._url = url
        self._handler = handler
        self._session = session
        self._pacing = Pacing(clock or LiveClock(), rng or random.Random(), backoff)
        self._ping_interval = ping_interval_s
        self._ping_frame = ping_frame
        self._heartbeat = protocol_heartbeat_s
        self._connect_timeout = connect_timeout_s
        self._yield_every = max(1, yield_every)
        self._max_msg_size = max_msg_size
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reconnect_reason = ""
        self.stats = ConnectionStats()
        self.attempt = 0
        self.delays: list[float] = []

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def send(self, data: str | bytes) -> None:
        """Send one frame on the current connection.

        Raises:
            VenueUnavailable: not connected.
        """
        ws = self._ws
        if ws is None or ws.closed:
            raise VenueUnavailable(self.name, "not_connected", "WebSocket is not connected")
        if isinstance(data, bytes):
            await ws.send_str(data.decode())
        else:
            await ws.send_str(data)

    async def reconnect(self, reason: str) -> None:
        """Drop the current connection (the run loop reconnects with backoff)."""
        self._reconnect_reason = reason
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    async def run(self) -> None:
        """Connect and read forever, reconnecting with jittered backoff. Cancel to stop."""
        clock = self._pacing.clock
        while True:
            started = clock.monotonic()
            reason = "closed by venue"
            try:
                url = await self._url()
                ws = await self._session.ws_connect(
                    url,
                    heartbeat=self._heartbeat,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
                    max_msg_size=self._max_msg_size,
                    compress=0,
                )
            except (TimeoutError, aiohttp.ClientError, OSError, RemoteError) as exc:
                reason = f"connect failed: {type(exc).__name__}: {exc}"
            else:
                self._ws = ws
                self.stats.connects += 1
                self.stats.connected = True
                self._reconnect_reason = ""
                try:
                    await self._handler.on_connected(self)
                    async with anyio.create_task_group() as tg:
                        if self._ping_interval and self._ping_frame is not None:
                            tg.start_soon(self._pinger, ws)
                        reason = await self._read(ws)
                        tg.cancel_scope.cancel()
                except (aiohttp.ClientError, OSError, RemoteError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                finally:
                    self._ws = None
                    self.stats.connected = False
                    with anyio.CancelScope(shield=True):
                        await ws.close()
                if self._reconnect_reason:
                    reason = self._reconnect_reason
            self.stats.disconnects += 1
            self.stats.last_reason = reason
            self._handler.on_disconnected(reason)
            if clock.monotonic() - started >= self._pacing.backoff.reset_after_s:
                self.attempt = 0
            delay = self._pacing.delay(self.attempt)
            self.attempt += 1
            self.delays.append(delay)
            if len(self.delays) > 1000:
                del self.delays[:500]
            await clock.sleep(delay)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        on_frame = self._handler.on_frame
        stats = self.stats
        every = self._yield_every
        n = 0
        text = aiohttp.WSMsgType.TEXT
        binary = aiohttp.WSMsgType.BINARY
        while True:
            msg = await ws.receive()
            ts = time.time_ns()
            t = msg.type
            if t is text or t is binary:
                stats.frames += 1
                stats.last_frame_mono = time.monotonic()
                on_frame(msg.data, ts)
                n += 1
                if n >= every:
                    n = 0
                    await asyncio.sleep(0)
                continue
            if t is aiohttp.WSMsgType.ERROR:
                return f"error: {ws.exception()!r}"
            # CLOSE / CLOSING / CLOSED
            code = ws.close_code
            return self._reconnect_reason or f"closed by venue (code {code})"

    async def _pinger(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        assert self._ping_interval is not None and self._ping_frame is not None
        while not ws.closed:
            await anyio.sleep(self._ping_interval)
            frame = self._ping_frame()
            await ws.send_str(frame.decode() if isinstance(frame, bytes) else frame)


class RestClient:
    """Sends RequestSpecs over one aiohttp session; returns status, headers and body. No retries here:
    the exchange actor decides (only idempotent requests are retried)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.requests = 0
        self.errors = 0

    async def send(self, spec: RequestSpec) -> Response:
        """Send ``spec`` as built (query string and body bytes untouched: they are what was signed).

        Raises:
            TransportTimeout: no complete answer within the timeout (outcome unknown for writes).
            VenueUnavailable: the connection failed.
        """
        url = self.base_url + spec.target
        self.requests += 1
        try:
            async with self._session.request(
                spec.method.value, yarl_url(url), headers=spec.headers, data=spec.body or None, timeout=self._timeout
            ) as resp:
                body = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                status = resp.status
        except TimeoutError:
            self.errors += 1
            raise TransportTimeout(self.base_url, "timeout", f"{spec.method} {spec.path} timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            self.errors += 1
            raise VenueUnavailable(self.base_url, "connection", f"{spec.method} {spec.path}: {type(exc).__name__}: {exc}") from None
        return Response(status=status, headers=headers, body=body)


def yarl_url(url: str) -> yarl.URL:
    """A URL aiohttp sends verbatim (the query string was signed as it is; no re-encoding)."""
    return yarl.URL(url, encoded=True)


