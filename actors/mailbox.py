"""Mailboxes: a bounded FIFO and a conflating mailbox, each built as shared state plus send/receive ends.

Rules:
- Both kinds live on a deque and asyncio futures (not anyio streams: those cost 6-8x on the hot path).
- FIFO, ``overflow="wait"``: senders wait when it is full; nothing is ever dropped (orders, control).
- FIFO, ``overflow="notify"``: for bus event streams. ``deliver`` never blocks; when full, the message is
  dropped and counted, and the receiver gets one MailboxOverflow notice with the count before the next
  message that fits, so a gap is never silent.
- Conflating: the newest value per key replaces an unread older one (market-data state: quotes, depth,
  health). Memory is bounded by the number of keys; ``deliver`` never blocks.
- Close semantics: closing the send end lets the receiver drain what is buffered, then receive raises
  MailboxClosed("peer_ended"); closing the receive end drops the buffer and makes every send raise
  MailboxClosed("peer_gone"); using an end you closed raises MailboxClosed("closed").
- A receiver waits on a Signal; several mailboxes may share one Signal so an actor waits on all its
  mailboxes with a single future.
- An end garbage-collected while still open emits a ResourceWarning.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, Literal, NoReturn, Self, TypeVar

import msgspec

from actors.errors import MailboxClosed, MailboxEmpty, MailboxFull
from messages.control import MailboxOverflow

__all__ = [
    "Signal",
    "MailboxStatistics",
    "fifo_mailbox",
    "conflating_mailbox",
    "FifoSender",
    "FifoReceiver",
    "ConflatingSender",
    "ConflatingReceiver",
]

T = TypeVar("T")


class Signal:
    """A single-consumer wake-up: ``set`` wakes the one task blocked in ``wait`` (if any)."""

    __slots__ = ("_fut", "_pending")

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] | None = None
        self._pending = False

    def set(self) -> None:
        fut = self._fut
        if fut is not None:
            self._fut = None
            if not fut.done():
                fut.set_result(None)
        else:
            self._pending = True

    async def wait(self) -> None:
        if self._pending:
            self._pending = False
            return
        fut = asyncio.get_running_loop().create_future()
        self._fut = fut
        try:
            await fut
        finally:
            self._fut = None
            self._pending = False


class MailboxStatistics(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    depth: int
    peak: int
    capacity: int
    sent: int
    received: int
    conflated: int
    overflowed: int
    waiting_senders: int
    sender_closed: bool
    receiver_closed: bool


class _State(ABC):
    """What both kinds of shared state hold alike: the name, the receiver's Signal, close flags, counters."""

    __slots__ = ("name", "signal", "sender_closed", "receiver_closed", "peak", "sent", "received", "overflowed")

    def __init__(self, name: str, signal: Signal) -> None:
        self.name = name
        self.signal = signal
        self.sender_closed = False
        self.receiver_closed = False
        self.peak = 0
        self.sent = 0
        self.received = 0
        self.overflowed = 0

    @abstractmethod
    def statistics(self) -> MailboxStatistics:
        """This mailbox's counters and depth (each kind knows its own depth and capacity)."""

    def _statistics(
        self, kind: str, depth: int, capacity: int, conflated: int, waiting_senders: int
    ) -> MailboxStatistics:
        return MailboxStatistics(
            name=self.name, kind=kind, depth=depth, peak=self.peak, capacity=capacity, sent=self.sent,
            received=self.received, conflated=conflated, overflowed=self.overflowed,
            waiting_senders=waiting_senders, sender_closed=self.sender_closed, receiver_closed=self.receiver_closed,
        )


def _empty(s: _State) -> NoReturn:
    """Nothing buffered: the sender closed (drained) or not yet."""
    if s.sender_closed:
        raise MailboxClosed(s.name, "peer_ended")
    raise MailboxEmpty(s.name)


# --------------------------------------------------------------------------------------------- FIFO
class _FifoState(_State, Generic[T]):
    __slots__ = ("capacity", "overflow", "buf", "senders_waiting", "gap", "gap_topic")

    def __init__(self, name: str, capacity: int, overflow: str, signal: Signal) -> None:
        super().__init__(name, signal)
        self.capacity = capacity
        self.overflow = overflow
        self.buf: deque[Any] = deque()
        self.senders_waiting: deque[asyncio.Future[None]] = deque()
        self.gap = 0
        self.gap_topic = ""

    def statistics(self) -> MailboxStatistics:
        waiting = sum(1 for f in self.senders_waiting if not f.done())
        return self._statistics(f"fifo/{self.overflow}", len(self.buf), self.capacity, 0, waiting)


