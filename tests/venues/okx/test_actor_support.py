"""Codec pieces the exchange actor's OKX adapter uses: check_response (every error, before any parser),
the place-ack OrderUpdate."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from messages.base import ClientOrderId, InstrumentId, OrderStatus, OrderType, Side, TimeInForce, Venue
from messages.orders import PlaceOrder
from venues.errors import (
    AuthError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    IpBanned,
    RateLimited,
    TimestampError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Response
from venues.okx import rest

PERP = InstrumentId("BTC-USDT-PERP")


def _resp(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, headers=headers or {}, body=body.encode())


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
        (429, "Too Many Requests", {}, RateLimited, "429"),
        (401, '{"code":"50102","msg":"Timestamp request expired.","data":[]}', {}, TimestampError, "50102"),
        (401, '{"code":"50113","msg":"Invalid signature.","data":[]}', {}, AuthError, "50113"),
        (
            200,
            '{"code":"50121","msg":"You can\'t access our services through the IP address","data":[]}',
            {},
            IpBanned,
            "50121",
        ),
        (
            503,
            '{"code":"50001","msg":"Service temporarily unavailable.","data":[]}',
            {},
            VenueUnavailable,
            "50001",
        ),
        (502, "<html>bad gateway</html>", {}, VenueUnavailable, "502"),
        (200, '{"code":"51603","msg":"Order does not exist.","data":[]}', {}, UnknownOrder, "51603"),
        (404, '{"code":"0","msg":"","data":[]}', {}, VenueReject, "404"),
    ],
)
def test_check_response_raises_every_okx_error_typed(
    status: int, body: str, headers: dict[str, str], cls: type, code: str
) -> None:
    with pytest.raises(VenueReject) as info:
        rest.check_response(_resp(body, status, headers))
    assert type(info.value) is cls
    assert info.value.code == code


def test_check_response_raises_the_per_order_scode_even_under_code_0_and_passes_successes() -> None:
    failed = (
        '{"code":"1","msg":"All operations failed","data":[{"clOrdId":"cb1","ordId":"","sCode":"51008",'
        '"sMsg":"Order failed. Insufficient USDT margin in account","ts":"1"}]}'
    )
    with pytest.raises(InsufficientFunds) as info:
        rest.check_response(_resp(failed))
    assert info.value.text == "Order failed. Insufficient USDT margin in account"
    duplicate = (
        '{"code":"0","msg":"","data":[{"clOrdId":"cb1","ordId":"","sCode":"51016",'
        '"sMsg":"Client order ID already exists.","ts":"1"}]}'
    )
    with pytest.raises(DuplicateClientOrderId):
        rest.check_response(_resp(duplicate))
    ok_ack = '{"code":"0","msg":"","data":[{"clOrdId":"cb1","ordId":"12","sCode":"0","sMsg":"Order placed","ts":"1"}]}'
    rest.check_response(_resp(ok_ack))
    rest.check_response(_resp('{"code":"0","msg":"","data":[{"ts":"1597026383085"}]}'))
    rest.check_response(_resp("not json"))  # left to the parser, which raises DecodeError
    with pytest.raises(DecodeError):
        rest.parse_server_time(_resp("not json"))


def _order(**over: object) -> PlaceOrder:
    fields: dict[str, object] = {
        "venue": Venue.OKX, "instrument": PERP, "client_order_id": ClientOrderId("cb1"), "side": Side.SELL,
        "quantity": Decimal("3"), "price": Decimal("30000.1"), "time_in_force": TimeInForce.GTC,
        "reduce_only": True,
    }  # fmt: skip
    fields.update(over)
    return PlaceOrder(**fields)  # type: ignore[arg-type]


def test_parse_place_is_submitted_with_the_orders_own_fields_and_the_venues_ids() -> None:
    body = json.dumps(
        {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "clOrdId": "cb1",
                    "ordId": "680800019749904384",
                    "sCode": "0",
                    "sMsg": "Order placed",
                    "ts": "1700000000123",
                }
            ],
        }
    )
    upd = rest.parse_place(_resp(body), _order(), ts_recv=1_700_000_000_200_000_000)
    assert (upd.venue, upd.instrument, upd.client_order_id, upd.venue_order_id) == (
        Venue.OKX, PERP, "cb1", "680800019749904384")  # fmt: skip
    assert (upd.status, upd.raw_status, upd.side, upd.order_type) == (
        OrderStatus.SUBMITTED,
        "",
        Side.SELL,
        OrderType.LIMIT,
    )
    assert (upd.quantity, upd.filled_qty, upd.price, upd.avg_price, upd.reduce_only) == (
        Decimal("3"), Decimal(0), Decimal("30000.1"), None, True)  # fmt: skip
    assert (upd.ts_event, upd.ts_recv) == (1_700_000_000_123_000_000, 1_700_000_000_200_000_000)
    market = rest.parse_place(_resp(body), _order(order_type=OrderType.MARKET, price=None), 5)
    assert market.order_type is OrderType.MARKET and market.price is None


def test_parse_place_raises_the_per_order_failure() -> None:
    body = (
        '{"code":"1","msg":"","data":[{"clOrdId":"cb1","ordId":"","sCode":"51016",'
        '"sMsg":"Client order ID already exists.","ts":"1"}]}'
    )
    with pytest.raises(DuplicateClientOrderId):
        rest.parse_place(_resp(body), _order(), 5)
