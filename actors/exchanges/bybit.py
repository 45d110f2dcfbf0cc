"""Bybit v5 (linear) wiring: endpoints, streams, login, keep-alive, rate buckets. No logic of its own beyond
joining venues/bybit to the ExchangeActor.

Rules:
- Streams: ``public`` (``/v5/public/linear``: ``orderbook.{depth}.{symbol}``, ``publicTrade.{symbol}``
  unless ``trades=False``, with ``klines`` also ``kline.{interval}.{symbol}`` in Bybit's interval names: 1, 5, 60, D, ...; liveness on data,
  ``stale_after_s``) and, with credentials, ``private`` (``/v5/private``: ``auth`` in ``on_connected``,
  then ``order``, ``execution``, ``position``, ``wallet``). Both send ``{"op":"ping"}`` every 20 s
  (``ping_frame``; the send time rides in ``req_id`` so the pong gives a round trip). The private stream
  has no data when idle: its liveness is the venue's keep-alive, checked in ``keepalive``: no frame at
  all (pong, ack or data) for ``private_stale_after_s`` and it is replaced.
- Books: the venue sends a snapshot on subscribe (``snapshot_request`` is None); a gap or a crossed book
  (NeedResubscribe) is answered with the codec's unsubscribe + subscribe frames.
- Rate limits: per-IP 600 requests / 5 s (bucket ``default``, every request) and per-UID per-endpoint per
  second (``rest.UID_LIMITS_PER_S``, one bucket per endpoint). ``X-Bapi-Limit`` / ``X-Bapi-Limit-Status``
  name a limit and what is left of it, not the endpoint: the header is matched to the bucket of the
  endpoint whose request was built last with that limit, and only ever raises that bucket's level (a
  mismatch costs at most a second of pacing, never a breach).
- A 403 "access too frequent" is an IP ban with no end time in it: requests pause for ``ip_ban_s`` (Bybit
  documents at least 10 minutes; the default).
- Orders: create and cancel answer with ids only. ``parse_place`` returns the freshest state we hold: the
  private stream's update of that client order id when it already came (a market order's fill usually
  does: the venue pushes before it answers), else SUBMITTED with the order's own fields
  (``rest.parse_place_ack``). ``parse_cancel`` joins the ack to the last known state of the order
  (``rest.parse_cancel_ack``): CANCELLED, or the private stream's terminal update; None for an order this
  process never saw. The private ``order`` topic always follows with the venue's own numbers.
"""

from __future__ import annotations

import time
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
from venues.bybit import codes, frames, rest
from venues.bybit.codec import BybitCodec
from venues.events import CodecEvent
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

__all__ = ["BybitAdapter", "LIVE_ENDPOINTS", "TESTNET_ENDPOINTS"]

LIVE_ENDPOINTS = Endpoints(
    rest="https://api.bybit.com",
    ws={
        "public": "wss://stream.bybit.com/v5/public/linear",
        "private": "wss://stream.bybit.com/v5/private",
    },
)

# Bybit v5 testnet: same paths on the -testnet hosts (Bybit v5 docs "Integration Guidance" / "WebSocket
# Connect" testnet rows; also cryptofeed's sandbox endpoints and bmoscon/cryptofeed#1075 for /v5/private).
TESTNET_ENDPOINTS = Endpoints(
    rest="https://api-testnet.bybit.com",
    ws={
        "public": "wss://stream-testnet.bybit.com/v5/public/linear",
        "private": "wss://stream-testnet.bybit.com/v5/private",
    },
)

_PRIVATE_TOPICS = [str(c) for c in frames.PrivateChannel]  # order, execution, position, wallet
_SUBSCRIBE_CHUNK = 10  # topics per subscribe frame
_KNOWN_ORDERS = 4096  # last states kept for parse_place / parse_cancel


def _kline_wire(interval: str) -> str:
    """A unified ("5m") or Bybit ("5") interval -> Bybit's name; ConfigError for one Bybit does not offer."""
    return interval if interval in codes.KLINE_INTERVALS else codes.kline_interval_to_wire(interval)


