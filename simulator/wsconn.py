"""What every twin's WebSocket hub does with a connection, in one place: delay lines, writer, reader pump.

Rules:
- A connection has two ``DelayLine``s: ``out`` (frames the twin sends, each delayed by the twin's outbound
  WS latency) and ``inbox`` (messages the client sent, each delayed by the inbound WS latency before the
  hub handles it). A delay line keeps order: one consumer takes items first in, first out, each at its
  due time (put time + its delay) or at once if that has passed, so an item leaves at max(previous item's
  time, its due): jitter never reorders frames, and frames queued together leave together (delays overlap,
  they never add up).
- ``write`` is the one writer task per connection: it sends what ``out`` yields at its due time, skips
  frames under STALL, truncates one frame after MALFORMED_FRAME, and ends the connection at a queued
  ``End`` (a close frame, or a TCP abort), after everything queued before it. ``read`` is the pump task that
  moves the socket's messages into ``inbox``; hubs handle messages from ``inbox`` only.
- Lifecycle (``accept``, ``admit``, ``serve``): a hub completes the handshake, builds its connection record,
  registers it (aborting it at once under DROP_WS: its handler still runs, to clean up), then serves it: writer,
  pump and the hub's optional keeper task (pinger, watchdog, heartbeat) run beside the hub's reader; when the
  reader returns the others are cancelled, the connection leaves the hub's set and its lines are disposed.
- ``Hub`` is what every venue's hub holds and does alike: its twin, its connections, the subscription index
  (key -> connections; a connection leaves it when it ends), and the fault actions on all connections.
- Pushing never blocks the market driver: a connection whose ``out`` is full is too slow and is aborted, as
  a venue would drop it; pushing to a closed connection is a no-op.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Hashable, Iterable, MutableSet
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
from aiohttp import WSMessage, web

from simulator.faults import FaultController, FaultKind
from simulator.latency import Latency

__all__ = ["Conn", "DelayLine", "End", "Outgoing", "INBOX_SIZE", "enqueue", "abort", "abort_all", "end_after",
           "write", "read", "lines", "accept", "admit", "serve", "mark_malformed", "close_all", "Hub"]

T = TypeVar("T")
C = TypeVar("C", bound="Conn")
K = TypeVar("K", bound=Hashable)
TwinT = TypeVar("TwinT")
INBOX_SIZE = 1024
"""Client messages a connection buffers before the pump stops reading its socket (TCP backpressure)."""


@dataclass(frozen=True, slots=True)
class End:
    """Queued behind frames: end the connection once they are sent, with a close frame or (``abort``) a reset."""

    code: int = 1000
    message: bytes = b""
    abort: bool = False


Outgoing = bytes | str | End


class DelayLine(Generic[T]):
    """A bounded FIFO whose items come out no earlier than their due time, in the order they went in.

    Args:
        size: Items it holds before ``put_nowait`` raises ``anyio.WouldBlock`` (``put`` waits).
        delay: Seconds to delay the item being put (called once per item; jitter included).
    """

    def __init__(self, size: int, delay: Callable[[], float]) -> None:
        self._send, self._recv = anyio.create_memory_object_stream[tuple[float, T]](size)
        self._delay = delay
        self._pending: tuple[float, T] | None = None

    def _due(self) -> float:
        return time.monotonic() + self._delay()

    def put_nowait(self, item: T) -> None:
        """Queue ``item``.

        Raises:
            anyio.WouldBlock: the line is full. anyio.ClosedResourceError: it was closed.
        """
        self._send.send_nowait((self._due(), item))

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting for room (its delay counts from now, not from when room was found)."""
        await self._send.send((self._due(), item))

    async def get(self) -> T:
        """The next item, at its due time. Cancelling the wait loses nothing: the item comes out next time.

        Raises:
            anyio.EndOfStream: the line was closed and everything in it was taken.
        """
        if self._pending is None:
            self._pending = await self._recv.receive()
        due, item = self._pending
        wait = due - time.monotonic()
        if wait > 0:
            await anyio.sleep(wait)
        self._pending = None
        return item

    def __aiter__(self) -> DelayLine[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """No more items; what is queued still comes out."""
        self._send.close()

    def dispose(self) -> None:
        """Close both ends (when the connection is gone)."""
        self._send.close()
        self._recv.close()


@dataclass(eq=False)
class Conn:
    """What every hub's connection record holds; each hub's record adds its venue's session state after these.

    ``malformed``: MALFORMED_FRAME is armed, the next frame sent goes out truncated (``write``).
    """

    request: web.Request
    ws: web.WebSocketResponse
    out: DelayLine[Outgoing]
    inbox: DelayLine[WSMessage]
    malformed: bool = field(default=False, kw_only=True)


def enqueue(conn: Conn, frame: Outgoing) -> None:
    """Queue ``frame`` (or an ``End``) for the connection's writer; abort a connection that cannot keep up."""
    try:
        conn.out.put_nowait(frame)
    except anyio.WouldBlock:
        abort(conn)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


def end_after(conn: Conn, code: int = 1000, message: bytes = b"", *, abort: bool = False) -> None:
    """End the connection after the frames queued so far: a close frame, or (``abort``) a TCP reset."""
    enqueue(conn, End(code, message, abort))


def abort(conn: Conn) -> None:
    """Drop the TCP connection abruptly (no close frame) and end its writer."""
    transport = conn.request.transport
    if transport is not None:
        transport.abort()
    conn.out.close()


def abort_all(conns: Iterable[Conn]) -> None:
    for conn in list(conns):
        abort(conn)


async def write(conn: Conn, faults: FaultController, sent: Callable[[], None] | None = None) -> None:
    """The connection's writer task (see the module rules); ``sent`` is called after each frame goes out."""
    async for item in conn.out:
        if isinstance(item, End):
            if item.abort:
                abort(conn)
            else:
                await conn.ws.close(code=item.code, message=item.message)
            return
        if faults.active(FaultKind.STALL) is not None:
            continue  # stalled: nothing is sent
        text = item if isinstance(item, str) else item.decode("utf-8", "replace")
        if conn.malformed:
            conn.malformed = False
            text = text[: max(1, len(text) // 2)] + "\x00}"  # truncated: not valid JSON
        try:
            await conn.ws.send_str(text)
        except (ConnectionResetError, RuntimeError):
            return
        if sent is not None:
            sent()


async def read(conn: Conn) -> None:
    """The connection's pump task: every message from the socket into ``inbox``, until the socket closes."""
    try:
        async for msg in conn.ws:
            await conn.inbox.put(msg)
    finally:
        conn.inbox.close()


def lines(latency: Latency, out_size: int) -> tuple[DelayLine[Outgoing], DelayLine[WSMessage]]:
    """A new connection's ``out`` (holding ``out_size`` frames) and ``inbox`` lines, delayed by ``latency``."""
    return DelayLine[Outgoing](out_size, latency.ws_out_s), DelayLine[WSMessage](INBOX_SIZE, latency.ws_in_s)


async def accept(request: web.Request) -> web.WebSocketResponse:
    """Complete the WebSocket handshake: the hub answers pings itself; messages up to 1 MiB."""
    ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    return ws


def admit(conn: C, conns: MutableSet[C], faults: FaultController) -> None:
    """Register ``conn`` with its hub; under DROP_WS abort it at once (``serve`` still cleans it up)."""
    conns.add(conn)
    if faults.active(FaultKind.DROP_WS) is not None:
        abort(conn)


async def serve(conn: C, conns: MutableSet[C], faults: FaultController, reader: Callable[[], Coroutine[Any, Any, None]], *,
                keeper: Callable[[], Coroutine[Any, Any, None]] | None = None, sent: Callable[[], None] | None = None) -> None:
    """Run an admitted connection until ``reader`` returns (module rules), then drop it from ``conns``.

    Args:
        conn: The connection (already in ``conns``).
        conns: The hub's connections.
        faults: The twin's faults (STALL and MALFORMED_FRAME act in the writer).
        reader: The hub's handling of ``conn.inbox``; the connection ends when it returns.
        keeper: A task kept beside the reader (pinger, idle watchdog, heartbeat), if the venue has one.
        sent: Called after each frame goes out (``write``).
    """
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(write, conn, faults, sent)
            tg.start_soon(read, conn)
            if keeper is not None:
                tg.start_soon(keeper)
            await reader()
            tg.cancel_scope.cancel()
    finally:
        conns.discard(conn)
        conn.out.dispose()
        conn.inbox.dispose()


def mark_malformed(conns: Iterable[Conn]) -> None:
    """MALFORMED_FRAME: the next frame each connection sends goes out truncated."""
    for conn in conns:
        conn.malformed = True


async def close_all(conns: Iterable[Conn]) -> None:
    """Close every connection with a normal close frame (the twin is shutting down)."""
    for conn in list(conns):
        await conn.ws.close()


class Hub(ABC, Generic[TwinT, K, C]):
    """All WebSocket connections of one twin and its subscription index (``K``: what a subscription is keyed
    by, e.g. a stream name); the venue's hub adds routes, publishing and request handling.

    Args:
        twin: The twin whose connections these are.
    """

    def __init__(self, twin: TwinT) -> None:
        self.twin = twin
        self.conns: set[C] = set()
        self._index: dict[K, set[C]] = {}

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The hub's WebSocket routes."""

    def has(self, key: K) -> bool:
        """Whether any connection is subscribed to ``key``."""
        return bool(self._index.get(key))

    def _unindex(self, conn: C, keys: Iterable[K]) -> None:
        """Take an ended connection out of the index under each of ``keys``."""
        for key in keys:
            self._index.get(key, set()).discard(conn)

    # -- faults (the module-level functions of the same names do the work) ----------------------------------
    def drop_all(self) -> None:
        """Abort every connection's TCP transport (no close frame)."""
        abort_all(self.conns)

    def mark_malformed(self) -> None:
        """MALFORMED_FRAME: the next frame each connection sends goes out truncated."""
        mark_malformed(self.conns)

    async def close_all(self) -> None:
        """Close every connection with a normal close frame (the twin is shutting down)."""
        await close_all(self.conns)
