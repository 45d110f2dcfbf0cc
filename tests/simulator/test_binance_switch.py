"""Binance twin: POST /fapi/v1/countdownCancelAll (signed, weight 10, one countdown per symbol, 0 stops it) and
the background check that cancels a symbol's open orders when its countdown runs out."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import anyio
import pytest
from twin_helpers import SignedClient, far_bid

from simulator.binance_countdown import Countdowns
from simulator.runner import RunningTwin, start_twins

pytestmark = pytest.mark.anyio

PATH = "/fapi/v1/countdownCancelAll"


class ShiftedClock:
    """The twin's clock: wall time plus a shift a test moves forward (after the last signed request, whose
    timestamp is wall time)."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift_ms


def _client(s: aiohttp.ClientSession, rt: RunningTwin) -> SignedClient:
    return SignedClient(s, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)


def _countdowns(rt: RunningTwin) -> Countdowns:
    countdowns = getattr(rt.twin, "countdowns", None)
    assert isinstance(countdowns, Countdowns)
    return countdowns


async def _rest_order(c: SignedClient, symbol: str, price: str, cid: str) -> None:
    status, body, _ = await c.request("POST", "/fapi/v1/order", {
        "symbol": symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
        "price": price, "newClientOrderId": cid}, in_body=True)
    assert status == 200 and body["status"] == "NEW", body


async def test_a_countdown_is_signed_weighs_ten_and_echoes_the_symbol_and_the_time_as_a_string() -> None:
    clock = ShiftedClock()
    async with start_twins(["binance"], symbols=["BTC"], rate=0, clock_ms=clock) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, rt)
        before = clock()
        status, body, headers = await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 120000},
                                                in_body=True)
        assert (status, body) == (200, {"symbol": "BTCUSDT", "countdownTime": "120000"})
        assert headers["X-MBX-USED-WEIGHT-1M"] == "10" and "X-MBX-ORDER-COUNT-10S" not in headers
        async with s.get(f"{rt.rest}/__admin/countdowns") as r:
            view = await r.json()
        running = view["countdowns"]["BTCUSDT"]
        assert running["countdown_ms"] == 120000 and running["deadline_ms"] == running["set_ms"] + 120000
        assert before <= running["set_ms"] <= clock() and view["sets"] == {"BTCUSDT": 1} and view["fired"] == []


async def test_a_countdown_request_is_refused_as_the_other_signed_endpoints_refuse() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, rt)
        cases: list[tuple[dict[str, Any], bool, int, dict[str, Any]]] = [
            ({"symbol": "BTCUSDT", "countdownTime": 5000}, False, 400,
             {"code": -1102, "msg": "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."}),
            ({"symbol": "BTCUSDT"}, True, 400,
             {"code": -1102, "msg": "Mandatory parameter 'countdownTime' was not sent, was empty/null, or malformed."}),
            ({"countdownTime": 5000}, True, 400,
             {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}),
            ({"symbol": "NOPEUSDT", "countdownTime": 5000}, True, 400, {"code": -1121, "msg": "Invalid symbol."}),
            ({"symbol": "BTCUSDT", "countdownTime": -5}, True, 400,
             {"code": -1100, "msg": "Illegal characters found in parameter 'countdownTime'; legal range is '^[0-9]{1,20}$'."}),
        ]
        for params, signed, want_status, want in cases:
            status, body, headers = await c.request("POST", PATH, params, signed=signed, in_body=True)
            assert (status, body) == (want_status, want), params
            assert "X-MBX-USED-WEIGHT-1M" in headers
        forged = SignedClient(s, rt.rest, rt.twin.credentials.api_key, "not-the-secret")
        status, body, _ = await forged.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 5000}, in_body=True)
        assert (status, body["code"]) == (400, -1022)
        assert _countdowns(rt).running == {} and _countdowns(rt).sets == {}


async def test_the_refusal_switch_answers_its_error_after_the_signature_check_until_cleared() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, rt)
        refuse = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action.", "status": 401}
        async with s.post(f"{rt.rest}/__admin/countdowns", json={"refuse": refuse}) as r:
            assert r.status == 200 and (await r.json())["refusal"] == refuse
        status, body, _ = await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 5000}, in_body=True)
        assert (status, body) == (401, {"code": -2015, "msg": refuse["msg"]})
        forged = SignedClient(s, rt.rest, rt.twin.credentials.api_key, "not-the-secret")
        status, body, _ = await forged.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 5000}, in_body=True)
        assert body["code"] == -1022
        async with s.post(f"{rt.rest}/__admin/countdowns", json={"refuse": None}) as r:
            assert r.status == 200
        status, _, _ = await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 5000}, in_body=True)
        assert status == 200 and set(_countdowns(rt).running) == {"BTCUSDT"}
        async with s.post(f"{rt.rest}/__admin/countdowns", json={"refuse": {"code": "x"}}) as r:
            assert r.status == 400 and "expected" in (await r.json())["error"]


