"""Bybit twin REST: payload shapes vs the wire fixtures, signing, errors, rate limits, faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import anyio
import pytest
from twin_helpers import json_shape, load_fixture

from simulator.bybit import BybitConfig, bybit_factory
from simulator.bybit_auth import RateLimits, sign, verify_ws_auth
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from simulator.twin import Credentials

pytestmark = pytest.mark.anyio
FACTORIES = {"bybit": bybit_factory}


class BybitClient:
    """An independent Bybit v5 signer: HMAC(timestamp + key + recvWindow + query|body), hex."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str, secret: str) -> None:
        self.session, self.base, self.key, self.secret = session, base, key, secret

    async def call(self, method: str, path: str, params: dict[str, Any] | None = None, *, ts: int | None = None,
                   signed: bool = True) -> tuple[int, Any, dict[str, str]]:
        params = params or {}
        stamp = str(ts if ts is not None else time.time_ns() // 1_000_000)
        payload = json.dumps(params) if method == "POST" else urlencode(params)
        headers = {"Content-Type": "application/json"}
        if signed:
            headers |= {"X-BAPI-API-KEY": self.key, "X-BAPI-TIMESTAMP": stamp, "X-BAPI-RECV-WINDOW": "5000",
                        "X-BAPI-SIGN": hmac.new(self.secret.encode(), (stamp + self.key + "5000" + payload).encode(),
                                                hashlib.sha256).hexdigest()}
        url = self.base + path + ("?" + payload if method == "GET" and payload else "")
        async with self.session.request(method, url, data=payload if method == "POST" else None, headers=headers) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text.startswith("{") else text), dict(r.headers)


def client(session: aiohttp.ClientSession, twins: Twins) -> BybitClient:
    rt = twins["bybit"]
    return BybitClient(session, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)


def _envelope_ok(body: dict[str, Any]) -> None:
    assert (body["retCode"], body["retMsg"], body["retExtInfo"]) == (0, "OK", {}) and isinstance(body["time"], int)


async def test_market_data_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(200)
        c = client(s, twins)
        _, t, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert json_shape(t) == json_shape(load_fixture("bybit/rest_server_time_response.json"))
        _, info, _ = await c.call("GET", "/v5/market/instruments-info", {"category": "linear"}, signed=False)
        want = load_fixture("bybit/rest_instruments_info_linear_response.json")
        row, want_row = info["result"]["list"][0], want["result"]["list"][0]
        assert set(row) == set(want_row) - {"symbolId"} and json_shape(row["lotSizeFilter"]) == json_shape(want_row["lotSizeFilter"])
        assert row["priceFilter"]["tickSize"] == "0.10" and row["lotSizeFilter"]["qtyStep"] == "0.001"
        _, ob, _ = await c.call("GET", "/v5/market/orderbook", {"category": "linear", "symbol": "BTCUSDT", "limit": 50}, signed=False)
        assert json_shape(ob) == json_shape(load_fixture("bybit/rest_orderbook_response.json"))
        _, kl, _ = await c.call("GET", "/v5/market/kline", {"category": "linear", "symbol": "BTCUSDT", "interval": "1"}, signed=False)
        assert json_shape(kl) == json_shape(load_fixture("bybit/rest_kline_response.json"))
        _, rt_, _ = await c.call("GET", "/v5/market/recent-trade", {"category": "linear", "symbol": "BTCUSDT"}, signed=False)
        assert json_shape(rt_) == json_shape(load_fixture("bybit/rest_recent_trade_response.json"))
        _, tk, _ = await c.call("GET", "/v5/market/tickers", {"category": "linear", "symbol": "BTCUSDT"}, signed=False)
        assert json_shape(tk) == json_shape(load_fixture("bybit/rest_tickers_inverse_response.json"))


