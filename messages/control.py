"""Control-plane events: actor lifecycle, venue health, circuit breakers, failover, book integrity."""

from __future__ import annotations

import enum

from messages.base import BookState, CircuitState, HealthStatus, InstrumentId, Message, Venue

__all__ = [
    "ActorStarted",
    "ActorFailed",
    "ActorRestarted",
    "ActorGaveUp",
    "ActorStopped",
    "VenueHealth",
    "CircuitChanged",
    "Failover",
    "BookIntegrity",
    "MailboxOverflow",
    "RateLimited",
    "SignalKind",
    "VenueSignal",
]


class ActorStarted(Message, frozen=True, kw_only=True):
    name: str
    ts: int
    venue: Venue | None = None


class ActorFailed(Message, frozen=True, kw_only=True):
    """An actor's task ended with an unhandled error; ``error_type`` and ``error`` describe it."""

    name: str
    error_type: str
    error: str
    ts: int
    venue: Venue | None = None


class ActorRestarted(Message, frozen=True, kw_only=True):
    """The supervisor will start the actor again after ``delay_s`` (its ``attempt``-th restart in a row)."""

    name: str
    attempt: int
    delay_s: float
    ts: int
    venue: Venue | None = None


class ActorGaveUp(Message, frozen=True, kw_only=True):
    """More than ``max_restarts`` restarts within ``window_s``: the supervisor stopped restarting it."""

    name: str
    restarts: int
    window_s: float
    ts: int
    venue: Venue | None = None


class ActorStopped(Message, frozen=True, kw_only=True):
    name: str
    ts: int
    venue: Venue | None = None


class VenueHealth(Message, frozen=True, kw_only=True):
    venue: Venue
    status: HealthStatus
    latency_p50_us: float
    latency_p99_us: float
    error_rate: float
    reason: str
    ts: int


class CircuitChanged(Message, frozen=True, kw_only=True):
    venue: Venue
    previous: CircuitState
    current: CircuitState
    reason: str
    ts: int


class Failover(Message, frozen=True, kw_only=True):
    """The active venue changed. ``from_venue``/``to_venue`` are None when there was / is no active venue."""

    from_venue: Venue | None
    to_venue: Venue | None
    cause: str
    ts_detected: int
    ts_switched: int


class BookIntegrity(Message, frozen=True, kw_only=True):
    """A book's sync state changed (syncing -> live -> resyncing ...), with the reason."""

    venue: Venue
    instrument: InstrumentId
    state: BookState
    reason: str
    ts: int


class MailboxOverflow(Message, frozen=True, kw_only=True):
    """Delivered in place of ``dropped`` event messages a slow subscriber could not take in time."""

    subscriber: str
    topic: str
    dropped: int
    ts: int


class RateLimited(Message, frozen=True, kw_only=True):
    """A venue told us to slow down (or banned us); every request to it pauses until ``until_ns``."""

    venue: Venue
    code: str
    banned: bool
    until_ns: int
    ts: int


class SignalKind(enum.StrEnum):
    """Passive health signals an exchange actor emits about its venue."""

    WS_CLOSED = "ws_closed"
    WS_OPEN = "ws_open"
    DATA_GAP = "data_gap"  # no data on a stream for longer than its liveness limit
    DATA_OK = "data_ok"  # data flows again on a stream that had a DATA_GAP (``stream`` names it)
    HEARTBEAT_MISSED = "heartbeat_missed"
    REST_ERROR = "rest_error"
    REST_TIMEOUT = "rest_timeout"
    REST_OK = "rest_ok"
    LATENCY = "latency"  # value = milliseconds
    RATE_LIMIT_BAN = "rate_limit_ban"
    BOOK_INTEGRITY = "book_integrity"
    FRAME_DROPPED = "frame_dropped"  # frames the codec could not use (value = how many since the last signal)
    CLOCK_RESYNC = "clock_resync"  # the venue refused our timestamp; value = the re-measured offset in ms


class VenueSignal(Message, frozen=True, kw_only=True):
    """One observation about a venue's health; ``value`` is kind-specific (latency in ms, counts)."""

    venue: Venue
    kind: SignalKind
    value: float
    detail: str
    ts: int
    stream: str = ""  # the connection it is about, for stream signals (DATA_GAP, DATA_OK)
