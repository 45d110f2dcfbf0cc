"""Binance USD-M futures wiring: endpoints, REST weights and the request builders, joined to the sans-IO
session (venues/binance/session.py: streams, listenKey lifecycle, depth bootstraps, position mode, balance
reads). No logic of its own.

Streams on the current USD-M routing (venues/binance/frames.py ROUTES): ``/public/ws`` (depth),
``/market/ws`` (aggTrade and, with ``klines``, ``<sym>@kline_<interval>``), ``/private/ws?listenKey=``
(user data).

Orders carry the position side of the account's mode as the session last read it (``ctx.position_mode``);
a -4061 answer ("position side does not match user's setting") is handed to the session, which reads the
mode again (venues/binance/rest.py and session.py state the rules).

Testnet (``TESTNET_ENDPOINTS``, daemon ``testnet = true``): REST ``https://testnet.binancefuture.com``, streams
on ``wss://stream.binancefuture.com`` with the LEGACY paths only: ``/ws`` (every market stream on one path) and
``/ws/<listenKey>`` (user data). The /public /market /private split is a production change (2026-03-06 notice;
client libraries kept legacy URLs for the test environments: ccxt/node-binance-api#985 "Demo/test environments
keep legacy URLs", ccxt/ccxt#28091 "Only affects USD-M production"; testnet stream host per
binance-rs-async#114 / dev.binance.vision and cryptofeed's ``sandbox='wss://stream.binancefuture.com'``).
``ws_routing="legacy"`` builds those URLs; the daemon passes it with the testnet endpoints.

Preflight reads (the doctor): ``key_permissions`` is GET /fapi/v1/accountConfig (``canTrade``,
``canWithdraw``: the account's; the USD-M host says nothing of the key's own permissions or IP restriction,
so ``ip_restricted`` is None), ``instrument_settings`` GET /fapi/v1/symbolConfig (``marginType``,
``leverage``), ``disarm_switch`` one ``countdownCancelAll`` with ``countdownTime=0`` per subscribed symbol.

Dead-man's switch (``dead_mans_switch_s``, 0 = off, else 2 s .. 24 h): the session keeps one
``POST /fapi/v1/countdownCancelAll`` per traded symbol running and sends it again every third of the window
(venues/binance/session.py). Each call weighs 10 on the IP budget (the ``default`` bucket, 2400 a minute),
so the switch costs 1800 / window_s weight a minute per symbol (900 at 2 s, 180 at 10 s, 15 at 120 s, the
venue's own example): keep windows short only for few symbols. The venue checks countdowns about every
10 ms and advises against tiny values; 2 s leaves room for a heartbeat that is a round trip late. An order
goes out only while the switch is armed (the actor checks) and its symbol's countdown is confirmed
(``place_order`` checks): a symbol never subscribed has none, so nothing would cancel its orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Unpack

from actors.exchanges.adapter import AdapterBase, CommonOptions, Endpoints, VenueContext
from actors.ratelimit import Bucket, VenueLimiter
from messages.account import Balance, Position
from messages.base import InstrumentId, Venue
from messages.instruments import Instrument
from messages.orders import CancelOrder, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.binance import codes, rest
from venues.binance.codec import BinanceCodec
from venues.binance.session import BinanceSession, SessionOptions
from venues.errors import ConfigError, SwitchNotArmed, VenueReject
from venues.facts import InstrumentFacts, KeyFacts
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
_POSITION_SIDE_MISMATCH = "-4061"  # "Order's position side does not match user's setting."
SWITCH_MIN_S = 2.0
"""Shortest dead-man's switch window: the venue advises against tiny countdowns, and a heartbeat every
third of it must survive a late round trip."""
SWITCH_MAX_S = 86_400.0
"""Longest window (24 h): past that the switch protects nothing a restart would not."""


def _binance_interval(interval: str) -> str:
    """``interval`` if Binance offers it (its names are the unified ones).

    Raises:
        ConfigError: an interval Binance does not offer.
    """
    if interval not in KLINE_INTERVALS:
        msg = f"expected one of {', '.join(KLINE_INTERVALS)} for a Binance kline interval, got {interval!r}"
        raise ConfigError(msg)
    return interval


class BinanceAdapter(AdapterBase[BinanceCodec], venue=Venue.BINANCE, switch_off_by_api=True):
    def __init__(self, registry: InstrumentRegistry, endpoints: Endpoints = LIVE_ENDPOINTS, *,
                 depth_speed_ms: int = 100, snapshot_limit: int = 1000, ws_routing: str = "routed",
                 balance_refresh_s: float = 1.0, **common: Unpack[CommonOptions]) -> None:
        """
        Args:
            ws_routing: "routed" (production): each stream's base is a routed path (``.../public``,
                ``.../market``, ``.../private``) and the URL is ``<base>/ws`` or ``<base>/ws?listenKey=<key>``.
                "legacy" (testnet): the base is the bare host and the URL is ``<base>/ws`` or
                ``<base>/ws/<listenKey>``.
            balance_refresh_s: after an ACCOUNT_UPDATE, wait this long and read GET /fapi/v3/balance once
                (the event carries no free margin; a burst of fills costs one read).
            common: ``CommonOptions``. ``klines``: intervals ("1m", "5m", "1h", ...) subscribed on the market
                stream per instrument. ``dead_mans_switch_s``: countdownCancelAll window per traded symbol (0:
                off; else SWITCH_MIN_S .. SWITCH_MAX_S, whole milliseconds are sent). Needs credentials; without
                them there is no switch.

        Raises:
            ConfigError: an interval Binance does not offer, an unknown ``ws_routing``, or a dead-man's switch
                window outside 0 or 2 s .. 24 h.
        """
        if ws_routing not in WS_ROUTINGS:
            msg = f"expected one of {', '.join(WS_ROUTINGS)} for Binance ws_routing, got {ws_routing!r}"
            raise ConfigError(msg)
        super().__init__(registry, endpoints, BinanceCodec, wire=_binance_interval, **common)
        dead_mans_switch_s = self._dead_mans_switch_s
        if dead_mans_switch_s != 0 and not SWITCH_MIN_S <= dead_mans_switch_s <= SWITCH_MAX_S:
            msg = (f"expected 0 (off) or {SWITCH_MIN_S:g}..{SWITCH_MAX_S:g} s for the binance dead_mans_switch_s "
                   f"(countdownCancelAll window), got {dead_mans_switch_s!r}")
            raise ConfigError(msg)
        self.ws_routing = ws_routing
        self._options = SessionOptions(dict(endpoints.ws), ws_routing=ws_routing, depth_speed_ms=depth_speed_ms,
                                       stale_after_s=self._stale_after_s, snapshot_limit=snapshot_limit,
                                       trades=self._trades, klines=self._klines, balance_refresh_s=balance_refresh_s,
                                       dead_mans_switch_s=dead_mans_switch_s)
        self._session: BinanceSession | None = None

    def session(self, credentials: Credentials | None, nonce: Callable[[], str]) -> BinanceSession:
        """A new session; the adapter keeps it only to tell it of a -4061 answer (``raise_for_error``)."""
        self._session = BinanceSession(self.codec, self.registry, self._options, credentials)
        return self._session

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
        try:
            rest.raise_for_error(response)
        except VenueReject as exc:
            if exc.code == _POSITION_SIDE_MISMATCH and self._session is not None:
                self._session.position_side_refused(exc.text)
            raise

    # -- trading and account -----------------------------------------------------------------------
    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        """The placement's request.

        Raises:
            SwitchNotArmed: a dead-man's switch is configured and the order's symbol has no confirmed
                countdown (nothing would cancel the order if we died): nothing is sent.
        """
        assert ctx.credentials is not None
        inst = self._inst(order.instrument)
        if self._session is not None and not self._session.switch_covers(inst.venue_symbol):
            msg = (f"binance: dead-man's switch has no countdown confirmed for {inst.venue_symbol} (only "
                   f"subscribed instruments get one); {order.client_order_id} not sent")
            raise SwitchNotArmed(msg)
        return rest.place_order(order, inst, ctx.credentials, ctx.now_ms(), mode=ctx.position_mode)

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

    # -- preflight (the doctor) ----------------------------------------------------------------------
    def key_permissions(self, ctx: VenueContext) -> RequestSpec | None:
        """GET /fapi/v1/accountConfig: the account's ``canTrade`` / ``canWithdraw`` (the USD-M host lists
        nothing about the key itself, neither its permissions nor its IP restriction)."""
        assert ctx.credentials is not None
        return rest.account_config(ctx.credentials, ctx.now_ms())

    def parse_key_permissions(self, response: Response) -> KeyFacts:
        return rest.parse_account_config(response)

    def instrument_settings(self, instrument: InstrumentId, ctx: VenueContext) -> list[RequestSpec]:
        """GET /fapi/v1/symbolConfig?symbol=: the symbol's margin type and leverage."""
        assert ctx.credentials is not None
        return [rest.symbol_config(self._inst(instrument).venue_symbol, ctx.credentials, ctx.now_ms())]

    def parse_instrument_settings(self, instrument: InstrumentId, responses: Sequence[Response]) -> InstrumentFacts:
        return rest.parse_symbol_config(responses[0], self._inst(instrument).venue_symbol)

    def disarm_switch(self, ctx: VenueContext) -> list[RequestSpec] | None:
        """``countdownCancelAll`` with ``countdownTime=0`` ("0 stops the countdown") for every traded
        (subscribed) symbol of the session; empty when nothing was subscribed (no countdown was set)."""
        assert ctx.credentials is not None
        instruments = self._session.instruments if self._session is not None else []
        symbols = dict.fromkeys(self._inst(i).venue_symbol for i in instruments)
        return [rest.countdown_cancel_all(symbol, 0, ctx.credentials, ctx.now_ms()) for symbol in symbols]

