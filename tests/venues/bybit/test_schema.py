"""The documented Bybit v5 shapes (venues/bybit/schema.py) read by the drift collector: the documentation's own
examples (shared/fixtures/wire/bybit, all DOC provenance) report nothing, and every undocumented key, value or
topic is reported with its place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.venues.bybit.wire_files import wire_bytes, wire_json
from venues.bybit import schema
from venues.drift import DriftCollector, Finding

# The REST answers the client reads, by their request path.
REST_FIXTURES = {
    "rest_server_time_response.json": "/v5/market/time",
    "rest_instruments_info_linear_response.json": "/v5/market/instruments-info",
    "rest_instruments_info_linear_prelaunch_response.json": "/v5/market/instruments-info",
    "rest_instruments_info_spot_response.json": "/v5/market/instruments-info",
    "rest_orderbook_response.json": "/v5/market/orderbook",
    "rest_kline_response.json": "/v5/market/kline",
    "rest_recent_trade_response.json": "/v5/market/recent-trade",
    "rest_tickers_inverse_response.json": "/v5/market/tickers",
    "rest_place_order_response.json": "/v5/order/create",
    "rest_cancel_order_response.json": "/v5/order/cancel",
    "rest_open_orders_response.json": "/v5/order/realtime",
    "rest_position_list_response.json": "/v5/position/list",
    "rest_wallet_balance_response.json": "/v5/account/wallet-balance",
    "rest_error_10004_reconstructed.json": "/v5/order/create",
}
# Frames of the two streams the client opens (/v5/public/linear, /v5/private). Left out: the spot and option
# streams' pongs / acks and the spot ticker (streams we never open), and the /v5/trade order-entry socket's frames
# (we place orders over REST).
PUBLIC_FIXTURES = ["ws_orderbook_snapshot.json", "ws_orderbook_delta.json", "ws_public_trade.json", "ws_kline.json",
                   "ws_ticker_linear_perp_snapshot.json", "ws_pong_public_linear.json", "ws_subscribe_ack_linear.json"]
PRIVATE_FIXTURES = ["ws_auth_response.json", "ws_pong_private.json", "ws_subscribe_ack_private.json",
                    "ws_private_order_update.json", "ws_private_execution.json", "ws_private_position.json",
                    "ws_private_wallet.json"]


def _collector() -> DriftCollector:
    return DriftCollector(schema)


def _frame(obj: Any, stream: str = "public") -> list[Finding]:
    c = _collector()
    c.frame(stream, json.dumps(obj))
    return c.report()


def test_the_documentations_own_examples_report_nothing() -> None:
    c = _collector()
    for name, path in REST_FIXTURES.items():
        c.response(path, wire_bytes(f"bybit/{name}"))
    for name in PUBLIC_FIXTURES:
        c.frame("public", wire_bytes(f"bybit/{name}"))
    for name in PRIVATE_FIXTURES:
        c.frame("private", wire_bytes(f"bybit/{name}"))
    assert (c.responses, c.frames, c.unreadable) == (len(REST_FIXTURES), 14, 0)
    assert c.report() == []


@pytest.mark.parametrize(("stream", "obj", "kind"), [
    ("public", {"topic": "orderbook.50.BTCUSDT"}, "orderbook"),
    ("public", {"topic": "publicTrade.BTCUSDT"}, "publicTrade"),
    ("public", {"topic": "kline.5.BTCUSDT"}, "kline"),
    ("public", {"topic": "tickers.BTCUSDT"}, "tickers"),
    ("private", {"topic": "order.linear"}, "order"),
    ("private", {"topic": "order"}, "order"),
    ("private", {"topic": "execution.linear"}, "execution"),
    ("private", {"topic": "position.linear"}, "position"),
    ("private", {"topic": "wallet"}, "wallet"),
    ("private", {"topic": "dcp.future"}, ""),
    ("public", {"success": True, "op": "subscribe"}, "ack"),
    ("public", {"success": True, "op": "ping", "ret_msg": "pong"}, "ack"),
    ("private", {"success": False, "op": "auth"}, "ack"),
    ("private", {"op": "pong", "args": ["1"]}, "pong"),
    ("public", {"topic": "allLiquidation.BTCUSDT"}, None),
    ("public", {"topic": "x_new_event"}, None),
    ("private", {"topic": "wallet.linear"}, None),
    ("private", {"topic": "greeks"}, None),
    ("public", {"topic": "order.linear"}, None),
    ("public", {"op": "order.create", "retCode": 0}, None),
    ("public", [1, 2], None),
])
def test_frames_are_named_by_topic_or_op_and_undocumented_ones_are_none(stream: str, obj: Any,
                                                                        kind: str | None) -> None:
    assert schema.frame_kind(stream, obj) == kind


def test_an_undocumented_topic_is_one_unknown_event_type_with_its_example() -> None:
    [f] = _frame({"topic": "x_new_event", "type": "snapshot", "ts": 1, "data": {}})
    assert (f.what, f.where) == ("unknown event type", "public") and '"x_new_event"' in f.example


def test_a_new_field_in_a_book_push_is_reported_where_it_sits() -> None:
    push = wire_json("bybit/ws_orderbook_delta.json")
    push["data"]["x_new_field"] = 1
    push["x_top"] = "t"
    found = {(f.what, f.where, f.example) for f in _frame(push)}
    assert found == {("unknown field", "orderbook/data.x_new_field", "1"),
                     ("unknown field", "orderbook/x_top", '"t"')}


def test_a_new_field_in_each_order_row_of_a_list_answer_is_one_finding_counted_per_row() -> None:
    body = wire_json("bybit/rest_open_orders_response.json")
    row = body["result"]["list"][0]
    body["result"]["list"] = [row | {"x_new_field": 1}, row | {"x_new_field": 2}]
    c = _collector()
    c.response("/v5/order/realtime", json.dumps(body).encode())
    [f] = c.report()
    assert (f.what, f.where, f.example, f.count) == ("unknown field", "/v5/order/realtime/result.list.x_new_field",
                                                     "1", 2)


@pytest.mark.parametrize(("fixture", "stream", "key", "value", "where"), [
    ("ws_private_order_update.json", "private", "orderStatus", "Paused", "order/data.orderStatus"),
    ("ws_private_order_update.json", "private", "timeInForce", "GTX", "order/data.timeInForce"),
    ("ws_private_order_update.json", "private", "orderType", "Stop", "order/data.orderType"),
    ("ws_private_order_update.json", "private", "side", "Short", "order/data.side"),
])
def test_an_undocumented_enum_value_in_a_push_is_reported(fixture: str, stream: str, key: str, value: str,
                                                          where: str) -> None:
    push = wire_json(f"bybit/{fixture}")
    push["data"][0][key] = value
    [f] = _frame(push, stream)
    assert (f.what, f.where, f.example) == ("unknown value", where, value)


def test_an_undocumented_instrument_status_is_reported() -> None:
    body = wire_json("bybit/rest_instruments_info_linear_response.json")
    body["result"]["list"][0]["status"] = "Halted"
    c = _collector()
    c.response("/v5/market/instruments-info", json.dumps(body).encode())
    assert [(f.what, f.where, f.example) for f in c.report()] == [
        ("unknown value", "/v5/market/instruments-info/result.list.status", "Halted")]


def test_every_documented_order_status_passes() -> None:
    push = wire_json("bybit/ws_private_order_update.json")
    for status in ("New", "PartiallyFilled", "Untriggered", "Rejected", "PartiallyFilledCanceled", "Filled",
                   "Cancelled", "Triggered", "Deactivated"):
        push["data"][0]["orderStatus"] = status
        assert _frame(push, "private") == [], status


def test_a_new_key_in_the_envelope_and_in_the_api_key_permissions_is_reported() -> None:
    body = {"retCode": 0, "retMsg": "OK", "time": 1, "retExtInfo": {}, "x_env": 1,
            "result": {"readOnly": 0, "ips": ["*"], "permissions": {"ContractTrade": ["Order"], "Nft2": []}}}
    c = _collector()
    c.response("/v5/user/query-api", json.dumps(body).encode())
    assert {f.where for f in c.report()} == {"/v5/user/query-api/x_env",
                                             "/v5/user/query-api/result.permissions.Nft2"}


def test_every_rest_path_the_client_builds_has_a_documented_shape() -> None:
    from venues.bybit import preflight
    from venues.bybit.rest import Endpoint

    assert {e.value for e in Endpoint} | {preflight.QUERY_API, preflight.ACCOUNT_INFO} <= set(schema.REST)
