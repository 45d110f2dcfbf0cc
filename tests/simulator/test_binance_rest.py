"""Binance twin REST: payload shapes vs the wire fixtures, signing, rate limits, the order lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from twin_helpers import SignedClient, json_shape, load_fixture

from simulator.binance import BinanceConfig
from simulator.binance_auth import RateLimits
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from simulator.twin import Credentials

pytestmark = pytest.mark.anyio


def _client(session: aiohttp.ClientSession, twins: Twins) -> SignedClient:
    rt = twins["binance"]
    return SignedClient(session, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)


async def test_market_data_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        twins.step(300)
        c = _client(s, twins)
        _, info, _ = await c.request("GET", "/fapi/v1/exchangeInfo", signed=False)
        want = load_fixture("binance/rest_exchange_info_real_trimmed.json")
        assert set(info) == set(want)
        assert json_shape(info["symbols"][0]) == json_shape(want["symbols"][0]) | {"underlyingSubType": []}
        assert [f["filterType"] for f in info["symbols"][0]["filters"]] == [f["filterType"] for f in want["symbols"][0]["filters"]]
        _, depth, headers = await c.request("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}, signed=False)
        assert json_shape(depth) == json_shape(load_fixture("binance/rest_depth_snapshot_real_SUSHIUSDT.json"))
        assert len(depth["bids"]) >= 50 and headers["X-MBX-USED-WEIGHT-1M"] == "21"
        _, kl, _ = await c.request("GET", "/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m"}, signed=False)
        assert json_shape(kl) == json_shape(load_fixture("binance/rest_klines_response.json"))
        _, tr, _ = await c.request("GET", "/fapi/v1/trades", {"symbol": "BTCUSDT"}, signed=False)
        assert json_shape(tr) == json_shape(load_fixture("binance/rest_recent_trades_response.json"))


async def test_market_data_is_consistent_without_fixtures() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        twins.step(50)
        c = _client(s, twins)
        _, depth, _ = await c.request("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5}, signed=False)
        _, bt, _ = await c.request("GET", "/fapi/v1/ticker/bookTicker", {"symbol": "BTCUSDT"}, signed=False)
        assert [bt["bidPrice"], bt["bidQty"]] == depth["bids"][0] and bt["lastUpdateId"] == depth["lastUpdateId"]
        assert float(depth["bids"][0][0]) < float(depth["asks"][0][0])
        status, err, _ = await c.request("GET", "/fapi/v1/depth", {"symbol": "NOPEUSDT"}, signed=False)
        assert (status, err) == (400, {"code": -1121, "msg": "Invalid symbol."})
        _, t, _ = await c.request("GET", "/fapi/v1/time", signed=False)
        assert abs(t["serverTime"] - time.time() * 1000) < 5000


async def test_account_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        c = _client(s, twins)
        status, _, _ = await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}, in_body=True)
        assert status == 200
        _, bal, _ = await c.request("GET", "/fapi/v3/balance")
        assert json_shape(bal) == json_shape(load_fixture("binance/rest_balance_v3_response.json"))
        _, pos, _ = await c.request("GET", "/fapi/v3/positionRisk")
        assert json_shape(pos) == json_shape(load_fixture("binance/rest_position_risk_v3_hedge_response.json"))
        assert pos[0]["positionAmt"] == "0.010" and pos[0]["positionSide"] == "BOTH"
        _, acct, _ = await c.request("GET", "/fapi/v2/account")
        assert acct["canTrade"] is True and acct["positions"][0]["symbol"] == "BTCUSDT"


async def test_order_lifecycle_is_visible_over_rest_and_on_the_private_stream() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, twins)
        _, lk, _ = await c.request("POST", "/fapi/v1/listenKey", signed=False)
        async with s.ws_connect(f"{rt.ws['private']}/ws?listenKey={lk['listenKey']}") as ws:
            book = rt.twin.model.book("binance", "BTCUSDT")  # type: ignore[attr-defined]
            ask_px, ask_qty = book.asks(1)[0]
            qty = ask_qty + rt.twin.specs["BTCUSDT"].lot * 3  # type: ignore[attr-defined]
            status, new, _ = await c.request("POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": str(qty),
                "price": str(ask_px), "newClientOrderId": "life-1"}, in_body=True)
            assert status == 200 and new["status"] == "PARTIALLY_FILLED" and new["executedQty"] == str(ask_qty)
            assert json_shape(new) == json_shape(load_fixture("binance/rest_new_order_response.json"))
            status, dup, _ = await c.request("POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": str(qty),
                "price": str(ask_px - 1000), "newClientOrderId": "life-1"})
            assert (status, dup["code"]) == (400, -4116)
            _, got, _ = await c.request("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "life-1"})
            assert got["orderId"] == new["orderId"] and got["status"] == "PARTIALLY_FILLED"
            _, opened, _ = await c.request("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
            assert [o["orderId"] for o in opened] == [new["orderId"]]
            status, canceled, _ = await c.request("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": new["orderId"]})
            assert status == 200 and canceled["status"] == "CANCELED"
            assert set(canceled) == set(load_fixture("binance/rest_cancel_order_response.json"))
            status, again, _ = await c.request("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": new["orderId"]})
            assert (status, again) == (400, {"code": -2011, "msg": "Unknown order sent."})
            events: list[dict[str, Any]] = []
            while len(events) < 5:
                events.append(json.loads((await ws.receive(timeout=5)).data))
        # As on the venue since 2024-09-03, a fill's TRADE_LITE comes ahead of its ORDER_TRADE_UPDATE.
        assert [e["e"] for e in events] == ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE",
                                           "ORDER_TRADE_UPDATE"]
        lite = events[1]
        assert set(lite) == set(TRADE_LITE_DOC) and (lite["c"], lite["l"], lite["L"]) == ("life-1", str(ask_qty), str(ask_px))
        otu = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
        assert [(e["o"]["x"], e["o"]["X"]) for e in otu] == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("CANCELED", "CANCELED")]
        assert otu[1]["o"]["l"] == str(ask_qty) and otu[1]["o"]["L"] == str(ask_px) and otu[1]["o"]["c"] == "life-1"
        assert json_shape(otu[1]) == json_shape(load_fixture("binance/ws_user_order_trade_update.json"))
        acct = next(e for e in events if e["e"] == "ACCOUNT_UPDATE")
        want = load_fixture("binance/ws_user_account_update.json")
        assert json_shape(acct) == json_shape(want) and acct["a"]["P"][0]["pa"] == str(ask_qty)


# Event-Trade-Lite's example (USD-M user-data-streams docs, read 2026-12): its keys.
TRADE_LITE_DOC = {"e": "TRADE_LITE", "E": 1721895408092, "T": 1721895408214, "s": "BTCUSDT", "q": "0.001", "p": "0",
                  "m": False, "c": "z8hcUoOsqEdKMeKPSABslD", "S": "BUY", "L": "64089.20", "l": "0.040",
                  "t": 109100866, "i": 8886774}


def _vector(name: str) -> dict[str, Any]:
    vectors = load_fixture("signing_vectors.json")["binance"]
    return next(v for v in vectors if v["name"] == name)


async def _vector_twin_request(vec: dict[str, Any], query: str, body: str) -> tuple[int, dict[str, Any]]:
    creds = (Credentials(vec.get("key", "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"), vec["secret"]),)
    async with start_twins(["binance"], rate=0, options={"binance": {"config": BinanceConfig(credentials=creds)}}) as twins:
        rt = twins["binance"]
        rt.twin.faults.inject(FaultKind.CLOCK_SKEW, ms=1591702613943 + 100 - time.time_ns() // 1_000_000 if "1591702613943" in query + body else 1700000000000 + 100 - time.time_ns() // 1_000_000)
        async with aiohttp.ClientSession() as s:
            headers = {"X-MBX-APIKEY": creds[0].api_key, "Content-Type": "application/x-www-form-urlencoded"}
            method = vec["method"]
            async with s.request(method, f"{rt.rest}{vec['path']}" + (f"?{query}" if query else ""), data=body or None, headers=headers) as r:
                return r.status, await r.json()


async def test_documented_usdm_signing_vector_is_accepted_and_a_tampered_one_rejected() -> None:
    vec = _vector("usdm_doc_hmac_query_or_body")
    status, body = await _vector_twin_request(vec, vec["payload"] + "&signature=" + vec["expected_signature"], "")
    assert status == 200 and body["symbol"] == "BTCUSDT" and body["status"] == "NEW"
    status, body = await _vector_twin_request(vec, "", vec["payload"] + "&signature=" + vec["expected_signature"].upper())
    assert status == 200 and body["price"] == "9000.00"
    tampered = vec["payload"].replace("quantity=1", "quantity=2")
    status, body = await _vector_twin_request(vec, tampered + "&signature=" + vec["expected_signature"], "")
    assert (status, body) == (400, load_fixture("binance/rest_error_real_-1022.json"))


async def test_mixed_query_and_body_vector_signs_the_concatenation_without_ampersand() -> None:
    vec = _vector("usdm_doc_hmac_mixed_query_and_body")
    sig = vec["expected_signature_corrected_computed"]
    status, body = await _vector_twin_request(vec, vec["query_string"], vec["body"] + "&signature=" + sig)
    assert status == 200 and body["origQty"] == "1.000"
    status, body = await _vector_twin_request(vec, vec["query_string"], vec["body"] + "&signature=" + vec["expected_signature_in_doc"])
    assert (status, body["code"]) == (400, -1022)


async def test_computed_delete_vector_passes_signing_and_reaches_the_unknown_order_check() -> None:
    vec = _vector("usdm_computed_delete_order")
    status, body = await _vector_twin_request(vec, vec["payload"] + "&signature=" + vec["expected_signature"], "")
    assert (status, body) == (400, {"code": -2011, "msg": "Unknown order sent."})


def test_spot_doc_vectors_reproduce_with_the_twin_signer() -> None:
    from simulator.binance_auth import sign, split_signature

    for name in ("spot_doc_hmac_ascii", "spot_doc_hmac_non_ascii_percent_encoded"):
        vec = _vector(name)
        assert sign(vec["secret"], vec["payload"]) == vec["expected_signature"]
    assert split_signature("a=1&b=2", "c=3&signature=ff") == ("a=1&b=2c=3", "ff")
    assert split_signature("a=1&signature=ff", "") == ("a=1", "ff")


async def test_key_timestamp_and_signature_errors_use_binance_codes_and_statuses() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.get(f"{rt.rest}/fapi/v2/balance?timestamp=1&signature=00") as r:
            assert (r.status, await r.json()) == (401, {"code": -2014, "msg": "API-key format invalid."})
        async with s.get(f"{rt.rest}/fapi/v2/balance?timestamp=1&signature=00", headers={"X-MBX-APIKEY": "nope"}) as r:
            assert (r.status, (await r.json())["code"]) == (401, -2015)
        c = _client(s, twins)
        secret = rt.twin.credentials.secret
        for ts, code in ((time.time_ns() // 1_000_000 - 6000, -1021), (time.time_ns() // 1_000_000 + 2000, -1021)):
            payload = f"timestamp={ts}"
            sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            async with s.get(f"{rt.rest}/fapi/v2/balance?{payload}&signature={sig}", headers={"X-MBX-APIKEY": c.key}) as r:
                assert (r.status, (await r.json())["code"]) == (400, code)


async def test_weight_limit_gives_429_with_retry_after_then_418_ban() -> None:
    cfg = BinanceConfig(limits=RateLimits(weight_per_minute=10, ban_after=2, ban_s=60))
    async with start_twins(["binance"], rate=0, options={"binance": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        base = twins["binance"].rest
        statuses = []
        for _ in range(16):
            async with s.get(f"{base}/fapi/v1/ping") as r:
                statuses.append(r.status)
                body = await r.json()
                assert "X-MBX-USED-WEIGHT-1M" in r.headers
                if r.status in (429, 418):
                    assert body["code"] == -1003 and int(r.headers["Retry-After"]) > 0
        assert statuses[:10] == [200] * 10
        assert statuses[10:12] == [429, 429] and set(statuses[12:]) == {418}


async def test_order_count_headers_are_sent_on_order_responses() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        c = _client(s, twins)
        status, _, headers = await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.002"})
        assert status == 200 and headers["X-MBX-ORDER-COUNT-10S"] == "1" and headers["X-MBX-ORDER-COUNT-1M"] == "1"
        status, err, _ = await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.0001"})
        assert (status, err["code"]) == (400, -1111)
        status, err, _ = await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.001", "reduceOnly": "true"})
        assert (status, err["code"]) == (400, -2022)


# -- position mode ---------------------------------------------------------------------------------------
async def test_position_mode_switches_over_rest_only_when_flat_and_orders_follow_its_rules() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        c = _client(s, twins)
        mode = "/fapi/v1/positionSide/dual"
        assert (await c.request("GET", mode))[:2] == (200, {"dualSidePosition": False})
        status, err, _ = await c.request("POST", mode, {"dualSidePosition": "false"})
        assert (status, err) == (400, {"code": -4059, "msg": "No need to change position side."})
        market = {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.010"}
        status, err, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": "BUY", "positionSide": "LONG"})
        assert (status, err["code"]) == (400, -4061)  # one-way mode takes BOTH (or nothing) only
        assert (await c.request("POST", "/fapi/v1/order", {**market, "side": "BUY"}))[0] == 200
        status, err, _ = await c.request("POST", mode, {"dualSidePosition": "true"})
        assert (status, err["code"]) == (400, -4068)  # a position is open
        assert (await c.request("POST", "/fapi/v1/order", {**market, "side": "SELL", "reduceOnly": "true"}))[0] == 200
        resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.200",
                   "price": "1000.0", "newClientOrderId": "rest-1"}
        assert (await c.request("POST", "/fapi/v1/order", resting))[0] == 200
        status, err, _ = await c.request("POST", mode, {"dualSidePosition": "true"})
        assert (status, err["code"]) == (400, -4067)  # an order is open
        await c.request("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "rest-1"})
        assert (await c.request("POST", mode, {"dualSidePosition": "true"}))[:2] == (200, {"code": 200, "msg": "success"})
        assert (await c.request("GET", mode))[1] == {"dualSidePosition": True}


async def test_hedge_mode_orders_open_and_close_each_side_and_positions_are_reported_per_side() -> None:
    options = {"binance": {"config": BinanceConfig(hedge_mode=True)}}
    async with start_twins(["binance"], rate=0, options=options) as twins, aiohttp.ClientSession() as s:
        c = _client(s, twins)
        market = {"symbol": "BTCUSDT", "type": "MARKET"}
        status, err, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": "BUY", "quantity": "0.010"})
        assert (status, err["code"]) == (400, -4061)  # hedge mode: every order names its side
        status, err, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": "SELL", "quantity": "0.010",
                                                                    "positionSide": "LONG", "reduceOnly": "true"})
        assert (status, err) == (400, {"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."})
        for side, ps, qty in (("BUY", "LONG", "0.010"), ("SELL", "SHORT", "0.004")):
            status, order, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": side, "positionSide": ps,
                                                                          "quantity": qty})
            assert (status, order["status"], order["positionSide"]) == (200, "FILLED", ps)
        _, pos, _ = await c.request("GET", "/fapi/v3/positionRisk")
        assert [(p["positionSide"], p["positionAmt"]) for p in pos] == [("LONG", "0.010"), ("SHORT", "-0.004")]
        assert json_shape(pos) == json_shape(load_fixture("binance/rest_position_risk_v3_hedge_response.json"))
        status, err, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": "SELL", "positionSide": "LONG",
                                                                    "quantity": "0.020"})
        assert (status, err["code"]) == (400, -2022)  # closes more than the long holds
        status, order, _ = await c.request("POST", "/fapi/v1/order", {**market, "side": "SELL", "positionSide": "LONG",
                                                                      "quantity": "0.010"})
        assert (status, order["status"]) == (200, "FILLED")  # closes the long: the short stays
        _, pos, _ = await c.request("GET", "/fapi/v3/positionRisk")
        assert [(p["positionSide"], p["positionAmt"]) for p in pos] == [("SHORT", "-0.004")]


# -- balances ----------------------------------------------------------------------------------------------
async def test_available_balance_is_free_margin_not_the_wallet() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, twins)
        twins.step(5)
        assert (await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                           "quantity": "0.500"}))[0] == 200
        bid = rt.twin.model.book("binance", "BTCUSDT").bids(1)[0][0]  # type: ignore[attr-defined]
        assert (await c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                           "timeInForce": "GTC", "quantity": "0.200",
                                                           "price": str(bid - 100)}))[0] == 200
        (_, (bal,), _), (_, acct, _) = await c.request("GET", "/fapi/v3/balance"), await c.request("GET", "/fapi/v3/account")
        wallet, upnl = Decimal(bal["balance"]), Decimal(bal["crossUnPnl"])
        (asset,) = acct["assets"]
        margin = Decimal(asset["positionInitialMargin"]) + Decimal(asset["openOrderInitialMargin"])
        assert Decimal(asset["openOrderInitialMargin"]) > 0 and Decimal(asset["positionInitialMargin"]) > 0
        assert Decimal(bal["availableBalance"]) == wallet + upnl - margin < wallet
        assert bal["crossWalletBalance"] == bal["balance"] == asset["walletBalance"]
        assert asset["availableBalance"] == bal["availableBalance"]


async def test_a_leverage_change_is_pushed_as_account_config_update() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = _client(s, twins)
        _, lk, _ = await c.request("POST", "/fapi/v1/listenKey", signed=False)
        async with s.ws_connect(f"{rt.ws['private']}/ws?listenKey={lk['listenKey']}") as ws:
            assert (await c.request("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "25"}))[0] == 200
            event = json.loads((await ws.receive(timeout=5)).data)
        assert event["e"] == "ACCOUNT_CONFIG_UPDATE" and event["ac"] == {"s": "BTCUSDT", "l": 25}
        assert "dualSidePosition" not in json.dumps(event)