class BybitAdapter:
    venue = Venue.BYBIT

    def __init__(
        self,
        registry: InstrumentRegistry,
        endpoints: Endpoints = LIVE_ENDPOINTS,
        *,
        depth: int = 50,
        stale_after_s: float = 1.0,
        ping_interval_s: float = 20.0,
        private_stale_after_s: float = 45.0,
        auth_expires_ms: int = 10_000,
        category: str = "linear",
        settle_coin: str = "USDT",
        contiguous_u: bool = True,
        ip_ban_s: float = rest.IP_BAN_MS / 1000,
        trades: bool = True,
        klines: Sequence[str] = (),
        emit_deltas: bool = False,
    ) -> None:
        """
        Args:
            trades: subscribe ``publicTrade.{symbol}`` per instrument (Trade messages).
            klines: kline intervals ("1m", "5m", "1h", "1d", or Bybit's own "1", "60", "D") subscribed on the
                public stream per instrument.
            emit_deltas: the codec also returns BookSnapshot / BookDelta messages (``md.delta.bybit.*``).

        Raises:
            ConfigError: an interval Bybit does not offer.
        """
        self.endpoints = endpoints
        self.registry = registry
        # Bybit's update ids are "generally continuous": a jump is treated as a gap (one cheap resubscribe).
        self.codec = BybitCodec(registry, depth=depth, category=category, contiguous_u=contiguous_u,
                                emit_deltas=emit_deltas)
        self._klines = tuple(dict.fromkeys(_kline_wire(i) for i in klines))
        self._trades = trades
        self._depth = depth
        self._stale = stale_after_s
        self._ping = ping_interval_s
        self._private_stale = private_stale_after_s
        self._auth_expires_ms = auth_expires_ms
        self._category = category
        self._settle = settle_coin
        self._ip_ban_ms = int(ip_ban_s * 1000)  # an HTTP 403 carries no end: requests pause this long
        self.keepalive_interval_s = min(5.0, ping_interval_s)
        self._tracked: list[InstrumentId] = []
        self._private_session = False  # auth + subscriptions sent on the current private connection
        self._private_seen_ns = 0  # last frame of any kind on the private stream (local ns)
        self._known: OrderedDict[str, OrderUpdate] = OrderedDict()  # client or venue order id -> last state
        self._limit_owner: dict[int, str] = {}  # X-Bapi-Limit value -> endpoint of the last request built with it

    # -- hot path ----------------------------------------------------------------------------------
    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        out = self.codec.feed(frame, ts_recv)
        if stream == "private":
            self._private_seen_ns = ts_recv
            for o in out:
                if type(o) is OrderUpdate:
                    self._remember(o)
        return out

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
            self._private_session = False
        return []

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]:
        ip_count, ip_period = rest.IP_LIMIT
        buckets = [Bucket(name="default", capacity=ip_count, period_s=ip_period)]
        routes: dict[str, tuple[str, ...]] = {}
        for endpoint, per_s in rest.UID_LIMITS_PER_S.items():
            buckets.append(Bucket(name=endpoint.value, capacity=per_s, period_s=1.0, per_request=True))
            routes[endpoint.value] = ("default", endpoint.value)
        return buckets, routes

    def observe_headers(self, headers: dict[str, str], limiter: VenueLimiter) -> None:
        limit, left = headers.get("x-bapi-limit", ""), headers.get("x-bapi-limit-status", "")
        if not (limit.isdigit() and left.isdigit()):
            return
        cap = int(limit)
        bucket = "default" if cap == rest.IP_LIMIT[0] else self._limit_owner.get(cap)
        if bucket is None:
            return
        used = float(max(0, cap - int(left)))
        if used > (1.0 - limiter.headroom(bucket)) * cap:
            limiter.observe_usage(bucket, used)

    def _note(self, spec: RequestSpec) -> RequestSpec:
        per_s = rest.UID_LIMITS_PER_S.get(rest.Endpoint(spec.endpoint)) if spec.endpoint in _UID_PATHS else None
        if per_s is not None:
            self._limit_owner[per_s] = spec.endpoint
        return spec

    def server_time_request(self) -> RequestSpec:
        return rest.server_time()

    def parse_server_time(self, response: Response) -> int:
        return rest.parse_server_time(response, time.time_ns())

    def instruments_requests(self) -> list[RequestSpec]:
        return [rest.instruments(self._category)]

    def parse_instruments(self, response: Response) -> list[Instrument]:
        return rest.parse_instruments(response, time.time_ns())[0]

    def raise_for_error(self, response: Response) -> None:
        rest.check(response, time.time_ns(), ip_ban_ms=self._ip_ban_ms)

    # -- streams -----------------------------------------------------------------------------------
    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        return missing_market_data(trades, self._trades, klines, self._klines, _kline_wire)

    def streams(self, has_credentials: bool) -> list[StreamSpec]:
        out = [StreamSpec(name="public", stale_after_s=self._stale, ping_interval_s=self._ping, control_rate_per_s=10.0)]
        if has_credentials:
            out.append(StreamSpec(name="private", private=True, ping_interval_s=self._ping, control_rate_per_s=10.0))
        return out

    async def stream_url(self, stream: str, ctx: VenueContext) -> str:
        return self.endpoints.ws[stream]

    async def on_connected(self, stream: str, ctx: VenueContext, instruments: Sequence[InstrumentId]) -> None:
        if stream == "public":
            topics = []
            for inst in instruments:
                if inst not in self._tracked:
                    self._tracked.append(inst)
                topics.append(self.codec.track_book(inst, self._depth))
                symbol = self._inst(inst).venue_symbol
                if self._trades:
                    topics.append(frames.trade_topic(symbol))
                topics.extend(frames.kline_topic(symbol, interval) for interval in self._klines)
            for i in range(0, len(topics), _SUBSCRIBE_CHUNK):
                await ctx.send(stream, frames.subscribe(topics[i : i + _SUBSCRIBE_CHUNK]))
        elif stream == "private" and ctx.credentials is not None and not self._private_session:
            # Called again for a new instrument while connected: the private topics cover every symbol.
            self._private_session = True
            self._private_seen_ns = time.time_ns()
            await ctx.send(stream, frames.auth(ctx.credentials, ctx.now_ms() + self._auth_expires_ms))
            await ctx.send(stream, frames.subscribe(_PRIVATE_TOPICS))

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return frames.ping(str(ts_ns))

    async def keepalive(self, ctx: VenueContext) -> None:
        if not self._private_session or self._private_seen_ns == 0:
            return
        idle_s = (time.time_ns() - self._private_seen_ns) / 1e9
        if idle_s > self._private_stale:
            self._private_seen_ns = time.time_ns()  # one reconnect per silence
            await ctx.reconnect("private", f"no pong or data on private for {idle_s:.1f} s (limit {self._private_stale} s)")

    # -- books -------------------------------------------------------------------------------------
    def snapshot_request(self, instrument: InstrumentId) -> RequestSpec | None:
        return None

    def apply_snapshot(self, instrument: InstrumentId, response: Response, ts_recv: int) -> list[Message | CodecEvent]:
        return []

    def resubscribe_frames(self, instrument: InstrumentId) -> list[tuple[str, bytes]]:
        return [("public", f) for f in self.codec.resubscribe(instrument)]

    # -- trading and account -----------------------------------------------------------------------
    def _inst(self, instrument: InstrumentId) -> Instrument:
        return self.registry.get(self.venue, instrument)

    def _remember(self, upd: OrderUpdate) -> None:
        known = self._known
        for key in (upd.client_order_id, upd.venue_order_id):
            if key:
                known[key] = upd
                known.move_to_end(key)
        while len(known) > _KNOWN_ORDERS:
            known.popitem(last=False)

    def _lookup(self, cid: ClientOrderId | None, oid: VenueOrderId | None) -> OrderUpdate | None:
        return (self._known.get(cid) if cid else None) or (self._known.get(oid) if oid else None)

    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return self._note(rest.place_order(ctx.credentials, ctx.now_ms(), order, self._inst(order.instrument)))

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        ack = rest.parse_place_ack(response, order, self._inst(order.instrument), ts_recv)
        pushed = self._lookup(ack.client_order_id, ack.venue_order_id)
        if pushed is not None and pushed.venue_order_id == ack.venue_order_id:
            return pushed
        self._remember(ack)
        return ack

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return self._note(rest.cancel_order(ctx.credentials, ctx.now_ms(), self._inst(cmd.instrument),
                                            venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id))

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        upd = rest.parse_cancel_ack(response, self._lookup(cmd.client_order_id, cmd.venue_order_id), ts_recv)
        if upd is not None:
            self._remember(upd)
        return upd

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return self._note(rest.query_order(ctx.credentials, ctx.now_ms(), self._inst(cmd.instrument),
                                           venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id))

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate:
        upd = rest.parse_query_order(response, self.registry, ts_recv)
        self._remember(upd)
        return upd

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        symbol = self._inst(instrument).venue_symbol if instrument is not None else ""
        return [self._note(rest.open_orders(ctx.credentials, ctx.now_ms(), symbol, self._settle, self._category))]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return rest.parse_open_orders(response, self.registry, ts_recv)[0]

    def balances(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [self._note(rest.wallet_balance(ctx.credentials, ctx.now_ms()))]

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]:
        return rest.parse_wallet_balance(response, ts_recv)

    def positions(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [self._note(rest.positions(ctx.credentials, ctx.now_ms(), settle_coin=self._settle,
                                          category=self._category, limit=200))]

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]:
        return rest.parse_positions(response, self.registry, ts_recv)[0]

    def make_client_order_id(self, seed: str) -> str:
        return codes.make_client_order_id(seed)


_UID_PATHS = frozenset(e.value for e in rest.UID_LIMITS_PER_S)