async def test_countdown_zero_stops_the_countdown_and_nothing_is_cancelled() -> None:
    clock = ShiftedClock()
    async with start_twins(["binance"], symbols=["BTC"], rate=0, clock_ms=clock) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, rt)
        await _rest_order(c, "BTCUSDT", await far_bid(s, rt, "BTCUSDT"), "dms-keep-1")
        await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 2000}, in_body=True)
        status, body, _ = await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 0}, in_body=True)
        assert (status, body) == (200, {"symbol": "BTCUSDT", "countdownTime": "0"})
        countdowns = _countdowns(rt)
        assert countdowns.running == {} and countdowns.sets["BTCUSDT"] == 2
        clock.shift_ms = 60_000
        assert countdowns.check() == [] and countdowns.fired == []
        assert [o.client_id for o in rt.twin.engine.open_orders("BTCUSDT")] == ["dms-keep-1"]


async def test_a_countdown_that_runs_out_cancels_only_its_symbols_orders_pushes_the_cancels_and_is_gone() -> None:
    clock = ShiftedClock()
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0, clock_ms=clock) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, rt)
        hdr = {"X-MBX-APIKEY": rt.twin.credentials.api_key}
        async with s.post(f"{rt.rest}/fapi/v1/listenKey", headers=hdr) as r:
            key = (await r.json())["listenKey"]
        user = await s.ws_connect(f"{rt.ws['private']}/ws?listenKey={key}")
        await _rest_order(c, "BTCUSDT", await far_bid(s, rt, "BTCUSDT"), "dms-btc-1")
        await _rest_order(c, "BTCUSDT", await far_bid(s, rt, "BTCUSDT"), "dms-btc-2")
        await _rest_order(c, "ETHUSDT", await far_bid(s, rt, "ETHUSDT"), "dms-eth-1")
        for symbol in ("BTCUSDT", "ETHUSDT"):
            status, _, _ = await c.request("POST", PATH, {"symbol": symbol, "countdownTime": 60_000}, in_body=True)
            assert status == 200
        status, _, _ = await c.request("POST", PATH, {"symbol": "BTCUSDT", "countdownTime": 2000}, in_body=True)
        assert status == 200  # the heartbeat replaced BTCUSDT's countdown with a shorter one
        countdowns = _countdowns(rt)
        clock.shift_ms = 2_000  # BTCUSDT's deadline passes on the twin clock; ETHUSDT's is 58 s away
        cancels: dict[str, Any] = {}
        with anyio.fail_after(5):  # the background check cancels them: the user data stream says so
            while len(cancels) < 2:
                msg = await user.receive()
                ev = json.loads(msg.data)
                if ev.get("e") == "ORDER_TRADE_UPDATE" and ev["o"]["X"] == "CANCELED":
                    cancels[ev["o"]["c"]] = ev["o"]
        assert sorted(cancels) == ["dms-btc-1", "dms-btc-2"]
        assert all((o["s"], o["x"]) == ("BTCUSDT", "CANCELED") for o in cancels.values())
        (fired,) = countdowns.fired
        assert fired.symbol == "BTCUSDT" and sorted(fired.cancelled) == ["dms-btc-1", "dms-btc-2"]
        assert rt.twin.engine.open_orders("BTCUSDT") == []
        assert [o.client_id for o in rt.twin.engine.open_orders("ETHUSDT")] == ["dms-eth-1"]
        assert set(countdowns.running) == {"ETHUSDT"}
        # Gone until set again: a later order on BTCUSDT rests however far the clock moves (short of ETH's).
        clock.shift_ms = 0
        await _rest_order(c, "BTCUSDT", await far_bid(s, rt, "BTCUSDT"), "dms-btc-3")
        clock.shift_ms = 30_000
        assert countdowns.check() == [] and len(countdowns.fired) == 1
        assert [o.client_id for o in rt.twin.engine.open_orders("BTCUSDT")] == ["dms-btc-3"]
        await user.close()
