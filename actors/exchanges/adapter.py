"""What a venue's wiring module gives the venue-agnostic ExchangeActor.

Each venue (binance.py, bybit.py, okx.py, deribit.py beside this file) implements ``VenueAdapter`` by
joining its sans-IO codec (venues/<v>/) to these calls. The actor never branches on a venue name: every
difference is an adapter method. Adapters do no I/O themselves; anything that needs the network is asked
of the ``VenueContext`` the actor passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from actors.ratelimit import Bucket, VenueLimiter
from messages import (
    Balance,
    CancelOrder,
    Instrument,
    InstrumentId,
    Message,
    OrderUpdate,
    PlaceOrder,
    Position,
    QueryOrder,
    Venue,
)
from venues import Credentials
from venues.events import CodecEvent
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

__all__ = ["StreamSpec", "VenueContext", "VenueAdapter", "Endpoints"]


class Endpoints(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a venue lives. Defaults in each adapter are the real exchange; the daemon points them at twins."""

    rest: str
    ws: dict[str, str]


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One WebSocket connection the actor keeps open.

    ``stale_after_s`` is the data-liveness limit: no market/private data for that long (pings and acks do
    not count) and the connection is replaced. ``ping_interval_s`` with the adapter's ``ping_frame`` sends
    application-level keep-alives.
    """

    name: str
    private: bool = False
    stale_after_s: float | None = None
    ping_interval_s: float | None = None
    protocol_heartbeat_s: float | None = None
    control_rate_per_s: float = 4.0


class VenueContext(Protocol):
    """What the actor offers an adapter during connect/login/resync."""

    credentials: Credentials | None
    registry: InstrumentRegistry

    def now_ms(self) -> int:
        """Epoch ms corrected by the measured offset to the venue's clock."""
        ...

    async def request(self, spec: RequestSpec) -> Response:
        """Send through the venue's rate limiter; raises the venue's typed errors via the adapter."""
        ...

    async def send(self, stream: str, frame: bytes) -> None:
        """Send a control frame on a stream, paced to the venue's control-message limit."""
        ...

    def nonce(self) -> str: ...

    async def reconnect(self, stream: str, reason: str) -> None:
        """Replace a stream's connection (e.g. an expired Binance listenKey)."""
        ...


def missing_market_data(
    trades: bool, trades_on: bool, klines: Sequence[str], configured: Sequence[str], wire: Callable[[str], str]
) -> list[str]:
    """``VenueAdapter.unsupported_market_data`` for an adapter whose trades flag is ``trades_on`` and whose
    kline intervals are ``configured`` in the venue's own names (``wire`` maps any accepted spelling there).

    Raises:
        ConfigError: from ``wire``, for an interval the venue does not offer.
    """
    missing = ["trades (trades = false)"] if trades and not trades_on else []
    missing.extend(f"kline {i}" for i in klines if wire(i) not in configured)
    return missing


class VenueAdapter(Protocol):
    venue: Venue
    endpoints: Endpoints
    registry: InstrumentRegistry

    # -- codec on the hot path ---------------------------------------------------------------------
    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]: ...

    def book_state_live(self, instrument: InstrumentId) -> bool: ...

    def top_of_books(self, depth: int) -> list[tuple[InstrumentId, list[tuple[float, float]], list[tuple[float, float]]]]:
        """(instrument, bids, asks) top ``depth`` levels of every live book (for BookSnapshot publishing)."""
        ...

    def reset_stream(self, stream: str, ts_recv: int) -> list[Message | CodecEvent]:
        """After ``stream`` dropped: its books back to SYNCING."""
        ...

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]: ...

    def observe_headers(self, headers: dict[str, str], limiter: VenueLimiter) -> None: ...

    def server_time_request(self) -> RequestSpec: ...

    def parse_server_time(self, response: Response) -> int: ...

    def instruments_requests(self) -> list[RequestSpec]: ...

    def parse_instruments(self, response: Response) -> list[Instrument]: ...

    def raise_for_error(self, response: Response) -> None:
        """Raise the venue's typed error for this response, if any."""
        ...

    # -- streams -----------------------------------------------------------------------------------
    def streams(self, has_credentials: bool) -> list[StreamSpec]: ...

    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        """What of a SubscribeMarketData the configured channels do not deliver ([] when all of it is).

        Books (and the Quotes computed from them) are always subscribed; trades and kline intervals are
        chosen when the adapter is built (one stream set per connection, for every instrument).

        Raises:
            ConfigError: a kline interval the venue does not offer.
        """
        ...

    async def stream_url(self, stream: str, ctx: VenueContext) -> str: ...

    async def on_connected(self, stream: str, ctx: VenueContext, instruments: Sequence[InstrumentId]) -> None:
        """Log in and subscribe on a fresh connection."""
        ...

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None: ...

    async def keepalive(self, ctx: VenueContext) -> None:
        """Periodic venue housekeeping (e.g. Binance listenKey PUT); called every ``keepalive_interval_s``."""
        ...

    keepalive_interval_s: float

    # -- books -------------------------------------------------------------------------------------
    def snapshot_request(self, instrument: InstrumentId) -> RequestSpec | None:
        """A REST snapshot to start a book, or None when the venue sends snapshots on subscribe."""
        ...

    def apply_snapshot(self, instrument: InstrumentId, response: Response, ts_recv: int) -> list[Message | CodecEvent]: ...

    def resubscribe_frames(self, instrument: InstrumentId) -> list[tuple[str, bytes]]:
        """(stream, frame) pairs that make the venue send a fresh snapshot for this book."""
        ...

    # -- trading and account -----------------------------------------------------------------------
    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec: ...

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate: ...

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec: ...

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None: ...

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec: ...

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate: ...

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]: ...

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]: ...

    def balances(self, ctx: VenueContext) -> list[RequestSpec]: ...

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]: ...

    def positions(self, ctx: VenueContext) -> list[RequestSpec]: ...

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]: ...

    def make_client_order_id(self, seed: str) -> str: ...


