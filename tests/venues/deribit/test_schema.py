"""venues/deribit/schema.py: Deribit's documented frames and answers, read strictly by venues.drift."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from venues.deribit import schema
from venues.drift import DriftCollector, Finding

_P = "/api/v2/"


def _enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _note(channel: str, data: Any) -> bytes:
    return _enc({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})


@pytest.mark.parametrize(("channel", "kind"), [
    ("book.BTC-PERPETUAL.100ms", "book"), ("book.BTC-PERPETUAL.raw", "book"),
    ("book.BTC-PERPETUAL.none.10.100ms", "book.grouped"), ("trades.BTC-PERPETUAL.raw", "trades"),
    ("trades.future.BTC.100ms", "trades"), ("chart.trades.BTC-PERPETUAL.1", "chart.trades"),
    ("ticker.BTC-PERPETUAL.100ms", "ticker"), ("quote.BTC-PERPETUAL", "quote"),
    ("user.orders.BTC-PERPETUAL.raw", "user.orders"), ("user.orders.future.BTC.100ms", "user.orders"),
    ("user.trades.any.any.100ms", "user.trades"), ("user.changes.BTC-PERPETUAL.100ms", "user.changes"),
    ("user.portfolio.btc", "user.portfolio"), ("instrument.state.future.BTC", "instrument.state"),
    ("platform_state", "platform_state"), ("deribit_price_index.btc_usd", "deribit_price_index"),
    ("x_new_event", None), ("book_v2.BTC-PERPETUAL", None), ("user.secrets.BTC", None),
])
def test_each_channel_the_client_reads_has_its_documented_kind_and_an_undocumented_one_none(
    channel: str, kind: str | None
) -> None:
    assert schema.frame_kind("main", json.loads(_note(channel, {}))) == kind


def test_heartbeats_answers_and_unknown_methods_are_told_apart() -> None:
    kind = schema.frame_kind
    assert kind("main", {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}) == "heartbeat"
    assert kind("main", {"jsonrpc": "2.0", "method": "x_new_method", "params": {}}) is None
    assert kind("main", [1, 2]) is None
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "error": {"code": 13009, "message": "unauthorized"}}) == "answer/error"
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "result": {"access_token": "t"}}) == "answer/auth"
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "result": {"order": {}, "trades": []}}) == "answer/placement"
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "result": {"order_id": "1", "order_state": "open"}}) == "answer/order"
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "result": [{"order_id": "1", "order_state": "open"}]}) == "answer/orders"
    assert kind("main", {"jsonrpc": "2.0", "id": 3, "result": "ok"}) == "answer"


def test_a_new_field_a_new_value_and_a_new_channel_are_each_reported_once_with_an_example() -> None:
    c = DriftCollector(schema)
    order = {"order_id": "1", "order_state": "open", "order_type": "limit", "direction": "buy", "amount": 10}
    c.frame("main", _note("user.orders.BTC-PERPETUAL.raw", order | {"x_ai_hint": 1}))
    c.frame("main", _note("user.orders.BTC-PERPETUAL.raw", order | {"order_state": "parked"}))
    c.frame("main", _note("x_new_event", {"timestamp": 1}))
    c.response(_P + "private/get_open_orders", _enc({"jsonrpc": "2.0", "result": [order | {"time_in_force": "gtx"}]}))
    c.response(_P + "public/get_instruments", _enc({"jsonrpc": "2.0", "result": [{"state": "open", "kind": "perp"}]}))
    assert c.report() == [
        Finding(what="unknown event type", where="main", example=json.dumps(
            {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "x_new_event", "data": {"timestamp": 1}}},
            separators=(",", ":"))),
        Finding(what="unknown field", where="user.orders/params.data.x_ai_hint", example="1"),
        Finding(what="unknown value", where="/api/v2/private/get_open_orders/result.time_in_force", example="gtx"),
        Finding(what="unknown value", where="/api/v2/public/get_instruments/result.kind", example="perp"),
        Finding(what="unknown value", where="user.orders/params.data.order_state", example="parked"),
    ]


def test_the_enums_cover_order_state_type_direction_time_in_force_and_book_state_wherever_they_appear() -> None:
    enums = schema.ENUMS
    assert enums["user.orders/params.data.order_state"] == schema.ORDER_STATES
    assert enums[_P + "private/buy/result.order.order_type"] == schema.ORDER_TYPES
    assert enums[_P + "private/buy/result.trades.direction"] == schema.DIRECTIONS
    assert enums["answer/order/result.time_in_force"] == schema.TIME_IN_FORCE
    assert enums["instrument.state/params.data.state"] == schema.BOOK_STATES
    assert enums[_P + "public/get_instruments/result.state"] == schema.BOOK_STATES
    assert enums["user.changes/params.data.positions.direction"] == schema.DIRECTIONS | {"zero"}
    assert "created" not in schema.BOOK_STATES  # the lifecycle before 2026-01-13


# -- the real wire fixtures ----------------------------------------------------------------------------------
def _fixtures() -> Path:
    root = os.environ.get("CROSSBOOK_WIRE_FIXTURES")
    if not root or not (Path(root) / "deribit").is_dir():
        pytest.skip("CROSSBOOK_WIRE_FIXTURES is not set to the shared wire fixtures (with a deribit/ folder)")
    return Path(root) / "deribit"


def _feed_fixtures(folder: Path, c: DriftCollector) -> int:
    """Every answer (by its request's method), every notification (wrapped with its subscribe request's
    channel), the real captures; the error catalog is not a payload. Returns the files read."""
    read = 0
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.endswith(".jsonl"):
            for line in path.read_text().splitlines():
                if line.strip():
                    c.frame("main", line)
        elif name.endswith("_response.json"):
            method = json.loads(path.with_name(name.replace("_response", "_request")).read_text())["method"]
            body = path.read_bytes()
            c.response(_P + method, body)
            c.frame("main", body)
        elif name.endswith("_data.json"):
            stem = name.removesuffix("_data.json").removesuffix("_snapshot").removesuffix("_change")
            request = json.loads((folder / f"{stem}_subscribe_request.json").read_text())
            c.frame("main", _note(request["params"]["channels"][0], json.loads(path.read_text())))
        elif name.startswith("rest_real_instrument_"):
            c.response(_P + "public/get_instruments", _enc({"jsonrpc": "2.0", "result": [json.loads(path.read_text())]}))
        elif name.endswith(("_notification.json", "_constructed.json")):
            c.frame("main", path.read_bytes())
        else:
            continue
        read += 1
    return read


def test_deribits_own_examples_and_real_captures_read_as_documented_but_the_pre_2026_instrument_state() -> None:
    folder = _fixtures()
    c = DriftCollector(schema)
    assert _feed_fixtures(folder, c) >= 45
    # ws_instrument_state_data.json is the AsyncAPI example from before the order book lifecycle of
    # 2026-01-13 (JSON-RPC API Changelog, "Release 13.01.2026"): "created" is a state of the old lifecycle,
    # genuinely older than today's documentation. Everything else reads as documented.
    assert c.report() == [
        Finding(what="unknown value", where="instrument.state/params.data.state", example="created"),
    ]
    assert c.unreadable == 0 and c.frames >= 70 and c.responses >= 25
