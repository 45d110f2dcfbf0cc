"""Bybit v5 (linear) wiring: endpoints, rate buckets, errors and the request builders, joined to the sans-IO
session (venues/bybit/session.py: streams, login, subscriptions and their retries, book resubscribes, the
private stream's silence check, the known-orders cache, position modes). Its own logic is only what joins
answers to requests: the position side of orders, and what follows an answer (``follow``: a list's next
page, a query's second place to look; below).

Rules:
- Rate limits: per-IP 600 requests / 5 s (bucket ``default``, every request) and per-UID per-endpoint per
  second (``rest.UID_LIMITS_PER_S``, one bucket per endpoint). ``X-Bapi-Limit`` / ``X-Bapi-Limit-Status``
  name a limit and what is left of it, not the endpoint: the header is matched to the bucket of the
  endpoint whose request was built last with that limit, and only ever raises that bucket's level (a
  mismatch costs at most a second of pacing, never a breach).
- A 403 "access too frequent" is an IP ban with no end time in it: requests pause for ``ip_ban_s`` (Bybit
  documents at least 10 minutes; the default).
- Orders: create and cancel answer with ids only. ``parse_place`` returns SUBMITTED with the order's own
  fields (``rest.parse_place_ack``); the private ``order`` topic follows with the venue's own state (a
  market order's fill may even come first: the order router ignores an update that steps back).
  ``parse_cancel`` joins the ack to the last known state of the order (``rest.parse_cancel_ack`` with
  ``KnownOrders``, filled by the session from the private stream and here from answers): CANCELLED, or
  the private stream's terminal update; None for an order this process never saw.
- Position side: every order carries ``positionIdx`` for its symbol's mode (``venues.bybit.modes``): the
  mode ``PositionModes`` holds for the symbol (read and pushed through the session, shown by the rows of a
  GetPositions answer too), one-way for USDC-settled symbols (no hedge mode there), else the account's
  (``ctx.position_mode``). A refusal "position idx not match position mode" (10001) marks the modes stale
  (``PositionModes.recheck``): the session reads them again and publishes the new ``AccountConfig``.
- Queries: ``QueryOrder`` asks ``/v5/order/realtime``; when it has no row, ``follow`` asks
  ``/v5/order/history`` in the same query (after a Bybit restart, closed orders are only there), and
  ``parse_query`` reads the last answer: a row is the order, an empty history answer is ``UnknownOrder``.
  Nothing is remembered between queries.
- Dead-man's switch: ``dead_mans_switch_s`` (whole seconds in [3, 300]; 0, the default, is off) turns on
  Bybit's disconnection protection for DERIVATIVES (venues/bybit/dcp.py): with credentials the session sets
  the window, checks the account's DCP setting and subscribes ``dcp.future`` on the private stream, and
  orders go out only while all three hold (``session.switch`` ARMED, on ``venue.switch.bybit``). Bybit
  enables DCP per account on request: an account without it is REFUSED, with the reason.
- Lists: GetOpenOrders and GetPositions ask each settle coin (``settle_coins``, USDT and USDC), or one
  symbol, at the venue's largest page (50 orders, 200 positions); ``follow`` asks for the next page while an
  answer's ``nextPageCursor`` is not empty (the same request with ``cursor`` set), so each list is read to
  its last page. ``follow`` tells a query from a list by the request alone: its path and whether its query
  string names an order (``orderId`` / ``orderLinkId``).
- Preflight (the doctor, ``venues.bybit.preflight``): the key from ``/v5/user/query-api``; an instrument's
  margin mode from the unified account's ``marginMode`` (``/v5/account/info``) and its leverage from its
  position rows; ``disarm_switch`` is None (DCP has no "off" by API).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Unpack
from urllib.parse import parse_qsl

from actors.exchanges.adapter import AdapterBase, CommonOptions, Endpoints, VenueContext
from actors.ratelimit import Bucket, VenueLimiter
from messages.account import Balance, Position, PositionMode
from messages.base import InstrumentId, Venue
from messages.instruments import Instrument
from messages.orders import CancelOrder, OrderUpdate, PlaceOrder, QueryOrder
from venues import Credentials
from venues.bybit import codes, preflight, rest
from venues.bybit.codec import BybitCodec
from venues.bybit.dcp import check_window
from venues.bybit.modes import ONE_WAY_ONLY_SETTLE, PositionModes, is_idx_mismatch, position_idx
from venues.bybit.session import BybitSession, KnownOrders, SessionOptions
from venues.errors import VenueReject
from venues.facts import InstrumentFacts, KeyFacts
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

_KNOWN_ORDERS = 4096  # last order states kept for parse_cancel


def _kline_wire(interval: str) -> str:
    """A unified ("5m") or Bybit ("5") interval -> Bybit's name; ConfigError for one Bybit does not offer."""
    return interval if interval in codes.KLINE_INTERVALS else codes.kline_interval_to_wire(interval)


