"""OKX REST: request specs (paths, queries, signed bytes, limits) and response parsing, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from messages.account import PositionMode
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
from messages.instruments import Instrument
from messages.orders import CancelOrder, PlaceOrder, QueryOrder
from venues import Credentials
from venues.errors import (
    AuthError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
    TimestampError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Method, Response
from venues.okx import rest
from venues.okx.signing import sign
from venues.symbols import InstrumentRegistry

OkxBytes = Callable[[str], bytes]
CREDS = Credentials("key-abc", "22582BD0CFF14C41EDBF1AB98506286D", "pass")
NOW = 1607418537715
PERP = InstrumentId("BTC-USDT-PERP")


def _ok(body: bytes | str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    raw = body.encode() if isinstance(body, str) else body
    return Response(status=status, headers=headers or {}, body=raw)


def _order(**over: object) -> PlaceOrder:
    fields: dict[str, object] = {
        "venue": Venue.OKX, "instrument": PERP, "client_order_id": ClientOrderId("cb1"), "side": Side.BUY,
        "quantity": Decimal("3"), "price": Decimal("30000.1"),
    }  # fmt: skip
    fields.update(over)
    return PlaceOrder(**fields)  # type: ignore[arg-type]


def test_public_builders_have_the_documented_paths_and_queries() -> None:
    assert rest.server_time().target == "/api/v5/public/time"
    assert rest.instruments().target == "/api/v5/public/instruments?instType=SWAP"
    assert rest.order_book("BTC-USDT-SWAP", 50).target == "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=50"
    assert (
        rest.klines("BTC-USDT-SWAP", "1H", 5).target
        == "/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1H&limit=5"
    )
    assert (
        rest.recent_trades("BTC-USDT-SWAP", 3).target == "/api/v5/market/trades?instId=BTC-USDT-SWAP&limit=3"
    )
    for spec in (
        rest.server_time(),
        rest.instruments(),
        rest.order_book("X"),
        rest.klines("X"),
        rest.recent_trades("X"),
    ):
        assert spec.method is Method.GET and not spec.signed and spec.idempotent and spec.weight == 1
        assert spec.endpoint in rest.RATE_LIMITS


def test_signed_get_signs_the_path_with_its_query() -> None:
    spec = rest.balances(CREDS, NOW, ccy="BTC")
    assert spec.target == "/api/v5/account/balance?ccy=BTC"
    assert spec.headers["OK-ACCESS-SIGN"] == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    assert spec.headers["OK-ACCESS-TIMESTAMP"] == "2020-12-08T09:08:57.715Z"
    assert (spec.headers["OK-ACCESS-KEY"], spec.headers["OK-ACCESS-PASSPHRASE"]) == ("key-abc", "pass")
    assert spec.endpoint == "account/balance" and rest.RATE_LIMITS["account/balance"] == (10, 2.0, "uid")
    assert rest.positions(CREDS, NOW).target == "/api/v5/account/positions?instType=SWAP"
    assert rest.open_orders(CREDS, NOW, symbol="BTC-USDT-SWAP").target == (
        "/api/v5/trade/orders-pending?instType=SWAP&instId=BTC-USDT-SWAP&limit=100"
    )
    assert rest.open_orders(CREDS, NOW, after="6110").target == (  # the next page: orders older than 6110
        "/api/v5/trade/orders-pending?instType=SWAP&after=6110&limit=100"
    )


@pytest.mark.parametrize(
    ("over", "ord_type", "px"),
    [
        ({}, "limit", "30000.1"),
        ({"time_in_force": TimeInForce.IOC}, "ioc", "30000.1"),
        ({"time_in_force": TimeInForce.FOK}, "fok", "30000.1"),
        ({"post_only": True}, "post_only", "30000.1"),
        ({"order_type": OrderType.MARKET, "price": None}, "market", None),
    ],
)
def test_place_order_body_is_exact_signed_and_not_idempotent(
    registry: InstrumentRegistry, over: dict[str, object], ord_type: str, px: str | None
) -> None:
    inst = registry.get(Venue.OKX, PERP)
    spec = rest.place_order(_order(reduce_only=True, **over), inst, CREDS, NOW)
    body = json.loads(spec.body)
    expected = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": ord_type, "sz": "3",
                "clOrdId": "cb1", "reduceOnly": True}  # fmt: skip
    if px is not None:
        expected["px"] = px
    assert body == expected
    assert (spec.method, spec.path, spec.idempotent, spec.signed) == (
        Method.POST,
        "/api/v5/trade/order",
        False,
        True,
    )
    prehash = "2020-12-08T09:08:57.715ZPOST/api/v5/trade/order" + spec.body.decode()
    assert spec.headers["OK-ACCESS-SIGN"] == sign(CREDS.secret, prehash)


@pytest.mark.parametrize(
    ("side", "reduce_only", "pos_side"),
    [(Side.BUY, False, "long"), (Side.SELL, False, "short"), (Side.SELL, True, "long"), (Side.BUY, True, "short")],
    ids=["open-long", "open-short", "close-long", "close-short"],
)
def test_long_short_mode_orders_name_the_side_they_open_or_close(
    registry: InstrumentRegistry, side: Side, reduce_only: bool, pos_side: str
) -> None:
    """OKX "Place order": posSide long/short is required in long_short_mode and reduceOnly applies to net_mode
    only, so a reduce-only SELL closes the long side and a reduce-only BUY the short side, without reduceOnly."""
    inst = registry.get(Venue.OKX, PERP)
    spec = rest.place_order(_order(side=side, reduce_only=reduce_only), inst, CREDS, NOW,
                            position_mode=PositionMode.HEDGE)  # fmt: skip
    body = json.loads(spec.body)
    assert (body["side"], body["posSide"], "reduceOnly" in body) == (side.value, pos_side, False)
    net = json.loads(rest.place_order(_order(side=side, reduce_only=reduce_only), inst, CREDS, NOW).body)
    assert "posSide" not in net and net.get("reduceOnly", False) is reduce_only  # net_mode: as asked


def test_spot_orders_never_carry_a_pos_side(registry: InstrumentRegistry) -> None:
    spot = registry.get(Venue.OKX, InstrumentId("BTC-USDT"))
    order = _order(instrument=spot.id, quantity=Decimal("0.001"))
    assert "posSide" not in json.loads(rest.place_order(order, spot, CREDS, NOW, position_mode=PositionMode.HEDGE).body)


def test_account_config_is_a_signed_get_and_its_pos_mode_is_read() -> None:
    spec = rest.account_config(CREDS, NOW)
    assert (spec.method, spec.target, spec.endpoint, spec.signed) == (Method.GET, "/api/v5/account/config",
                                                                     "account/config", True)  # fmt: skip
    assert spec.endpoint in rest.RATE_LIMITS and rest.RATE_LIMITS[spec.endpoint].requests == 5
    row = {"acctLv": "2", "posMode": "long_short_mode", "uid": "1", "level": "Lv1"}
    assert rest.parse_account_config(_ok(json.dumps({"code": "0", "msg": "", "data": [row]}))) is PositionMode.HEDGE
    row["posMode"] = "net_mode"
    assert rest.parse_account_config(_ok(json.dumps({"code": "0", "msg": "", "data": [row]}))) is PositionMode.ONE_WAY
    with pytest.raises(DecodeError, match="expected one row"):
        rest.parse_account_config(_ok('{"code":"0","msg":"","data":[]}'))


def test_place_order_refuses_what_okx_cannot_take(registry: InstrumentRegistry) -> None:
    inst = registry.get(Venue.OKX, PERP)
    with pytest.raises(InvalidOrder, match="clOrdId must be 1-32"):
        rest.place_order(_order(client_order_id=ClientOrderId("bad-id")), inst, CREDS, NOW)
    with pytest.raises(InvalidOrder, match="needs a price"):
        rest.place_order(_order(price=None), inst, CREDS, NOW)
    with pytest.raises(InvalidOrder, match="not a multiple of the lot size 1"):
        rest.place_order(_order(quantity=Decimal("0.5")), inst, CREDS, NOW)
    with pytest.raises(InvalidOrder, match="post-only needs GTC"):
        rest.place_order(_order(post_only=True, time_in_force=TimeInForce.IOC), inst, CREDS, NOW)


def test_cancel_and_query_by_either_id(registry: InstrumentRegistry) -> None:
    inst = registry.get(Venue.OKX, PERP)
    by_venue = rest.cancel_order(
        CancelOrder(venue=Venue.OKX, instrument=PERP, venue_order_id=VenueOrderId("42")), inst, CREDS, NOW
    )
    assert json.loads(by_venue.body) == {"instId": "BTC-USDT-SWAP", "ordId": "42"}
    by_client = rest.cancel_order(
        CancelOrder(venue=Venue.OKX, instrument=PERP, client_order_id=ClientOrderId("cb1")), inst, CREDS, NOW
    )
    assert json.loads(by_client.body) == {"instId": "BTC-USDT-SWAP", "clOrdId": "cb1"}
    query = rest.query_order(
        QueryOrder(venue=Venue.OKX, instrument=PERP, client_order_id=ClientOrderId("cb1")), inst, CREDS, NOW
    )
    assert query.target == "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=cb1"
    with pytest.raises(InvalidOrder, match="needs a client order id or a venue order id"):
        rest.query_order(QueryOrder(venue=Venue.OKX, instrument=PERP), inst, CREDS, NOW)


def test_real_swap_instruments_parse_with_contract_sizes(okx_bytes: OkxBytes) -> None:
    rows = b",".join(okx_bytes(f"rest_real_instrument_{n}.json") for n in ("BTC_USDT_SWAP", "BTC_USD_SWAP"))
    (linear, l_state), (inverse, i_state) = rest.parse_instruments(_ok(b'{"code":"0","msg":"","data":[' + rows + b"]}"))
    assert l_state == i_state == "live"
    assert (linear.id, linear.venue_symbol, linear.contract_type, linear.contract_size) == (
        "BTC-USDT-PERP", "BTC-USDT-SWAP", "linear", Decimal("0.01"))  # fmt: skip
    assert (linear.tick_size, linear.lot_size, linear.min_qty, linear.settle, linear.quote) == (
        Decimal("0.1"), Decimal("1"), Decimal("1"), "USDT", "USDT")  # fmt: skip
    assert (inverse.id, inverse.contract_type, inverse.contract_size, inverse.settle, inverse.quote) == (
        "BTC-USD-PERP", "inverse", Decimal("100"), "BTC", "USD")  # fmt: skip


@pytest.mark.parametrize(
    "name", ["rest_real_instrument_BTC_USDT_SWAP.json", "rest_real_instrument_BTC_USD_SWAP.json"]
)
def test_real_swap_instrument_fields_equal_the_capture(okx_bytes: OkxBytes, name: str) -> None:
    raw = okx_bytes(name)
    row = json.loads(raw)
    ((inst, state),) = rest.parse_instruments(_ok(b'{"code":"0","msg":"","data":[' + raw + b"]}"))
    assert state == row["state"]
    assert inst.venue_symbol == row["instId"] and inst.kind == "perpetual" and row["instType"] == "SWAP"
    assert inst.contract_type == row["ctType"]
    assert inst.contract_size == Decimal(row["ctVal"]) * Decimal(row["ctMult"])
    assert (inst.tick_size, inst.lot_size, inst.min_qty) == (
        Decimal(row["tickSz"]), Decimal(row["lotSz"]), Decimal(row["minSz"]))  # fmt: skip
    assert inst.settle == row["settleCcy"]
    assert inst.base + "-" + inst.quote == row["uly"]


def test_place_order_body_equals_the_documented_request(okx_bytes: OkxBytes) -> None:
    doc = json.loads(okx_bytes("rest_place_order_request.json"))
    # The doc's spot example (px 2.15) needs a 0.01 tick; our fixture registry's BTC-USDT has 0.1.
    spot = Instrument(
        id=InstrumentId(doc["instId"]), venue=Venue.OKX, venue_symbol=doc["instId"], kind=InstrumentKind.SPOT,
        base="BTC", quote="USDT", settle="USDT", contract_type=ContractType.LINEAR, tick_size=Decimal("0.01"),
        lot_size=Decimal(1), min_qty=Decimal(1),
    )  # fmt: skip
    order = PlaceOrder(
        venue=Venue.OKX, instrument=spot.id, client_order_id=ClientOrderId(doc["clOrdId"]),
        side=Side(doc["side"]), order_type=OrderType(doc["ordType"]), quantity=Decimal(doc["sz"]),
        price=Decimal(doc["px"]),
    )  # fmt: skip
    spec = rest.place_order(order, spot, CREDS, NOW, td_mode=doc["tdMode"])
    body = json.loads(spec.body)
    for key, value in doc.items():
        assert body[key] == value, key
    assert set(body) == set(doc)
    assert (spec.method, spec.path) == (Method.POST, "/api/v5/trade/order")


def test_ticker_builder_and_response(okx_bytes: OkxBytes) -> None:
    raw = okx_bytes("rest_ticker_response.json")
    (row,) = json.loads(raw)["data"]
    spec = rest.ticker(row["instId"])
    assert spec.target == f"/api/v5/market/ticker?instId={row['instId']}" and spec.method is Method.GET
    assert spec.endpoint in rest.RATE_LIMITS and not spec.signed
    quote = rest.parse_ticker(_ok(raw), InstrumentId("BTC-USD-PERP"), 5)
    assert quote is not None and quote.instrument == "BTC-USD-PERP"
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (
        float(row["bidPx"]), float(row["bidSz"]), float(row["askPx"]), float(row["askSz"]))  # fmt: skip
    assert (quote.ts_event, quote.ts_recv) == (int(row["ts"]) * 1_000_000, 5)
    empty = json.dumps({"code": "0", "msg": "", "data": [{**row, "bidPx": "", "bidSz": ""}]})
    assert rest.parse_ticker(_ok(empty), InstrumentId("BTC-USD-PERP"), 5) is None
    with pytest.raises(DecodeError, match="expected one row"):
        rest.parse_ticker(_ok('{"code":"0","msg":"","data":[]}'), InstrumentId("BTC-USD-PERP"), 5)


def test_spot_instruments_doc_example_parses(okx_bytes: OkxBytes) -> None:
    ((spot, state),) = rest.parse_instruments(_ok(okx_bytes("rest_instruments_spot_response.json")))
    assert state == "live"
    assert (spot.id, spot.kind, spot.tick_size, spot.lot_size, spot.min_qty, spot.contract_size) == (
        "BTC-USDT", "spot", Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"), Decimal(1))  # fmt: skip


def test_instrument_states_other_than_live_are_kept_with_the_instrument(okx_bytes: OkxBytes) -> None:
    rows = [json.loads(okx_bytes("rest_real_instrument_BTC_USDT_SWAP.json")) | {"state": s}
            for s in ("suspend", "preopen", "test")]
    listed = rest.parse_instruments(_ok(json.dumps({"code": "0", "msg": "", "data": rows})))
    assert [(i.venue_symbol, state) for i, state in listed] == [("BTC-USDT-SWAP", s) for s in ("suspend", "preopen", "test")]


def test_market_data_responses_parse(okx_bytes: OkxBytes) -> None:
    book = rest.parse_order_book(_ok(okx_bytes("rest_orderbook_response.json")), InstrumentId("BTC-USDT"), 5)
    assert (book.bids, book.asks, book.ts_event, book.sequence) == (
        ((41006.3, 0.30178218),),
        ((41006.8, 0.60038921),),
        1629966436396000000,
        -1,  # the doc capture predates the 2026 seqId
    )
    with_seq = json.loads(okx_bytes("rest_orderbook_response.json"))
    for seq in (123456789012, "123456789012"):  # a number as on the books channel; a string read the same
        with_seq["data"][0]["seqId"] = seq
        assert rest.parse_order_book(_ok(json.dumps(with_seq)), InstrumentId("BTC-USDT"), 5).sequence == 123456789012
    spec = rest.order_book("BTC-USDT-SWAP", 400)
    assert (spec.target, spec.endpoint, spec.headers) == (
        "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400", "market/books", {})
    k_old, k_new = rest.parse_klines(_ok(okx_bytes("rest_candles_response.json")), PERP, "1m", 5)
    assert (k_old.open, k_old.high, k_old.low, k_old.close, k_old.volume, k_old.closed) == (
        3.731,
        3.799,
        3.494,
        3.72,
        24912403.0,
        True,
    )
    assert (k_new.open, k_new.close, k_new.closed) == (3.721, 3.708, False)
    assert k_new.close_time == (1597026383085 + 60_000 - 1) * 1_000_000
    trades = rest.parse_trades(
        _ok(
            '{"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","side":"sell","sz":"2","px":"30000.5","tradeId":"99","ts":"1700000000000"}]}'
        ),
        PERP,
        5,
    )
    assert [(t.price, t.size, t.side, t.trade_id) for t in trades] == [(30000.5, 2.0, Side.SELL, "99")]
    assert (
        rest.parse_server_time(_ok('{"code":"0","msg":"","data":[{"ts":"1597026383085"}]}')) == 1597026383085
    )


def test_account_responses_parse(okx_bytes: OkxBytes, registry: InstrumentRegistry) -> None:
    """Balance: total = cashBal (not eq, which holds unrealised PnL), available = availEq (OKX's free margin),
    unrealized_pnl = upl."""
    (usdt,) = rest.parse_balances(_ok(okx_bytes("rest_balance_response.json")), 5)
    assert (usdt.asset, usdt.total, usdt.available, usdt.unrealized_pnl, usdt.ts_event) == (
        "USDT", Decimal("4850.435693622894"), Decimal("4834.3170936228935"), Decimal("-7.545600000000006"),
        1705449605015000000)  # fmt: skip
    spot_mode = json.loads(okx_bytes("rest_balance_response.json"))
    spot_mode["data"][0]["details"][0]["availEq"] = ""  # spot mode: OKX leaves availEq empty
    (usdt,) = rest.parse_balances(_ok(json.dumps(spot_mode)), 5)
    assert usdt.available == Decimal("4834.317093622894")  # availBal
    (pos,) = rest.parse_positions(_ok(okx_bytes("rest_positions_response.json")), registry, 5)
    assert (pos.instrument, pos.side, pos.size, pos.entry_price, pos.leverage, pos.liquidation_price) == (
        "BTC-USDT", Side.BUY, Decimal("0.00190433573"), Decimal("62961.4"), Decimal("5"), Decimal("53615.448336593756"))  # fmt: skip
    assert pos.unrealized_pnl == Decimal("-0.0000033452492717")


def test_order_responses_parse(okx_bytes: OkxBytes, registry: InstrumentRegistry) -> None:
    ack = rest.parse_order_ack(_ok(okx_bytes("rest_place_order_response.json")))
    assert (ack.venue_order_id, ack.client_order_id, ack.ts_event) == (
        "312269865356374016",
        "oktswap6",
        1695190491421000000,
    )
    order = rest.parse_order(_ok(okx_bytes("rest_order_details_response.json")), InstrumentId("BTC-USDT"), 5)
    assert (order.venue_order_id, order.client_order_id, order.status, order.raw_status, order.order_type) == (
        "680800019749904384", None, OrderStatus.FILLED, "filled", OrderType.MARKET)  # fmt: skip
    assert (order.quantity, order.filled_qty, order.avg_price, order.price) == (
        Decimal("100"), Decimal("0.00192834"), Decimal("51858"), None)  # fmt: skip
    assert (order.last_fill_qty, order.last_fill_px) == (Decimal("0.00192834"), Decimal("51858"))
    pending = rest.parse_open_orders(
        _ok(
            '{"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","ordId":"7","clOrdId":"cb1","state":"live","side":"sell","ordType":"post_only","sz":"5","px":"31000","accFillSz":"0","avgPx":"","uTime":"1700000000000"}]}'
        ),
        registry,
        5,
    )
    assert [(o.instrument, o.status, o.quantity, o.price, o.avg_price) for o in pending] == [
        (PERP, OrderStatus.SUBMITTED, Decimal("5"), Decimal("31000"), None)]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "code"),
    [
        (200, '{"code":"50011","msg":"Rate limit reached.","data":[]}', {}, RateLimited, "50011"),
        (
            429,
            '{"code":"50011","msg":"Too Many Requests","data":[]}',
            {"retry-after": "2"},
            RateLimited,
            "50011",
        ),
        (429, "Too Many Requests", {"retry-after": "3"}, RateLimited, "429"),
        (401, '{"code":"50113","msg":"Invalid signature.","data":[]}', {}, AuthError, "50113"),
        (401, '{"code":"50102","msg":"Timestamp request expired.","data":[]}', {}, TimestampError, "50102"),
        (
            503,
            '{"code":"50001","msg":"Service temporarily unavailable.","data":[]}',
            {},
            VenueUnavailable,
            "50001",
        ),
        (502, "<html>bad gateway</html>", {}, VenueUnavailable, "502"),
        (200, '{"code":"51603","msg":"Order does not exist.","data":[]}', {}, UnknownOrder, "51603"),
    ],
)
def test_error_payloads_become_typed_errors_keeping_okx_code_and_text(
    status: int, body: str, headers: dict[str, str], cls: type, code: str
) -> None:
    with pytest.raises(VenueReject) as info:
        rest.parse_balances(_ok(body, status, headers), 5)
    assert type(info.value) is cls
    assert info.value.code == code
    if headers:
        assert isinstance(info.value, RateLimited)
        assert info.value.retry_after_s == float(headers["retry-after"])


def test_per_order_scode_is_where_okx_reports_order_failures() -> None:
    insufficient = '{"code":"1","msg":"All operations failed","data":[{"clOrdId":"cb1","ordId":"","sCode":"51008","sMsg":"Order failed. Insufficient USDT balance in account","ts":"1"}]}'
    with pytest.raises(InsufficientFunds) as info:
        rest.parse_order_ack(_ok(insufficient))
    assert (info.value.code, info.value.text) == (
        "51008",
        "Order failed. Insufficient USDT balance in account",
    )
    duplicate = '{"code":"0","msg":"","data":[{"clOrdId":"cb1","ordId":"","sCode":"51016","sMsg":"Client order ID already exists.","ts":"1"}]}'
    with pytest.raises(DuplicateClientOrderId):
        rest.parse_order_ack(_ok(duplicate))


def test_garbage_body_with_http_200_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="cannot decode okx balance: HTTP 200"):
        rest.parse_balances(_ok("not json"), 5)
