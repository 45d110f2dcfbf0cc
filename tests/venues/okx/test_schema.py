"""The strict OKX schema (venues/okx/schema.py) read by venues.drift.DriftCollector: the wire fixtures (OKX's
doc examples and real captures) read clean, and each kind of drift is named where it happens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from venues.drift import DriftCollector
from venues.okx import schema

FIXTURES = Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", Path(__file__).resolve().parents[4] / "shared" / "fixtures" /
                               "wire")) / "okx"

REST_FIXTURES = {
    "rest_balance_response.json": "/api/v5/account/balance",
    "rest_candles_response.json": "/api/v5/market/candles",
    "rest_instruments_spot_response.json": "/api/v5/public/instruments",
    "rest_order_details_response.json": "/api/v5/trade/order",
    "rest_orderbook_response.json": "/api/v5/market/books",
    "rest_place_order_response.json": "/api/v5/trade/order",
    "rest_positions_response.json": "/api/v5/account/positions",
    "rest_ticker_response.json": "/api/v5/market/ticker",
}
# single instrument rows cut from an answer: wrapped in OKX's envelope before reading
ROW_FIXTURES = {"rest_real_instrument_BTC_USDT_SWAP.json": "/api/v5/public/instruments",
                "rest_real_instrument_BTC_USD_SWAP.json": "/api/v5/public/instruments"}
NOT_ANSWERS = {"errors_catalog.json", "rest_place_order_request.json"}  # a catalog and a request body


def _collector() -> DriftCollector:
    return DriftCollector(schema)


def _fixtures_or_skip() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"wire fixtures not found at {FIXTURES} (set CROSSBOOK_WIRE_FIXTURES to shared/fixtures/wire)")
    return FIXTURES


def test_every_okx_wire_fixture_reads_clean_against_the_documented_shapes() -> None:
    root = _fixtures_or_skip()
    drift = _collector()
    seen: set[str] = set()
    for path in sorted(root.iterdir()):
        name = path.name
        if name in NOT_ANSWERS or name.endswith("_request.json"):
            continue
        seen.add(name)
        if name in REST_FIXTURES:
            drift.response(REST_FIXTURES[name], path.read_bytes())
        elif name in ROW_FIXTURES:
            body = json.dumps({"code": "0", "msg": "", "data": [json.loads(path.read_text())]})
            drift.response(ROW_FIXTURES[name], body.encode())
        elif name.endswith(".jsonl"):
            for line in path.read_text().splitlines():
                if line.strip():
                    drift.frame("public", line)
        else:
            assert name.startswith("ws_"), name
            drift.frame("public", path.read_bytes())
    assert set(REST_FIXTURES) | set(ROW_FIXTURES) <= seen  # every answer fixture was read
    # The 2022 captures (books without seqId, trades without count/source/seqId) only lack documented fields:
    # absence is no drift. Nothing in any fixture is newer or older than the docs' keys and values.
    assert drift.report() == []
    assert drift.unreadable == 0 and drift.frames > 30 and drift.responses == 10


def test_an_undocumented_event_and_an_undocumented_channel_are_unknown_event_types() -> None:
    drift = _collector()
    drift.frame("public", b'{"event":"x_new_event","connId":"a1"}')
    drift.frame("public", b'{"arg":{"channel":"x_new_channel","instId":"BTC-USDT"},"data":[{"ts":"1"}]}')
    drift.frame("public", b'{"event":"notice","code":"64008","msg":"upgrade","connId":"a1"}')  # documented
    found = drift.report()
    assert [(f.what, f.where) for f in found] == [("unknown event type", "public")]
    assert found[0].count == 2 and "x_new_event" in found[0].example


def test_a_new_field_in_a_books_row_and_a_new_order_state_are_named_with_their_place() -> None:
    drift = _collector()
    drift.frame("public", b'{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"update","data":[{"asks":[],'
                          b'"bids":[],"ts":"1","checksum":0,"prevSeqId":5,"seqId":6,"x_lvl":2}]}')
    drift.frame("private", b'{"arg":{"channel":"orders","instType":"SWAP","uid":"1"},"data":[{"ordId":"1",'
                           b'"state":"x_parked","side":"buy","posSide":"net","ordType":"limit"}]}')
    drift.response("/api/v5/public/instruments", b'{"code":"0","msg":"","data":[{"instId":"X","state":"halted"}]}')
    got = {(f.what, f.where, f.example) for f in drift.report()}
    assert got == {("unknown field", "push:books/data.x_lvl", "2"),
                   ("unknown value", "push:orders/data.state", "x_parked"),
                   ("unknown value", "/api/v5/public/instruments/data.state", "halted")}


def test_pong_is_not_checked_and_every_documented_instrument_state_is_known() -> None:
    drift = _collector()
    drift.frame("public", b"pong")  # OKX's text pong: not JSON
    for state in ("live", "suspend", "preopen", "test", "rebase", "post_only", "settling"):
        body = json.dumps({"code": "0", "msg": "", "data": [{"instId": "X", "state": state}]}).encode()
        drift.response("/api/v5/public/instruments", body)
    assert drift.report() == [] and drift.unreadable == 1
    assert schema.frame_kind("public", "pong") == ""
    assert schema.frame_kind("business", {"arg": {"channel": "candle1Dutc"}, "data": []}) == "push:candle"
    assert schema.frame_kind("business", {"arg": {"channel": "candle7m"}, "data": []}) is None