class _End:
    """What every end holds: the shared state and whether this end was closed."""

    __slots__ = ("_s", "_closed", "__weakref__")
    _s: _FifoState[Any] | _ConflatingState
    _closed: bool

    def __init__(self, state: _FifoState[Any] | _ConflatingState) -> None:
        self._s = state
        self._closed = False

    def statistics(self) -> MailboxStatistics:
        return self._s.statistics()


class _SendEnd(_End):
    """What both kinds of send end do alike: close (wakes the receiver), and warn when dropped while open."""

    __slots__ = ()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._s.sender_closed = True
            self._s.signal.set()

    def __del__(self) -> None:
        if not self._closed and not self._s.receiver_closed:
            warnings.warn(f"mailbox {self._s.name!r} send end dropped while open", ResourceWarning, stacklevel=1)


class _ReceiveEnd(_End, ABC, Generic[T]):
    """What both kinds of receive end do alike: wait for an item, iterate until the sender ends, warn when
    dropped while open."""

    __slots__ = ()

    @abstractmethod
    def has_items(self) -> bool:
        """Whether ``receive_nowait`` would return an item now."""

    @abstractmethod
    def receive_nowait(self) -> T:
        """Take an item, or raise MailboxEmpty / MailboxClosed."""

    async def receive(self) -> T:
        s = self._s
        while True:
            if self.has_items() or s.sender_closed or self._closed:
                return self.receive_nowait()
            await s.signal.wait()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except MailboxClosed:
            raise StopAsyncIteration from None

    def __del__(self) -> None:
        if not self._closed:
            warnings.warn(f"mailbox {self._s.name!r} receive end dropped while open", ResourceWarning, stacklevel=1)


class FifoSender(_SendEnd, Generic[T]):
    __slots__ = ()
    _s: _FifoState[T]

    def _check(self) -> _FifoState[T]:
        s = self._s
        if self._closed:
            raise MailboxClosed(s.name, "closed")
        if s.receiver_closed:
            raise MailboxClosed(s.name, "peer_gone")
        return s

    def send_nowait(self, item: T) -> None:
        """Put ``item`` or raise MailboxFull (never waits)."""
        s = self._check()
        buf = s.buf
        if len(buf) >= s.capacity:
            raise MailboxFull(s.name, s.capacity)
        buf.append(item)
        s.sent += 1
        if len(buf) > s.peak:
            s.peak = len(buf)
        s.signal.set()

    async def send(self, item: T) -> None:
        """Put ``item``, waiting while the mailbox is full (waiting senders are woken in FIFO order)."""
        s = self._check()
        while len(s.buf) >= s.capacity:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            s.senders_waiting.append(fut)
            try:
                await fut
            except BaseException:
                if fut in s.senders_waiting:
                    s.senders_waiting.remove(fut)
                elif fut.done() and not fut.cancelled() and fut.exception() is None:
                    _wake_one(s.senders_waiting)  # we were woken but will not use the slot: pass it on
                raise
            s = self._check()
        self.send_nowait(item)

    def deliver(self, topic: str, item: T) -> None:
        """Bus fan-out entry point: never blocks. Full: drop, count, and notify the receiver later."""
        s = self._s
        if s.receiver_closed or self._closed:
            raise MailboxClosed(s.name, "peer_gone" if s.receiver_closed else "closed")
        buf = s.buf
        if len(buf) >= s.capacity:
            if s.overflow == "wait":
                raise MailboxFull(s.name, s.capacity)
            s.overflowed += 1
            s.gap += 1
            s.gap_topic = topic
            return
        if s.gap:
            buf.append(MailboxOverflow(subscriber=s.name, topic=s.gap_topic, dropped=s.gap, ts=time.time_ns()))
            s.gap = 0
        buf.append(item)
        s.sent += 1
        n = len(buf)
        if n > s.peak:
            s.peak = n
        s.signal.set()


