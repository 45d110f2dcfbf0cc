"""What a venue's wiring module gives the venue-agnostic ExchangeActor.

Each venue (binance.py, bybit.py, okx.py, deribit.py beside this file) implements ``VenueAdapter`` by
joining its sans-IO code (venues/<v>/: codec, REST builders and parsers, session) to these calls. The actor
never branches on a venue name: every difference is an adapter method or a session effect. Adapters do no
I/O and hold no connection state: what a connection must remember is in the venue's session.

``AdapterBase`` holds what the four adapters do alike (their registry, endpoints and codec, the options every
venue takes, ``CommonOptions``, with their defaults); each adapter subclasses it once and adds its venue's
options, requests and parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypedDict, TypeVar

import msgspec

from actors.ratelimit import Bucket, VenueLimiter
from messages.account import Balance, Position, PositionMode
from messages.base import BookState, InstrumentId, Venue
from messages.instruments import Instrument
from messages.orders import CancelOrder, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import RequestSpec, Response
from venues.session import VenueSession
from venues.symbols import InstrumentRegistry

__all__ = ["VenueContext", "VenueAdapter", "AdapterBase", "CommonOptions", "Endpoints"]


class Endpoints(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a venue lives. Defaults in each adapter are the real exchange; the daemon points them at twins."""

    rest: str
    ws: dict[str, str]


class VenueContext(Protocol):
    """What the actor offers an adapter's request builders: credentials, the venue's clock and nonces."""

    credentials: Credentials | None
    registry: InstrumentRegistry

    def now_ms(self) -> int:
        """Epoch ms corrected by the measured offset to the venue's clock."""
        ...

    def nonce(self) -> str:
        """A fresh random nonce (Deribit signs one into every private request)."""
        ...

    @property
    def position_mode(self) -> PositionMode:
        """The account's position mode as the venue session knows it (orders carry their position side by it)."""
        ...


class VenueAdapter(Protocol):
    """A venue's description (where it lives, its limits, instruments and errors), its request builders and
    parsers for commands, and the factory of its sans-IO ``VenueSession`` (connections, login,
    subscriptions, bootstraps). Everything here is pure; the actor does the I/O."""

    venue: Venue
    endpoints: Endpoints
    registry: InstrumentRegistry
    switch_off_by_api: bool
    """Whether an armed dead-man's switch can be turned off by request (``disarm_switch`` is not None)."""

    def session(self, credentials: Credentials | None, nonce: Callable[[], str]) -> VenueSession:
        """A new session for one actor incarnation (it shares the adapter's codec and its books)."""
        ...

    def book_state_live(self, instrument: InstrumentId) -> bool: ...

    def tradable(self, instrument: InstrumentId) -> tuple[bool, str]:
        """Whether the venue takes new orders on ``instrument`` as last listed, and its state in the venue's
        words ("" when the venue lists only tradable ones)."""
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

    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        """What of a SubscribeMarketData the configured channels do not deliver ([] when all of it is).

        Books (and the Quotes computed from them) are always subscribed; trades and kline intervals are
        chosen when the adapter is built (one stream set per connection, for every instrument).

        Raises:
            ConfigError: a kline interval the venue does not offer.
        """
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

    # -- preflight (the doctor) ---------------------------------------------------------------------
    def key_permissions(self, ctx: VenueContext) -> RequestSpec | None:
        """The read of the API key's permissions (None: the venue offers none from this host)."""
        ...

    def parse_key_permissions(self, response: Response) -> KeyFacts: ...

    def instrument_settings(self, instrument: InstrumentId, ctx: VenueContext) -> list[RequestSpec]:
        """The reads of the account's margin mode and leverage for ``instrument`` ([]: nothing per instrument
        at this venue); ``parse_instrument_settings`` gets their answers in the same order."""
        ...

    def parse_instrument_settings(self, instrument: InstrumentId, responses: Sequence[Response]) -> InstrumentFacts:
        ...

    def disarm_switch(self, ctx: VenueContext) -> list[RequestSpec] | None:
        """Requests that turn an armed dead-man's switch off again, so that closing our connections cancels
        nothing (the doctor arms it to see the venue accept it, then disarms it). None: the venue offers no
        way to turn it off once armed (the doctor then does not arm it on a real account)."""
        ...

    # An adapter may also have ``follow(spec, response, ctx) -> RequestSpec | None``: the request that continues
    # ``spec`` after ``response`` (the next page of a list, by its cursor; a second place to look for an order),
    # or None. The actor follows lists to their last page (``MAX_PAGES`` at most) and a query once.


