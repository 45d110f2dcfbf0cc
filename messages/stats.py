"""Statistics actors publish on the bus (``stats.*`` topics), so the status view, /health and /metrics read the
last known values and their age from the bus and never reach into an actor (nor wait on one)."""

from __future__ import annotations

from enum import StrEnum

from messages.account import SwitchState
from messages.base import Message, Venue

__all__ = ["LatencyHistogram", "ExchangeStats", "RouterStats", "BridgeState", "NatsBridgeStatus"]


class LatencyHistogram(Message, frozen=True, kw_only=True):
    """A cumulative histogram (Prometheus semantics): ``counts[i]`` values <= ``bounds_ms[i]``, the last count
    above every bound; ``count`` and ``total_ms`` over all."""

    bounds_ms: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    total_ms: float


class ExchangeStats(Message, frozen=True, kw_only=True):
    """One exchange actor's counters, published every second while it runs (``stats.exchange.<venue>``)."""

    venue: Venue
    frames: int
    reconnects: int
    connected: int
    streams: int
    books_live: int
    books_total: int
    resyncs: int
    reconciles: int
    dropped: int
    ignored: int  # frames of kinds the venue documents but we do not use (counted, never dropped)
    rest_p50_ms: float
    rest_p99_ms: float
    clock_offset_ms: float
    ratelimit_headroom: float
    paused: bool
    in_flight: int
    rest_latency: LatencyHistogram
    ts: int
    switch: SwitchState | None = None  # the dead-man's switch, when configured
    switch_window_s: float = 0.0
    switch_detail: str = ""
    switch_age_s: float | None = None  # since its last confirmation


class RouterStats(Message, frozen=True, kw_only=True):
    """The order router's orders: working ones by journal state, final ones since start by status
    (``stats.router``)."""

    working: dict[str, int]
    finished: dict[str, int]
    ts: int


class BridgeState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


class NatsBridgeStatus(Message, frozen=True, kw_only=True):
    """The NATS bridge's state and counters, published every second (``stats.bridge``) and on each change of
    state: the daemon's status table and metrics read them from the bus."""

    name: str
    state: BridgeState
    server: str
    connects: int
    disconnects: int
    reconnects: int
    published_core: int
    published_js: int
    received_core: int
    received_js: int
    dropped_core: int
    """Market data not sent because NATS was down or the send failed."""
    dropped_orders: int
    """JetStream-bound messages lost to a full ``order_buffer``."""
    pending_orders: int
    js_retries: int
    js_server_duplicates: int
    """Re-publishes the server recognised by their ``Nats-Msg-Id`` (not stored twice)."""
    duplicates_dropped: int
    """Redelivered JetStream messages dropped on this side."""
    malformed: int
    echo_suppressed: int
    last_error: str
    last_error_ts: int
    ts: int