# switch_off_by_api=False: DCP has no off by API (see disarm_switch)
class BybitAdapter(AdapterBase[BybitCodec], venue=Venue.BYBIT, switch_off_by_api=False):
    def __init__(self, registry: InstrumentRegistry, endpoints: Endpoints = LIVE_ENDPOINTS, *, depth: int = 50,
                 ping_interval_s: float = 20.0, private_stale_after_s: float = 45.0, auth_expires_ms: int = 10_000,
                 category: str = "linear", settle_coins: Sequence[str] = rest.SETTLE_COINS, contiguous_u: bool = True,
                 ip_ban_s: float = rest.IP_BAN_MS / 1000, retry_base_s: float = 1.0, retry_cap_s: float = 30.0,
                 dcp_recheck_s: float = 10.0, **common: Unpack[CommonOptions]) -> None:
        """
        Args:
            settle_coins: the linear settle coins whose orders and positions are listed and read.
            retry_base_s, retry_cap_s: backoff of a refused subscribe or login (doubling from the base).
            dcp_recheck_s: how long before the account's DCP setting is read again when it does not show our
                window yet (Bybit: "query or set again after 10 seconds").
            common: ``CommonOptions``. ``trades``: ``publicTrade.{symbol}`` per instrument. ``klines``: "1m",
                "5m", "1h", "1d", or Bybit's own "1", "60", "D", subscribed on the public stream per instrument.
                ``dead_mans_switch_s``: Bybit's disconnection protection (DCP) window, whole seconds in [3, 300];
                0 (the default) leaves it off. With credentials, orders go out only while it is armed.

        Raises:
            ConfigError: an interval Bybit does not offer; a DCP window that is not whole seconds in [3, 300].
        """
        # Bybit's update ids are "generally continuous": a jump is treated as a gap (one cheap resubscribe).
        codec = partial(BybitCodec, depth=depth, category=category, contiguous_u=contiguous_u)
        super().__init__(registry, endpoints, codec, wire=_kline_wire, **common)
        dcp_window = check_window(self._dead_mans_switch_s) if self._dead_mans_switch_s else 0
        self._category = category
        self._settle = tuple(settle_coins)
        self._ip_ban_ms = int(ip_ban_s * 1000)  # an HTTP 403 carries no end: requests pause this long
        self.orders = KnownOrders(_KNOWN_ORDERS)  # shared with every session, like the codec
        self.modes = PositionModes()  # each symbol's position mode, shared with every session
        self._limit_owner: dict[int, str] = {}  # X-Bapi-Limit value -> endpoint of the last request built with it
        self._options = SessionOptions(dict(endpoints.ws), depth=depth, stale_after_s=self._stale_after_s,
                                       ping_interval_s=ping_interval_s, private_stale_after_s=private_stale_after_s,
                                       auth_expires_ms=auth_expires_ms, trades=self._trades, klines=self._klines,
                                       category=category, settle_coins=self._settle, retry_base_s=retry_base_s,
                                       retry_cap_s=retry_cap_s, dcp_window_s=dcp_window, dcp_recheck_s=dcp_recheck_s)

    def session(self, credentials: Credentials | None, nonce: Callable[[], str]) -> BybitSession:
        return BybitSession(self.codec, self.registry, self._options, credentials, self.orders, self.modes)

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
        try:
            rest.check(response, time.time_ns(), ip_ban_ms=self._ip_ban_ms)
        except VenueReject as exc:
            if is_idx_mismatch(exc.code, exc.text):
                self.modes.recheck = True  # an order's positionIdx did not fit: the modes we hold are stale
            raise

    # -- trading and account -----------------------------------------------------------------------
    def place_order(self, order: PlaceOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        inst = self._inst(order.instrument)
        if inst.settle in ONE_WAY_ONLY_SETTLE:
            mode = PositionMode.ONE_WAY
        else:
            mode = self.modes.get(inst.venue_symbol) or ctx.position_mode
        idx = position_idx(mode, order.side, order.reduce_only)
        return self._note(rest.place_order(ctx.credentials, ctx.now_ms(), order, inst, position_idx=idx))

    def parse_place(self, order: PlaceOrder, response: Response, ts_recv: int) -> OrderUpdate:
        ack = rest.parse_place_ack(response, order, self._inst(order.instrument), ts_recv)
        known = self.orders.lookup(ack.client_order_id, ack.venue_order_id)
        if known is None or known.venue_order_id != ack.venue_order_id:
            self.orders.remember(ack)  # never over a fresher state the private stream brought first
        return ack

    def cancel_order(self, cmd: CancelOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return self._note(rest.cancel_order(ctx.credentials, ctx.now_ms(), self._inst(cmd.instrument),
                                            venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id))

    def parse_cancel(self, cmd: CancelOrder, response: Response, ts_recv: int) -> OrderUpdate | None:
        upd = rest.parse_cancel_ack(response, self.orders.lookup(cmd.client_order_id, cmd.venue_order_id), ts_recv)
        if upd is not None:
            self.orders.remember(upd)
        return upd

    def query_order(self, cmd: QueryOrder, ctx: VenueContext) -> RequestSpec:
        assert ctx.credentials is not None
        return self._note(rest.query_order(ctx.credentials, ctx.now_ms(), self._inst(cmd.instrument),
                                           venue_order_id=cmd.venue_order_id, client_order_id=cmd.client_order_id))

    def parse_query(self, cmd: QueryOrder, response: Response, ts_recv: int) -> OrderUpdate:
        """The order from the query's last answer: realtime's row, or history's when ``follow`` asked it.

        Raises:
            UnknownOrder: neither realtime nor history has the order.
        """
        upd = rest.parse_query_order(response, self.registry, ts_recv)
        self.orders.remember(upd)
        return upd

    def open_orders(self, instrument: InstrumentId | None, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        if instrument is not None:
            symbol = self._inst(instrument).venue_symbol
            return [self._note(rest.open_orders(ctx.credentials, ctx.now_ms(), symbol, category=self._category))]
        return [self._note(rest.open_orders(ctx.credentials, ctx.now_ms(), settle_coin=coin, category=self._category))
                for coin in self._settle]

    def parse_open_orders(self, response: Response, ts_recv: int) -> list[OrderUpdate]:
        return rest.parse_open_orders(response, self.registry, ts_recv)[0]

    def balances(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [self._note(rest.wallet_balance(ctx.credentials, ctx.now_ms()))]

    def parse_balances(self, response: Response, ts_recv: int) -> list[Balance]:
        return rest.parse_wallet_balance(response, ts_recv)

    def positions(self, ctx: VenueContext) -> list[RequestSpec]:
        assert ctx.credentials is not None
        return [self._note(rest.positions(ctx.credentials, ctx.now_ms(), settle_coin=coin, category=self._category,
                                          limit=rest.POSITIONS_PAGE)) for coin in self._settle]

    def parse_positions(self, response: Response, ts_recv: int) -> list[Position]:
        for symbol, mode in rest.parse_position_modes(response, ts_recv)[0].items():
            self.modes.set(symbol, mode)  # the session publishes a change at its next check
        return rest.parse_positions(response, self.registry, ts_recv)[0]

    def follow(self, spec: RequestSpec, response: Response, ctx: VenueContext) -> RequestSpec | None:
        """The request that continues ``spec`` after its ``response`` (the actor's optional hook), or None.

        - A query of ``/v5/order/realtime`` (its query string names ``orderId`` or ``orderLinkId``) whose
          answer has no row: the same query of ``/v5/order/history``. A row, or a history answer, ends it.
        - A list of ``/v5/order/realtime`` or ``/v5/position/list`` (by settle coin or symbol): the same
          request for the next page while the answer's ``nextPageCursor`` is not empty.
        - Anything else (the wallet balance): None.

        Raises:
            VenueReject, DecodeError: ``response`` is no list answer (as the parse functions would).
        """
        assert ctx.credentials is not None
        if spec.path not in _FOLLOWED:
            return None
        page = rest.parse_list_page(response, time.time_ns())
        names = {name for name, _value in parse_qsl(spec.query)}
        if spec.path == rest.Endpoint.OPEN_ORDERS and names & _ORDER_IDS:  # one order's query, not a list
            if page.rows:
                return None  # realtime has the order
            return self._note(rest.in_history(spec, ctx.credentials, ctx.now_ms()))
        if not page.cursor:
            return None  # the last page
        return self._note(rest.next_page(spec, page.cursor, ctx.credentials, ctx.now_ms()))

    def make_client_order_id(self, seed: str) -> str:
        return codes.make_client_order_id(seed)

    # -- preflight (the doctor) ---------------------------------------------------------------------
    def key_permissions(self, ctx: VenueContext) -> RequestSpec | None:
        """Signed ``GET /v5/user/query-api`` (``venues.bybit.preflight``)."""
        assert ctx.credentials is not None
        return preflight.key_info(ctx.credentials, ctx.now_ms())

    def parse_key_permissions(self, response: Response) -> KeyFacts:
        """``readOnly``, ``permissions`` and ``ips`` as ``KeyFacts``.

        Raises:
            VenueReject, DecodeError: the venue's refusal (e.g. AuthError 10010: this IP is not bound to the key).
        """
        return preflight.parse_key_info(response, time.time_ns())

    def instrument_settings(self, instrument: InstrumentId, ctx: VenueContext) -> list[RequestSpec]:
        """Signed ``GET /v5/account/info`` (a unified account's margin mode is the account's: ``tradeMode`` is
        always 0 there) then ``GET /v5/position/list`` of the instrument's symbol (its rows carry ``leverage``
        whether or not a position is open)."""
        assert ctx.credentials is not None
        inst = self._inst(instrument)
        return [preflight.account_info(ctx.credentials, ctx.now_ms()),
                self._note(preflight.settings(ctx.credentials, ctx.now_ms(), inst.venue_symbol,
                                              category=self._category))]

    def parse_instrument_settings(self, instrument: InstrumentId, responses: Sequence[Response]) -> InstrumentFacts:
        """The account's ``marginMode`` and the symbol's leverage from its position rows.

        Raises:
            VenueReject, DecodeError: the venue's refusal; no row for the symbol.
        """
        now = time.time_ns()
        margin = preflight.parse_account_margin(responses[0], now)
        return preflight.parse_settings(responses[1], self._inst(instrument).venue_symbol, now, account_margin=margin)

    def disarm_switch(self, ctx: VenueContext) -> list[RequestSpec] | None:
        """None: Bybit offers no way to switch disconnection protection off by API. DCP is turned on or off per
        account on request ("contact your client manager", docs/v5/order/dcp.mdx); ``POST
        /v5/order/disconnected-cancel-all`` only sets a window in [3, 300] s, and the countdown starts once
        every private connection that subscribed ``dcp.future`` is gone, so an armed switch cancels the
        account's derivatives orders after the doctor leaves."""
        return None


_UID_PATHS = frozenset(e.value for e in rest.UID_LIMITS_PER_S)
_FOLLOWED = frozenset({rest.Endpoint.OPEN_ORDERS.value, rest.Endpoint.POSITIONS.value})  # what follow continues
_ORDER_IDS = frozenset({"orderId", "orderLinkId"})  # query-string names of one order: a query, not a list