async def test_market_data_is_consistent_and_carries_limit_headers_without_fixtures() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(30)
        c = client(s, twins)
        status, ob, headers = await c.call("GET", "/v5/market/orderbook", {"category": "linear", "symbol": "BTCUSDT", "limit": 200}, signed=False)
        _envelope_ok(ob)
        assert status == 200 and len(ob["result"]["b"]) >= 50 and len(ob["result"]["a"]) >= 50
        assert float(ob["result"]["b"][0][0]) < float(ob["result"]["a"][0][0])
        assert {"X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp"} <= set(headers)
        async with s.get(f"{twins['bybit'].rest}/__admin/book?symbol=BTCUSDT&depth=200") as r:
            admin = await r.json()
        assert admin["bids"] == ob["result"]["b"] and admin["asks"] == ob["result"]["a"]
        _, tk, _ = await c.call("GET", "/v5/market/tickers", {"category": "linear", "symbol": "BTCUSDT"}, signed=False)
        assert tk["result"]["list"][0]["bid1Price"] == ob["result"]["b"][0][0]
        status, err, _ = await c.call("GET", "/v5/market/orderbook", {"category": "linear", "symbol": "NOPEUSDT"}, signed=False)
        assert status == 200 and err["retCode"] == 10001 and err["result"] == {}
        _, t, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert abs(t["time"] - time.time() * 1000) < 5000 and t["result"]["timeSecond"] == str(t["time"] // 1000)


async def test_account_and_order_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        _, placed, _ = await c.call("POST", "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                                "orderType": "Market", "qty": "0.010"})
        assert json_shape(placed) == json_shape(load_fixture("bybit/rest_place_order_response.json"))
        _, wallet, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        assert json_shape(wallet) == json_shape(load_fixture("bybit/rest_wallet_balance_response.json"))
        _, pos, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
        assert json_shape(pos) == json_shape(load_fixture("bybit/rest_position_list_response.json"))
        assert (pos["result"]["list"][0]["size"], pos["result"]["list"][0]["side"]) == ("0.010", "Buy")
        _, resting, _ = await c.call("POST", "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                                 "orderType": "Limit", "qty": "0.001", "price": "50000.0",
                                                                 "orderLinkId": "shape-1"})
        _, opened, _ = await c.call("GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT"})
        want = load_fixture("bybit/rest_open_orders_response.json")
        got_row = opened["result"]["list"][0]
        assert json_shape(got_row) | {"cumFeeDetail": {}} == json_shape(want["result"]["list"][0]) | {"cumFeeDetail": {}}
        assert set(opened["result"]) == set(want["result"]) and got_row["orderStatus"] == "New"
        _, canceled, _ = await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "shape-1"})
        assert json_shape(canceled) == json_shape(load_fixture("bybit/rest_cancel_order_response.json"))
        assert canceled["result"] == resting["result"]


async def test_duplicate_order_link_id_is_refused_even_after_the_first_order_closed() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
                 "price": "50000.0", "orderLinkId": "dup-1"}
        _, first, _ = await c.call("POST", "/v5/order/create", order)
        assert first["retCode"] == 0
        _, again, _ = await c.call("POST", "/v5/order/create", order)
        assert (again["retCode"], again["retMsg"]) == (110072, "OrderLinkedID is duplicate")
        await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "dup-1"})
        _, after, _ = await c.call("POST", "/v5/order/create", order)
        assert after["retCode"] == 110072
        _, gone, _ = await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "dup-1"})
        assert gone["retCode"] == 110001
        _, small, _ = await c.call("POST", "/v5/order/create", order | {"orderLinkId": "tiny", "price": "1000.0"})
        assert small["retCode"] == 110094
        _, ro, _ = await c.call("POST", "/v5/order/create", order | {"orderLinkId": "ro", "reduceOnly": True})
        assert ro["retCode"] == 110017


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in load_fixture("signing_vectors.json")["bybit"] if v["name"] == name)


async def _vector_call(vec: dict[str, Any], payload: str, signature: str) -> dict[str, Any]:
    creds = (Credentials(vec["api_key"], vec["secret"]),)
    options = {"bybit": {"config": BybitConfig(credentials=creds)}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        rt.twin.faults.inject(FaultKind.CLOCK_SKEW, ms=int(vec["timestamp"]) + 100 - time.time_ns() // 1_000_000)
        headers = {"X-BAPI-API-KEY": vec["api_key"], "X-BAPI-TIMESTAMP": vec["timestamp"],
                   "X-BAPI-RECV-WINDOW": vec["recv_window"], "X-BAPI-SIGN": signature, "Content-Type": "application/json"}
        if vec["method"] == "GET":
            req = s.get(f"{rt.rest}{vec['path']}?{payload}", headers=headers)
        else:
            req = s.post(f"{rt.rest}{vec['path']}", data=payload, headers=headers)
        async with req as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            return body


async def test_documented_signing_vectors_are_accepted_and_tampered_ones_get_10004() -> None:
    get = _vector("v5_computed_get_positions")
    ok = await _vector_call(get, get["query"], get["expected_signature"])
    assert ok["retCode"] == 0 and ok["result"]["list"][0]["symbol"] == "BTCUSDT"
    ok = await _vector_call(get, get["query"], get["expected_signature"].upper())
    assert ok["retCode"] == 0
    bad = await _vector_call(get, get["query"].replace("BTCUSDT", "ETHUSDT"), get["expected_signature"])
    assert json_shape(bad) == json_shape(load_fixture("bybit/rest_error_10004_reconstructed.json"))
    assert bad["retCode"] == 10004 and bad["retMsg"].startswith("error sign! origin_string[")
    post = _vector("v5_computed_post_create_order")
    ok = await _vector_call(post, post["body"], post["expected_signature"])
    assert ok["retCode"] == 0 and ok["result"]["orderLinkId"] == "test-001"
    bad = await _vector_call(post, post["body"].replace('"qty":"0.001"', '"qty":"0.002"'), post["expected_signature"])
    assert bad["retCode"] == 10004


def test_doc_strings_to_sign_and_the_ws_auth_vector_reproduce() -> None:
    for name in ("v5_doc_string_to_sign_get", "v5_doc_string_to_sign_post"):
        vec = _vector(name)
        assert vec["timestamp"] + vec["api_key"] + vec["recv_window"] + vec.get("query", vec.get("body", "")) == vec["string_to_sign"]
    ws = _vector("v5_computed_ws_auth")
    assert sign(ws["secret"], ws["string_to_sign"]) == ws["expected_signature"]
    keys = {ws["api_key"]: Credentials(ws["api_key"], ws["secret"])}
    cred, why = verify_ws_auth(keys, ws["ws_message"]["args"], ws["expires"] - 500)
    assert cred is not None and why == ""
    assert verify_ws_auth(keys, ws["ws_message"]["args"], ws["expires"] + 1) == (None, "Request expired")
    tampered = [ws["api_key"], ws["expires"], "0" * 64]
    assert verify_ws_auth(keys, tampered, ws["expires"] - 500) == (None, "Request not authorized")


async def test_missing_key_and_stale_or_future_timestamps_get_bybit_codes() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        status, body, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=False)
        assert (status, body["retCode"], body["retMsg"]) == (200, 10003, "API key is invalid.")
        wrong = BybitClient(s, c.base, "nope", c.secret)
        _, body, _ = await wrong.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        assert body["retCode"] == 10003
        now = time.time_ns() // 1_000_000
        for ts in (now - 6000, now + 1500):
            _, body, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, ts=ts)
            assert body["retCode"] == 10002 and f"req_timestamp[{ts}]" in body["retMsg"]
        _, body, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, ts=now + 500)
        assert body["retCode"] == 0


