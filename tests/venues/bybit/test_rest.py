"""REST builders and response parsers against the documented fixtures; errors become typed exceptions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from messages.base import (
    ClientOrderId,
    ContractType,
    InstrumentId,
    InstrumentKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from messages.market import BookSnapshot, Quote, Trade
from messages.orders import PlaceOrder
from tests.venues.bybit.sample_registry import BTC_PERP, BTC_USDC_PERP, make_instrument
from tests.venues.bybit.wire_files import wire_bytes, wire_json
from venues import Credentials
from venues.bybit import rest
from venues.errors import (
    AuthError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    IpBanned,
    RateLimited,
    TimestampError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Method, Response
from venues.symbols import InstrumentRegistry

MS = 1_000_000
CREDS = Credentials("test-key-not-real", "test-secret-not-real")
NOW = 1_700_000_000_000


def ok(name: str) -> Response:
    return Response(status=200, headers={}, body=wire_bytes(f"bybit/{name}"))


def body(ret_code: int, msg: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    raw = json.dumps(
        {"retCode": ret_code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1_700_000_000_000}
    )
    return Response(status=status, headers=headers or {}, body=raw.encode())


def order(**kw: object) -> PlaceOrder:
    base: dict[str, object] = dict(
        venue=Venue.BYBIT, instrument=InstrumentId("BTC-USDT-PERP"), client_order_id=ClientOrderId("c-1"),
        side=Side.BUY, quantity=Decimal("0.010"), price=Decimal("30000.0"),
    )  # fmt: skip
    base.update(kw)
    return PlaceOrder(**base)  # type: ignore[arg-type]


# -- market data ----------------------------------------------------------------------------------------
def test_server_time_is_read_from_time_nano() -> None:
    assert rest.server_time().target == "/v5/market/time"
    assert rest.parse_server_time(ok("rest_server_time_response.json"), 0) == 1688639403423


def test_linear_instrument_has_tick_lot_minimums_and_unified_id() -> None:
    (inst,), cursor = rest.parse_instruments(ok("rest_instruments_info_linear_response.json"), 0)
    assert (inst.id, inst.venue_symbol, inst.kind, inst.contract_type) == (
        "BTC-USDT-PERP",
        "BTCUSDT",
        InstrumentKind.PERPETUAL,
        ContractType.LINEAR,
    )
    assert (inst.tick_size, inst.lot_size, inst.min_qty, inst.min_notional, inst.contract_size) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("5"),
        Decimal(1),
    )
    assert (inst.base, inst.quote, inst.settle, cursor) == ("BTC", "USDT", "USDT", "")


def test_prelaunch_instrument_is_left_out_unless_asked_for() -> None:
    resp = ok("rest_instruments_info_linear_prelaunch_response.json")
    assert rest.parse_instruments(resp, 0) == ([], "first%3DBIOUSDT%26last%3DBIOUSDT")
    (inst,), _ = rest.parse_instruments(resp, 0, statuses=frozenset({"Trading", "PreLaunch"}))
    assert (inst.id, inst.tick_size, inst.lot_size, inst.min_qty) == (
        "BIO-USDT-PERP",
        Decimal("0.0001"),
        Decimal("1"),
        Decimal("1"),
    )


def test_spot_instrument_uses_base_precision_and_min_order_amount() -> None:
    (inst,), _ = rest.parse_instruments(ok("rest_instruments_info_spot_response.json"), 0)
    assert (inst.id, inst.kind, inst.lot_size, inst.min_qty, inst.min_notional, inst.tick_size) == (
        "BTC-USDT",
        InstrumentKind.SPOT,
        Decimal("0.000001"),
        Decimal("0.000011"),
        Decimal("5"),
        Decimal("0.1"),
    )


def test_futures_and_inverse_instruments_get_dated_and_inverse_ids() -> None:
    row = {
        "symbol": "BTCUSDT-21FEB25", "contractType": "LinearFutures", "status": "Trading", "baseCoin": "BTC",
        "quoteCoin": "USDT", "settleCoin": "USDT", "deliveryTime": "1740124800000",
        "priceFilter": {"tickSize": "0.50"}, "lotSizeFilter": {"minOrderQty": "0.001", "qtyStep": "0.001", "minNotionalValue": "5"},
    }  # fmt: skip
    inv = dict(
        row,
        symbol="BTCUSD",
        contractType="InversePerpetual",
        quoteCoin="USD",
        settleCoin="BTC",
        deliveryTime="0",
    )
    inv["lotSizeFilter"] = {"minOrderQty": "1", "qtyStep": "1"}
    for category, item, uid, ctype in (
        ("linear", row, "BTC-USDT-20250221", ContractType.LINEAR),
        ("inverse", inv, "BTC-USD-PERP", ContractType.INVERSE),
    ):
        raw = json.dumps(
            {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": [item]}, "time": 1}
        )
        (inst,), _ = rest.parse_instruments(Response(status=200, headers={}, body=raw.encode()), 0)
        assert (inst.id, inst.contract_type) == (uid, ctype)


def test_orderbook_request_and_snapshot() -> None:
    spec = rest.orderbook("BTCUSDT", 50)
    assert spec.target == "/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=50"
    snap = rest.parse_orderbook(ok("rest_orderbook_response.json"), InstrumentId("BTC-USDT"), 3)
    assert snap == BookSnapshot(
        venue=Venue.BYBIT, instrument=InstrumentId("BTC-USDT"), bids=((65485.47, 47.081829),), asks=((65557.7, 16.606555),),
        sequence=230704, ts_event=1716863719031 * MS, ts_recv=3,
    )  # fmt: skip


def test_klines_come_back_oldest_first_and_closed() -> None:
    spec = rest.klines("BTCUSD", "1h", category="inverse")
    assert spec.query == "category=inverse&symbol=BTCUSD&interval=60&limit=200"
    ks = rest.parse_klines(ok("rest_kline_response.json"), InstrumentId("BTC-USD-PERP"), "1h", 4)
    assert [k.open_time // MS for k in ks] == [1670601600000, 1670605200000, 1670608800000]
    first, last = ks[0], ks[-1]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        17086.5,
        17088.0,
        16978.0,
        17071.5,
        6356.0,
    )
    assert (last.open, last.close, last.close_time // MS) == (17071.0, 17055.5, 1670608800000 + 3_599_999)
    assert all(k.closed for k in ks)


def test_recent_trades_parse_to_trades() -> None:
    (t,) = rest.parse_recent_trades(ok("rest_recent_trade_response.json"), InstrumentId("BTC-USDT"), 5)
    assert t == Trade(
        venue=Venue.BYBIT,
        instrument=InstrumentId("BTC-USDT"),
        price=16618.49,
        size=0.00012,
        side=Side.BUY,
        trade_id="2100000000007764263",
        ts_event=1672052955758 * MS,
        ts_recv=5,
    )


def test_inverse_tickers_parse_to_quotes(registry: InstrumentRegistry) -> None:
    assert rest.tickers("BTCUSD", "inverse").query == "category=inverse&symbol=BTCUSD"
    (q,) = rest.parse_tickers(ok("rest_tickers_inverse_response.json"), registry, 6)
    assert q == Quote(
        venue=Venue.BYBIT,
        instrument=InstrumentId("BTC-USD-PERP"),
        bid_px=103401.0,
        bid_sz=1063.0,
        ask_px=109152.8,
        ask_sz=9854.0,
        ts_event=1760352369814 * MS,
        ts_recv=6,
    )


# -- account ---------------------------------------------------------------------------------------------
def test_wallet_balance_request_is_signed_and_parsed() -> None:
    spec = rest.wallet_balance(CREDS, NOW)
    assert (spec.method, spec.query, spec.signed, spec.endpoint) == (
        Method.GET,
        "accountType=UNIFIED",
        True,
        "/v5/account/wallet-balance",
    )
    assert set(spec.headers) == {"X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-SIGN", "X-BAPI-RECV-WINDOW"}
    (b,) = rest.parse_wallet_balance(ok("rest_wallet_balance_response.json"), 7)
    assert (b.asset, b.total, b.available, b.ts_event) == (
        "BTC",
        Decimal("0"),
        Decimal("0"),
        1690872862481 * MS,
    )


def test_positions_parse_with_inverse_category(registry: InstrumentRegistry) -> None:
    (p,), cursor = rest.parse_positions(ok("rest_position_list_response.json"), registry, 8)
    assert (p.instrument, p.side, p.size, p.entry_price) == (
        "BTC-USD-PERP",
        Side.SELL,
        Decimal("300"),
        Decimal("27464.50441675"),
    )
    assert (p.unrealized_pnl, p.leverage, p.liquidation_price, p.ts_event) == (
        Decimal("-0.00029413"),
        Decimal("10"),
        None,
        1697673600012 * MS,
    )
    assert cursor == ""


# -- orders ----------------------------------------------------------------------------------------------
def test_limit_order_sends_documented_fields() -> None:
    spec = rest.place_order(CREDS, NOW, order(price=Decimal("30000.0"), reduce_only=True), BTC_PERP, position_idx=0)
    assert json.loads(spec.body) == {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
        "price": "30000", "timeInForce": "GTC", "orderLinkId": "c-1", "reduceOnly": True,
    }  # fmt: skip
    assert (spec.method, spec.path, spec.idempotent, spec.endpoint) == (
        Method.POST,
        "/v5/order/create",
        False,
        "/v5/order/create",
    )
    assert spec.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("tif", "post_only", "wire_tif"),
    [
        (TimeInForce.GTC, False, "GTC"),
        (TimeInForce.IOC, False, "IOC"),
        (TimeInForce.FOK, False, "FOK"),
        (TimeInForce.GTC, True, "PostOnly"),
    ],
)
def test_limit_order_time_in_force_variants(tif: TimeInForce, post_only: bool, wire_tif: str) -> None:
    spec = rest.place_order(CREDS, NOW, order(time_in_force=tif, post_only=post_only), BTC_PERP, position_idx=0)
    assert json.loads(spec.body)["timeInForce"] == wire_tif


def test_market_order_sends_no_price() -> None:
    spec = rest.place_order(
        CREDS, NOW, order(order_type=OrderType.MARKET, price=None, side=Side.SELL), BTC_PERP, position_idx=0
    )
    assert json.loads(spec.body) == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Sell",
        "orderType": "Market",
        "qty": "0.01",
        "orderLinkId": "c-1",
    }


def test_order_fixture_bodies_match_ours_on_every_field_we_send() -> None:
    for name, extra_keys in (
        ("rest_place_order_request_linear_close_reduce_only.json", {"positionIdx"}),
        ("rest_place_order_request_linear_open_long.json", {"positionIdx", "reduceOnly", "takeProfit", "stopLoss", "tpslMode", "tpOrderType", "slOrderType", "tpLimitPrice", "slLimitPrice"}),
    ):  # fmt: skip
        doc = wire_json(f"bybit/{name}")
        inst = make_instrument("BTC-USDT-PERP", doc["symbol"], "BTC", "USDT", lot="1", min_qty="1")
        ours = json.loads(rest.place_order(CREDS, NOW, order(
            client_order_id=ClientOrderId(doc["orderLinkId"]), side=Side(doc["side"].lower()), quantity=Decimal(doc["qty"]),
            price=Decimal(doc["price"]), reduce_only=doc["reduceOnly"],
        ), inst, position_idx=doc["positionIdx"]).body)  # fmt: skip
        assert set(doc) - set(ours) == extra_keys
        assert {k: doc[k] for k in ours} == ours


def test_spot_post_only_fixture_matches_our_body() -> None:
    doc = wire_json("bybit/rest_place_order_request_spot_postonly.json")
    spot = make_instrument(
        "BTC-USDT", "BTCUSDT", "BTC", "USDT", kind=InstrumentKind.SPOT, lot="0.000001", min_qty="0.000011"
    )
    ours = json.loads(
        rest.place_order(
            CREDS,
            NOW,
            order(
                client_order_id=ClientOrderId(doc["orderLinkId"]),
                quantity=Decimal(doc["qty"]),
                price=Decimal(doc["price"]),
                post_only=True,
            ),
            spot,
            position_idx=0,
        ).body
    )
    assert set(doc) - set(ours) == {"isLeverage", "orderFilter"}
    assert {k: doc[k] for k in ours} == ours


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"price": None}, "limit order c-1: expected a price, got None"),
        (
            {"order_type": OrderType.MARKET, "price": None, "post_only": True},
            "expected post_only=False, got True",
        ),
        ({"client_order_id": ClientOrderId("bad id")}, "got 'bad id'"),
        ({"quantity": Decimal("0.0105")}, "quantity 0.0105 is not a multiple of the lot size 0.001"),
        ({"price": Decimal("30000.05")}, "price 30000.05 is not a multiple of the tick size 0.1"),
        ({"quantity": Decimal("0.001"), "price": Decimal("100")}, "notional 0.100 is below the minimum 5"),
    ],
)
def test_invalid_orders_are_refused_before_signing(kw: dict[str, object], text: str) -> None:
    with pytest.raises(InvalidOrder) as info:
        rest.place_order(CREDS, NOW, order(**kw), BTC_PERP, position_idx=0)
    assert text in str(info.value)
    assert CREDS.secret not in str(info.value)


def test_cancel_by_venue_id_matches_the_documented_request() -> None:
    doc = wire_json("bybit/rest_cancel_order_request.json")
    spec = rest.cancel_order(CREDS, NOW, BTC_USDC_PERP, venue_order_id=VenueOrderId(doc["orderId"]))
    assert json.loads(spec.body) == {k: v for k, v in doc.items() if v is not None}
    assert spec.idempotent is True


def test_cancel_and_query_by_client_id_and_refusal_without_ids() -> None:
    spec = rest.cancel_order(CREDS, NOW, BTC_PERP, client_order_id=ClientOrderId("c-9"))
    assert spec.body == b'{"category":"linear","symbol":"BTCUSDT","orderLinkId":"c-9"}'
    q = rest.query_order(CREDS, NOW, BTC_PERP, venue_order_id=VenueOrderId("o-1"))
    assert (q.method, q.query) == (Method.GET, "category=linear&symbol=BTCUSDT&orderId=o-1")
    with pytest.raises(InvalidOrder, match="expected a venue order id or a client order id, got neither"):
        rest.query_order(CREDS, NOW, BTC_PERP)


def test_order_acks_of_create_and_cancel() -> None:
    assert rest.parse_order_ack(ok("rest_place_order_response.json"), 0) == rest.OrderAck(
        venue_order_id=VenueOrderId("1321003749386327552"),
        client_order_id=ClientOrderId("spot-test-postonly"),
    )
    assert rest.parse_order_ack(ok("rest_cancel_order_response.json"), 0) == rest.OrderAck(
        venue_order_id=VenueOrderId("c6f055d9-7f21-4079-913d-e6523a9cfffa"),
        client_order_id=ClientOrderId("linear-004"),
    )


def test_open_orders_parse_to_order_updates(registry: InstrumentRegistry) -> None:
    assert rest.open_orders(CREDS, NOW).query == "category=linear&settleCoin=USDT&openOnly=0&limit=50"
    (u,), cursor = rest.parse_open_orders(ok("rest_open_orders_response.json"), registry, 9)
    assert (u.instrument, u.venue_order_id, u.client_order_id) == (
        "ETH-USDT-PERP",
        "fd4300ae-7847-404e-b947-b46980a4d140",
        "test-000005",
    )
    assert (u.status, u.raw_status, u.side, u.order_type) == (
        OrderStatus.SUBMITTED,
        "New",
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (u.price, u.quantity, u.filled_qty, u.avg_price, u.ts_event) == (
        Decimal("1600.00"),
        Decimal("0.10"),
        Decimal("0.00"),
        None,
        1684738540561 * MS,
    )
    assert cursor == "page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26"
    assert rest.parse_query_order(ok("rest_open_orders_response.json"), registry, 9) == u


def test_query_asked_again_of_order_history_keeps_its_parameters_and_is_signed_anew(
    registry: InstrumentRegistry,
) -> None:
    realtime = rest.query_order(CREDS, NOW, BTC_PERP, client_order_id=ClientOrderId("c-1"))
    history = rest.query_order(CREDS, NOW + 7, BTC_PERP, client_order_id=ClientOrderId("c-1"), history=True)
    assert (realtime.path, history.path) == ("/v5/order/realtime", "/v5/order/history")
    assert realtime.query == history.query == "category=linear&symbol=BTCUSDT&orderLinkId=c-1"
    assert history.endpoint == "/v5/order/history" and history.idempotent
    # What the adapter's follow asks after an empty realtime answer: exactly the history query, at its time.
    assert rest.in_history(realtime, CREDS, NOW + 7) == history
    by_id = rest.query_order(CREDS, NOW, BTC_PERP, venue_order_id=VenueOrderId("oid-1"))
    assert rest.in_history(by_id, CREDS, NOW) == rest.query_order(CREDS, NOW, BTC_PERP,
                                                                 venue_order_id=VenueOrderId("oid-1"), history=True)


def test_a_query_answer_without_a_row_is_an_unknown_order(registry: InstrumentRegistry) -> None:
    empty = Response(status=200, headers={}, body=(
        b'{"retCode":0,"retMsg":"OK","result":{"list":[],"nextPageCursor":"","category":"linear"},"time":1}'))
    with pytest.raises(UnknownOrder, match="neither /v5/order/realtime nor /v5/order/history"):
        rest.parse_query_order(empty, registry, 0)  # the last answer: history, asked after an empty realtime
    row = ok("rest_open_orders_response.json")  # history rows have the realtime shape
    assert rest.parse_query_order(row, registry, 0).client_order_id == "test-000005"


def test_a_list_page_tells_its_rows_and_the_cursor_of_the_next_page() -> None:
    assert rest.parse_list_page(ok("rest_open_orders_response.json"), 0) == rest.ListPage(
        rows=1, cursor="page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26")
    assert rest.parse_list_page(ok("rest_position_list_response.json"), 0) == rest.ListPage(rows=1, cursor="")
    with pytest.raises(InvalidParameter):
        rest.parse_list_page(body(10001, "params error: cursor invalid"), 0)


def test_next_page_is_the_same_list_request_with_the_cursor_signed_anew() -> None:
    cursor = "page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26"
    first = rest.open_orders(CREDS, NOW, settle_coin="USDC")
    second = rest.next_page(first, cursor, CREDS, NOW + 5)
    assert second == rest.open_orders(CREDS, NOW + 5, settle_coin="USDC", cursor=cursor)
    assert second.query.endswith("&cursor=page_args%253Dfd4300ae-7847-404e-b947-b46980a4d140%2526symbol%253D6%2526")
    # A page after a page: the cursor is replaced, never repeated.
    assert rest.next_page(second, "next", CREDS, NOW + 9) == rest.open_orders(CREDS, NOW + 9, settle_coin="USDC",
                                                                             cursor="next")
    by_symbol = rest.open_orders(CREDS, NOW, "BTCPERP")
    assert rest.next_page(by_symbol, "c", CREDS, NOW) == rest.open_orders(CREDS, NOW, "BTCPERP", cursor="c")
    held = rest.positions(CREDS, NOW, settle_coin="USDC", limit=rest.POSITIONS_PAGE)
    assert rest.next_page(held, "c", CREDS, NOW + 1) == rest.positions(CREDS, NOW + 1, settle_coin="USDC",
                                                                       limit=rest.POSITIONS_PAGE, cursor="c")
    slow = rest.positions(CREDS, NOW, settle_coin="USDT", recv_window_ms=20_000)
    assert rest.next_page(slow, "c", CREDS, NOW).headers["X-BAPI-RECV-WINDOW"] == "20000"  # its receive window


# -- errors ----------------------------------------------------------------------------------------------
def test_bad_signature_fixture_is_an_auth_error_keeping_code_and_text() -> None:
    with pytest.raises(AuthError) as info:
        rest.parse_order_ack(ok("rest_error_10004_reconstructed.json"), 0)
    assert (info.value.code, info.value.text, info.value.http_status) == (
        "10004",
        "error sign! origin_string[...]",
        200,
    )


@pytest.mark.parametrize(
    ("code", "cls"),
    [(10001, InvalidParameter), (10002, TimestampError), (10003, AuthError), (10004, AuthError), (10005, AuthError),
     (110007, InsufficientFunds), (110001, UnknownOrder), (110072, DuplicateClientOrderId), (10016, VenueUnavailable),
     (110008, VenueReject)],
)  # fmt: skip
def test_http_200_ret_codes_become_typed_errors(code: int, cls: type[VenueReject]) -> None:
    with pytest.raises(cls) as info:
        rest.check(body(code, f"msg {code}"), 0)
    assert type(info.value) is cls
    assert (info.value.code, info.value.text) == (str(code), f"msg {code}")


def test_rate_limit_10006_reads_the_reset_timestamp_header() -> None:
    resp = body(10006, "Too many visits!", headers={"x-bapi-limit-reset-timestamp": str(1_700_000_001_500)})
    with pytest.raises(RateLimited) as info:
        rest.check(resp, 0)
    assert info.value.retry_after_s == 1.5 and info.value.code == "10006"


def test_http_403_is_an_ip_ban_for_ten_minutes() -> None:
    resp = Response(status=403, headers={}, body=b"access too frequent")
    with pytest.raises(IpBanned) as info:
        rest.check(resp, ts_recv=1_700_000_000_000 * MS)
    assert (info.value.until_ms, info.value.retry_after_s, info.value.http_status) == (
        1_700_000_600_000,
        600.0,
        403,
    )
    assert "access too frequent" in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (429, RateLimited),
        (500, VenueUnavailable),
        (502, VenueUnavailable),
        (404, InvalidParameter),
        (418, VenueReject),
    ],
)
def test_http_status_errors_are_typed(status: int, cls: type[VenueReject]) -> None:
    with pytest.raises(cls) as info:
        rest.check(Response(status=status, headers={"retry-after": "3"}, body=b"<html>oops</html>"), 0)
    assert type(info.value) is cls and info.value.http_status == status
    if status == 429:
        assert isinstance(info.value, RateLimited) and info.value.retry_after_s == 3.0


def test_garbage_200_body_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="cannot decode bybit orders"):
        rest.parse_open_orders(Response(status=200, headers={}, body=b"<html>"), InstrumentRegistry(), 0)


def test_batch_item_errors_keep_each_code_and_message() -> None:
    errs = rest.item_errors(wire_bytes("bybit/ws_trade_batch_create_response_with_errors.json"))
    assert [type(e) for e in errs] == [InvalidParameter] * 3
    assert [(e.code, e.text) for e in errs if e] == [("10001", "position idx not match position mode")] * 3
