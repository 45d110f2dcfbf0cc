"""Frames we send match the documented request fixtures."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from messages.base import ClientOrderId, OrderType, Side, TimeInForce, Venue
from messages.orders import PlaceOrder
from tests.venues.bybit.sample_registry import ETH_PERP
from tests.venues.bybit.wire_files import wire_json
from venues import Credentials
from venues.bybit import frames
from venues.errors import ConfigError


def test_subscribe_frame_matches_the_documented_request() -> None:
    doc = wire_json("bybit/ws_subscribe_request.json")
    assert json.loads(frames.subscribe(doc["args"], req_id=doc["req_id"])) == doc


def test_unsubscribe_frame_matches_the_documented_request() -> None:
    doc = wire_json("bybit/ws_unsubscribe_request.json")
    assert json.loads(frames.unsubscribe(doc["args"], req_id=doc["req_id"])) == doc


def test_private_order_subscribe_matches_the_documented_request() -> None:
    doc = wire_json("bybit/ws_private_subscribe_order.json")
    assert json.loads(frames.subscribe([frames.PrivateChannel.ORDER])) == doc


def test_ping_frame_matches_the_documented_heartbeat() -> None:
    doc = wire_json("bybit/ws_ping_request.json")
    assert json.loads(frames.ping(doc["req_id"])) == doc
    assert frames.ping() == b'{"op":"ping"}'


@pytest.mark.parametrize("name", ["bybit/ws_auth_request.json", "bybit/ws_trade_auth_request.json"])
def test_auth_frame_has_the_documented_shape(name: str) -> None:
    doc = wire_json(name)
    api_key, expires, _signature = doc["args"]
    ours = json.loads(frames.auth(Credentials(api_key, "s3cr3t"), expires, req_id=doc.get("req_id", "")))
    assert ours["op"] == doc["op"] == "auth"
    assert ours["args"][:2] == [api_key, expires]
    assert len(ours["args"][2]) == 64 and int(ours["args"][2], 16) >= 0
    assert ours.get("req_id", "") == doc.get("req_id", "")


def test_topics_are_built_from_symbol_depth_and_interval() -> None:
    assert frames.orderbook_topic("BTCUSDT", 50) == "orderbook.50.BTCUSDT"
    assert frames.trade_topic("BTCUSDT") == "publicTrade.BTCUSDT"
    assert frames.ticker_topic("BTCUSDT") == "tickers.BTCUSDT"
    assert frames.kline_topic("BTCUSDT", "5") == "kline.5.BTCUSDT"


def test_unsupported_depth_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"one of \(1, 50, 200, 1000\), got 25"):
        frames.orderbook_topic("BTCUSDT", 25)


def test_subscribe_refuses_an_args_list_past_the_documented_length() -> None:
    topics = [f"orderbook.50.SYM{i:05d}USDT" for i in range(1000)]
    with pytest.raises(ConfigError, match="at most 21000 characters"):
        frames.subscribe(topics)
    with pytest.raises(ConfigError, match="at least one topic"):
        frames.subscribe([])


def test_ws_order_create_frame_matches_the_documented_request() -> None:
    doc = wire_json("bybit/ws_trade_order_create_request.json")
    (fields,) = doc["args"]
    assert fields["symbol"] == ETH_PERP.venue_symbol and fields["category"] == "linear"
    order = PlaceOrder(
        venue=Venue.BYBIT, instrument=ETH_PERP.id, client_order_id=ClientOrderId("ws-create-1"),
        side=Side(fields["side"].lower()), order_type=OrderType(fields["orderType"].lower()),
        quantity=Decimal(fields["qty"]), price=Decimal(fields["price"]),
        time_in_force=TimeInForce.GTC, post_only=fields["timeInForce"] == "PostOnly",
    )  # fmt: skip
    header = doc["header"]
    sent = json.loads(
        frames.order_create(
            doc["reqId"], int(header["X-BAPI-TIMESTAMP"]), order, ETH_PERP, position_idx=0,
            recv_window_ms=int(header["X-BAPI-RECV-WINDOW"]), referer=header["Referer"],
        )
    )  # fmt: skip
    assert (sent["reqId"], sent["op"], sent["header"]) == (doc["reqId"], doc["op"], doc["header"])
    (ours,) = sent["args"]
    for key, value in fields.items():
        assert ours[key] == value, key
    # A PlaceOrder always carries a client order id, so ours adds orderLinkId (the doc example has none).
    assert set(ours) - set(fields) == {"orderLinkId"} and ours["orderLinkId"] == "ws-create-1"


def test_ws_order_create_header_without_referer() -> None:
    order = PlaceOrder(
        venue=Venue.BYBIT, instrument=ETH_PERP.id, client_order_id=ClientOrderId("c-2"), side=Side.SELL,
        order_type=OrderType.MARKET, quantity=Decimal("0.05"),
    )  # fmt: skip
    sent = json.loads(frames.order_create("r-1", 1_700_000_000_000, order, ETH_PERP, position_idx=0))
    assert sent["header"] == {"X-BAPI-TIMESTAMP": "1700000000000", "X-BAPI-RECV-WINDOW": "5000"}
    assert sent["args"] == [
        {"category": "linear", "symbol": "ETHUSDT", "side": "Sell", "orderType": "Market", "qty": "0.05",
         "orderLinkId": "c-2"}
    ]  # fmt: skip