async def test_endpoint_limit_gives_10006_and_ip_limit_gives_403_then_a_ban() -> None:
    limits = RateLimits(endpoint_per_s={"/v5/order/realtime": 2}, ip_per_5s=8, ip_ban_s=60)
    options = {"bybit": {"config": BybitConfig(limits=limits)}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        codes, statuses = [], []
        for _ in range(3):
            _, body, headers = await c.call("GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT"})
            codes.append(body["retCode"])
            statuses.append(headers["X-Bapi-Limit-Status"])
            assert headers["X-Bapi-Limit"] == "2" and int(headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
        if codes != [0, 0, 10006]:  # the three requests straddled a second boundary: the window rolled
            pytest.skip(f"one-second window rolled during the test: {codes}")
        assert statuses == ["1", "0", "0"]
        seen = []
        for _ in range(20):  # 8 per 5 s: the breach comes within 9 requests of a fresh window
            status, body, _ = await c.call("GET", "/v5/market/time", signed=False)
            seen.append(status)
            if status == 403:
                break
        assert seen[-1] == 403 and set(seen[:-1]) == {200} and body == "access too frequent"
        status, body, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert (status, body) == (403, "access too frequent")


async def test_rest_faults_use_bybit_shapes_and_clear() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt, c = twins["bybit"], client(s, twins)
        path, params = "/v5/market/tickers", {"category": "linear", "symbol": "BTCUSDT"}
        async with s.post(f"{rt.rest}/__admin/faults", json={"fault": "http_5xx", "params": {"status": 502}}) as r:
            assert r.status == 200
        status, body, _ = await c.call("GET", path, params, signed=False)
        assert (status, body["retCode"], body["result"]) == (502, 10016, {})
        rt.twin.faults.clear()
        rt.twin.faults.inject(FaultKind.RATE_LIMIT, duration_s=0.3)
        status, body, headers = await c.call("GET", path, params, signed=False)
        assert (status, body["retCode"], headers["X-Bapi-Limit-Status"]) == (200, 10006, "0")
        rt.twin.faults.inject(FaultKind.CLOCK_SKEW, ms=-60_000)
        _, t, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert t["retCode"] == 10006  # rate-limit fault still active
        await anyio.sleep(0.35)
        _, t, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert t["retCode"] == 0 and t["time"] < time.time() * 1000 - 50_000
        rt.twin.faults.clear()
        rt.twin.faults.inject(FaultKind.LATENCY, ms=150)
        started = time.monotonic()
        await c.call("GET", "/v5/market/time", signed=False)
        assert time.monotonic() - started >= 0.15
        rt.twin.faults.clear()
        rt.twin.faults.inject(FaultKind.REFUSE_CONNECTIONS)
        with pytest.raises(aiohttp.ClientError):
            async with aiohttp.ClientSession() as fresh:
                async with fresh.get(f"{rt.rest}/v5/market/time") as r:
                    await r.read()
        async with s.delete(f"{rt.rest}/__admin/faults") as r:
            assert (await r.json())["faults"] == []
        status, t, _ = await c.call("GET", "/v5/market/time", signed=False)
        assert status == 200 and t["retCode"] == 0
