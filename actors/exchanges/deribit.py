"""Deribit API v2 wiring: endpoints, credit buckets and the request builders, joined to the sans-IO session
(venues/deribit/session.py: the one JSON-RPC socket, login, heartbeat, subscriptions, book resubscribes,
session refresh). No logic of its own.

Rules:
- REST: every private call is signed ``deri-hmac-sha256``. Credits counted the venue's way: non-matching-
  engine requests take 500 credits from a 50,000 pool refilled 10,000/s; buy/sell/edit/cancel draw on
  their own matching-engine bucket. Deribit sends no usage headers: a dry bucket is error 10028
  (RateLimited; over WS the codec turns it into StreamExpired, as Deribit ends the session).
- Amounts are Deribit's: USD for inverse (BTC-PERPETUAL, lot 10), base coin for linear USDC instruments.
- ``parse_place``: Deribit answers ``private/buy|sell`` synchronously with the whole order (and its immediate
  trades), so the OrderUpdate is the venue's own state (SUBMITTED, FILLED, ...), never a guess.
- Cancel/query by client order id: the label. Query uses ``get_order_state_by_label``. Cancel uses the
  venue id when it is known (given, or learnt from an ack/query/open-orders answer into the ``order_ids``
  of the session this adapter made last, i.e. the running actor's); otherwise ``cancel_by_label``, which
  returns only a count, so ``parse_cancel`` returns None and the CANCELLED OrderUpdate arrives on the
  private stream.
- Signatures need a nonce per request: the builders take the one the actor gave ``session()`` (random
  until a session is made, for a builder-only adapter such as bench/orders.py's floor).
- Placements and the other writes go as POST with a JSON-RPC body (venues/deribit/rest.py).
- Dead-man's switch (``dead_mans_switch_s`` > 0, with credentials): Deribit's cancel-on-disconnect (scope
  connection) on the main socket after login, with ``public/set_heartbeat`` at the window; the session's
  SwitchKeeper arms on their answers. Cancel-on-disconnect covers only the orders created via that
  connection, so the writes (buy, sell, cancel, cancel_by_label) go on that socket (``RequestSpec.stream``,
  an id the codec reserves, no HTTP auth: the connection is authenticated) and their answer frames are read
  by the same parsers; placements only while the switch is ARMED, cancels over HTTP while the socket is not
  logged in. Queries and account reads stay on HTTP. Same limiter buckets either way.
- Book states (Deribit's lifecycle since 2026-01-13): every listed instrument is registered, so its market
  data flows, but an order on a book that is not ``open`` (as ``get_instruments`` listed it, or as
  ``instrument.state`` said since) is refused here with InvalidOrder, before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Unpack

from actors.exchanges.adapter import AdapterBase, CommonOptions, Endpoints, VenueContext
from actors.ratelimit import Bucket, VenueLimiter
from messages.account import Balance, Position
from messages.base import InstrumentId, Venue
from messages.instruments import Instrument
from messages.orders import CancelOrder, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.deribit import codes, frames, rest
from venues.deribit.codec import DeribitCodec
from venues.deribit.frames import Interval
from venues.deribit.session import MAIN, DeribitSession, OrderIds, SessionOptions
from venues.errors import ConfigError, InvalidOrder
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

__all__ = ["DeribitAdapter", "LIVE_ENDPOINTS", "TESTNET_ENDPOINTS", "chart_resolution"]

LIVE_ENDPOINTS = Endpoints(
    rest="https://www.deribit.com",
    ws={"main": "wss://www.deribit.com/ws/api/v2"},
)
# Deribit's test environment (docs.deribit.com "Environments": every example there uses test.deribit.com;
# OpenAPI servers: https://test.deribit.com/api/v2). Separate accounts and API keys from production.
TESTNET_ENDPOINTS = Endpoints(
    rest="https://test.deribit.com",
    ws={"main": "wss://test.deribit.com/ws/api/v2"},
)
RESOLUTIONS = ("1", "3", "5", "10", "15", "30", "60", "120", "180", "360", "720", "1D")
"""``chart.trades`` resolutions: minutes, or 1D."""


def chart_resolution(interval: str) -> str:
    """A unified interval ("1m", "1h", "1d") or a Deribit resolution ("1", "60", "1D") -> the resolution.

    Raises:
        ConfigError: not a resolution Deribit offers.
    """
    count, unit = interval[:-1], interval[-1:]
    res = interval
    if count.isdigit() and unit in ("m", "h"):
        res = str(int(count) * (60 if unit == "h" else 1))
    elif interval in ("1d", "1D"):
        res = "1D"
    if res not in RESOLUTIONS:
        msg = f"expected a Deribit chart resolution ({', '.join(RESOLUTIONS)} or 1m, 5m, 1h, 1d), got {interval!r}"
        raise ConfigError(msg)
    return res


class DeribitAdapter(AdapterBase[DeribitCodec], venue=Venue.DERIBIT, switch_off_by_api=True):
    def __init__(self, registry: InstrumentRegistry, endpoints: Endpoints = LIVE_ENDPOINTS, *, heartbeat_s: int = 10,
                 book_interval: Interval = Interval.MS100, positions_stream: bool = False,
                 cancel_on_disconnect: bool = False, currencies: Sequence[str] = ("any",),
                 instrument_kind: str | None = "future", credit_pool: int = 50_000, credit_refill_per_s: int = 10_000,
                 matching_engine_per_s: float = 5.0, matching_engine_burst: int = 20, control_rate_per_s: float = 5.0,
                 session_refresh_s: float = 300.0, **common: Unpack[CommonOptions]) -> None:
        """
        Args:
            registry: The instrument registry the actor loads (the codec maps symbols with it).
            endpoints: Real Deribit by default. ``ws["main"]`` is the one socket URL (any single entry, e.g.
                a twin's ``public``, is accepted).
            heartbeat_s: ``public/set_heartbeat`` interval (Deribit's minimum is 10).
            book_interval: 100ms (public) or raw (subscribed once logged in; 100ms without credentials or when
                the login fails).
            positions_stream: subscribe to user.changes (orders, fills and positions) instead of
                user.orders + user.trades.
            cancel_on_disconnect: enable Deribit's cancel-on-disconnect for the connection after login.
            currencies: ``get_instruments`` / ``get_positions`` currencies ("any" lists them all).
            instrument_kind: ``get_instruments`` kind ("future" includes perpetuals; None: every kind).
            credit_pool, credit_refill_per_s: the non-matching-engine credit bucket (500 credits a request).
            matching_engine_per_s, matching_engine_burst: the buy/sell/edit/cancel bucket (tier-based).
            control_rate_per_s: pace of WS control frames (subscriptions are limited on Deribit).
            session_refresh_s: while logged in, renew the socket's session with its refresh token this often
                (the access token lives 900 s).
            common: ``CommonOptions``. ``stale_after_s``: no market or private data for this long and the
                socket is replaced. ``trades``: each instrument's public trades. ``klines``: candle intervals
                ("1m", "5m", "1h", "1d", or resolutions "1", "60", "1D"): each instrument's
                ``chart.trades.{instrument}.{resolution}`` is subscribed too. ``dead_mans_switch_s``: the
                dead-man's switch's window (0: off): with credentials, cancel-on-disconnect on the main socket,
                ``public/set_heartbeat`` at this interval (whole seconds; ``heartbeat_s`` is then not used) so a
                hung process is cut within about the window, and orders sent on the socket. At least 10
                (Deribit's minimum heartbeat).

        Raises:
            ConfigError: heartbeat_s or dead_mans_switch_s below Deribit's minimum heartbeat, or a resolution
                Deribit does not offer.
        """
        if heartbeat_s < frames.MIN_HEARTBEAT_S:
            msg = f"deribit heartbeat_s must be >= {frames.MIN_HEARTBEAT_S}, got {heartbeat_s}"
            raise ConfigError(msg)
        super().__init__(registry, endpoints, DeribitCodec, wire=chart_resolution, **common)
        dead_mans_switch_s = self._dead_mans_switch_s
        if dead_mans_switch_s != 0 and not (math.isfinite(dead_mans_switch_s)
                                            and dead_mans_switch_s >= frames.MIN_HEARTBEAT_S):
            msg = (f"deribit dead_mans_switch_s must be 0 (off) or >= {frames.MIN_HEARTBEAT_S} s (Deribit's minimum "
                   f"heartbeat interval), got {dead_mans_switch_s}")
            raise ConfigError(msg)
        self._currencies = tuple(currencies)
        self._kind = instrument_kind
        self._credits = (credit_pool, credit_refill_per_s)
        self._me = (matching_engine_per_s, matching_engine_burst)
        ws = endpoints.ws
        self._options = SessionOptions(
            ws.get(MAIN) or next(iter(ws.values())), stale_after_s=self._stale_after_s, heartbeat_s=heartbeat_s,
            book_interval=book_interval, trades=self._trades, positions_stream=positions_stream,
            cancel_on_disconnect=cancel_on_disconnect, resolutions=self._klines,
            control_rate_per_s=control_rate_per_s, refresh_s=session_refresh_s,
            dead_mans_switch_s=dead_mans_switch_s,
        )
        # The running actor's: set by ``session()``; until then a builder-only adapter's own (orders over HTTP).
        self._ids = OrderIds()
        self._session: DeribitSession | None = None

    def session(self, credentials: Credentials | None, nonce: Callable[[], str]) -> DeribitSession:
        """A new session; the request builders use its order ids from now on."""
        session = DeribitSession(self.codec, self.registry, self._options, credentials, nonce)
        self._ids = session.order_ids
        self._session = session
        return session

    def _route(self, placement: bool) -> tuple[str, int]:
        """(stream, request id) for a write while the dead-man's switch is on, ("", 0) for HTTP.

        Raises:
            SwitchNotArmed: a placement while the switch is on and not armed.
        """
        session = self._session
        stream = session.order_stream(placement) if session is not None else None
        return (stream, self.codec.reserve_id()) if stream is not None else ("", 0)

    def tradable(self, instrument: InstrumentId) -> tuple[bool, str]:
        """The book's state (Deribit's lifecycle): only ``open`` takes new orders."""
        return self.codec.book_open(self._inst(instrument).venue_symbol)

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]:
        pool, refill = self._credits
        me_rate, me_burst = self._me
        buckets = [
            # A leaky bucket of ``pool`` credits draining at ``refill``/s: 500 a request, burst pool/500.
            Bucket(name="non_matching_engine", capacity=pool, period_s=pool / refill),
            Bucket(name="matching_engine", capacity=me_burst, period_s=me_burst / me_rate, per_request=True),
        ]
        return buckets, {}

    def observe_headers(self, headers: dict[str, str], limiter: VenueLimiter) -> None:
        """Deribit reports no usage in headers; running dry is error 10028 (with Retry-After, if any)."""

    def server_time_request(self) -> RequestSpec:
        return rest.server_time()

    def parse_server_time(self, response: Response) -> int:
        return rest.parse_server_time(response)

    def instruments_requests(self) -> list[RequestSpec]:
        return [rest.instruments(c, self._kind) for c in self._currencies]

    def parse_instruments(self, response: Response) -> list[Instrument]:
        self.codec.note_states(rest.parse_instrument_states(response))
        return rest.parse_instruments(response)

    def raise_for_error(self, response: Response) -> None:
        rest.raise_for_error(response)

    # -- trading and account -----------------------------------------------------------------------
    @staticmethod
    def _creds(ctx: VenueContext) -> Credentials:
        assert ctx.credentials is not None, "deribit trading needs credentials"
        return ctx.credentials

    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        """``private/buy|sell`` (POST). Deribit has no hedge mode: ``ctx.position_mode`` is always one-way.

        Raises:
            InvalidOrder: the instrument's book is not ``open``, or rest.place_order refused the order.
        """
        inst = self._inst(order.instrument)
        is_open, state = self.codec.book_open(inst.venue_symbol)
        if not is_open:
            msg = (f"deribit {inst.venue_symbol} order {order.client_order_id!r}: the book is {state!r}; "
                   f"only an 'open' book takes new orders")
            raise InvalidOrder(msg)
        stream, rid = self._route(placement=True)
        return rest.place_order(order, inst, credentials=self._creds(ctx), now_ms=ctx.now_ms(), nonce=ctx.nonce(),
                                stream=stream, request_id=rid)

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        upd = rest.parse_place_order(response, self.codec.symbols, ts_recv)[0]  # the order, then its fills
        assert isinstance(upd, OrderUpdate)
        return self._ids.learn(upd)

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        creds = self._creds(ctx)
        vid = self._ids.venue_id(cmd.client_order_id, cmd.venue_order_id)
        if vid is None and cmd.client_order_id is None:
            msg = f"deribit cancel on {cmd.instrument}: expected a client or venue order id, got neither"
            raise InvalidOrder(msg)
        stream, rid = self._route(placement=False)
        if vid is not None:
            return rest.cancel_order(vid, credentials=creds, now_ms=ctx.now_ms(), nonce=ctx.nonce(), stream=stream,
                                     request_id=rid)
        assert cmd.client_order_id is not None
        return rest.cancel_by_client_id(cmd.client_order_id, self._inst(cmd.instrument).settle, credentials=creds,
                                        now_ms=ctx.now_ms(), nonce=ctx.nonce(), stream=stream, request_id=rid)

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        if self._ids.venue_id(cmd.client_order_id, cmd.venue_order_id) is not None:
            return rest.parse_order(response, self.codec.symbols, ts_recv)
        assert cmd.client_order_id is not None
        rest.parse_cancel_by_label(response, cmd.client_order_id)  # UnknownOrder when nothing was open
        return None  # only a count: the CANCELLED update arrives on the private stream

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec:
        creds = self._creds(ctx)
        if cmd.venue_order_id is not None:
            return rest.query_order(cmd.venue_order_id, credentials=creds, now_ms=ctx.now_ms(), nonce=ctx.nonce())
        if cmd.client_order_id is None:
            msg = f"deribit query on {cmd.instrument}: expected a client or venue order id, got neither"
            raise InvalidOrder(msg)
        return rest.query_by_client_id(cmd.client_order_id, self._inst(cmd.instrument).settle, credentials=creds,
                                       now_ms=ctx.now_ms(), nonce=ctx.nonce())

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate:
        if cmd.venue_order_id is not None:
            return self._ids.learn(rest.parse_order(response, self.codec.symbols, ts_recv))
        assert cmd.client_order_id is not None
        return self._ids.learn(rest.parse_order_by_label(response, self.codec.symbols, ts_recv, cmd.client_order_id))

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        symbol = self._inst(instrument).venue_symbol if instrument is not None else None
        return [rest.open_orders(symbol, credentials=self._creds(ctx), now_ms=ctx.now_ms(), nonce=ctx.nonce())]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return [self._ids.learn(u) for u in rest.parse_orders(response, self.codec.symbols, ts_recv)]

    def balances(self, ctx: VenueContext) -> list[RequestSpec]:
        return [rest.account_summaries(credentials=self._creds(ctx), now_ms=ctx.now_ms(), nonce=ctx.nonce())]

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]:
        return rest.parse_balances(response, ts_recv)

    def positions(self, ctx: VenueContext) -> list[RequestSpec]:
        creds = self._creds(ctx)
        return [rest.positions(c, self._kind, credentials=creds, now_ms=ctx.now_ms(), nonce=ctx.nonce())
                for c in self._currencies]

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]:
        return rest.parse_positions(response, self.codec.symbols, ts_recv)

    def make_client_order_id(self, seed: str) -> str:
        return codes.make_client_order_id(seed)

    # -- preflight (the doctor) ---------------------------------------------------------------------
    def key_permissions(self, ctx: VenueContext) -> RequestSpec | None:
        """``public/auth`` signed with the key (``client_signature``): its granted ``scope`` is the key's."""
        creds = self._creds(ctx)
        return rest.auth(creds, ctx.now_ms(), ctx.nonce())

    def parse_key_permissions(self, response: Response) -> KeyFacts:
        return rest.parse_key_permissions(response)

    def instrument_settings(self, instrument: InstrumentId, ctx: VenueContext) -> list[RequestSpec]:
        """``private/get_account_summary`` of the instrument's settlement currency: Deribit margins per account
        and currency (``margin_model``) and has no leverage setting per instrument."""
        settle = self._inst(instrument).settle
        return [rest.account_summary(settle, credentials=self._creds(ctx), now_ms=ctx.now_ms(), nonce=ctx.nonce())]

    def parse_instrument_settings(self, instrument: InstrumentId, responses: Sequence[Response]) -> InstrumentFacts:
        return rest.parse_margin_model(responses[0])

    def disarm_switch(self, ctx: VenueContext) -> list[RequestSpec] | None:
        """``private/disable_cancel_on_disconnect`` on the main socket (WebSocket only, per connection: the
        request goes as a frame with a reserved id, as the order writes do; the gateway fails it with
        VenueUnavailable while the socket is down). The heartbeat stays: without cancel-on-disconnect a lost
        connection cancels nothing."""
        return [rest.disable_cancel_on_disconnect(credentials=self._creds(ctx), stream=MAIN,
                                                  request_id=self.codec.reserve_id())]
