"""Create and cancel acks (ids only on Bybit) turned into OrderUpdates for the exchange actor."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from messages.base import ClientOrderId, InstrumentId, OrderStatus, OrderType, Side, Venue, VenueOrderId
from messages.orders import OrderUpdate, PlaceOrder
from tests.venues.bybit.sample_registry import BTC_PERP
from tests.venues.bybit.wire_files import wire_bytes
from venues.bybit import rest
from venues.errors import DuplicateClientOrderId, UnknownOrder
from venues.http import Response

BTC = InstrumentId("BTC-USDT-PERP")
TIME_MS = 1_700_000_000_123


def _resp(ret_code: int, result: dict[str, str], msg: str = "OK") -> Response:
    body = {"retCode": ret_code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": TIME_MS}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


def _order(**kw: object) -> PlaceOrder:
    base: dict[str, object] = {
        "venue": Venue.BYBIT, "instrument": BTC, "client_order_id": ClientOrderId("cb-1"), "side": Side.BUY,
        "quantity": Decimal("0.010"), "price": Decimal("30000.1"),
    }  # fmt: skip
    return PlaceOrder(**(base | kw))  # type: ignore[arg-type]


def test_place_ack_is_submitted_with_the_order_as_sent() -> None:
    upd = rest.parse_place_ack(_resp(0, {"orderId": "oid-1", "orderLinkId": "cb-1"}), _order(), BTC_PERP, 5)
    assert upd.status is OrderStatus.SUBMITTED and upd.raw_status == ""
    assert (upd.venue_order_id, upd.client_order_id) == (VenueOrderId("oid-1"), ClientOrderId("cb-1"))
    # the order as place_order sent it (the router rounded it to the lot and tick)
    assert (upd.quantity, upd.price, upd.filled_qty, upd.avg_price) == (
        Decimal("0.010"),
        Decimal("30000.1"),
        Decimal(0),
        None,
    )
    assert (upd.side, upd.order_type, upd.instrument, upd.venue) == (
        Side.BUY,
        OrderType.LIMIT,
        BTC,
        Venue.BYBIT,
    )
    assert (upd.ts_event, upd.ts_recv) == (TIME_MS * 1_000_000, 5)


def test_place_ack_of_a_market_order_has_no_price_and_keeps_reduce_only() -> None:
    order = _order(order_type=OrderType.MARKET, price=None, side=Side.SELL, reduce_only=True)
    upd = rest.parse_place_ack(_resp(0, {"orderId": "oid-2", "orderLinkId": ""}), order, BTC_PERP, 0)
    assert upd.price is None and upd.reduce_only and upd.side is Side.SELL
    assert upd.client_order_id == "cb-1"  # the venue echoed none: ours stands


def test_place_ack_of_the_documented_fixture_and_a_refusal() -> None:
    ok = Response(status=200, headers={}, body=wire_bytes("bybit/rest_place_order_response.json"))
    upd = rest.parse_place_ack(ok, _order(client_order_id=ClientOrderId("spot-test-postonly")), BTC_PERP, 0)
    assert upd.venue_order_id == "1321003749386327552"
    with pytest.raises(DuplicateClientOrderId):
        rest.parse_place_ack(_resp(110072, {}, "OrderLinkedID is duplicate"), _order(), BTC_PERP, 0)


def _known(status: OrderStatus = OrderStatus.SUBMITTED, filled: str = "0") -> OrderUpdate:
    return OrderUpdate(
        venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-1"), venue_order_id=None,
        status=status, raw_status="New", side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.010"),
        filled_qty=Decimal(filled), avg_price=None, price=Decimal("30000.1"), ts_event=1, ts_recv=1,
    )  # fmt: skip


def test_cancel_ack_joins_the_last_known_state() -> None:
    resp = _resp(0, {"orderId": "oid-1", "orderLinkId": "cb-1"})
    upd = rest.parse_cancel_ack(resp, _known(filled="0.004"), 9)
    assert upd is not None and upd.status is OrderStatus.CANCELLED and upd.raw_status == "Cancelled"
    assert (upd.venue_order_id, upd.filled_qty, upd.quantity) == ("oid-1", Decimal("0.004"), Decimal("0.010"))
    assert (upd.ts_event, upd.ts_recv) == (TIME_MS * 1_000_000, 9)
    filled = _known(OrderStatus.FILLED)
    assert rest.parse_cancel_ack(resp, filled, 9) is filled  # terminal already: as it is
    assert rest.parse_cancel_ack(resp, None, 9) is None


def test_cancel_ack_refusal_is_typed() -> None:
    with pytest.raises(UnknownOrder):
        rest.parse_cancel_ack(_resp(110001, {}, "Order does not exist."), _known(), 0)