class FifoReceiver(_ReceiveEnd[T]):
    __slots__ = ()
    _s: _FifoState[T]

    # Deliberate hot-path copy of ConflatingReceiver's has_items/receive_nowait opening (measured by bench/bus.py).
    def has_items(self) -> bool:
        return bool(self._s.buf)

    def receive_nowait(self) -> T:
        """Take the oldest item, or raise MailboxEmpty / MailboxClosed("peer_ended") once drained."""
        s = self._s
        if self._closed:
            raise MailboxClosed(s.name, "closed")
        buf = s.buf
        if buf:
            item: T = buf.popleft()
            s.received += 1
            if s.senders_waiting:
                _wake_one(s.senders_waiting)
            return item
        _empty(s)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        s = self._s
        s.receiver_closed = True
        s.buf.clear()
        while s.senders_waiting:
            fut = s.senders_waiting.popleft()
            if not fut.done():
                fut.set_exception(MailboxClosed(s.name, "peer_gone"))

    def drain(self) -> list[T]:
        """Remove and return everything buffered (used to fail pending asks when an actor dies)."""
        items = list(self._s.buf)
        self._s.buf.clear()
        return items


def _wake_one(waiting: deque[asyncio.Future[None]]) -> None:
    while waiting:
        fut = waiting.popleft()
        if not fut.done():
            fut.set_result(None)
            return


def fifo_mailbox(
    capacity: int, name: str = "fifo", *, overflow: Literal["wait", "notify"] = "wait", signal: Signal | None = None
) -> tuple[FifoSender[Any], FifoReceiver[Any]]:
    """A bounded FIFO. ``overflow="wait"``: senders wait; ``"notify"``: bus deliveries past capacity are
    dropped and reported to the receiver as one MailboxOverflow notice with the count."""
    if capacity < 1:
        msg = f"capacity must be at least 1, got {capacity}"
        raise ValueError(msg)
    state: _FifoState[Any] = _FifoState(name, capacity, overflow, signal or Signal())
    return FifoSender(state), FifoReceiver(state)


# --------------------------------------------------------------------------------------- conflating
class _ConflatingState(_State):
    __slots__ = ("max_keys", "keys", "values", "conflated")

    def __init__(self, name: str, max_keys: int, signal: Signal) -> None:
        super().__init__(name, signal)
        self.max_keys = max_keys
        self.keys: deque[Hashable] = deque()
        self.values: dict[Hashable, Any] = {}
        self.conflated = 0

    def statistics(self) -> MailboxStatistics:
        return self._statistics("conflating", len(self.keys), self.max_keys, self.conflated, 0)


class ConflatingSender(_SendEnd):
    __slots__ = ()
    _s: _ConflatingState

    def deliver(self, key: Hashable, item: Any) -> None:
        """Store ``item`` as the newest value for ``key`` (replacing an unread one). Never blocks."""
        s = self._s
        if s.receiver_closed or self._closed:
            raise MailboxClosed(s.name, "peer_gone" if s.receiver_closed else "closed")
        values = s.values
        s.sent += 1
        if key in values:
            values[key] = item
            s.conflated += 1
            return
        if len(values) >= s.max_keys:
            # Bounded memory even with unbounded keys: the oldest unread key gives way, counted.
            old = s.keys.popleft()
            del values[old]
            s.overflowed += 1
        values[key] = item
        s.keys.append(key)
        n = len(values)
        if n > s.peak:
            s.peak = n
        s.signal.set()

    send_nowait = deliver


class ConflatingReceiver(_ReceiveEnd[Any]):
    __slots__ = ()
    _s: _ConflatingState

    # Deliberate hot-path copy of FifoReceiver's has_items/receive_nowait opening (measured by bench/bus.py).
    def has_items(self) -> bool:
        return bool(self._s.keys)

    def receive_nowait(self) -> Any:
        s = self._s
        if self._closed:
            raise MailboxClosed(s.name, "closed")
        if s.keys:
            key = s.keys.popleft()
            s.received += 1
            return s.values.pop(key)
        _empty(s)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._s.receiver_closed = True
            self._s.keys.clear()
            self._s.values.clear()

    def drain(self) -> list[Any]:
        s = self._s
        items = [s.values[k] for k in s.keys]
        s.keys.clear()
        s.values.clear()
        return items


def conflating_mailbox(
    name: str = "conflating", *, max_keys: int = 65_536, signal: Signal | None = None
) -> tuple[ConflatingSender, ConflatingReceiver]:
    """A mailbox keeping only the newest unread value per key, in order of first arrival."""
    state = _ConflatingState(name, max_keys, signal or Signal())
    return ConflatingSender(state), ConflatingReceiver(state)
