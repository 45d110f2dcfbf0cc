"""The strict Binance USD-M schema (venues/binance/schema.py) read by venues.drift.DriftCollector.

The real and documented payloads of ``$CROSSBOOK_WIRE_FIXTURES/binance`` must raise no finding: none of them
is older or newer than the pages the schema was written from (checked 2026-12-06). The twin side (a clean
twin reports nothing, the drift faults report exactly what they inject) is tests/simulator/test_binance_doctor.py.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import msgspec
import pytest

from venues.binance import schema, wire
from venues.drift import DriftCollector, Finding

# Every wire fixture: a frame (the stream it came on), a REST answer (its path), or not a payload we receive.
_FRAMES = {
    "ws_aggtrade_real.json": "market",
    "ws_bookticker_real.json": "public",
    "ws_depth_update.json": "public",
    "ws_depth_diff_real_sequence_SUSHIUSDT.jsonl": "public",
    "ws_kline_real.json": "market",
    "ws_list_subscriptions_response.json": "market",
    "ws_subscribe_response.json": "public",
    "ws_user_account_update.json": "private",
    "ws_user_order_trade_update.json": "private",
}
_ANSWERS = {
    "rest_balance_v3_response.json": "/fapi/v3/balance",
    "rest_cancel_order_response.json": "/fapi/v1/order",
    "rest_new_order_response.json": "/fapi/v1/order",
    "rest_depth_response.json": "/fapi/v1/depth",
    "rest_depth_snapshot_real_SUSHIUSDT.json": "/fapi/v1/depth",
    "rest_exchange_info_real_trimmed.json": "/fapi/v1/exchangeInfo",
    "rest_klines_response.json": "/fapi/v1/klines",
    "rest_position_risk_v3_hedge_response.json": "/fapi/v3/positionRisk",
    "rest_recent_trades_response.json": "/fapi/v1/trades",
    # Error bodies are documented for every endpoint: read them as answers of the order endpoint.
    "rest_error_doc_-1121.json": "/fapi/v1/order",
    "rest_error_real_-1003_http429.json": "/fapi/v1/depth",
    "rest_error_real_-1022.json": "/fapi/v1/order",
    "rest_error_real_-2019.json": "/fapi/v1/order",
}
_NOT_RECEIVED = {"errors_catalog.json", "ws_subscribe_request.json"}  # a catalogue; a frame we send


def _collector() -> DriftCollector:
    return DriftCollector(schema)


def _frames(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    if path.suffix == ".jsonl":
        return [line for line in raw.splitlines() if line.strip()]
    return [raw]


def test_every_wire_fixture_is_read_as_a_frame_or_an_answer_or_named_as_not_received(wire_root: Path) -> None:
    names = {p.name for p in (wire_root / "binance").iterdir()}
    assert names - set(_FRAMES) - set(_ANSWERS) - _NOT_RECEIVED == set()


def test_the_real_and_documented_wire_fixtures_raise_no_finding(wire_root: Path) -> None:
    drift = _collector()
    for name, stream in _FRAMES.items():
        for frame in _frames(wire_root / "binance" / name):
            drift.frame(stream, frame)
    for name, path in _ANSWERS.items():
        drift.response(path, (wire_root / "binance" / name).read_bytes())
    assert drift.report() == []
    assert drift.unreadable == 0
    assert drift.frames == len(_FRAMES) - 1 + len(_frames(wire_root / "binance" /
                                                         "ws_depth_diff_real_sequence_SUSHIUSDT.jsonl"))
    assert drift.responses == len(_ANSWERS)


def test_the_schema_knows_every_event_type_the_codec_decodes() -> None:
    decoded = {cls.__struct_config__.tag for cls in typing.get_args(wire.StreamEvent)}
    assert schema.EVENT_TYPES == decoded


@pytest.mark.parametrize(("frame", "kind"), [
    ({"e": "depthUpdate", "E": 1}, "depthUpdate"),
    ({"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade"}}, "stream:aggTrade"),
    ({"stream": "<listenKey>", "data": {"e": "ORDER_TRADE_UPDATE"}}, "stream:ORDER_TRADE_UPDATE"),
    ({"result": None, "id": 1}, "result"),
    ({"result": ["btcusdt@depth@100ms"], "id": 3}, "result"),
    ({"code": 2, "msg": "Invalid request", "id": 1}, "error"),
    ({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}, "error"),
    ({"e": "x_new_event", "E": 1}, None),
    ({"stream": "btcusdt@x", "data": {"e": "x_new_event"}}, None),
    ({"hello": 1}, None),
    ([1, 2], ""),
])
def test_frame_kind_names_documented_frames_and_gives_none_for_an_undocumented_event(frame: object,
                                                                                     kind: str | None) -> None:
    assert schema.frame_kind("public", frame) == kind


def test_an_undocumented_field_event_and_value_are_each_reported_once_with_an_example() -> None:
    drift = _collector()
    event = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0, "b": [], "a": [],
             "rpi": True}
    for _ in range(3):
        drift.frame("public", json.dumps({"stream": "btcusdt@depth@100ms", "data": event}))
    drift.frame("public", json.dumps({"e": "FUNDING_UPDATE", "E": 1}))
    order = {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {"s": "BTCUSDT", "X": "PAUSED", "x": "TRADE"}}
    drift.frame("private", json.dumps(order))
    assert drift.report() == [
        Finding(what="unknown event type", where="public", example='{"e":"FUNDING_UPDATE","E":1}'),
        Finding(what="unknown field", where="stream:depthUpdate/data.rpi", example="true", count=3),
        Finding(what="unknown value", where="ORDER_TRADE_UPDATE/o.X", example="PAUSED"),
    ]


def test_rest_answers_are_walked_by_path_rows_included_and_an_unknown_enum_value_is_reported() -> None:
    drift = _collector()
    rows = [{"symbol": "BTCUSDT", "marginType": "CROSSED", "isAutoAddMargin": False, "leverage": 20,
             "maxNotionalValue": "1000"},
            {"symbol": "ETHUSDT", "marginType": "PORTFOLIO", "isAutoAddMargin": False, "leverage": 5,
             "maxNotionalValue": "1000", "riskTier": 2}]
    drift.response("/fapi/v1/symbolConfig", msgspec.json.encode(rows))
    drift.response("/fapi/v1/notInTheSchema", b'{"anything": 1}')  # paths the schema does not list: not read
    assert drift.report() == [
        Finding(what="unknown field", where="/fapi/v1/symbolConfig/riskTier", example="2"),
        Finding(what="unknown value", where="/fapi/v1/symbolConfig/marginType", example="PORTFOLIO"),
    ]
    assert drift.responses == 1


def test_enum_keys_name_fields_of_documented_shapes() -> None:
    """An ENUMS key whose field is not in the shape would never be checked: a typo guard."""
    shapes = {**schema.FRAMES, **schema.REST}
    for key in schema.ENUMS:
        kind, _, dotted = key.rpartition("/") if key.startswith("/") else key.partition("/")
        shape = shapes[kind]
        *parents, leaf = dotted.split(".")
        for part in parents:
            sub = shape[part]
            assert sub is not None, key
            shape = sub
        assert leaf in shape and shape[leaf] is None, key
