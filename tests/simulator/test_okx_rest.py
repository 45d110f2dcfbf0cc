"""OKX twin REST: payload shapes vs the wire fixtures, signing, auth errors, rate limits, lifecycle, ccxt."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
from twin_helpers import json_shape, load_fixture

from simulator.faults import FaultKind
from simulator.market import DislocationKind
from simulator.okx import OkxConfig, OkxTwin, okx_twin_factory
from simulator.okx_auth import RateLimits, iso_ms, parse_iso_ms, sign
from simulator.runner import RunningTwin, Twins, start_twins
from simulator.twin import Credentials

pytestmark = pytest.mark.anyio
FACTORIES = {"okx": okx_twin_factory}


class OkxClient:
    """A minimal independent OKX v5 signer (base64 HMAC over ts + METHOD + path?query + body)."""

    def __init__(self, session: aiohttp.ClientSession, rt: RunningTwin, clock_ms: Callable[[], int] | None = None) -> None:
        self.session, self.base = session, rt.rest
        self.cred = rt.twin.credentials
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    async def request(self, method: str, path: str, body: Any = None, *, signed: bool = True,
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        text = json.dumps(body) if body is not None else ""
        ms = self.clock_ms()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
        hdrs = {"Content-Type": "application/json"}
        if signed:
            mac = hmac.new(self.cred.secret.encode(), (ts + method + path + text).encode(), hashlib.sha256).digest()
            hdrs |= {"OK-ACCESS-KEY": self.cred.api_key, "OK-ACCESS-SIGN": base64.b64encode(mac).decode(),
                     "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": self.cred.passphrase or ""}
        hdrs |= headers or {}
        async with self.session.request(method, self.base + path, data=text or None, headers=hdrs) as r:
            return r.status, await r.json()


def _okx(twins: Twins) -> OkxTwin:
    twin = twins["okx"].twin
    assert isinstance(twin, OkxTwin)
    return twin


async def test_market_data_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(300)
        c = OkxClient(s, twins["okx"])
        _, inst = await c.request("GET", "/api/v5/public/instruments?instType=SWAP", signed=False)
        by_id = {r["instId"]: r for r in inst["data"]}
        for name in ("BTC_USDT_SWAP", "BTC_USD_SWAP"):
            want = load_fixture(f"okx/rest_real_instrument_{name}.json")
            got = by_id[want["instId"]]
            assert {k: json_shape(got[k]) for k in want} == json_shape(want)
            assert (got["ctVal"], got["ctType"], got["settleCcy"]) == (want["ctVal"], want["ctType"], want["settleCcy"])
        cases = {
            "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400": "okx/rest_orderbook_response.json",
            "/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1m": "okx/rest_candles_response.json",
            "/api/v5/market/ticker?instId=BTC-USD-SWAP": "okx/rest_ticker_response.json",
        }
        for path, fixture in cases.items():
            status, body = await c.request("GET", path, signed=False)
            want = load_fixture(fixture)
            if "market/books" in path:
                # The 2026 procedure's seqId (changelog of 2026-02-12) is newer than the doc capture: a number,
                # as on the books channel.
                want["data"][0]["seqId"] = 0
            assert status == 200 and json_shape(body) == json_shape(want), path
        _, books = await c.request("GET", "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400", signed=False)
        assert len(books["data"][0]["bids"]) >= 50 and len(books["data"][0]["asks"]) >= 50
        _, trades = await c.request("GET", "/api/v5/market/trades?instId=BTC-USDT-SWAP&limit=5", signed=False)
        assert len(trades["data"]) == 5 and set(trades["data"][0]) == {"instId", "tradeId", "px", "sz", "side", "ts", "source"}


async def test_market_data_is_consistent_without_fixtures() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(50)
        c = OkxClient(s, twins["okx"])
        _, books = await c.request("GET", "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=5", signed=False)
        _, ticker = await c.request("GET", "/api/v5/market/ticker?instId=BTC-USDT-SWAP", signed=False)
        row = ticker["data"][0]
        assert [row["bidPx"], row["bidSz"]] == books["data"][0]["bids"][0][:2]
        assert Decimal(books["data"][0]["bids"][0][0]) < Decimal(books["data"][0]["asks"][0][0])
        status, err = await c.request("GET", "/api/v5/market/books?instId=NOPE-USDT-SWAP", signed=False)
        assert (status, err["code"], err["data"]) == (200, "51001", [])
        status, err = await c.request("GET", "/api/v5/public/instruments", signed=False)
        assert (status, err) == (400, {"code": "50014", "msg": "Parameter instType can not be empty.", "data": []})
        _, t = await c.request("GET", "/api/v5/public/time", signed=False)
        assert isinstance(t["data"][0]["ts"], str) and abs(int(t["data"][0]["ts"]) - time.time() * 1000) < 5000
        _, spot = await c.request("GET", "/api/v5/public/instruments?instType=SPOT", signed=False)
        assert spot == {"code": "0", "msg": "", "data": []}


async def test_account_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        status, placed = await c.request("POST", "/api/v5/trade/order", {
            "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "7"})
        assert status == 200 and json_shape(placed) == json_shape(load_fixture("okx/rest_place_order_response.json"))
        assert placed["code"] == "0" and placed["data"][0]["sCode"] == "0" and len(placed["inTime"]) == 16
        _, bal = await c.request("GET", "/api/v5/account/balance")
        assert json_shape(bal) == json_shape(load_fixture("okx/rest_balance_response.json"))
        _, pos = await c.request("GET", "/api/v5/account/positions?instType=SWAP")
        assert json_shape(pos) == json_shape(load_fixture("okx/rest_positions_response.json"))
        assert (pos["data"][0]["instId"], pos["data"][0]["pos"], pos["data"][0]["posSide"]) == ("BTC-USDT-SWAP", "7", "net")
        _, order = await c.request("GET", f"/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={placed['data'][0]['ordId']}")
        assert json_shape(order) == json_shape(load_fixture("okx/rest_order_details_response.json"))
        assert (order["data"][0]["state"], order["data"][0]["accFillSz"], order["data"][0]["ordType"]) == ("filled", "7", "market")
        _, cfg = await c.request("GET", "/api/v5/account/config")
        assert cfg["data"][0]["posMode"] == "net_mode"


async def test_order_lifecycle_is_visible_over_rest_and_on_the_private_stream() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["okx"], _okx(twins)
        c = OkxClient(s, rt)
        async with s.ws_connect(rt.ws["private"]) as ws:
            ts = str(int(time.time()))
            login = {"apiKey": c.cred.api_key, "passphrase": c.cred.passphrase, "timestamp": ts,
                     "sign": sign(c.cred.secret, ts + "GET/users/self/verify")}
            await ws.send_str(json.dumps({"op": "login", "args": [login]}))
            assert json_shape(json.loads((await ws.receive(timeout=5)).data)) == json_shape(load_fixture("okx/ws_login_response.json"))
            sub = {"channel": "orders", "instType": "SWAP", "instId": "BTC-USDT-SWAP"}
            await ws.send_str(json.dumps({"id": "7", "op": "subscribe", "args": [sub]}))
            ack = json.loads((await ws.receive(timeout=5)).data)
            assert (ack["event"], ack["arg"], ack["id"]) == ("subscribe", sub, "7")
            ask_px, ask_sz = twin.model.book("okx", "BTC-USDT-SWAP").asks(1)[0]
            status, new = await c.request("POST", "/api/v5/trade/order", {
                "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": str(ask_px),
                "sz": str(ask_sz + 3), "clOrdId": "life1"})
            oid = new["data"][0]["ordId"]
            assert status == 200 and new["data"][0]["clOrdId"] == "life1"
            _, got = await c.request("GET", "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=life1")
            assert (got["data"][0]["state"], got["data"][0]["accFillSz"]) == ("partially_filled", str(ask_sz))
            _, dup = await c.request("POST", "/api/v5/trade/order", {
                "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "1000",
                "sz": "1", "clOrdId": "life1"})
            assert (dup["code"], dup["msg"], dup["data"][0]["sCode"], dup["data"][0]["sMsg"]) == (
                "1", "All operations failed", "51016", "Client order ID already exists.")
            _, pending = await c.request("GET", "/api/v5/trade/orders-pending?instType=SWAP")
            assert [o["ordId"] for o in pending["data"]] == [oid]
            twin.model.dislocate("okx", "BTC", DislocationKind.JUMP, steps=5, offset=-0.01)
            twins.step(5)
            _, got = await c.request("GET", f"/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={oid}")
            assert (got["data"][0]["state"], got["data"][0]["accFillSz"]) == ("filled", str(ask_sz + 3))
            _, far = await c.request("POST", "/api/v5/trade/order", {
                "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "50000", "sz": "2"})
            far_id = far["data"][0]["ordId"]
            _, canceled = await c.request("POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT-SWAP", "ordId": far_id})
            assert (canceled["code"], canceled["data"][0]["sCode"], canceled["data"][0]["ordId"]) == ("0", "0", far_id)
            _, again = await c.request("POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT-SWAP", "ordId": far_id})
            assert (again["code"], again["data"][0]["sCode"]) == ("1", "51400")
            _, hist = await c.request("GET", "/api/v5/trade/orders-history?instType=SWAP")
            assert [(o["ordId"], o["state"]) for o in hist["data"]] == [(far_id, "canceled"), (oid, "filled")]
            pushes: list[dict[str, Any]] = []
            while not any(p["data"][0]["ordId"] == far_id and p["data"][0]["state"] == "canceled" for p in pushes):
                pushes.append(json.loads((await ws.receive(timeout=5)).data))
        mine = [p["data"][0] for p in pushes if p["data"][0]["ordId"] == oid]
        assert [m["state"] for m in mine][:2] == ["live", "partially_filled"] and mine[-1]["state"] == "filled"
        assert (mine[1]["fillSz"], Decimal(mine[1]["fillPx"]), mine[1]["execType"]) == (str(ask_sz), ask_px, "T")
        assert mine[-1]["execType"] == "M" and mine[-1]["accFillSz"] == str(ask_sz + 3)
        assert json_shape(pushes[1]) == json_shape(load_fixture("okx/ws_orders_push.json"))
        assert pushes[1]["arg"] == sub | {"uid": twin.config.uid}
        assert [p["data"][0]["state"] for p in pushes if p["data"][0]["ordId"] == far_id] == ["live", "canceled"]


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in load_fixture("signing_vectors.json")["okx"] if v["name"] == name)


def test_documented_signing_vectors_reproduce_with_the_twin_signer() -> None:
    for name in ("v5_rest_get_computed_with_doc_inputs", "v5_rest_post_computed_with_doc_inputs", "v5_ws_login_computed"):
        vec = _vector(name)
        assert sign(vec["secret"], vec["prehash"]) == vec["expected_signature"]
    assert parse_iso_ms("2020-12-08T09:08:57.715Z") == 1607418537715 and iso_ms(1607418537715) == "2020-12-08T09:08:57.715Z"
    assert parse_iso_ms("1607418537715") is None


async def _vector_request(vec: dict[str, Any], path: str, sig: str, passphrase: str = "pp") -> tuple[int, Any]:
    ts_ms = parse_iso_ms(vec["timestamp"])
    assert ts_ms is not None
    cfg = OkxConfig(credentials=(Credentials("key-1", vec["secret"], "pp"),))
    opts = {"okx": {"config": cfg, "clock_ms": lambda: ts_ms + 250}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        headers = {"OK-ACCESS-KEY": "key-1", "OK-ACCESS-SIGN": sig, "OK-ACCESS-TIMESTAMP": vec["timestamp"],
                   "OK-ACCESS-PASSPHRASE": passphrase, "Content-Type": "application/json", "x-simulated-trading": "1"}
        async with s.request(vec["method"], twins["okx"].rest + path, data=vec["body"] or None, headers=headers) as r:
            return r.status, await r.json()


async def test_documented_rest_vectors_are_accepted_and_tampered_ones_rejected_with_50113() -> None:
    get, post = _vector("v5_rest_get_computed_with_doc_inputs"), _vector("v5_rest_post_computed_with_doc_inputs")
    status, body = await _vector_request(get, get["request_path"], get["expected_signature"])
    assert status == 200 and body["code"] == "0" and [d["ccy"] for d in body["data"][0]["details"]] == ["BTC"]
    status, body = await _vector_request(post, post["request_path"], post["expected_signature"])
    assert status == 200 and body["data"][0]["lever"] == "5"
    status, body = await _vector_request(get, "/api/v5/account/balance?ccy=ETH", get["expected_signature"])
    assert (status, body) == (401, {"code": "50113", "msg": "Invalid signature.", "data": []})
    status, body = await _vector_request(get, get["request_path"], get["expected_signature"], passphrase="wrong")
    assert (status, body["code"]) == (401, "50105")


async def test_key_timestamp_and_passphrase_errors_use_okx_codes() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        status, body = await OkxClient(s, rt).request("GET", "/api/v5/account/balance", signed=False)
        assert (status, body["code"]) == (401, "50103")
        status, body = await OkxClient(s, rt).request("GET", "/api/v5/account/balance", headers={"OK-ACCESS-KEY": "nope"})
        assert (status, body) == (401, {"code": "50111", "msg": "Invalid OK-ACCESS-KEY.", "data": []})
        stale = OkxClient(s, rt, clock_ms=lambda: time.time_ns() // 1_000_000 - 31_000)
        status, body = await stale.request("GET", "/api/v5/account/balance")
        assert (status, body) == (401, {"code": "50102", "msg": "Timestamp request expired.", "data": []})
        early = OkxClient(s, rt, clock_ms=lambda: time.time_ns() // 1_000_000 + 25_000)
        assert (await early.request("GET", "/api/v5/account/balance"))[0] == 200
        status, body = await OkxClient(s, rt).request("GET", "/api/v5/account/balance", headers={"OK-ACCESS-PASSPHRASE": "x"})
        assert (status, body["code"]) == (401, "50105")


async def test_per_endpoint_rate_limit_gives_50011_with_http_429_and_resets_next_window() -> None:
    now = [1_700_000_000_000]
    cfg = OkxConfig(limits=RateLimits({"account/balance": 3, "trade/order": 2}))
    opts = {"okx": {"config": cfg, "clock_ms": lambda: now[0]}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"], clock_ms=lambda: now[0])
        statuses = [(await c.request("GET", "/api/v5/account/balance"))[0] for _ in range(3)]
        status, body = await c.request("GET", "/api/v5/account/balance")
        assert statuses == [200] * 3 and (status, body["code"], body["msg"]) == (
            429, "50011", "Rate limit reached. Please refer to API documentation and throttle requests accordingly.")
        assert (await c.request("GET", "/api/v5/account/positions"))[0] == 200  # other endpoints unaffected
        order = {"instId": "ETH-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "100", "sz": "1"}
        codes = [(await c.request("POST", "/api/v5/trade/order", order))[1]["code"] for _ in range(3)]
        assert codes == ["0", "0", "50011"]
        now[0] += 2000
        assert (await c.request("GET", "/api/v5/account/balance"))[0] == 200


async def test_order_rejections_carry_okx_scodes() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        base: dict[str, Any] = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "ordType": "market", "sz": "1"}
        cases: list[tuple[dict[str, Any], str]] = [({"sz": "1.5"}, "51121"), ({"reduceOnly": True}, "51169"), ({"instId": "NOPE-SWAP"}, "51001"),
                 ({"ordType": "limit"}, "51000"), ({"sz": "100000000"}, "51008"), ({"tdMode": "cash"}, "51000")]
        for change, code in cases:
            _, body = await c.request("POST", "/api/v5/trade/order", base | change)
            assert (body["code"], body["data"][0]["sCode"]) == ("1", code), change
        _, batch = await c.request("POST", "/api/v5/trade/batch-orders", [base, base | {"sz": "0.5"}])
        assert batch["code"] == "2" and [d["sCode"] for d in batch["data"]] == ["0", "51121"]
        _, missing = await c.request("GET", "/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId=1")
        assert missing == {"code": "51603", "msg": "Order does not exist.", "data": []}


async def test_http_faults_use_the_okx_error_shape_and_clear() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["okx"], _okx(twins)
        c = OkxClient(s, rt)
        async with s.post(f"{rt.rest}/__admin/faults", json={"fault": "http_5xx", "duration_s": 30}) as r:
            assert r.status == 200
        assert await c.request("GET", "/api/v5/public/time", signed=False) == (503, {
            "code": "50001", "msg": "Service temporarily unavailable. Please try again later.", "data": []})
        async with s.delete(f"{rt.rest}/__admin/faults?fault=http_5xx") as r:
            assert r.status == 200
        assert (await c.request("GET", "/api/v5/public/time", signed=False))[0] == 200
        twin.faults.inject(FaultKind.RATE_LIMIT, 0.3)
        status, body = await c.request("GET", "/api/v5/public/time", signed=False)
        assert (status, body["code"]) == (429, "50011")
        await anyio.sleep(0.35)  # the fault had a duration: it ends by itself
        assert (await c.request("GET", "/api/v5/public/time", signed=False))[0] == 200
        twin.faults.inject(FaultKind.CLOCK_SKEW, ms=-3_600_000)
        _, t = await c.request("GET", "/api/v5/public/time", signed=False)
        assert abs(int(t["data"][0]["ts"]) - (time.time() * 1000 - 3_600_000)) < 5000
        twin.faults.clear(FaultKind.CLOCK_SKEW)
        twin.faults.inject(FaultKind.LATENCY, ms=300)
        started = time.monotonic()
        assert (await c.request("GET", "/api/v5/public/time", signed=False))[0] == 200
        assert time.monotonic() - started >= 0.3
        twin.faults.clear()
        twin.faults.inject(FaultKind.REFUSE_CONNECTIONS)
        with pytest.raises(aiohttp.ClientError):
            await c.request("GET", "/api/v5/public/time", signed=False)
        twin.faults.clear()
        async with aiohttp.ClientSession() as fresh:
            assert (await OkxClient(fresh, rt).request("GET", "/api/v5/public/time", signed=False))[0] == 200


async def test_ccxt_okx_trades_against_the_twin_unchanged() -> None:
    ccxt = pytest.importorskip("ccxt.async_support")
    async with start_twins(["okx"], rate=20, factories=FACTORIES) as twins:
        rt = twins["okx"]
        cred = rt.twin.credentials
        ex = ccxt.okx({"apiKey": cred.api_key, "secret": cred.secret, "password": cred.passphrase})
        ex.urls["api"] = {"rest": rt.rest}
        try:
            markets = await ex.load_markets()
            assert {"BTC/USDT:USDT", "BTC/USD:BTC"} <= set(markets)
            assert markets["BTC/USDT:USDT"]["contractSize"] == 0.01 and markets["BTC/USD:BTC"]["inverse"] is True
            book = await ex.fetch_order_book("BTC/USDT:USDT", 5)
            assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
            assert (await ex.fetch_balance())["total"]["USDT"] == 100_000
            order = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 2, 50_000)
            fetched = await ex.fetch_order(order["id"], "BTC/USDT:USDT")
            assert (fetched["status"], fetched["amount"], fetched["price"]) == ("open", 2, 50_000)
            assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT:USDT")] == [order["id"]]
            assert (await ex.cancel_order(order["id"], "BTC/USDT:USDT"))["id"] == order["id"]
            assert (await ex.fetch_order(order["id"], "BTC/USDT:USDT"))["status"] == "canceled"
            market = await ex.create_order("BTC/USDT:USDT", "market", "sell", 3)
            assert (await ex.fetch_order(market["id"], "BTC/USDT:USDT"))["filled"] == 3
            positions = await ex.fetch_positions()
            assert [(p["symbol"], p["contracts"], p["side"]) for p in positions] == [("BTC/USDT:USDT", 3, "short")]
        finally:
            await ex.close()


async def test_long_short_mode_opens_and_closes_each_side_and_reports_positions_per_side() -> None:
    """set-position-mode switches to long_short_mode while nothing is open; then orders name posSide: BUY long /
    SELL short open, SELL long / BUY short close; a missing or ``net`` posSide is 51000; positions come per side."""
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        base: dict[str, Any] = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "ordType": "market"}
        _, bad = await c.request("POST", "/api/v5/account/set-position-mode", {"posMode": "hedge"})
        assert (bad["code"], bad["msg"]) == ("51000", "Parameter posMode error")
        _, ok = await c.request("POST", "/api/v5/account/set-position-mode", {"posMode": "long_short_mode"})
        assert ok == {"code": "0", "msg": "", "data": [{"posMode": "long_short_mode"}]}
        _, cfg = await c.request("GET", "/api/v5/account/config")
        assert cfg["data"][0]["posMode"] == "long_short_mode"
        for change in ({}, {"posSide": "net"}, {"posSide": "up"}):
            _, body = await c.request("POST", "/api/v5/trade/order", base | {"side": "buy", "sz": "3"} | change)
            assert (body["data"][0]["sCode"], body["data"][0]["sMsg"]) == ("51000", "Parameter posSide error"), change
        _, body = await c.request("POST", "/api/v5/trade/order", base | {"side": "sell", "posSide": "long", "sz": "1"})
        assert body["data"][0]["sCode"] == "51169"  # nothing long to close yet
        opened = [await c.request("POST", "/api/v5/trade/order", base | o) for o in (
            {"side": "buy", "posSide": "long", "sz": "5"}, {"side": "sell", "posSide": "short", "sz": "4"})]
        assert [b["data"][0]["sCode"] for _, b in opened] == ["0", "0"]
        _, pos = await c.request("GET", "/api/v5/account/positions?instType=SWAP")
        assert sorted((p["posSide"], p["pos"]) for p in pos["data"]) == [("long", "5"), ("short", "4")]
        _, busy = await c.request("POST", "/api/v5/account/set-position-mode", {"posMode": "net_mode"})
        assert (busy["code"], busy["msg"]) == ("59000", "Your settings failed as you have positions or open orders.")
        closed = [await c.request("POST", "/api/v5/trade/order", base | o) for o in (
            {"side": "sell", "posSide": "long", "sz": "2"}, {"side": "buy", "posSide": "short", "sz": "4"})]
        assert [b["data"][0]["sCode"] for _, b in closed] == ["0", "0"]
        _, pos = await c.request("GET", "/api/v5/account/positions?instType=SWAP")
        assert [(p["posSide"], p["pos"]) for p in pos["data"]] == [("long", "3")]
        _, order = await c.request("GET", f"/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={closed[1][1]['data'][0]['ordId']}")
        assert (order["data"][0]["side"], order["data"][0]["posSide"], order["data"][0]["state"]) == ("buy", "short", "filled")


async def test_net_mode_refuses_a_long_or_short_pos_side() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        base = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "ordType": "market", "side": "buy", "sz": "1"}
        codes = [(await c.request("POST", "/api/v5/trade/order", base | {"posSide": p}))[1]["data"][0]["sCode"]
                 for p in ("long", "short", "net")]
        assert codes == ["51000", "51000", "0"]


async def test_instruments_that_are_not_live_are_listed_with_their_state_and_refuse_orders() -> None:
    opts = {"okx": {"config": OkxConfig(instrument_states={"ETH-USDT-SWAP": "suspend", "BTC-USD-SWAP": "preopen"})}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        _, inst = await c.request("GET", "/api/v5/public/instruments?instType=SWAP", signed=False)
        states = {r["instId"]: r["state"] for r in inst["data"]}
        assert (states["ETH-USDT-SWAP"], states["BTC-USD-SWAP"], states["BTC-USDT-SWAP"]) == ("suspend", "preopen", "live")
        for symbol in ("ETH-USDT-SWAP", "BTC-USD-SWAP"):
            _, body = await c.request("POST", "/api/v5/trade/order", {
                "instId": symbol, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1"})
            assert (body["data"][0]["sCode"], body["data"][0]["sMsg"]) == ("51022", "Contract suspended."), symbol


async def test_balance_reports_cash_upl_and_okx_free_margin_fields() -> None:
    """eq = cashBal + upl; availEq = eq - frozenBal; availBal = cashBal - frozenBal (frozenBal = imr + ordFrozen)."""
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = OkxClient(s, twins["okx"])
        await c.request("POST", "/api/v5/trade/order", {
            "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "50"})
        await c.request("POST", "/api/v5/trade/order", {
            "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "1000", "sz": "30"})
        twins.step(20)
        _, bal = await c.request("GET", "/api/v5/account/balance?ccy=USDT")
        d = {k: Decimal(v) for k, v in bal["data"][0]["details"][0].items()
             if k in ("eq", "cashBal", "upl", "availEq", "availBal", "frozenBal", "imr", "ordFrozen")}
        assert d["upl"] != 0 and d["imr"] > 0 and d["ordFrozen"] > 0
        e8 = Decimal("0.00000003")  # each field is rounded to 1e-8 on its own
        assert abs(d["eq"] - (d["cashBal"] + d["upl"])) <= e8
        assert abs(d["frozenBal"] - (d["imr"] + d["ordFrozen"])) <= e8
        assert abs(d["availEq"] - (d["eq"] - d["frozenBal"])) <= e8
        assert abs(d["availBal"] - (d["cashBal"] - d["frozenBal"])) <= e8
