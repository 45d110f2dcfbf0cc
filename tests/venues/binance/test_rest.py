"""Binance REST: request specs (paths, params, weights, idempotency, signing) and typed error mapping."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from messages import (
    ClientOrderId,
    InstrumentId,
    OrderType,
    PlaceOrder,
    PositionMode,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from venues import Credentials
from venues.binance import BinanceCodec, rest
from venues.binance.signing import sign
from venues.errors import (
    AuthError,
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    IpBanned,
    PostOnlyWouldTake,
    RateLimited,
    TimestampError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Method, RequestSpec, Response
from venues.symbols import InstrumentRegistry

SECRET = "s3cr3t-never-printed"
CREDS = Credentials("key-abcdef", SECRET)
NOW = 1_700_000_000_000
BTC = InstrumentId("BTC-USDT-PERP")


def order(**kw: object) -> PlaceOrder:
    base: dict[str, object] = {
        "venue": Venue.BINANCE,
        "instrument": BTC,
        "client_order_id": ClientOrderId("cb-1"),
        "side": Side.BUY,
        "quantity": Decimal("0.010"),
        "price": Decimal("30000.10"),
    }
    base.update(kw)
    return PlaceOrder(**base)  # type: ignore[arg-type]


def place(registry: InstrumentRegistry, o: PlaceOrder) -> RequestSpec:
    """The signed POST /fapi/v1/order, built the way the exchange actor builds it."""
    return rest.place_order(o, registry.get(Venue.BINANCE, o.instrument), CREDS, NOW)


def form(data: bytes | str) -> list[tuple[str, str]]:
    return parse_qsl(data.decode() if isinstance(data, bytes) else data)


def test_limit_gtc_order_goes_in_a_signed_form_body(registry: InstrumentRegistry) -> None:
    spec = place(registry, order(reduce_only=True))
    assert (spec.method, spec.path, spec.query, spec.weight, spec.endpoint) == (
        Method.POST,
        "/fapi/v1/order",
        "",
        0,
        "order",
    )
    assert spec.idempotent is False and spec.signed is True
    params = form(spec.body)
    assert params[:-1] == [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01"),
        ("price", "30000.1"),
        ("reduceOnly", "true"),
        ("newClientOrderId", "cb-1"),
        ("newOrderRespType", "RESULT"),
        ("recvWindow", "5000"),
        ("timestamp", str(NOW)),
    ]
    signed_part = spec.body.decode().rsplit("&signature=", 1)[0]
    assert params[-1] == ("signature", sign(SECRET, signed_part))
    assert spec.headers == {"X-MBX-APIKEY": "key-abcdef", "Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("kw", "tif"),
    [
        ({"time_in_force": TimeInForce.IOC}, "IOC"),
        ({"time_in_force": TimeInForce.FOK}, "FOK"),
        ({"post_only": True}, "GTX"),
    ],
)
def test_time_in_force_and_post_only_map_to_the_venue_values(
    registry: InstrumentRegistry, kw: dict[str, object], tif: str
) -> None:
    spec = place(registry, order(**kw))
    assert dict(form(spec.body))["timeInForce"] == tif


def test_market_order_has_no_price_and_no_time_in_force(registry: InstrumentRegistry) -> None:
    spec = place(registry, order(order_type=OrderType.MARKET, price=None))
    names = [k for k, _ in form(spec.body)]
    assert (
        names[:4] == ["symbol", "side", "type", "quantity"]
        and "price" not in names
        and "timeInForce" not in names
    )
    assert dict(form(spec.body))["type"] == "MARKET"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"price": None}, "a limit order needs a price"),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, "post-only needs time in force GTC"),
        ({"order_type": OrderType.MARKET, "price": None, "post_only": True}, "cannot be post-only"),
        ({"client_order_id": ClientOrderId("has space")}, "client order id must match"),
        ({"quantity": Decimal("0.0105")}, "not a multiple of the lot size"),
        ({"venue": Venue.OKX}, "expected venue binance"),
    ],
)
def test_illegal_orders_are_refused_before_sending(
    registry: InstrumentRegistry, kw: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidOrder, match=message):
        place(registry, order(**kw))


def test_cancel_and_query_use_the_query_string_by_either_id() -> None:
    by_venue = rest.cancel_order("BTCUSDT", CREDS, NOW, venue_order_id=VenueOrderId("283194212"))
    by_client = rest.query_order("BTCUSDT", CREDS, NOW, client_order_id=ClientOrderId("cb-1"))
    assert (by_venue.method, by_venue.path, by_venue.weight, by_venue.idempotent) == (
        Method.DELETE,
        "/fapi/v1/order",
        1,
        True,
    )
    assert form(by_venue.query)[:2] == [("symbol", "BTCUSDT"), ("orderId", "283194212")]
    assert (by_client.method, by_client.path) == (Method.GET, "/fapi/v1/order")
    assert form(by_client.query)[:2] == [("symbol", "BTCUSDT"), ("origClientOrderId", "cb-1")]
    assert by_venue.body == b"" and by_client.body == b""
    with pytest.raises(InvalidOrder, match="got neither"):
        rest.cancel_order("BTCUSDT", CREDS, NOW)


def test_read_endpoints_carry_the_documented_weights() -> None:
    assert [(s.path, s.weight) for s in (rest.server_time(), rest.exchange_info())] == [
        ("/fapi/v1/time", 1),
        ("/fapi/v1/exchangeInfo", 1),
    ]
    assert [rest.depth("BTCUSDT", n).weight for n in (5, 50, 100, 500, 1000)] == [2, 2, 5, 10, 20]
    assert rest.depth("BTCUSDT").query == "symbol=BTCUSDT&limit=1000"
    assert [rest.klines("BTCUSDT", "1m", n).weight for n in (99, 100, 500, 1000, 1500)] == [1, 2, 5, 5, 10]
    assert rest.recent_trades("BTCUSDT").weight == 5
    assert (
        rest.balances(CREDS, NOW).weight == 5 and rest.positions(CREDS, NOW).path == "/fapi/v3/positionRisk"
    )
    assert (rest.open_orders(CREDS, NOW, "BTCUSDT").weight, rest.open_orders(CREDS, NOW).weight) == (1, 40)
    with pytest.raises(ConfigError, match="got 7"):
        rest.depth("BTCUSDT", 7)


def test_listen_key_requests_carry_the_key_header_but_no_signature() -> None:
    specs = [rest.create_listen_key(CREDS), rest.keepalive_listen_key(CREDS), rest.close_listen_key(CREDS)]
    assert [(s.method, s.path, s.signed, s.query) for s in specs] == [
        (Method.POST, "/fapi/v1/listenKey", False, ""),
        (Method.PUT, "/fapi/v1/listenKey", False, ""),
        (Method.DELETE, "/fapi/v1/listenKey", False, ""),
    ]
    assert all(s.headers == {"X-MBX-APIKEY": "key-abcdef"} for s in specs)
    assert rest.parse_listen_key(Response(status=200, headers={}, body=b'{"listenKey":"pqia91ma19a5"}')) == (
        "pqia91ma19a5"
    )


def test_server_time_is_parsed() -> None:
    assert rest.parse_server_time(Response(status=200, headers={}, body=b'{"serverTime":1499827319559}')) == (
        1499827319559
    )


# -- errors -------------------------------------------------------------------------------------------------
def err(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, headers=headers or {}, body=body)


def test_fixture_error_bodies_become_typed_errors(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    cases: list[tuple[str, int, type[VenueReject], str]] = [
        ("rest_error_real_-1022.json", 400, AuthError, "Signature for this request is not valid."),
        ("rest_error_real_-2019.json", 400, InsufficientFunds, "Margin is insufficient."),
        ("rest_error_doc_-1121.json", 400, InvalidParameter, "Invalid symbol."),
        (
            "rest_error_real_-1003_http429.json",
            429,
            RateLimited,
            "Too many requests; current request has limited.",
        ),
    ]
    for name, status, cls, text in cases:
        with pytest.raises(cls) as info:
            rest.raise_for_error(err(status, wire_bytes(name), {"retry-after": "7"}))
        assert type(info.value) is cls and info.value.text == text and info.value.http_status == status
        assert info.value.code == str(wire_json(name)["code"])
    with pytest.raises(RateLimited) as limited:
        rest.raise_for_error(err(429, wire_bytes("rest_error_real_-1003_http429.json"), {"retry-after": "7"}))
    assert (limited.value.code, limited.value.retry_after_s) == ("-1003", 7.0)


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            400,
            b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
            TimestampError,
            "-1021",
        ),
        (401, b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}', AuthError, "-2015"),
        (400, b'{"code":-2014,"msg":"API-key format invalid."}', AuthError, "-2014"),
        (400, b'{"code":-2011,"msg":"Unknown order sent."}', UnknownOrder, "-2011"),
        (400, b'{"code":-2013,"msg":"Order does not exist."}', UnknownOrder, "-2013"),
        (400, b'{"code":-1102,"msg":"Mandatory parameter was not sent."}', InvalidParameter, "-1102"),
        (
            503,
            b'{"code":-1000,"msg":"Unknown error, please check your request or try again later."}',
            VenueUnavailable,
            "-1000",
        ),
        (502, b"<html>Bad Gateway</html>", VenueUnavailable, "502"),
        (403, b"<html>WAF</html>", RateLimited, "403"),
    ],
)
def test_error_responses_map_to_their_classes_keeping_code_and_status(
    status: int, body: bytes, cls: type[VenueReject], code: str
) -> None:
    with pytest.raises(cls) as info:
        rest.raise_for_error(err(status, body))
    assert info.value.code == code and info.value.http_status == status and info.value.venue == "binance"
    assert f"code {code}" in str(info.value)


def test_duplicate_client_order_id_has_its_own_class() -> None:
    with pytest.raises(DuplicateClientOrderId) as info:
        rest.raise_for_error(err(400, b'{"code":-4116,"msg":"clientOrderId is duplicated"}'))
    assert (info.value.code, info.value.text) == ("-4116", "clientOrderId is duplicated")


def test_http_418_is_an_ip_ban_with_its_end_time() -> None:
    body = b'{"code":-1003,"msg":"Way too many requests; IP banned until 1592560210000. Please use the websocket."}'
    with pytest.raises(IpBanned) as info:
        rest.raise_for_error(err(418, body, {"retry-after": "120"}))
    assert (info.value.until_ms, info.value.retry_after_s, info.value.http_status) == (
        1592560210000,
        120.0,
        418,
    )


def test_successful_answers_and_positive_codes_are_not_errors() -> None:
    rest.raise_for_error(err(200, b'{"code":200,"msg":"The operation of cancel all open order is done."}'))
    rest.raise_for_error(err(200, b'{"serverTime":1}'))
    with pytest.raises(VenueReject) as info:
        rest.raise_for_error(err(200, b'{"code":-1130,"msg":"Data sent for parameter is not valid."}'))
    assert type(info.value) is InvalidParameter


def test_a_body_of_the_wrong_shape_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="cannot decode binance order"):
        rest.parse_order(err(200, b'{"orderId":"x"}'), 1)


def test_error_texts_and_reprs_never_contain_the_secret(registry: InstrumentRegistry) -> None:
    spec = place(registry, order())
    signature = dict(form(spec.body))["signature"]
    with pytest.raises(AuthError) as info:
        rest.raise_for_error(err(400, b'{"code":-1022,"msg":"Signature for this request is not valid."}'))
    for text in (
        repr(spec),
        str(spec),
        repr(CREDS),
        str(info.value),
        repr(info.value),
        repr(BinanceCodec(registry)),
    ):
        assert SECRET not in text and signature not in text


def test_an_order_answer_that_is_an_error_raises_its_typed_reject() -> None:
    with pytest.raises(UnknownOrder) as info:
        rest.parse_order(err(400, b'{"code":-2013,"msg":"Order does not exist."}'), 5)
    assert (info.value.code, info.value.http_status) == ("-2013", 400)


def test_a_post_only_order_that_would_take_is_a_typed_definite_reject() -> None:
    body = b'{"code":-5022,"msg":"Due to the order could not be executed as maker, the Post Only order will be rejected."}'
    with pytest.raises(PostOnlyWouldTake) as info:
        rest.parse_order(err(400, body), 5)
    assert (info.value.code, info.value.http_status) == ("-5022", 400)
    assert isinstance(info.value, VenueReject) and not isinstance(info.value, VenueUnavailable)


# -- position mode ---------------------------------------------------------------------------------------
def test_the_position_mode_read_is_a_signed_get_of_weight_30() -> None:
    spec = rest.position_mode(CREDS, NOW)
    assert (spec.method, spec.path, spec.weight, spec.signed, spec.body) == (
        Method.GET,
        "/fapi/v1/positionSide/dual",
        30,
        True,
        b"",
    )
    assert form(spec.query)[:2] == [("recvWindow", "5000"), ("timestamp", str(NOW))]
    assert rest.parse_position_mode(err(200, b'{"dualSidePosition":true}')) is PositionMode.HEDGE
    assert rest.parse_position_mode(err(200, b'{"dualSidePosition":false}')) is PositionMode.ONE_WAY
    with pytest.raises(DecodeError, match="positionSide/dual"):
        rest.parse_position_mode(err(200, b'{"dualSidePosition":"yes"}'))


@pytest.mark.parametrize(
    ("side", "reduce_only", "position_side"),
    [
        (Side.BUY, False, "LONG"),  # opens a long
        (Side.SELL, True, "LONG"),  # closes the long
        (Side.SELL, False, "SHORT"),  # opens a short
        (Side.BUY, True, "SHORT"),  # closes the short
    ],
)
def test_hedge_mode_orders_name_their_side_and_never_send_reduce_only(
    registry: InstrumentRegistry, side: Side, reduce_only: bool, position_side: str
) -> None:
    o = order(side=side, reduce_only=reduce_only)
    spec = rest.place_order(o, registry.get(Venue.BINANCE, BTC), CREDS, NOW, mode=PositionMode.HEDGE)
    params = dict(form(spec.body))
    assert (params["side"], params["positionSide"]) == (side.value.upper(), position_side)
    assert "reduceOnly" not in params  # the venue answers -1106 to reduceOnly in hedge mode


@pytest.mark.parametrize("reduce_only", [False, True])
def test_one_way_orders_leave_the_side_out_and_close_with_reduce_only(
    registry: InstrumentRegistry, reduce_only: bool
) -> None:
    spec = rest.place_order(order(side=Side.SELL, reduce_only=reduce_only), registry.get(Venue.BINANCE, BTC),
                            CREDS, NOW, mode=PositionMode.ONE_WAY)
    params = dict(form(spec.body))
    assert "positionSide" not in params
    assert params.get("reduceOnly") == ("true" if reduce_only else None)
