"""Deribit API v2 wiring: endpoints, the one JSON-RPC WebSocket, heartbeats, credit buckets. No logic of its own
beyond joining venues/deribit to the ExchangeActor.

Rules:
- One WebSocket (stream ``main``) carries market and private data, as on Deribit. On each fresh connection:
  ``public/auth`` (client_signature; when credentials are given), ``public/set_heartbeat`` (>= 10 s; the codec
  answers every ``test_request`` with a ``public/test`` SendFrame the actor sends), ``private/subscribe``
  user.orders / user.trades (or user.changes) / user.portfolio, then one ``public/subscribe`` for every book
  (and trades) channel. Liveness is on data (``stale_after_s``); with credentials the stream is private, so
  the actor reconciles orders after every reconnect.
- Books: ``book.{instrument}.100ms`` (``raw`` only when asked for and authenticated: raw needs the auth
  answered first) sends a snapshot on subscribe, so ``snapshot_request`` is None; a gap (NeedResubscribe)
  is answered with the codec's unsubscribe + subscribe frames.
- REST: every private call is signed ``deri-hmac-sha256``. Credits counted the venue's way: non-matching-
  engine requests take 500 credits from a 50,000 pool refilled 10,000/s; buy/sell/edit/cancel draw on
  their own matching-engine bucket. Deribit sends no usage headers: a dry bucket is error 10028
  (RateLimited; over WS the codec turns it into StreamExpired, as Deribit ends the session).
- Amounts are Deribit's: USD for inverse (BTC-PERPETUAL, lot 10), base coin for linear USDC instruments.
- ``parse_place``: Deribit answers ``private/buy|sell`` synchronously with the whole order (and its immediate
  trades), so the OrderUpdate is the venue's own state (SUBMITTED, FILLED, ...), never a guess.
- Cancel/query by client order id: the label. Query uses ``get_order_state_by_label``. Cancel uses the
  venue id when it is known (given, or learned from an ack/query/open-orders answer: ``private/cancel``
  returns the order); otherwise ``cancel_by_label``, which returns only a count, so ``parse_cancel`` returns
  None and the CANCELLED OrderUpdate arrives on the private stream.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from actors.exchanges.adapter import Endpoints, StreamSpec, VenueContext, missing_market_data
from actors.ratelimit import Bucket, VenueLimiter
from messages import (
    Balance,
    BookState,
    CancelOrder,
    ClientOrderId,
    Instrument,
    InstrumentId,
    Message,
    OrderUpdate,
    PlaceOrder,
    Position,
    QueryOrder,
    Venue,
    VenueOrderId,
)
from venues import Credentials
from venues.deribit import codes, frames, rest
from venues.deribit.codec import DeribitCodec
from venues.deribit.frames import Interval
from venues.errors import ConfigError, InvalidOrder, VenueUnavailable
from venues.events import CodecEvent
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
_MAIN = "main"
_MAX_IDS = 10_000
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


class DeribitAdapter:
    venue = Venue.DERIBIT
    keepalive_interval_s = 300.0  # refresh the WS session well inside the access token's 900 s

    def __init__(
        self,
        registry: InstrumentRegistry,
        endpoints: Endpoints = LIVE_ENDPOINTS,
        *,
        stale_after_s: float = 1.0,
        heartbeat_s: int = 10,
        book_interval: Interval = Interval.MS100,
        trades: bool = True,
        positions_stream: bool = False,
        cancel_on_disconnect: bool = False,
        currencies: Sequence[str] = ("any",),
        instrument_kind: str | None = "future",
        credit_pool: int = 50_000,
        credit_refill_per_s: int = 10_000,
        matching_engine_per_s: float = 5.0,
        matching_engine_burst: int = 20,
        control_rate_per_s: float = 5.0,
        klines: Sequence[str] = (),
        emit_deltas: bool = False,
    ) -> None:
        """
        Args:
            registry: The instrument registry the actor loads (the codec maps symbols with it).
            endpoints: Real Deribit by default. ``ws["main"]`` is the one socket URL (any single entry, e.g.
                a twin's ``public``, is accepted).
            stale_after_s: No market or private data for this long and the socket is replaced.
            heartbeat_s: ``public/set_heartbeat`` interval (Deribit's minimum is 10).
            book_interval: 100ms (public) or raw (authenticated connections only; 100ms without credentials).
            trades: also subscribe to each instrument's public trades.
            positions_stream: subscribe to user.changes (orders, fills and positions) instead of
                user.orders + user.trades.
            cancel_on_disconnect: enable Deribit's cancel-on-disconnect for the connection after login.
            currencies: ``get_instruments`` / ``get_positions`` currencies ("any" lists them all).
            instrument_kind: ``get_instruments`` kind ("future" includes perpetuals; None: every kind).
            credit_pool, credit_refill_per_s: the non-matching-engine credit bucket (500 credits a request).
            matching_engine_per_s, matching_engine_burst: the buy/sell/edit/cancel bucket (tier-based).
            control_rate_per_s: pace of WS control frames (subscriptions are limited on Deribit).
            klines: candle intervals ("1m", "5m", "1h", "1d", or resolutions "1", "60", "1D"): each
                instrument's ``chart.trades.{instrument}.{resolution}`` is subscribed too.
            emit_deltas: the codec also returns BookSnapshot / BookDelta messages (``md.delta.deribit.*``).

        Raises:
            ConfigError: heartbeat_s below Deribit's minimum, or a resolution Deribit does not offer.
        """
        if heartbeat_s < frames.MIN_HEARTBEAT_S:
            msg = f"deribit heartbeat_s must be >= {frames.MIN_HEARTBEAT_S}, got {heartbeat_s}"
            raise ConfigError(msg)
        self.endpoints = endpoints
        self.registry = registry
        self.codec = DeribitCodec(registry, emit_deltas=emit_deltas)
        self._resolutions = tuple(dict.fromkeys(chart_resolution(i) for i in klines))
        self._stale = stale_after_s
        self._heartbeat = heartbeat_s
        self._interval = book_interval
        self._trades = trades
        self._changes = positions_stream
        self._cod = cancel_on_disconnect
        self._currencies = tuple(currencies)
        self._kind = instrument_kind
        self._credits = (credit_pool, credit_refill_per_s)
        self._me = (matching_engine_per_s, matching_engine_burst)
        self._control_rate = control_rate_per_s
        self._tracked: list[InstrumentId] = []
        self._session = False  # the current connection has been logged in and given its heartbeat
        self._ids: OrderedDict[ClientOrderId, VenueOrderId] = OrderedDict()

    # -- hot path ----------------------------------------------------------------------------------
    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        return self.codec.feed(frame if type(frame) is bytes else frame.encode(), ts_recv)  # type: ignore[union-attr]

    def book_state_live(self, instrument: InstrumentId) -> bool:
        return self.codec.book_state(instrument) is BookState.LIVE

    def top_of_books(self, depth: int) -> list[tuple[InstrumentId, list[tuple[float, float]], list[tuple[float, float]]]]:
        out = []
        for inst in self._tracked:
            if self.codec.book_state(inst) is BookState.LIVE:
                book = self.codec.book(inst)
                out.append((inst, book.top_bids(depth), book.top_asks(depth)))
        return out

    def reset_stream(self, stream: str, ts_recv: int) -> list[Message | CodecEvent]:
        self._session = False
        return self.codec.reset(ts_recv)

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
        return rest.parse_instruments(response)

    def raise_for_error(self, response: Response) -> None:
        rest.raise_for_error(response)

    # -- streams -----------------------------------------------------------------------------------
    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        return missing_market_data(trades, self._trades, klines, self._resolutions, chart_resolution)

    def streams(self, has_credentials: bool) -> list[StreamSpec]:
        return [StreamSpec(name=_MAIN, private=has_credentials, stale_after_s=self._stale,
                           control_rate_per_s=self._control_rate)]

    async def stream_url(self, stream: str, ctx: VenueContext) -> str:
        ws = self.endpoints.ws
        return ws.get(_MAIN) or next(iter(ws.values()))

    def _private_channels(self, instruments: Sequence[InstrumentId]) -> list[str]:
        if self._changes:
            out = [frames.user_changes_kind_channel("any", "any")]
        else:
            out = [frames.user_orders_kind_channel("any", "any"), frames.user_trades_kind_channel("any", "any")]
        settle = sorted({self._inst(i).settle for i in instruments})
        return out + [frames.user_portfolio_channel(c) for c in settle]

    def _public_channels(self, instruments: Sequence[InstrumentId], authed: bool) -> list[str]:
        interval = self._interval if authed or self._interval is not Interval.RAW else Interval.MS100
        out: list[str] = []
        for inst in instruments:
            symbol = self._inst(inst).venue_symbol
            out.append(frames.book_channel(symbol, interval))
            if self._trades:
                out.append(frames.trades_channel(symbol, Interval.MS100))
            out.extend(frames.chart_channel(symbol, res) for res in self._resolutions)
        return out

    async def on_connected(self, stream: str, ctx: VenueContext, instruments: Sequence[InstrumentId]) -> None:
        for inst in instruments:
            if inst not in self._tracked:
                self._tracked.append(inst)
        creds = ctx.credentials
        if not self._session:  # a fresh connection (not a SubscribeMarketData on a live one)
            if creds is not None:
                await ctx.send(stream, self.codec.auth(creds, ctx.now_ms(), ctx.nonce()))
                if self._cod:
                    await ctx.send(stream, self.codec.enable_cancel_on_disconnect())
            await ctx.send(stream, self.codec.set_heartbeat(self._heartbeat))
            if creds is not None:
                await ctx.send(stream, self.codec.subscribe(self._private_channels(self._tracked)))
            self._session = True
        if instruments:
            await ctx.send(stream, self.codec.subscribe(self._public_channels(instruments, creds is not None)))

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return None  # keep-alive is the venue's heartbeat (test_request -> public/test, sent by the codec)

    async def keepalive(self, ctx: VenueContext) -> None:
        """Renew the WS session with its refresh token before the access token expires."""
        if ctx.credentials is None or not self._session or self.codec.access_token is None:
            return
        try:
            await ctx.send(_MAIN, self.codec.refresh_auth())
        except VenueUnavailable:
            pass  # not connected: the next connection logs in afresh

    # -- books -------------------------------------------------------------------------------------
    def snapshot_request(self, instrument: InstrumentId) -> RequestSpec | None:
        return None  # Deribit sends a snapshot on subscribe

    def apply_snapshot(self, instrument: InstrumentId, response: Response, ts_recv: int) -> list[Message | CodecEvent]:
        return []

    def resubscribe_frames(self, instrument: InstrumentId) -> list[tuple[str, bytes]]:
        return [(_MAIN, frame) for frame in self.codec.resubscribe_frames(instrument)]

    # -- trading and account -----------------------------------------------------------------------
    def _inst(self, instrument: InstrumentId) -> Instrument:
        return self.registry.get(self.venue, instrument)

    @staticmethod
    def _creds(ctx: VenueContext) -> Credentials:
        assert ctx.credentials is not None, "deribit trading needs credentials"
        return ctx.credentials

    def _learn(self, upd: OrderUpdate) -> OrderUpdate:
        """Remember client id -> venue id, so a cancel by client id can use private/cancel (which returns the order)."""
        cid, vid = upd.client_order_id, upd.venue_order_id
        if cid is not None and vid is not None:
            self._ids[cid] = vid
            self._ids.move_to_end(cid)
            if len(self._ids) > _MAX_IDS:
                self._ids.popitem(last=False)
        return upd

    def _venue_id(self, cid: ClientOrderId | None, vid: VenueOrderId | None) -> VenueOrderId | None:
        return vid if vid is not None else self._ids.get(cid) if cid is not None else None

    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        return rest.place_order(order, self._inst(order.instrument), credentials=self._creds(ctx),
                                now_ms=ctx.now_ms(), nonce=ctx.nonce())

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        upd = rest.parse_place_order(response, self.codec.symbols, ts_recv)[0]  # the order, then its fills
        assert isinstance(upd, OrderUpdate)
        return self._learn(upd)

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        creds = self._creds(ctx)
        vid = self._venue_id(cmd.client_order_id, cmd.venue_order_id)
        if vid is not None:
            return rest.cancel_order(vid, credentials=creds, now_ms=ctx.now_ms(), nonce=ctx.nonce())
        if cmd.client_order_id is None:
            msg = f"deribit cancel on {cmd.instrument}: expected a client or venue order id, got neither"
            raise InvalidOrder(msg)
        return rest.cancel_by_client_id(cmd.client_order_id, self._inst(cmd.instrument).settle, credentials=creds,
                                        now_ms=ctx.now_ms(), nonce=ctx.nonce())

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        if self._venue_id(cmd.client_order_id, cmd.venue_order_id) is not None:
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
            return self._learn(rest.parse_order(response, self.codec.symbols, ts_recv))
        assert cmd.client_order_id is not None
        return self._learn(rest.parse_order_by_label(response, self.codec.symbols, ts_recv, cmd.client_order_id))

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        symbol = self._inst(instrument).venue_symbol if instrument is not None else None
        return [rest.open_orders(symbol, credentials=self._creds(ctx), now_ms=ctx.now_ms(), nonce=ctx.nonce())]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return [self._learn(u) for u in rest.parse_orders(response, self.codec.symbols, ts_recv)]

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
