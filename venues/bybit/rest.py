"""Bybit v5 REST: request specs (signed where needed) and response parsing with typed errors.

Rules:
- Builders return ``RequestSpec`` with the exact query string / body bytes that were signed.
- Signed builders take ``now_ms`` (already corrected by the caller's server-time offset) and Credentials.
- Every response goes through ``rejects.check`` (re-exported here), which turns Bybit's errors (HTTP 200
  with ``retCode != 0``, 401, 403 IP ban, 429, 5xx) into ``venues.errors`` classes.
- Rate limits (docs/v5/rate-limit.mdx): each request costs 1 in its ``endpoint`` bucket; per-UID limits
  per second are in ``UID_LIMITS_PER_S``, the per-IP limit in ``IP_LIMIT``.
- Order placement is not idempotent (``idempotent=False``): after a timeout, query by orderLinkId.
- Lists page with ``limit`` and ``nextPageCursor`` (docs/v5/order/open-order.mdx, order-list.mdx,
  position/position.mdx): orders at most ``ORDERS_PAGE`` (50) a page, positions ``POSITIONS_PAGE`` (200);
  a page's parser returns the cursor of the next one (``""`` after the last), which the next request
  sends back as ``cursor`` (``next_page`` rebuilds a list request with it; ``parse_list_page`` reads a
  page's cursor and row count without decoding its rows). Linear lists need a ``symbol`` or a
  ``settleCoin``, and USDT and USDC are separate settle coins (``SETTLE_COINS``).
- Orders carry ``positionIdx`` in hedge mode (``modes.position_idx``: 1 long, 2 short); in one-way mode it
  is left out (0, the venue's default).
- One order is found in ``/v5/order/realtime`` while open or recently closed, but after a Bybit release or
  restart its closed orders are only in ``/v5/order/history`` (open-order.mdx), which in turn lists no
  open order of a unified account (changelog 2024-02-05): a query asks realtime, and history
  (``in_history``) only when realtime has no row; the order is unknown when history has none either.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

import msgspec

from messages.account import Balance, Position, PositionMode
from messages.base import (
    ClientOrderId,
    InstrumentId,
    OrderStatus,
    OrderType,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from messages.instruments import Instrument
from messages.market import BookSnapshot, Kline, Quote, Trade
from messages.orders import OrderUpdate, PlaceOrder
from venues import Credentials
from venues.bybit import codes, modes, parse, wire
from venues.bybit.rejects import IP_BAN_MS, check, item_errors
from venues.bybit.signing import DEFAULT_RECV_WINDOW_MS, signed_headers
from venues.errors import (
    DecodeError,
    InstrumentError,
    InvalidOrder,
    UnknownOrder,
)
from venues.http import Method, RequestSpec, Response
from venues.symbols import InstrumentRegistry, check_order_size

__all__ = [
    "Endpoint",
    "UID_LIMITS_PER_S",
    "IP_BAN_MS",
    "IP_LIMIT",
    "OrderAck",
    "check",
    "server_time",
    "parse_server_time",
    "instruments",
    "parse_instruments",
    "orderbook",
    "parse_orderbook",
    "klines",
    "parse_klines",
    "recent_trades",
    "parse_recent_trades",
    "tickers",
    "parse_tickers",
    "item_errors",
    "wallet_balance",
    "parse_wallet_balance",
    "positions",
    "parse_positions",
    "place_order",
    "parse_order_ack",
    "parse_place_ack",
    "parse_cancel_ack",
    "cancel_order",
    "query_order",
    "parse_query_order",
    "in_history",
    "open_orders",
    "parse_open_orders",
    "parse_position_modes",
    "ListPage",
    "parse_list_page",
    "next_page",
    "ORDERS_PAGE",
    "POSITIONS_PAGE",
    "SETTLE_COINS",
]

_VENUE = codes.VENUE
_MS = parse.MS
_encode = msgspec.json.Encoder().encode
_T = TypeVar("_T")


class Endpoint(enum.StrEnum):
    """REST endpoints we use; the value is the path and names the rate-limit bucket."""

    SERVER_TIME = "/v5/market/time"
    INSTRUMENTS = "/v5/market/instruments-info"
    ORDERBOOK = "/v5/market/orderbook"
    KLINES = "/v5/market/kline"
    RECENT_TRADES = "/v5/market/recent-trade"
    TICKERS = "/v5/market/tickers"
    WALLET_BALANCE = "/v5/account/wallet-balance"
    POSITIONS = "/v5/position/list"
    PLACE_ORDER = "/v5/order/create"
    CANCEL_ORDER = "/v5/order/cancel"
    OPEN_ORDERS = "/v5/order/realtime"
    ORDER_HISTORY = "/v5/order/history"
    SET_DCP_WINDOW = "/v5/order/disconnected-cancel-all"  # disconnection protection (dcp.py)
    DCP_INFO = "/v5/account/query-dcp-info"


UID_LIMITS_PER_S: dict[Endpoint, int] = {
    Endpoint.PLACE_ORDER: 10,  # linear order/create
    Endpoint.CANCEL_ORDER: 10,
    Endpoint.OPEN_ORDERS: 50,
    Endpoint.ORDER_HISTORY: 50,
    Endpoint.POSITIONS: 50,
    Endpoint.WALLET_BALANCE: 50,
}
"""Per-UID, per-endpoint requests per second (linear, default tier). Market endpoints: IP limit only."""

IP_LIMIT = (600, 5.0)  # requests per seconds, per IP, every endpoint together
ORDERS_PAGE = 50  # /v5/order/realtime and /v5/order/history: limit [1, 50]
POSITIONS_PAGE = 200  # /v5/position/list: limit [1, 200]
SETTLE_COINS = ("USDT", "USDC")  # linear settle coins; a linear list is asked per settle coin


class ListPage(msgspec.Struct, frozen=True, kw_only=True):
    """What one page of a list answer says about the list: how many rows it holds and where it goes on."""

    rows: int  # rows on this page, whatever their symbol
    cursor: str  # ``nextPageCursor``: the next request's ``cursor``, ``""`` after the last page


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """What create/cancel return: ids only. The order's state arrives on the private ``order`` topic."""

    venue_order_id: VenueOrderId
    client_order_id: ClientOrderId | None


