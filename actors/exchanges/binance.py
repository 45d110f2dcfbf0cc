"""Binance USD-M futures wiring: endpoints, streams, listenKey keep-alive, REST weights. No logic of its own
beyond joining venues/binance to the ExchangeActor.

Streams on the current USD-M routing: ``/public/ws`` (depth), ``/market/ws`` (aggTrade and, with
``klines``, ``<sym>@kline_<interval>``), ``/private/ws?listenKey=`` (user data). The server pings every
3 minutes (answered by aiohttp); the private stream has no data when idle, so its liveness is a protocol
heartbeat, not a data timer.

Testnet (``TESTNET_ENDPOINTS``, daemon ``testnet = true``): REST ``https://testnet.binancefuture.com``, streams
on ``wss://stream.binancefuture.com`` with the LEGACY paths only: ``/ws`` (every market stream on one path) and
``/ws/<listenKey>`` (user data). The /public /market /private split is a production change (2026-03-06 notice;
client libraries kept legacy URLs for the test environments: ccxt/node-binance-api#985 "Demo/test environments
keep legacy URLs", ccxt/ccxt#28091 "Only affects USD-M production"; testnet stream host per
binance-rs-async#114 / dev.binance.vision and cryptofeed's ``sandbox='wss://stream.binancefuture.com'``).
``ws_routing="legacy"`` builds those URLs; the daemon passes it with the testnet endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.exchanges.adapter import Endpoints, StreamSpec, VenueContext, missing_market_data
from actors.ratelimit import Bucket, VenueLimiter
from messages import (
    Balance,
    BookState,
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
from venues.binance import codes, frames, rest
from venues.binance.codec import BinanceCodec
from venues.errors import ConfigError, VenueReject
from venues.events import CodecEvent
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

__all__ = ["BinanceAdapter", "LIVE_ENDPOINTS", "TESTNET_ENDPOINTS", "TESTNET_WS_ROUTING", "KLINE_INTERVALS"]

KLINE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
"""USD-M ``@kline_<interval>`` intervals (also the unified names every adapter takes)."""

LIVE_ENDPOINTS = Endpoints(
    rest="https://fapi.binance.com",
    ws={
        "public": "wss://fstream.binance.com/public",
        "market": "wss://fstream.binance.com/market",
        "private": "wss://fstream.binance.com/private",
    },
)
# USD-M futures testnet (see the module docstring for sources). Same ws keys as LIVE_ENDPOINTS; on the
# testnet all three are one host, reached with ``ws_routing="legacy"`` (/ws and /ws/<listenKey>).
TESTNET_ENDPOINTS = Endpoints(
    rest="https://testnet.binancefuture.com",
    ws={
        "public": "wss://stream.binancefuture.com",
        "market": "wss://stream.binancefuture.com",
        "private": "wss://stream.binancefuture.com",
    },
)
TESTNET_WS_ROUTING = "legacy"
"""The ``ws_routing`` the testnet needs (it has no /public /market /private routes)."""
WS_ROUTINGS = ("routed", "legacy")
_SUBSCRIBE_CHUNK = 50  # stream names per SUBSCRIBE frame


def _binance_interval(interval: str) -> str:
    """``interval`` if Binance offers it (its names are the unified ones).

    Raises:
        ConfigError: an interval Binance does not offer.
    """
    if interval not in KLINE_INTERVALS:
        msg = f"expected one of {', '.join(KLINE_INTERVALS)} for a Binance kline interval, got {interval!r}"
        raise ConfigError(msg)
    return interval


class BinanceAdapter:
    venue = Venue.BINANCE
    keepalive_interval_s = 30 * 60.0  # listenKeys live 60 min; extend every 30

    def __init__(
        self,
        registry: InstrumentRegistry,
        endpoints: Endpoints = LIVE_ENDPOINTS,
        *,
        depth_speed_ms: int = 100,
        stale_after_s: float = 1.0,
        snapshot_limit: int = 1000,
        trades: bool = True,
        klines: Sequence[str] = (),
        emit_deltas: bool = False,
        ws_routing: str = "routed",
    ) -> None:
        """
        Args:
            ws_routing: "routed" (production): each stream's base is a routed path (``.../public``,
                ``.../market``, ``.../private``) and the URL is ``<base>/ws`` or ``<base>/ws?listenKey=<key>``.
                "legacy" (testnet): the base is the bare host and the URL is ``<base>/ws`` or
                ``<base>/ws/<listenKey>``.
            klines: kline intervals ("1m", "5m", "1h", ...) subscribed on the market stream per instrument.
            emit_deltas: the codec also returns BookSnapshot / BookDelta messages (``md.delta.binance.*``).

        Raises:
            ConfigError: an interval Binance does not offer, or an unknown ``ws_routing``.
        """
        if ws_routing not in WS_ROUTINGS:
            msg = f"expected one of {', '.join(WS_ROUTINGS)} for Binance ws_routing, got {ws_routing!r}"
            raise ConfigError(msg)
        for interval in klines:
            _binance_interval(interval)
        self.endpoints = endpoints
        self.registry = registry
        self.codec = BinanceCodec(registry, emit_deltas=emit_deltas)
        self._speed = depth_speed_ms
        self._stale = stale_after_s
        self._snapshot_limit = snapshot_limit
        self._trades = trades
        self._klines = tuple(dict.fromkeys(klines))
        self.ws_routing = ws_routing
        self._listen_key: str | None = None
        self._tracked: list[InstrumentId] = []

    # -- hot path ----------------------------------------------------------------------------------
    def feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        return self.codec.feed(frame, ts_recv)

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
        return self.codec.reset(ts_recv) if stream == "public" else []

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]:
        buckets = [
            Bucket(name="default", capacity=2400, period_s=60.0),  # request weight per IP per minute
            Bucket(name="orders10s", capacity=300, period_s=10.0, per_request=True),
            Bucket(name="orders1m", capacity=1200, period_s=60.0, per_request=True),
        ]
        return buckets, {"order": ("default", "orders10s", "orders1m")}

    def observe_headers(self, headers: dict[str, str], limiter: VenueLimiter) -> None:
        for header, bucket in (
            ("x-mbx-used-weight-1m", "default"),
            ("x-mbx-order-count-10s", "orders10s"),
            ("x-mbx-order-count-1m", "orders1m"),
        ):
            raw = headers.get(header)
            if raw is not None and raw.isdigit():
                limiter.observe_usage(bucket, float(raw))

    def server_time_request(self) -> RequestSpec:
        return rest.server_time()

    def parse_server_time(self, response: Response) -> int:
        return rest.parse_server_time(response)

    def instruments_requests(self) -> list[RequestSpec]:
        return [rest.exchange_info()]

    def parse_instruments(self, response: Response) -> list[Instrument]:
        return rest.parse_instruments(response)

    def raise_for_error(self, response: Response) -> None:
        rest.raise_for_error(response)

    # -- streams -----------------------------------------------------------------------------------
    def unsupported_market_data(self, trades: bool, klines: Sequence[str]) -> list[str]:
        return missing_market_data(trades, self._trades, klines, self._klines, _binance_interval)

    def streams(self, has_credentials: bool) -> list[StreamSpec]:
        out = [StreamSpec(name="public", stale_after_s=self._stale, control_rate_per_s=4.0)]
        if self._trades or self._klines:
            out.append(StreamSpec(name="market", control_rate_per_s=4.0))
        if has_credentials:
            out.append(StreamSpec(name="private", private=True, protocol_heartbeat_s=30.0))
        return out

    async def stream_url(self, stream: str, ctx: VenueContext) -> str:
        base = self.endpoints.ws[stream]
        if stream != "private":
            return f"{base}/ws"
        assert ctx.credentials is not None
        resp = await ctx.request(rest.create_listen_key(ctx.credentials))
        self._listen_key = rest.parse_listen_key(resp)
        if self.ws_routing == "legacy":
            return f"{base}/ws/{self._listen_key}"
        return f"{base}/ws?listenKey={self._listen_key}"

    async def on_connected(self, stream: str, ctx: VenueContext, instruments: Sequence[InstrumentId]) -> None:
        if stream == "public":
            for inst in instruments:
                if inst not in self._tracked:
                    self._tracked.append(inst)
            for inst in instruments:
                await ctx.send(stream, self.codec.subscribe_book(inst, self._speed))
        elif stream == "market" and instruments:
            names: list[str] = []
            for inst in instruments:
                symbol = self.registry.get(self.venue, inst).venue_symbol
                if self._trades:
                    names.append(frames.agg_trade_stream(symbol))
                names.extend(frames.kline_stream(symbol, interval) for interval in self._klines)
            for i in range(0, len(names), _SUBSCRIBE_CHUNK):
                await ctx.send(stream, self.codec.subscribe(names[i : i + _SUBSCRIBE_CHUNK]))

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return None

    async def keepalive(self, ctx: VenueContext) -> None:
        if ctx.credentials is None or self._listen_key is None:
            return
        try:
            await ctx.request(rest.keepalive_listen_key(ctx.credentials))
        except VenueReject as exc:
            # -1125: the key is gone; the private stream reconnects and creates a new one.
            await ctx.reconnect("private", f"listenKey keep-alive refused: {exc.code}")

    # -- books -------------------------------------------------------------------------------------
    def snapshot_request(self, instrument: InstrumentId) -> RequestSpec | None:
        return self.codec.depth_request(instrument, self._snapshot_limit)

    def apply_snapshot(self, instrument: InstrumentId, response: Response, ts_recv: int) -> list[Message | CodecEvent]:
        return self.codec.apply_snapshot(instrument, response, ts_recv)

    def resubscribe_frames(self, instrument: InstrumentId) -> list[tuple[str, bytes]]:
        return []

    # -- trading and account -----------------------------------------------------------------------
    def _inst(self, instrument: InstrumentId) -> Instrument:
        return self.registry.get(self.venue, instrument)

    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.place_order(order, self._inst(order.instrument), ctx.credentials, ctx.now_ms())

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        return rest.parse_order(response, ts_recv, self.codec.instrument_id)

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.cancel_order(self._inst(cmd.instrument).venue_symbol, ctx.credentials, ctx.now_ms(),
                                 venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id)

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        return rest.parse_order(response, ts_recv, self.codec.instrument_id)

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return rest.query_order(self._inst(cmd.instrument).venue_symbol, ctx.credentials, ctx.now_ms(),
                                venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id)

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate:
        return rest.parse_order(response, ts_recv, self.codec.instrument_id)

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        symbol = self._inst(instrument).venue_symbol if instrument is not None else None
        return [rest.open_orders(ctx.credentials, ctx.now_ms(), symbol)]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return rest.parse_orders(response, ts_recv, self.codec.instrument_id)

    def balances(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [rest.balances(ctx.credentials, ctx.now_ms())]

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]:
        return rest.parse_balances(response, ts_recv)

    def positions(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [rest.positions(ctx.credentials, ctx.now_ms())]

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]:
        return rest.parse_positions(response, ts_recv, self.codec.instrument_id)

    def make_client_order_id(self, seed: str) -> str:
        return codes.make_client_order_id(seed)

