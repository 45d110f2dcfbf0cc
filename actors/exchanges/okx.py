"""OKX v5 (SWAP) wiring: endpoints, per-endpoint limits and the request builders, joined to the sans-IO
session (venues/okx/session.py: streams, WS login, private subscriptions after the login ack, book bootstraps
over REST, the account's position mode, the order-state memo). No logic of its own beyond the two below that
need what only the adapter sees (instrument states, refused placements).

Rules (OKX docs, /work/shared/PROTOCOLS.md section 3):
- Sizes are contracts (Instrument.contract_size = ctVal from /api/v5/public/instruments); the router
  already sends venue units.
- Rate limits: one bucket per endpoint, counted per request per 2 s (rest.RATE_LIMITS), plus the
  sub-account cap of 1000 order requests / 2 s. OKX sends no usage headers; its 50011 (in a 200 or a
  429) pauses the venue through the actor. Every response goes through ``rest.check_response`` so errors
  hidden in HTTP 200 bodies reach the actor's retry / clock-resync / ban handling.
- Placing: OKX's ack carries ids only. ``parse_place`` returns SUBMITTED with the order's own fields
  (``rest.order_accepted``), unless the private stream already delivered a later state of that very order
  (the push often overtakes the REST answer; the last session made remembers it, ``recent_order``): then
  that state is returned, so the bus never sees an order step back from FILLED to SUBMITTED. Cancelling:
  the ack only means OKX accepted the cancel; ``parse_cancel`` returns None and the CANCELLED update (with
  the fill quantity at cancel time) comes on the orders channel; a QueryOrder confirms it.
- Instruments: OKX trades only ``state: live`` ones (v5 docs, Get instruments). Others (``suspend``,
  ``preopen``, ``test``) are registered, so their market data still flows, but ``Instrument`` has no field
  for tradability: the adapter keeps their states (``not_live``, from the last instruments answer) and
  ``place_order`` refuses an order on one locally with InvalidOrder naming the state; nothing is sent.
- Position mode: ``place_order`` sets ``posSide`` from ``ctx.position_mode`` (the session's, read from the
  account config at start; rest.py has the rules). A placement OKX refuses for its posSide (51000
  "Parameter posSide error", seen in ``raise_for_error``) tells the last session made, which re-reads the
  account config at its next event and publishes the change.
- Dead-man's switch (``dead_mans_switch_s``): OKX's Cancel All After, ``timeOut`` 0 (off) or whole seconds
  10..120 (``rest.cancel_all_after_timeout``: anything else is a ConfigError naming okx and the range). The
  session arms it at start and sends it again every ``dead_mans_switch_refresh_s`` (default a third of the
  window; at least 1 s, OKX's limit of 1 request per second, the ``trade/cancel-all-after`` bucket; at most
  a third of the window). Placements wait for it (SwitchNotArmed) while it is not armed.
- Demo trading (``demo=True``, daemon ``testnet = true``): REST stays on www.okx.com but every request carries
  ``x-simulated-trading: 1`` (signed ones through ``rest``'s ``demo`` flag, public ones added here); the
  WebSockets move to ``wspap.okx.com:8443`` (``TESTNET_ENDPOINTS``). Demo API keys only work there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Unpack
from urllib.parse import parse_qsl

import msgspec

from actors.exchanges.adapter import AdapterBase, CommonOptions, Endpoints, VenueContext
from actors.ratelimit import Bucket, VenueLimiter
from messages.account import Balance, Position
from messages.base import InstrumentId, Venue
from messages.instruments import Instrument
from messages.orders import CancelOrder, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.errors import ConfigError, DecodeError, InvalidOrder, VenueReject
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import RequestSpec, Response
from venues.okx import codes, parse, preflight, rest
from venues.okx.codec import OkxCodec
from venues.okx.session import OkxSession, SessionOptions
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


def _switch_refresh(window: int, refresh_s: float) -> float:
    """How often the switch is sent again: ``refresh_s``, or a third of the window when 0.

    Raises:
        ConfigError: outside 1 s (OKX takes one Cancel All After a second) .. a third of the window (a
            missed refresh must leave time for another before OKX's timer runs out).
    """
    if window == 0 or refresh_s == 0:
        return 0.0
    lo, hi = rest.RATE_LIMITS["trade/cancel-all-after"].per_s, window / 3
    if not lo <= refresh_s <= hi:
        msg = (f"okx dead-man's switch refresh: expected 0 (a third of the window) or {lo:g} to {hi:g} s for a "
               f"{window} s window, got {refresh_s!r}")
        raise ConfigError(msg)
    return refresh_s


class OkxAdapter(AdapterBase[OkxCodec], venue=Venue.OKX, switch_off_by_api=True):
    def __init__(self, registry: InstrumentRegistry, endpoints: Endpoints = LIVE_ENDPOINTS, *,
                 ping_interval_s: float = 20.0, private_heartbeat_s: float = 20.0, inst_type: str = "SWAP",
                 td_mode: str = "cross", demo: bool = False, config_refresh_s: float = 60.0,
                 dead_mans_switch_refresh_s: float = 0.0, **common: Unpack[CommonOptions]) -> None:
        """
        Args:
            demo: OKX demo trading: every REST request carries ``x-simulated-trading: 1`` (use with
                ``TESTNET_ENDPOINTS`` and demo-trading API keys).
            config_refresh_s: how often the session reads the account config (position mode) again.
            dead_mans_switch_refresh_s: how often the switch is sent again (0: a third of the window).
            common: ``CommonOptions``. ``klines``: candle intervals ("1m", "5m", "1h", "1d", or OKX bars such as
                "1H") subscribed per instrument on the ``business`` stream (``okx_bar`` maps them).
                ``dead_mans_switch_s``: OKX Cancel All After window in seconds: 0 (off) or whole seconds from
                10 to 120; with credentials, no order leaves until OKX confirmed it.

        Raises:
            ConfigError: an interval OKX does not offer; a switch window or refresh OKX cannot take.
        """
        super().__init__(registry, endpoints, OkxCodec, wire=okx_bar, **common)
        self._inst_type = inst_type
        self._td_mode = td_mode
        self.demo = demo
        window = rest.cancel_all_after_timeout(self._dead_mans_switch_s)
        refresh = _switch_refresh(window, dead_mans_switch_refresh_s)
        self._options = SessionOptions(dict(endpoints.ws), stale_after_s=self._stale_after_s,
                                       ping_interval_s=ping_interval_s, private_heartbeat_s=private_heartbeat_s,
                                       trades=self._trades, bars=self._klines, inst_type=inst_type,
                                       config_refresh_s=config_refresh_s, demo=demo, dead_mans_switch_s=window,
                                       switch_refresh_s=refresh)
        self._session: OkxSession | None = None  # the last one made: parse_place reads its order-state memo
        self.not_live: dict[InstrumentId, str] = {}  # registered but not tradable: instrument -> OKX state

    def session(self, credentials: Credentials | None, nonce: Callable[[], str]) -> OkxSession:
        """A new session (OKX's login signs a timestamp: no nonce needed)."""
        self._session = OkxSession(self.codec, self.registry, self._options, credentials)
        return self._session

    def tradable(self, instrument: InstrumentId) -> tuple[bool, str]:
        """OKX's ``state`` as last listed: only ``live`` takes orders."""
        state = self.not_live.get(instrument)
        return (True, "live") if state is None else (False, state)

    # -- set-up ------------------------------------------------------------------------------------
    def rate_buckets(self) -> tuple[list[Bucket], dict[str, tuple[str, ...]]]:
        # The limiter's windows slide, so the whole of each documented limit can be used: no span of the
        # period ever holds more than it, whether OKX counts in fixed or rolling windows.
        buckets = [
            Bucket(name=endpoint, capacity=lim.requests, period_s=lim.per_s, per_request=True)
            for endpoint, lim in rest.RATE_LIMITS.items()
        ]
        buckets.append(Bucket(name="default", capacity=5, period_s=2.0, per_request=True))  # unlisted endpoints: the tightest
        buckets.append(Bucket(name="orders_subaccount", capacity=1000, period_s=2.0, per_request=True))  # 50061
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
        """Every listed instrument (to register); the states of those that are not ``live`` are kept."""
        out = []
        for inst, state in rest.parse_instruments(response):
            if state == rest.LIVE_STATE:
                self.not_live.pop(inst.id, None)
            else:
                self.not_live[inst.id] = state or "unknown"
            out.append(inst)
        return out

    def raise_for_error(self, response: Response) -> None:
        try:
            rest.check_response(response)
        except VenueReject as exc:
            if codes.is_position_side_error(exc) and self._session is not None:
                self._session.position_side_refused()
            raise

    # -- trading and account -----------------------------------------------------------------------
    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        """The signed placement, with ``posSide`` by ``ctx.position_mode``.

        Raises:
            InvalidOrder: the instrument is not ``live`` on OKX (refused here, nothing sent), or the order
                itself is invalid (rest.place_order).
        """
        assert ctx.credentials is not None
        state = self.not_live.get(order.instrument)
        if state is not None:
            msg = (f"okx {order.instrument} is {state!r}, not live: OKX trades only live instruments; "
                   f"order {order.client_order_id} refused locally")  # fmt: skip
            raise InvalidOrder(msg)
        return rest.place_order(order, self._inst(order.instrument), ctx.credentials, ctx.now_ms(), td_mode=self._td_mode,
                               demo=self.demo, position_mode=ctx.position_mode)

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        ack = rest.parse_order_ack(response)
        seen = self._session.recent_order(order.client_order_id) if self._session is not None else None
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

    def follow(self, spec: RequestSpec, response: Response, ctx: VenueContext) -> RequestSpec | None:
        """The next page of an open-orders list (orders older than the last one of a full page), else None."""
        if spec.path != "/api/v5/trade/orders-pending" or ctx.credentials is None:
            return None
        after = rest.open_orders_after(response)
        if not after:
            return None
        q = dict(parse_qsl(spec.query))
        return rest.open_orders(ctx.credentials, ctx.now_ms(), q.get("instType", self._inst_type), q.get("instId", ""),
                                demo=self.demo, after=after)

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

    # -- preflight (the doctor; venues/okx/preflight.py has OKX's rules) -----------------------------
    def key_permissions(self, ctx: VenueContext) -> RequestSpec | None:
        """GET /api/v5/account/config: the requesting key's ``perm`` and bound ``ip``."""
        assert ctx.credentials is not None
        return preflight.key_permissions(ctx.credentials, ctx.now_ms(), demo=self.demo)

    def parse_key_permissions(self, response: Response) -> KeyFacts:
        return preflight.parse_key_permissions(response)

    def instrument_settings(self, instrument: InstrumentId, ctx: VenueContext) -> list[RequestSpec]:
        """GET /api/v5/account/leverage-info in the trade mode we place orders with (``td_mode``)."""
        assert ctx.credentials is not None
        return [preflight.leverage_info(ctx.credentials, ctx.now_ms(), self._inst(instrument).venue_symbol,
                                        self._td_mode, demo=self.demo)]

    def parse_instrument_settings(self, instrument: InstrumentId, responses: Sequence[Response]) -> InstrumentFacts:
        return preflight.parse_leverage_info(responses[0], self._inst(instrument).venue_symbol)

    def disarm_switch(self, ctx: VenueContext) -> list[RequestSpec] | None:
        """Cancel All After with ``timeOut`` "0" (OKX then answers ``triggerTime`` "0")."""
        assert ctx.credentials is not None
        return preflight.disarm_switch(ctx.credentials, ctx.now_ms(), demo=self.demo)