class CommonOptions(TypedDict, total=False):
    """The keyword options every adapter takes alike (the daemon passes them from each venue's section); an
    adapter's ``**common`` is these, and the defaults of those left out are ``AdapterBase.__init__``'s.

    Keys:
        stale_after_s: no market data on a stream for this long and its socket is replaced.
        trades: whether trades are subscribed (Trade messages).
        klines: kline intervals in any spelling the venue accepts.
        emit_deltas: the codec also returns BookSnapshot / BookDelta messages (``md.delta.<venue>.*``).
        dead_mans_switch_s: the venue's dead-man's switch window (0: off); each adapter states its range.
    """

    stale_after_s: float
    trades: bool
    klines: Sequence[str]
    emit_deltas: bool
    dead_mans_switch_s: float


class _Books(Protocol):
    def book_state(self, instrument: InstrumentId) -> BookState: ...


CodecT = TypeVar("CodecT", bound=_Books)
CodecT_co = TypeVar("CodecT_co", bound=_Books, covariant=True)


class _CodecFactory(Protocol[CodecT_co]):
    """A venue's codec class (or one with its venue options bound): what ``AdapterBase`` builds it with."""

    def __call__(self, registry: InstrumentRegistry, *, emit_deltas: bool) -> CodecT_co: ...


class AdapterBase(Generic[CodecT]):
    """What every adapter shares: its registry, endpoints and codec, the ``CommonOptions``, the instrument look-up
    and the check of a SubscribeMarketData against the channels it was built with. A venue's adapter subclasses it
    once, naming its ``venue`` and ``switch_off_by_api`` in the class statement:
    ``class BinanceAdapter(AdapterBase[BinanceCodec], venue=Venue.BINANCE, switch_off_by_api=True)``."""

    venue: Venue
    switch_off_by_api: bool

    def __init_subclass__(cls, *, venue: Venue, switch_off_by_api: bool, **kwargs: object) -> None:
        """Both are required: a subclass that leaves one out is a TypeError when it is defined, not an
        AttributeError when the doctor first asks."""
        super().__init_subclass__(**kwargs)
        cls.venue = venue
        cls.switch_off_by_api = switch_off_by_api

    def __init__(self, registry: InstrumentRegistry, endpoints: Endpoints, codec: _CodecFactory[CodecT], *,
                 wire: Callable[[str], str], stale_after_s: float = 1.0, trades: bool = True,
                 klines: Sequence[str] = (), emit_deltas: bool = False, dead_mans_switch_s: float = 0.0) -> None:
        """
        Args:
            codec: makes the venue's codec (given ``emit_deltas``), shared with every session the adapter makes.
            wire: maps an accepted interval spelling to the venue's own name.
            stale_after_s, trades, klines, emit_deltas, dead_mans_switch_s: ``CommonOptions``.

        Raises:
            ConfigError: from ``wire``, for an interval the venue does not offer.
        """
        self.endpoints = endpoints
        self.registry = registry
        self.codec = codec(registry, emit_deltas=emit_deltas)
        self._stale_after_s = stale_after_s
        self._trades = trades
        self._wire = wire
        self._klines = tuple(dict.fromkeys(wire(i) for i in klines))  # in the venue's names, each once
        self._dead_mans_switch_s = dead_mans_switch_s

    def book_state_live(self, instrument: InstrumentId) -> bool:
        return self.codec.book_state(instrument) is BookState.LIVE

    def tradable(self, instrument: InstrumentId) -> tuple[bool, str]:
        """The instruments answer is read for trading symbols only: a registered one is tradable."""
        return True, ""

    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        """``VenueAdapter.unsupported_market_data``: trades when they are off, and each interval of ``klines``
        whose venue name is not among the configured ones.

        Raises:
            ConfigError: from ``wire``, for an interval the venue does not offer.
        """
        missing = ["trades (trades = false)"] if trades and not self._trades else []
        missing.extend(f"kline {i}" for i in klines if self._wire(i) not in self._klines)
        return missing

    def _inst(self, instrument: InstrumentId) -> Instrument:
        return self.registry.get(self.venue, instrument)