def _decode(raw: msgspec.Raw, decoder: msgspec.json.Decoder[_T], what: str) -> _T:
    try:
        return decoder.decode(raw)
    except msgspec.MsgspecError as exc:
        raise DecodeError(_VENUE, what, str(exc), bytes(raw)) from None


# -- request helpers ---------------------------------------------------------------------------------
def _public(endpoint: Endpoint, params: list[tuple[str, str]]) -> RequestSpec:
    return RequestSpec(
        method=Method.GET, path=endpoint.value, query=urlencode(params), endpoint=endpoint.value
    )


def _signed_get(
    endpoint: Endpoint, params: list[tuple[str, str]], creds: Credentials, now_ms: int, recv_window_ms: int
) -> RequestSpec:
    query = urlencode(params)
    return RequestSpec(
        method=Method.GET,
        path=endpoint.value,
        query=query,
        headers=signed_headers(creds, now_ms, query, recv_window_ms),
        endpoint=endpoint.value,
        signed=True,
    )


def _resigned(
    spec: RequestSpec, endpoint: Endpoint, params: list[tuple[str, str]], creds: Credentials, now_ms: int
) -> RequestSpec:
    """A signed GET of ``endpoint`` with ``params``, in ``spec``'s receive window, signed at ``now_ms``."""
    window = spec.headers.get("X-BAPI-RECV-WINDOW", "")
    return _signed_get(endpoint, params, creds, now_ms, int(window) if window.isdigit() else DEFAULT_RECV_WINDOW_MS)


def _signed_post(
    endpoint: Endpoint,
    body: dict[str, object],
    creds: Credentials,
    now_ms: int,
    recv_window_ms: int,
    idempotent: bool,
) -> RequestSpec:
    raw = _encode(body)
    headers = signed_headers(creds, now_ms, raw, recv_window_ms)
    headers["Content-Type"] = "application/json"
    return RequestSpec(
        method=Method.POST,
        path=endpoint.value,
        headers=headers,
        body=raw,
        endpoint=endpoint.value,
        idempotent=idempotent,
        signed=True,
    )


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- market data -------------------------------------------------------------------------------------
def server_time() -> RequestSpec:
    """GET /v5/market/time."""
    return _public(Endpoint.SERVER_TIME, [])


