"""Codec events: what a codec asks of its I/O shell. They are not bus messages and never leave the actor.

A codec's ``feed`` returns bus messages (Quote, Trade, BookDelta, OrderUpdate, ...) mixed with these
events; the exchange actor publishes the former and acts on the latter.
"""

from __future__ import annotations

import msgspec

from messages.base import InstrumentId

__all__ = [
    "CodecEvent",
    "SendFrame",
    "NeedSnapshot",
    "NeedResubscribe",
    "Subscribed",
    "SubscribeFailed",
    "LoggedIn",
    "LoginFailed",
    "Pong",
    "StreamExpired",
    "Dropped",
    "Answered",
    "Superseded",
    "SUPERSEDED",
]


class CodecEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the codec -> shell events."""


class SendFrame(CodecEvent, frozen=True):
    """Send this frame now (e.g. Deribit's public/test answer to a test_request)."""

    frame: bytes


class NeedSnapshot(CodecEvent, frozen=True):
    """Fetch a REST snapshot for this book (Binance procedure) and pass it to the codec."""

    instrument: InstrumentId
    reason: str


class NeedResubscribe(CodecEvent, frozen=True):
    """Unsubscribe and resubscribe this book's channel: the venue sends a fresh snapshot on subscribe."""

    instrument: InstrumentId
    reason: str


class Subscribed(CodecEvent, frozen=True):
    channels: tuple[str, ...]
    request_id: str = ""


class SubscribeFailed(CodecEvent, frozen=True):
    code: str
    text: str
    request_id: str = ""


class LoggedIn(CodecEvent, frozen=True):
    pass


class LoginFailed(CodecEvent, frozen=True):
    code: str
    text: str


class Pong(CodecEvent, frozen=True):
    """A heartbeat answer arrived (liveness is measured on data, not on this; it feeds latency)."""

    ts_sent: int = 0


class StreamExpired(CodecEvent, frozen=True):
    """The venue ended a stream on purpose (Binance listenKeyExpired, OKX notice): reconnect it."""

    reason: str


class Dropped(CodecEvent, frozen=True):
    """A frame was not usable (malformed, stale or out of sequence); counted by the shell."""

    reason: str
    error: str


class Answered(CodecEvent, frozen=True):
    """The answer to a request the shell sent as a frame for a ``RequestSpec`` with a ``stream``, matched by
    its ``request_id``: ``body`` is the whole answer frame, which the shell hands to the request's parser."""

    request_id: str
    body: bytes


class Superseded(CodecEvent, frozen=True):
    """A book update older than the REST snapshot the book was just built from, dropped as the sync procedure
    says (not a fault). The stream is carrying data, only behind the snapshot: for liveness it counts as
    data, or a stream lagging its REST snapshot by more than the stale limit would be replaced forever."""


SUPERSEDED = Superseded()
"""The one instance (the hot path allocates nothing for it)."""
