"""Venue sessions: everything a venue connection must remember, as a sans-IO state machine.

A session is told what happened and answers with what to do; it never touches a socket or reads a clock.

Events in (methods; time is always an argument):
- ``start(now_ms)``: the actor is starting (instruments loaded, no stream open yet): what to read first,
  e.g. the account's position mode; its ``Fetch``es are done before any stream opens;
- ``url(stream, now_ms)``: where to connect now, or a ``Fetch`` to do first (e.g. Binance's listenKey);
- ``connected(stream, now_ms)`` / ``disconnected(stream, now_ms)``: a connection came up / went away;
- ``feed(stream, frame, ts_recv)``: one frame (the hot path: the codec's own output, unchanged);
- ``on_event(event, stream, now_ms)``: a codec notice from ``feed`` (a gap, a login ack...);
- ``response(key, response, now_ms)`` / ``failed(key, error, now_ms)``: the answer to a ``Fetch``;
- ``timer(key, now_ms)``: a ``SetTimer`` fired;
- ``subscribe(instruments, now_ms)``: more instruments, subscribed on the connections that are up.

Effects out (in the lists those return, beside bus messages to publish):
- ``Send(stream, frame, key, resync)``: a control frame, paced to the venue's control-message limit;
- ``Fetch(key, spec, resync, urgent)``: a REST request whose answer comes back as ``response`` / ``failed``;
  both go through the actor's one resync queue, in order, so a mass resync is paced; a keyed one already
  queued is not queued twice; ``resync`` ones count as book resyncs (metrics); an ``urgent`` one (the
  dead-man's switch) skips the queue and may spend the rate limiter's reserve;
- ``SetTimer(key, after_s)``: call ``timer(key)`` after that long (a timer of the same key is replaced);
- ``Reconnect(stream, reason)``: replace that connection.

The exchange actor executes effects and nothing else venue-specific.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from messages import BookState, InstrumentId, Message, PositionMode
from venues.effects import Effect, Fetch, Out, Reconnect, Send, SetTimer
from venues.events import CodecEvent
from venues.http import Response
from venues.switch import SwitchKeeper

__all__ = ["Effect", "Send", "Fetch", "SetTimer", "Reconnect", "Out", "StreamSpec", "VenueSession", "live_tops"]

Tops = list[tuple[InstrumentId, list[tuple[float, float]], list[tuple[float, float]]]]


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One WebSocket connection the session keeps open.

    ``stale_after_s`` is the data-liveness limit: no market/private data for that long (pings and acks do
    not count) and the connection is replaced. ``ping_interval_s`` with the session's ``ping_frame`` sends
    application-level keep-alives; ``protocol_heartbeat_s`` WebSocket pings.
    """

    name: str
    private: bool = False
    stale_after_s: float | None = None
    ping_interval_s: float | None = None
    protocol_heartbeat_s: float | None = None
    control_rate_per_s: float = 4.0


class VenueSession(Protocol):
    position_mode: PositionMode
    """The account's position mode as last read or pushed (one-way until known; the request builders use it)."""
    switch: SwitchKeeper | None
    """The dead-man's switch, when configured (venues/switch.py); orders go out only while it is armed."""

    def streams(self) -> list[StreamSpec]: ...

    def start(self, now_ms: int) -> list[Out]: ...

    def url(self, stream: str, now_ms: int) -> str | Fetch: ...

    def connected(self, stream: str, now_ms: int) -> list[Out]: ...

    def disconnected(self, stream: str, now_ms: int) -> list[Out]: ...

    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]: ...

    def on_event(self, event: CodecEvent, stream: str, now_ms: int) -> list[Out]: ...

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]: ...

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]: ...

    def timer(self, key: str, now_ms: int) -> list[Out]: ...

    def subscribe(self, instruments: Sequence[InstrumentId], now_ms: int) -> list[Out]: ...

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None: ...

    def top_of_books(self, depth: int) -> Tops:
        """(instrument, bids, asks) top ``depth`` levels of every live book (for BookSnapshot publishing)."""
        ...


class _Levels(Protocol):
    def top_bids(self, n: int) -> list[tuple[float, float]]: ...

    def top_asks(self, n: int) -> list[tuple[float, float]]: ...


class _Books(Protocol):
    def book_state(self, instrument: InstrumentId) -> BookState: ...

    def book(self, instrument: InstrumentId) -> Any: ...


def live_tops(codec: _Books, instruments: Sequence[InstrumentId], depth: int) -> Tops:
    """``VenueSession.top_of_books`` for a codec that keeps one book per instrument."""
    out: Tops = []
    for inst in instruments:
        if codec.book_state(inst) is BookState.LIVE:
            book: _Levels = codec.book(inst)
            out.append((inst, book.top_bids(depth), book.top_asks(depth)))
    return out