def parse_server_time(response: Response, ts_recv: int) -> int:
    """The venue's clock in ms (from ``timeNano``), for the caller's offset tracking.

    Raises:
        VenueReject, DecodeError: see ``check``.
    """
    result = _decode(check(response, ts_recv, "server time").result, wire.SERVER_TIME, "server time")
    if not result.timeNano.isdigit():
        raise DecodeError(_VENUE, "server time", f"expected timeNano digits, got {result.timeNano!r}")
    return int(result.timeNano) // _MS


def instruments(category: str = "linear", cursor: str = "", limit: int = 1000) -> RequestSpec:
    """GET /v5/market/instruments-info for one category (page with ``cursor``)."""
    params = [("category", category), ("limit", str(limit))]
    if cursor:
        params.append(("cursor", cursor))
    return _public(Endpoint.INSTRUMENTS, params)


def parse_instruments(
    response: Response, ts_recv: int, statuses: frozenset[str] = frozenset({"Trading"})
) -> tuple[list[Instrument], str]:
    """Instruments whose ``status`` is in ``statuses``, and the next page cursor (``""`` at the end).

    Raises:
        VenueReject, DecodeError: see ``check``; DecodeError for an unknown contract type.
    """
    result = _decode(check(response, ts_recv, "instruments").result, wire.INSTRUMENTS, "instruments")
    out = [parse.instrument(item, result.category) for item in result.items if item.status in statuses]
    return out, result.nextPageCursor


def orderbook(symbol: str, limit: int = 200, category: str = "linear") -> RequestSpec:
    """GET /v5/market/orderbook (linear limit 1..500)."""
    return _public(Endpoint.ORDERBOOK, [("category", category), ("symbol", symbol), ("limit", str(limit))])


def parse_orderbook(response: Response, instrument: InstrumentId, ts_recv: int) -> BookSnapshot:
    """The REST book as a ``BookSnapshot`` (levels best first as sent; ``sequence`` is ``u``)."""
    ob = _decode(check(response, ts_recv, "orderbook").result, wire.REST_ORDERBOOK, "orderbook")
    return BookSnapshot(
        venue=Venue.BYBIT,
        instrument=instrument,
        bids=tuple(ob.b),
        asks=tuple(ob.a),
        sequence=ob.u,
        ts_event=ob.ts * _MS,
        ts_recv=ts_recv,
    )


def klines(
    symbol: str, interval: str, start_ms: int = 0, end_ms: int = 0, limit: int = 200, category: str = "linear"
) -> RequestSpec:
    """GET /v5/market/kline; ``interval`` is unified (``"5m"``, ``"1h"``, ``"1d"``)."""
    params = [
        ("category", category),
        ("symbol", symbol),
        ("interval", codes.kline_interval_to_wire(interval)),
    ]
    if start_ms:
        params.append(("start", str(start_ms)))
    if end_ms:
        params.append(("end", str(end_ms)))
    params.append(("limit", str(limit)))
    return _public(Endpoint.KLINES, params)


_INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
                "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000,
                "1d": 86_400_000, "1w": 604_800_000}  # fmt: skip


def parse_klines(response: Response, instrument: InstrumentId, interval: str, ts_recv: int) -> list[Kline]:
    """Candles oldest first (Bybit sends newest first; the list is reversed, not sorted).

    A candle is ``closed`` when its end is before the response's server ``time``. Monthly candles have
    no fixed length: their ``close_time`` is the open time and they count as closed only when older.
    """
    env = check(response, ts_recv, "klines")
    result = _decode(env.result, wire.KLINE_RESULT, "klines")
    span = _INTERVAL_MS.get(interval, 0)
    out: list[Kline] = []
    for start, o, h, lo, c, vol, _turnover in reversed(result.items):
        if not start.isdigit():
            raise DecodeError(_VENUE, "klines", f"expected a start time in ms, got {start!r}")
        open_ms = int(start)
        close_ms = open_ms + span - 1 if span else open_ms
        out.append(
            Kline(
                venue=Venue.BYBIT,
                instrument=instrument,
                interval=interval,
                open_time=open_ms * _MS,
                close_time=close_ms * _MS,
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=vol,
                closed=close_ms < env.time,
                ts_event=env.time * _MS,
                ts_recv=ts_recv,
            )  # fmt: skip
        )
    return out


def recent_trades(symbol: str, limit: int = 500, category: str = "linear") -> RequestSpec:
    """GET /v5/market/recent-trade."""
    return _public(
        Endpoint.RECENT_TRADES, [("category", category), ("symbol", symbol), ("limit", str(limit))]
    )


