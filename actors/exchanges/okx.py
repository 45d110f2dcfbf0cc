"""OKX v5 (SWAP) wiring: endpoints, streams, WS login, resubscribe on book failure, per-endpoint limits. No
logic of its own beyond joining venues/okx to the ExchangeActor.

Rules (OKX docs, /work/shared/PROTOCOLS.md section 3):
- Streams: ``/ws/v5/public`` carries ``books`` (+ ``trades``) for every instrument in one batched subscribe;
  its liveness is data (``stale_after_s``). ``/ws/v5/private`` (only with credentials) logs in on connect
  (``op:login``, timestamp in epoch SECONDS, offset-corrected) and subscribes orders / positions / account
  when the login ack arrives (a ``SendFrame`` out of ``feed``: OKX refuses private subscriptions sent
  before the login is confirmed). Fills come from the orders channel. The private stream is quiet when
  idle, so its liveness is the keep-alive, not a data timer. With ``klines``, ``/ws/v5/business`` (stream
  ``business``) carries ``candle<bar>`` per instrument (OKX serves candles only there); candles only move
  with trades, so that stream too is kept by the keep-alive, not a data timer.
- Keep-alive: the literal text ``ping`` every ``ping_interval_s`` (< 30 s, the server's idle limit),
  answered by ``pong``; plus the WS protocol heartbeat on the private stream to notice a dead socket.
- Books: OKX sends a snapshot on subscribe, so ``snapshot_request`` is None; a gap, bad checksum or crossed
  book (NeedResubscribe from the codec) is answered by unsubscribe + subscribe of that book.
- Sizes are contracts (Instrument.contract_size = ctVal from /api/v5/public/instruments); the router
  already sends venue units.
- Rate limits: one bucket per endpoint, counted per request per 2 s (rest.RATE_LIMITS), plus the
  sub-account cap of 1000 order requests / 2 s. OKX sends no usage headers; its 50011 (in a 200 or a
  429) pauses the venue through the actor. Every response goes through ``rest.check_response`` so errors
  hidden in HTTP 200 bodies reach the actor's retry / clock-resync / ban handling.
- Placing: OKX's ack carries ids only. ``parse_place`` returns SUBMITTED with the order's own fields
  (``rest.order_accepted``), unless the private stream already delivered a later state of that very order
  (the push often overtakes the REST answer): then that state is returned, so the bus never sees an
  order step back from FILLED to SUBMITTED. Cancelling: the ack only means OKX accepted the cancel;
  ``parse_cancel`` returns None and the CANCELLED update (with the fill quantity at cancel time) comes on
  the orders channel; a QueryOrder confirms it.
- Demo trading (``demo=True``, daemon ``testnet = true``): REST stays on www.okx.com but every request carries
  ``x-simulated-trading: 1`` (signed ones through ``rest``'s ``demo`` flag, public ones added here); the
  WebSockets move to ``wspap.okx.com:8443`` (``TESTNET_ENDPOINTS``). Demo API keys only work there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import msgspec

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
)
from venues.errors import ConfigError, DecodeError
from venues.events import CodecEvent, LoggedIn, SendFrame, Subscribed
from venues.http import RequestSpec, Response
from venues.okx import codes, frames, parse, rest
from venues.okx.codec import OkxCodec
from venues.okx.frames import Channel, SubscriptionArg
from venues.symbols import InstrumentRegistry

__all__ = ["OkxAdapter", "LIVE_ENDPOINTS", "TESTNET_ENDPOINTS", "DEMO_HEADER", "okx_bar"]

LIVE_ENDPOINTS = Endpoints(
    rest="https://www.okx.com",
    ws={
        "public": "wss://ws.okx.com:8443/ws/v5/public",
        "private": "wss://ws.okx.com:8443/ws/v5/private",
        "business": "wss://ws.okx.com:8443/ws/v5/business",
    },
)

# OKX demo trading ("Demo Trading Services" in the v5 API overview, linked from okx.com/okx-api): the REST host
# is the production one plus the ``x-simulated-trading: 1`` header; WebSockets on wspap.okx.com:8443. Also
# ccxt-rs okx/endpoint_router.rs and nautilus_okx OKX_WS_DEMO_*_URL.
TESTNET_ENDPOINTS = Endpoints(
    rest="https://www.okx.com",
    ws={
        "public": "wss://wspap.okx.com:8443/ws/v5/public",
        "private": "wss://wspap.okx.com:8443/ws/v5/private",
        "business": "wss://wspap.okx.com:8443/ws/v5/business",
    },
)
DEMO_HEADER = ("x-simulated-trading", "1")

_SUBSCRIBE_BATCH = 50  # args per subscribe frame (each frame is one of 480 ops / connection / hour)
_RECENT_ORDERS = 4096  # private-stream order states remembered for parse_place
_UNIFIED_UNITS = {"h": "H", "d": "Dutc", "w": "Wutc", "M": "Mutc"}  # m (minutes) is spelled the same


def okx_bar(interval: str) -> str:
    """A unified interval ("1m", "1h", "1d") -> OKX's bar ("1m", "1H", "1Dutc"); an OKX bar ("1H", "1D",
    "6Hutc") is kept as given. Days, weeks, months and 6 h / 12 h take OKX's UTC-aligned bar (the plain ones
    align to Hong Kong time), so candles open when they do on the other venues.

    Raises:
        ConfigError: not an interval OKX offers.
    """
    count, unit = interval[:-1], interval[-1:]
    bar = interval
    if count.isdigit() and unit in _UNIFIED_UNITS:
        bar = count + _UNIFIED_UNITS[unit] + ("utc" if interval in ("6h", "12h") else "")
    try:
        parse.interval_close_ms(bar, 0)
    except DecodeError:
        msg = f"expected an OKX candle interval such as 1m, 5m, 1h, 1d (or an OKX bar such as 1H, 1Dutc), got {interval!r}"
        raise ConfigError(msg) from None
    return bar


class OkxAdapter:
    venue = Venue.OKX
    keepalive_interval_s = 3600.0  # nothing to extend on OKX (no listenKey)

    def __init__(
        self,
        registry: InstrumentRegistry,
        endpoints: Endpoints = LIVE_ENDPOINTS,
        *,
        stale_after_s: float = 1.0,
        ping_interval_s: float = 20.0,
        private_heartbeat_s: float = 20.0,
        trades: bool = True,
        inst_type: str = "SWAP",
        td_mode: str = "cross",
        klines: Sequence[str] = (),
        emit_deltas: bool = False,
        demo: bool = False,
    ) -> None:
        """
        Args:
            klines: candle intervals ("1m", "5m", "1h", "1d", or OKX bars such as "1H") subscribed per
                instrument on the ``business`` stream (``okx_bar`` maps them).
            emit_deltas: the codec also returns BookSnapshot / BookDelta messages (``md.delta.okx.*``).
            demo: OKX demo trading: every REST request carries ``x-simulated-trading: 1`` (use with
                ``TESTNET_ENDPOINTS`` and demo-trading API keys).

        Raises:
            ConfigError: an interval OKX does not offer.
        """
        self.endpoints = endpoints
        self.registry = registry
        self.codec = OkxCodec(registry, emit_deltas=emit_deltas)
        self._bars = tuple(dict.fromkeys(okx_bar(i) for i in klines))
        self._stale = stale_after_s
        self._ping = ping_interval_s
        self._heartbeat = private_heartbeat_s
        self._trades = trades
        self._inst_type = inst_type
        self._td_mode = td_mode
        self.demo = demo
        self._tracked: list[InstrumentId] = []
        self._login_sent = False  # on the current private connection
        self.private_channels: set[str] = set()  # acked on the current private connection
        self._recent: OrderedDict[ClientOrderId, OrderUpdate] = OrderedDict()

    # -- hot path ----------------------------------------------------------------------------------
    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        out = self.codec.feed(frame.encode() if isinstance(frame, str) else frame, ts_recv)  # aiohttp: str
        if stream == "private" and out:
            self._on_private(out)
        return out

    def _on_private(self, out: list[Message | CodecEvent]) -> None:
        extra: list[Message | CodecEvent] = []
        recent = self._recent
        for o in out:
            if type(o) is OrderUpdate:
                if o.client_order_id is not None:
                    recent[o.client_order_id] = o
                    recent.move_to_end(o.client_order_id)
                    if len(recent) > _RECENT_ORDERS:
                        recent.popitem(last=False)
            elif type(o) is LoggedIn:
                extra.append(SendFrame(frame=frames.subscribe(self._private_args())))
            elif type(o) is Subscribed:
                self.private_channels.update(o.channels)
        out.extend(extra)

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
        if stream == "public":
            return list(self.codec.reset(ts_recv))
        if stream == "private":
            self._login_sent = False
            self.private_channels.clear()
        return []

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]:
        # OKX counts in fixed windows; aiolimiter is a leaky bucket, whose burst plus refill could put up to 1.5x
        # the limit into one window. Half the limit per window keeps every window under it.
        buckets = [
            Bucket(name=endpoint, capacity=max(1, lim.requests // 2), period_s=lim.per_s, per_request=True)
            for endpoint, lim in rest.RATE_LIMITS.items()
        ]
        buckets.append(Bucket(name="default", capacity=5, period_s=2.0, per_request=True))
        buckets.append(Bucket(name="orders_subaccount", capacity=500, period_s=2.0, per_request=True))  # 50061
        return buckets, {"trade/order": ("trade/order", "orders_subaccount")}

    def observe_headers(self, headers: dict[str, str], limiter: VenueLimiter) -> None:
        return None  # OKX documents no usage header; 50011 / Retry-After arrive as errors

    def _public(self, spec: RequestSpec) -> RequestSpec:
        """A public request, with the demo-trading header in demo mode."""
        if not self.demo:
            return spec
        return msgspec.structs.replace(spec, headers={**spec.headers, DEMO_HEADER[0]: DEMO_HEADER[1]})

    def server_time_request(self) -> RequestSpec:
        return self._public(rest.server_time())

    def parse_server_time(self, response: Response) -> int:
        return rest.parse_server_time(response)

    def instruments_requests(self) -> list[RequestSpec]:
        return [self._public(rest.instruments(self._inst_type))]

    def parse_instruments(self, response: Response) -> list[Instrument]:
        return rest.parse_instruments(response)

    def raise_for_error(self, response: Response) -> None:
        rest.check_response(response)

    # -- streams -----------------------------------------------------------------------------------
    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        return missing_market_data(trades, self._trades, klines, self._bars, okx_bar)

    def streams(self, has_credentials: bool) -> list[StreamSpec]:
        out = [StreamSpec(name="public", stale_after_s=self._stale, ping_interval_s=self._ping, control_rate_per_s=4.0)]
        if has_credentials:
            out.append(StreamSpec(name="private", private=True, ping_interval_s=self._ping,
                                  protocol_heartbeat_s=self._heartbeat, control_rate_per_s=4.0))
        if self._bars:
            out.append(StreamSpec(name="business", ping_interval_s=self._ping, control_rate_per_s=4.0))
        return out

    async def stream_url(self, stream: str, ctx: VenueContext) -> str:
        return self.endpoints.ws[stream]

    async def on_connected(self, stream: str, ctx: VenueContext, instruments: Sequence[InstrumentId]) -> None:
        if stream == "public":
            for inst in instruments:
                if inst not in self._tracked:
                    self._tracked.append(inst)
            args: list[SubscriptionArg] = []
            for inst in instruments:
                args.append(self._books_arg(inst))
                if self._trades:
                    args.append(SubscriptionArg(channel=Channel.TRADES, instId=self._inst(inst).venue_symbol))
            for i in range(0, len(args), _SUBSCRIBE_BATCH):
                await ctx.send(stream, frames.subscribe(args[i : i + _SUBSCRIBE_BATCH]))
        elif stream == "business" and instruments:
            args = [SubscriptionArg(channel=frames.candle_channel(bar), instId=self._inst(inst).venue_symbol)
                    for inst in instruments for bar in self._bars]
            for i in range(0, len(args), _SUBSCRIBE_BATCH):
                await ctx.send(stream, frames.subscribe(args[i : i + _SUBSCRIBE_BATCH]))
        elif stream == "private" and not self._login_sent and ctx.credentials is not None:
            # Subscriptions follow the login ack (see _on_private); a later SubscribeMarketData does not
            # log in again on a connection that already did.
            self._login_sent = True
            await ctx.send(stream, frames.login(ctx.credentials, ctx.now_ms() // 1000))

    def _private_args(self) -> list[SubscriptionArg]:
        return [
            SubscriptionArg(channel=Channel.ORDERS, instType=self._inst_type),
            SubscriptionArg(channel=Channel.POSITIONS, instType=self._inst_type),
            SubscriptionArg(channel=Channel.ACCOUNT),
        ]

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return frames.PING

    async def keepalive(self, ctx: VenueContext) -> None:
        return None

    # -- books -------------------------------------------------------------------------------------
    def _books_arg(self, instrument: InstrumentId) -> SubscriptionArg:
        return SubscriptionArg(channel=Channel.BOOKS, instId=self._inst(instrument).venue_symbol)

    def snapshot_request(self, instrument: InstrumentId) -> RequestSpec | None:
        return None  # OKX sends a snapshot on (re)subscribe

    def apply_snapshot(self, instrument: InstrumentId, response: Response, ts_recv: int) -> list[Message | CodecEvent]:
        return []

    def resubscribe_frames(self, instrument: InstrumentId) -> list[tuple[str, bytes]]:
        unsub, sub = frames.resubscribe([self._books_arg(instrument)])
        return [("public", unsub), ("public", sub)]

    # -- trading and account -----------------------------------------------------------------------
    def _inst(self, instrument: InstrumentId) -> Instrument:
        return self.registry.get(self.venue, instrument)

    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.place_order(order, self._inst(order.instrument), ctx.credentials, ctx.now_ms(), td_mode=self._td_mode,
                               demo=self.demo)

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        ack = rest.parse_order_ack(response)
        seen = self._recent.get(order.client_order_id)
        if seen is not None and seen.venue_order_id == ack.venue_order_id:
            return seen  # the orders channel was faster than the REST answer: its state is newer
        return rest.order_accepted(order, ack, ts_recv)

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.cancel_order(cmd, self._inst(cmd.instrument), ctx.credentials, ctx.now_ms(), demo=self.demo)

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        rest.parse_order_ack(response)  # raises UnknownOrder (51400...) and other typed errors
        return None  # the CANCELLED state arrives on the orders channel

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.query_order(cmd, self._inst(cmd.instrument), ctx.credentials, ctx.now_ms(), demo=self.demo)

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate:
        return rest.parse_order(response, cmd.instrument, ts_recv)

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        symbol = self._inst(instrument).venue_symbol if instrument is not None else ""
        return [rest.open_orders(ctx.credentials, ctx.now_ms(), self._inst_type, symbol, demo=self.demo)]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return rest.parse_open_orders(response, self.registry, ts_recv)

    def balances(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [rest.balances(ctx.credentials, ctx.now_ms(), demo=self.demo)]

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]:
        return rest.parse_balances(response, ts_recv)

    def positions(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [rest.positions(ctx.credentials, ctx.now_ms(), self._inst_type, demo=self.demo)]

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]:
        return rest.parse_positions(response, self.registry, ts_recv)

    def make_client_order_id(self, seed: str) -> str:
        return codes.make_client_order_id(seed)