def parse_recent_trades(response: Response, instrument: InstrumentId, ts_recv: int) -> list[Trade]:
    """Recent public trades in the venue's order."""
    page = _decode(check(response, ts_recv, "recent trades").result, wire.LIST_RESULT, "recent trades")
    rows = _decode(page.items, wire.RECENT_TRADE_ROWS, "recent trades")
    out: list[Trade] = []
    for r in rows:
        if not r.time.isdigit():
            raise DecodeError(_VENUE, "recent trades", f"expected a time in ms, got {r.time!r}")
        out.append(
            Trade(
                venue=Venue.BYBIT,
                instrument=instrument,
                price=r.price,
                size=r.size,
                side=codes.side(r.side),
                trade_id=r.execId,
                ts_event=int(r.time) * _MS,
                ts_recv=ts_recv,
            )  # fmt: skip
        )
    return out


def tickers(symbol: str = "", category: str = "linear") -> RequestSpec:
    """GET /v5/market/tickers (all symbols of the category when ``symbol`` is empty)."""
    params = [("category", category)]
    if symbol:
        params.append(("symbol", symbol))
    return _public(Endpoint.TICKERS, params)


def _px(raw: str, field: str) -> float | None:
    value = parse.decimal_or_none(raw, field)
    return None if value is None else float(value)


def parse_tickers(response: Response, registry: InstrumentRegistry, ts_recv: int) -> list[Quote]:
    """Best bid/ask of each registered symbol in the response (``ts_event`` = response ``time``).

    Rows without both sides, or for symbols outside the registry, give no quote.
    """
    env = check(response, ts_recv, "tickers")
    page = _decode(env.result, wire.LIST_RESULT, "tickers")
    out: list[Quote] = []
    for row in _decode(page.items, wire.TICKER_ROWS, "tickers"):
        inst = _resolve(registry, row.symbol, page.category)
        values = [_px(v or "", "ticker") for v in (row.bid1Price, row.bid1Size, row.ask1Price, row.ask1Size)]
        bid_px, bid_sz, ask_px, ask_sz = values
        if inst is None or bid_px is None or bid_sz is None or ask_px is None or ask_sz is None:
            continue
        out.append(
            Quote(
                venue=Venue.BYBIT,
                instrument=inst.id,
                bid_px=bid_px,
                bid_sz=bid_sz,
                ask_px=ask_px,
                ask_sz=ask_sz,
                ts_event=env.time * _MS,
                ts_recv=ts_recv,
            )  # fmt: skip
        )
    return out


# -- account -----------------------------------------------------------------------------------------
def wallet_balance(
    creds: Credentials, now_ms: int, account_type: str = "UNIFIED", coin: str = "",
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed GET /v5/account/wallet-balance."""
    params = [("accountType", account_type)]
    if coin:
        params.append(("coin", coin))
    return _signed_get(Endpoint.WALLET_BALANCE, params, creds, now_ms, recv_window_ms)


def parse_wallet_balance(response: Response, ts_recv: int) -> list[Balance]:
    """One ``Balance`` per coin of every account in the response (``ts_event`` = response ``time``)."""
    env = check(response, ts_recv, "wallet balance")
    page = _decode(env.result, wire.LIST_RESULT, "wallet balance")
    accounts = _decode(page.items, wire.WALLETS, "wallet balance")
    return parse.balances(accounts, env.time * _MS, ts_recv)


def positions(
    creds: Credentials, now_ms: int, symbol: str = "", settle_coin: str = "USDT", category: str = "linear",
    limit: int = 0, cursor: str = "", recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed GET /v5/position/list, one page (linear needs ``symbol`` or ``settleCoin``; ``limit`` 0 = the
    venue's default, 20 rows).

    By ``symbol`` the venue answers whether or not a position is open (one row in one-way mode, two in hedge
    mode: the way to read a flat symbol's mode); by ``settleCoin`` only positions of size > 0.
    """
    params = [("category", category)]
    params.append(("symbol", symbol) if symbol else ("settleCoin", settle_coin))
    if limit:
        params.append(("limit", str(limit)))
    if cursor:
        params.append(("cursor", cursor))
    return _signed_get(Endpoint.POSITIONS, params, creds, now_ms, recv_window_ms)


def _resolve(registry: InstrumentRegistry, symbol: str, category: str) -> Instrument | None:
    try:
        inst = registry.by_symbol(Venue.BYBIT, symbol)
    except InstrumentError:
        return None
    # Spot and linear share symbols (BTCUSDT): never attribute a row to the wrong product.
    return inst if not category or parse.category_of(inst) == category else None


def parse_positions(
    response: Response, registry: InstrumentRegistry, ts_recv: int
) -> tuple[list[Position], str]:
    """Positions on registered instruments, and the next page cursor.

    Rows for symbols outside the registry (or another category) are not ours to track and are skipped. In
    hedge mode a symbol has two rows, a long (Buy) and a short (Sell) position.
    """
    page = _decode(check(response, ts_recv, "positions").result, wire.LIST_RESULT, "positions")
    rows = _decode(page.items, wire.REST_POSITIONS, "positions")
    out: list[Position] = []
    for row in rows:
        inst = _resolve(registry, row.symbol, page.category)
        if inst is not None:
            out.append(parse.rest_position(row, inst.id, ts_recv))
    return out, page.nextPageCursor


def parse_position_modes(response: Response, ts_recv: int) -> tuple[dict[str, PositionMode], str]:
    """Each symbol's position mode as its rows' ``positionIdx`` shows it, and the next page cursor.

    Raises:
        VenueReject, DecodeError: see ``check``.
    """
    page = _decode(check(response, ts_recv, "positions").result, wire.LIST_RESULT, "positions")
    rows = _decode(page.items, wire.REST_POSITIONS, "positions")
    return {row.symbol: modes.mode_of_idx(row.positionIdx) for row in rows}, page.nextPageCursor


# -- orders ------------------------------------------------------------------------------------------
def place_order(
    creds: Credentials, now_ms: int, order: PlaceOrder, instrument: Instrument, *, position_idx: int,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed POST /v5/order/create for a limit or market order.

    Price and quantity are sent as given: rounding to the tick and lot is the order router's, in one place
    (a value off the grid is refused here, with the rule named). Post-only is ``timeInForce=PostOnly``.
    ``positionIdx`` (``modes.position_idx``) is sent in hedge mode, where the venue requires it (the
    position the order moves, 1 long or 2 short), and left out in one-way mode, where 0 is the venue's
    default; ``reduceOnly`` is sent only when true, in either mode.

    Raises:
        InvalidOrder: limit without price, post-only market order, post-only with IOC/FOK, a bad
            client order id, or a size/price the instrument refuses.
    """
    body = order_body(order, instrument, position_idx=position_idx)
    return _signed_post(Endpoint.PLACE_ORDER, body, creds, now_ms, recv_window_ms, idempotent=False)


def order_body(order: PlaceOrder, instrument: Instrument, *, position_idx: int) -> dict[str, object]:
    """The fields of a v5 order create (shared by REST /v5/order/create and the WS ``order.create``).

    Raises:
        InvalidOrder: see ``place_order``.
    """
    cid = codes.validate_client_order_id(order.client_order_id)
    qty = order.quantity
    body: dict[str, object] = {
        "category": parse.category_of(instrument),
        "symbol": instrument.venue_symbol,
        "side": codes.side_to_wire(order.side),
        "orderType": codes.ORDER_TYPE_TO_WIRE[order.order_type],
        "qty": _fmt(qty),
    }
    if order.order_type is OrderType.LIMIT:
        if order.price is None:
            msg = f"bybit {instrument.id} limit order {cid}: expected a price, got None"
            raise InvalidOrder(msg)
        check_order_size(instrument, qty, order.price)
        body["price"] = _fmt(order.price)
        body["timeInForce"] = codes.time_in_force_to_wire(order.time_in_force, order.post_only)
    else:
        if order.post_only:
            msg = f"bybit {instrument.id} market order {cid}: expected post_only=False, got True"
            raise InvalidOrder(msg)
        check_order_size(instrument, qty, None)
        # Bybit executes every market order as IOC; only FOK changes its behaviour.
        if order.time_in_force is TimeInForce.FOK:
            body["timeInForce"] = "FOK"
    if position_idx:
        body["positionIdx"] = position_idx
    body["orderLinkId"] = cid
    if order.reduce_only:
        body["reduceOnly"] = True
    return body


def parse_order_ack(response: Response, ts_recv: int) -> OrderAck:
    """The ids from a create or cancel response.

    Raises:
        VenueReject: e.g. InsufficientFunds (110007), DuplicateClientOrderId (110072), UnknownOrder (110001).
    """
    ids = _decode(check(response, ts_recv, "order").result, wire.ORDER_IDS, "order")
    return OrderAck(
        venue_order_id=VenueOrderId(ids.orderId),
        client_order_id=ClientOrderId(ids.orderLinkId) if ids.orderLinkId else None,
    )


def parse_place_ack(
    response: Response, order: PlaceOrder, instrument: Instrument, ts_recv: int
) -> OrderUpdate:
    """A create ack as an ``OrderUpdate``: SUBMITTED, the venue's ids, and the order as ``place_order`` sent it.

    Bybit's create answer carries ids only; the order's real state (a market order's fill, a post-only
    order killed on entry) follows on the private ``order`` topic. Quantity and price are the order's, as
    ``place_order`` sent them; ``raw_status`` is ``""`` (the venue sent none); ``ts_event`` is the
    response's server ``time``.

    Raises:
        VenueReject: as ``parse_order_ack``.
    """
    env = check(response, ts_recv, "order")
    ids = _decode(env.result, wire.ORDER_IDS, "order")
    price = order.price if order.order_type is OrderType.LIMIT else None
    return OrderUpdate(
        venue=Venue.BYBIT,
        instrument=instrument.id,
        client_order_id=ClientOrderId(ids.orderLinkId) if ids.orderLinkId else order.client_order_id,
        venue_order_id=VenueOrderId(ids.orderId) if ids.orderId else None,
        status=OrderStatus.SUBMITTED,
        raw_status="",
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        filled_qty=Decimal(0),
        avg_price=None,
        price=price,
        ts_event=env.time * _MS,
        ts_recv=ts_recv,
        reduce_only=order.reduce_only,
    )


def parse_cancel_ack(response: Response, known: OrderUpdate | None, ts_recv: int) -> OrderUpdate | None:
    """A cancel ack joined to the last known state of that order.

    A successful linear cancel means the order is cancelled (a fill that got there first makes the venue
    answer 110001 instead). Bybit's answer carries ids only, so the update is ``known`` (the caller's last
    state of the order) with status CANCELLED, raw ``"Cancelled"``, the ack's ids and the response's server
    time; ``filled_qty`` stays what ``known`` says, and the private ``order`` topic brings the venue's
    final numbers. A ``known`` that is already terminal is returned as it is; without ``known`` there is
    nothing to report (``None``).

    Raises:
        VenueReject: e.g. UnknownOrder (110001: never existed, already closed, or filled first).
    """
    env = check(response, ts_recv, "order")
    ids = _decode(env.result, wire.ORDER_IDS, "order")
    if known is None:
        return None
    if known.status.is_terminal:
        return known
    return msgspec.structs.replace(
        known,
        status=OrderStatus.CANCELLED,
        raw_status="Cancelled",
        venue_order_id=VenueOrderId(ids.orderId) if ids.orderId else known.venue_order_id,
        client_order_id=ClientOrderId(ids.orderLinkId) if ids.orderLinkId else known.client_order_id,
        ts_event=env.time * _MS,
        ts_recv=ts_recv,
    )


def _id_params(
    instrument: Instrument, venue_order_id: str | None, client_order_id: str | None, action: str
) -> list[tuple[str, str]]:
    params = [("category", parse.category_of(instrument)), ("symbol", instrument.venue_symbol)]
    if venue_order_id:
        params.append(("orderId", venue_order_id))
    elif client_order_id:
        params.append(("orderLinkId", client_order_id))
    else:
        msg = f"bybit {instrument.id} {action}: expected a venue order id or a client order id, got neither"
        raise InvalidOrder(msg)
    return params


def cancel_order(
    creds: Credentials, now_ms: int, instrument: Instrument, venue_order_id: VenueOrderId | None = None,
    client_order_id: ClientOrderId | None = None, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed POST /v5/order/cancel by venue id (preferred when both are given) or client id.

    A repeated cancel is harmless (the venue answers 110001/110008), so the spec is idempotent.

    Raises:
        InvalidOrder: neither id given.
    """
    body: dict[str, object] = dict(_id_params(instrument, venue_order_id, client_order_id, "cancel"))
    return _signed_post(Endpoint.CANCEL_ORDER, body, creds, now_ms, recv_window_ms, idempotent=True)


def query_order(
    creds: Credentials, now_ms: int, instrument: Instrument, venue_order_id: VenueOrderId | None = None,
    client_order_id: ClientOrderId | None = None, *, history: bool = False,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed GET /v5/order/realtime for one order (open, or recently closed), or with ``history``
    /v5/order/history (closed orders, also after a Bybit restart).

    Raises:
        InvalidOrder: neither id given.
    """
    params = _id_params(instrument, venue_order_id, client_order_id, "query")
    return _signed_get(Endpoint.ORDER_HISTORY if history else Endpoint.OPEN_ORDERS, params, creds, now_ms,
                       recv_window_ms)


def open_orders(
    creds: Credentials, now_ms: int, symbol: str = "", settle_coin: str = "USDT", category: str = "linear",
    cursor: str = "", limit: int = ORDERS_PAGE, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RequestSpec:  # fmt: skip
    """Signed GET /v5/order/realtime?openOnly=0, one page of open orders of a symbol or a settle coin
    (newest first; the next page with the previous page's cursor)."""
    params = [("category", category)]
    params.append(("symbol", symbol) if symbol else ("settleCoin", settle_coin))
    params += [("openOnly", "0"), ("limit", str(limit))]
    if cursor:
        params.append(("cursor", cursor))
    return _signed_get(Endpoint.OPEN_ORDERS, params, creds, now_ms, recv_window_ms)


def parse_open_orders(
    response: Response, registry: InstrumentRegistry, ts_recv: int
) -> tuple[list[OrderUpdate], str]:
    """Orders on registered instruments, and the next page cursor.

    Raises:
        UnknownStatus: a row with an undocumented ``orderStatus``.
        VenueReject, DecodeError: see ``check``.
    """
    page = _decode(check(response, ts_recv, "orders").result, wire.LIST_RESULT, "orders")
    rows = _decode(page.items, wire.ORDERS, "orders")
    out: list[OrderUpdate] = []
    for row in rows:
        inst = _resolve(registry, row.symbol, page.category)
        if inst is not None:
            out.append(parse.order_update(row, inst.id, ts_recv))
    return out, page.nextPageCursor


def in_history(spec: RequestSpec, creds: Credentials, now_ms: int) -> RequestSpec:
    """The query ``spec`` (a ``query_order`` of /v5/order/realtime) asked of /v5/order/history: the same
    parameters, signed anew at ``now_ms``. For an order realtime has no row for (after a Bybit restart its
    closed orders are only in history)."""
    return _resigned(spec, Endpoint.ORDER_HISTORY, parse_qsl(spec.query, keep_blank_values=True), creds, now_ms)


def parse_query_order(response: Response, registry: InstrumentRegistry, ts_recv: int) -> OrderUpdate:
    """The one order a query asked for, from its last answer: /v5/order/realtime's row, or, when realtime had
    none, /v5/order/history's (``in_history``, asked in the same query).

    Raises:
        UnknownOrder: the answer has no row: history (asked after an empty realtime) has none either, so the
            order was never created, or closed longer ago than history keeps.
        UnknownStatus, VenueReject, DecodeError: as ``parse_open_orders``.
    """
    orders, _cursor = parse_open_orders(response, registry, ts_recv)
    if orders:
        return orders[0]
    raise UnknownOrder(_VENUE, "not_found", "neither /v5/order/realtime nor /v5/order/history has the order")


def parse_list_page(response: Response, ts_recv: int) -> ListPage:
    """The row count and next-page cursor of one page of a list (orders or positions), rows left undecoded.

    Raises:
        VenueReject, DecodeError: see ``check``.
    """
    page = _decode(check(response, ts_recv, "list").result, wire.LIST_RESULT, "list")
    return ListPage(rows=len(_decode(page.items, wire.ROWS, "list")), cursor=page.nextPageCursor)


def next_page(spec: RequestSpec, cursor: str, creds: Credentials, now_ms: int) -> RequestSpec:
    """The list request ``spec`` (``open_orders``, ``positions``) for the page after its answer: the same
    parameters with ``cursor`` (the answer's ``nextPageCursor``) in place of any earlier one, signed anew at
    ``now_ms``.

    Raises:
        ValueError: ``spec``'s path is no ``Endpoint``.
    """
    params = [(k, v) for k, v in parse_qsl(spec.query, keep_blank_values=True) if k != "cursor"]
    params.append(("cursor", cursor))
    return _resigned(spec, Endpoint(spec.path), params, creds, now_ms)
