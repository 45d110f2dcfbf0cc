"""Deribit twin over HTTP: payload shapes vs the wire fixtures, signing, errors, rate limits, HTTP faults."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from deribit_client import http_get, signed_get, signed_header
from twin_helpers import json_shape, load_fixture

from simulator.deribit import DeribitConfig, DeribitTwin, deribit_twin
from simulator.deribit_auth import RateLimits, client_signature_payload, rest_signature_payload, sign
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from simulator.twin import Credentials

pytestmark = pytest.mark.anyio
FACTORIES = {"deribit": deribit_twin}


def _twin(twins: Twins) -> DeribitTwin:
    twin = twins["deribit"].twin
    assert isinstance(twin, DeribitTwin)
    return twin


def _fx(name: str) -> Any:
    return load_fixture(f"deribit/{name}")


async def _signed(s: aiohttp.ClientSession, twins: Twins, method: str, params: dict[str, Any] | None = None) -> Any:
    c = _twin(twins).credentials
    status, body = await signed_get(s, twins["deribit"].rest, c.api_key, c.secret, method, params)
    assert status == 200, body
    return body["result"]


async def test_public_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(300)
        base = twins["deribit"].rest
        _, t = await http_get(s, base, "public/get_time")
        assert set(t) | {"id"} == set(_fx("rest_get_tradingview_chart_data_response.json"))  # GET carries no id
        assert "id" not in t
        assert isinstance(t["result"], int) and abs(t["result"] - time.time() * 1000) < 5000
        _, instruments = await http_get(s, base, "public/get_instruments", {"currency": "BTC", "kind": "future"})
        doc = _fx("rest_get_instruments_response.json")["result"][1]
        perp = instruments["result"][0]
        assert set(perp) == set(doc) | {"future_type", "rfq"}
        assert {k: json_shape(v) for k, v in perp.items() if k in doc} == json_shape(doc)
        assert set(_fx("rest_real_instrument_BTC_PERPETUAL.json")) <= set(perp)
        _, book = await http_get(s, base, "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 5})
        want = _fx("rest_get_order_book_response.json")["result"]
        assert json_shape(book["result"]) == json_shape(want) | {"asks": json_shape(want["bids"])}
        _, ticker = await http_get(s, base, "public/ticker", {"instrument_name": "BTC-PERPETUAL"})
        assert json_shape(ticker["result"]) == json_shape(_fx("rest_ticker_response.json")["result"])
        _, trades = await http_get(s, base, "public/get_last_trades_by_instrument", {"instrument_name": "BTC-PERPETUAL", "count": 1})
        want_trades = _fx("rest_get_last_trades_by_instrument_response.json")["result"]
        del want_trades["trades"][0]["iv"]  # options only
        assert json_shape(trades["result"]) == json_shape(want_trades)
        now = _twin(twins).now_ms()
        _, chart = await http_get(s, base, "public/get_tradingview_chart_data", {
            "instrument_name": "BTC-PERPETUAL", "start_timestamp": now - 3_600_000, "end_timestamp": now, "resolution": "1"})
        assert json_shape(chart["result"]) == json_shape(_fx("rest_get_tradingview_chart_data_response.json")["result"])
        assert chart["result"]["status"] == "ok" and chart["result"]["low"][0] <= chart["result"]["high"][0]
        _, status = await http_get(s, base, "public/status")
        assert json_shape(status["result"]) | {"locked_currencies": ["str"]} == json_shape(_fx("rest_public_status_response.json")["result"])


async def test_instruments_books_and_errors_are_consistent_without_fixtures() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        base = twins["deribit"].rest
        _, resp = await http_get(s, base, "public/get_instruments")
        by_name = {i["instrument_name"]: i for i in resp["result"]}
        btc, usdc = by_name["BTC-PERPETUAL"], by_name["BTC_USDC-PERPETUAL"]
        assert (btc["future_type"], btc["contract_size"], btc["tick_size"], btc["min_trade_amount"]) == ("reversed", 10, 0.5, 10)
        assert (btc["settlement_currency"], btc["counter_currency"]) == ("BTC", "USD")
        assert (usdc["instrument_type"], usdc["settlement_currency"], usdc["contract_size"]) == ("linear", "USDC", 0.001)
        assert by_name["ETH-PERPETUAL"]["future_type"] == "reversed"
        _, usdc_only = await http_get(s, base, "public/get_instruments", {"currency": "USDC"})
        assert {i["instrument_name"] for i in usdc_only["result"]} == {"BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"}
        _, book = await http_get(s, base, "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 1000})
        r = book["result"]
        assert len(r["bids"]) >= 50 and len(r["asks"]) >= 50 and r["bids"][0][0] < r["asks"][0][0]
        assert [r["best_bid_price"], r["best_bid_amount"]] == r["bids"][0]
        assert all(Decimal(str(p)) % Decimal("0.5") == 0 and a % 10 == 0 for p, a in r["bids"] + r["asks"])
        assert r["change_id"] == _twin(twins).depth["BTC-PERPETUAL"].mirror.update_id
        status, err = await http_get(s, base, "public/get_order_book", {"instrument_name": "NOPE-PERPETUAL"})
        assert status == 400 and err["error"] == {"message": "Invalid params", "code": -32602,
                                                   "data": {"reason": "instrument not found", "param": "instrument_name"}}
        status, err = await http_get(s, base, "public/no_such_method")
        assert (status, err["error"]["code"]) == (404, -32601)
        async with s.post(f"{base}/api/v2/public/get_time", json={"jsonrpc": "2.0", "id": 77, "method": "public/get_time"}) as resp_post:
            body = await resp_post.json()
        assert body["id"] == 77 and isinstance(body["result"], int)


async def test_private_responses_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        summary = await _signed(s, twins, "private/get_account_summary", {"currency": "BTC", "extended": "true"})
        want = _fx("rest_private_get_account_summary_response.json")["result"]
        assert {k: type(v).__name__ for k, v in summary.items()} == {k: type(v).__name__ for k, v in want.items()} | {
            "options_gamma": "float", "options_session_rpl": "float", "spot_reserve": "float", "fee_balance": "float",
            "options_session_upl": "float", "options_value": "float", "options_theta": "float", "options_vega": "float",
            "options_pl": "float", "options_delta": "float", "referrer_id": "NoneType"}
        assert summary["balance"] == 10.0 and summary["currency"] == "BTC"
        bought = await _signed(s, twins, "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 40, "type": "market", "label": "m1"})
        want_buy = _fx("rest_private_buy_response.json")["result"]
        # Trades of a labelled order carry its label (the fixture's order had none, so its trades show none).
        assert [t.pop("label") for t in bought["trades"]] == ["m1"] * len(bought["trades"])
        assert json_shape(bought) == json_shape(want_buy) | {"order": json_shape(want_buy["order"])}
        assert bought["order"]["order_state"] == "filled" and sum(t["amount"] for t in bought["trades"]) == 40
        positions = await _signed(s, twins, "private/get_positions", {"currency": "BTC", "kind": "future"})
        assert json_shape(positions) == json_shape(_fx("rest_private_get_positions_response.json")["result"])
        assert positions[0]["size"] == 40 and positions[0]["direction"] == "buy"
        best_bid = _twin(twins).depth["BTC-PERPETUAL"].mirror.bids(1)[0][0]
        rest = await _signed(s, twins, "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit",
                                                       "price": str(best_bid - 500), "label": "l1"})
        oid = rest["order"]["order_id"]
        state = await _signed(s, twins, "private/get_order_state", {"order_id": oid})
        assert json_shape(state) == json_shape(_fx("rest_private_get_order_state_response.json")["result"])
        opened = await _signed(s, twins, "private/get_open_orders_by_instrument", {"instrument_name": "BTC-PERPETUAL"})
        assert json_shape(opened) == json_shape(_fx("rest_private_get_open_orders_by_instrument_response.json")["result"])
        edited = await _signed(s, twins, "private/edit", {"order_id": oid, "amount": 20, "price": str(best_bid - 400)})
        assert json_shape(edited) | {"trades": []} == json_shape(_fx("rest_private_edit_response.json")["result"])
        assert (edited["order"]["replaced"], edited["order"]["amount"], edited["order"]["order_id"]) == (True, 20, oid)
        cancelled = await _signed(s, twins, "private/cancel", {"order_id": oid})
        want_cancel = set(_fx("rest_private_cancel_response.json")["result"]) - {"trigger", "triggered", "trigger_price"}
        assert want_cancel <= set(cancelled) and cancelled["order_state"] == "cancelled"
        count = await _signed(s, twins, "private/cancel_all")
        assert json_shape(count) == json_shape(_fx("rest_private_cancel_all_response.json")["result"]) and count == 0


async def test_duplicate_labels_unknown_orders_and_bad_amounts_get_deribit_errors() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c, base = _twin(twins).credentials, twins["deribit"].rest
        px = str(_twin(twins).depth["BTC-PERPETUAL"].mirror.bids(1)[0][0] - 1000)
        order = {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": px, "label": "dup"}
        assert (await signed_get(s, base, c.api_key, c.secret, "private/buy", order))[0] == 200
        status, err = await signed_get(s, base, c.api_key, c.secret, "private/buy", order)
        assert (status, err["error"]) == (400, {"message": "non_unique_order_label", "code": 13032})
        status, err = await signed_get(s, base, c.api_key, c.secret, "private/cancel", {"order_id": "123"})
        assert err["error"] == {"message": "order_not_found", "code": 10004}
        status, err = await signed_get(s, base, c.api_key, c.secret, "private/buy", order | {"amount": 15, "label": "x"})
        assert err["error"]["data"] == {"reason": "must be a multiple of contract size", "param": "amount"}
        status, err = await signed_get(s, base, c.api_key, c.secret, "private/buy", order | {"price": "1000.25", "label": "y"})
        assert err["error"] == {"message": "price_wrong_tick", "code": 10043}
        status, err = await signed_get(s, base, c.api_key, c.secret, "private/sell", order | {"amount": 10**9, "label": "z"})
        assert err["error"] == {"message": "not_enough_funds", "code": 10009}


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in load_fixture("signing_vectors.json")["deribit"] if v["name"] == name)


def test_documented_signing_vectors_reproduce_with_the_twin_signer() -> None:
    ws_vec, rest_vec = _vector("ws_client_signature_doc"), _vector("rest_deri_hmac_sha256_computed")
    payload = client_signature_payload(ws_vec["timestamp"], ws_vec["nonce"], ws_vec["data"])
    assert payload == ws_vec["string_to_sign"] and sign(ws_vec["secret"], payload) == ws_vec["expected_signature"]
    payload = rest_signature_payload(rest_vec["timestamp"], rest_vec["nonce"], rest_vec["method"], rest_vec["uri"], rest_vec["body"])
    assert payload == rest_vec["string_to_sign"] and sign(rest_vec["secret"], payload) == rest_vec["expected_signature"]


async def test_rest_signing_vector_is_accepted_and_tampered_stale_or_unsigned_requests_are_refused() -> None:
    vec = _vector("rest_deri_hmac_sha256_computed")
    cfg = DeribitConfig(credentials=(Credentials(vec["client_id"], vec["secret"]),))
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins:
        twin, base = _twin(twins), twins["deribit"].rest
        twin.faults.inject(FaultKind.CLOCK_SKEW, ms=vec["timestamp"] + 500 - time.time_ns() // 1_000_000)
        async with aiohttp.ClientSession() as s:
            async with s.get(base + vec["uri"], headers={"Authorization": vec["authorization_header"]}) as r:
                body = await r.json()
                assert r.status == 200 and body["result"]["currency"] == "BTC"
            tampered = vec["authorization_header"].replace("sig=9b", "sig=8b")
            async with s.get(base + vec["uri"], headers={"Authorization": tampered}) as r:
                assert (r.status, (await r.json())["error"]) == (401, {"message": "unauthorized", "code": 13009})
            async with s.get(base + vec["uri"].replace("BTC", "ETH"), headers={"Authorization": vec["authorization_header"]}) as r:
                assert (r.status, (await r.json())["error"]["code"]) == (401, 13009)
            twin.faults.inject(FaultKind.CLOCK_SKEW, ms=vec["timestamp"] + 61_000 - time.time_ns() // 1_000_000)
            async with s.get(base + vec["uri"], headers={"Authorization": vec["authorization_header"]}) as r:
                assert (r.status, (await r.json())["error"]["code"]) == (401, 13009)
            async with s.get(base + vec["uri"]) as r:
                assert (r.status, (await r.json())["error"]) == (401, {"message": "unauthorized", "code": 13009})
            other = signed_header("NOBODY", vec["secret"], "GET", vec["uri"], ts=twin.now_ms())
            async with s.get(base + vec["uri"], headers={"Authorization": other}) as r:
                assert (r.status, (await r.json())["error"]) == (401, {"message": "invalid_credentials", "code": 13004})


async def test_public_auth_grants_bearer_tokens_refreshes_them_and_rejects_bad_secrets() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c, base = _twin(twins).credentials, twins["deribit"].rest
        status, auth = await http_get(s, base, "public/auth", {"grant_type": "client_credentials", "client_id": c.api_key, "client_secret": c.secret})
        assert status == 200 and json_shape(auth["result"]) == json_shape(_fx("rest_public_auth_response.json")["result"])
        bearer = {"Authorization": f"Bearer {auth['result']['access_token']}"}
        status, _ = await http_get(s, base, "private/get_account_summaries", headers=bearer)
        assert status == 200
        status, fresh = await http_get(s, base, "public/auth", {"grant_type": "refresh_token", "refresh_token": auth["result"]["refresh_token"]})
        assert status == 200 and fresh["result"]["access_token"] != auth["result"]["access_token"]
        status, err = await http_get(s, base, "private/get_positions", headers=bearer)
        assert (status, err["error"]["code"]) == (401, 13009)  # the refreshed-away token is revoked
        status, err = await http_get(s, base, "public/auth", {"grant_type": "client_credentials", "client_id": c.api_key, "client_secret": "wrong"})
        assert (status, err["error"]) == (401, {"message": "invalid_credentials", "code": 13004})
        status, _ = await http_get(s, base, "private/get_positions", {"access_token": fresh["result"]["access_token"]})
        assert status == 200
        narrow = await http_get(s, base, "public/auth", {"grant_type": "client_credentials", "client_id": c.api_key,
                                                         "client_secret": c.secret, "scope": "account:read"})
        status, err = await http_get(s, base, "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"},
                                     headers={"Authorization": f"bearer {narrow[1]['result']['access_token']}"})
        assert err["error"] == {"message": "scope_exceeded", "code": 13403}


async def test_credit_buckets_refuse_with_10028_and_http_429() -> None:
    cfg = DeribitConfig(limits=RateLimits(credits_per_request=500, credit_pool=1500, credit_refill_per_s=1,
                                          matching_engine_burst=2, matching_engine_rate=0.001))
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        base, c = twins["deribit"].rest, _twin(twins).credentials
        statuses = [(await http_get(s, base, "public/get_time"))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        _, err = await http_get(s, base, "public/get_time")
        assert err["error"] == {"message": "too_many_requests", "code": 10028}
        order = {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"}
        codes = [(await signed_get(s, base, c.api_key, c.secret, "private/buy", order))[1].get("error", {}).get("code") for _ in range(3)]
        assert codes == [None, None, 10028]


async def test_http_faults_use_deribit_error_shapes_and_clear() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin, base = _twin(twins), twins["deribit"].rest
        twin.faults.inject(FaultKind.HTTP_5XX, status=503)
        status, err = await http_get(s, base, "public/get_time")
        assert status == 503 and err["error"] == {"message": "temporarily_unavailable", "code": 13028}
        twin.faults.clear(FaultKind.HTTP_5XX)
        twin.faults.inject(FaultKind.RATE_LIMIT, duration_s=0.3)
        status, err = await http_get(s, base, "public/get_time")
        assert (status, err["error"]["code"]) == (429, 10028)
        async with s.post(f"{base}/__admin/faults", json={"fault": "latency", "ms": 150, "duration_s": 1.0}) as r:
            assert r.status == 200
        t0 = time.monotonic()
        await http_get(s, base, "public/get_time")  # rate limit is over by now (latency >= its rest)
        assert time.monotonic() - t0 >= 0.15
        async with s.delete(f"{base}/__admin/faults") as r:
            assert (await r.json())["faults"] == []
        twin.faults.inject(FaultKind.CLOCK_SKEW, ms=-3_600_000)
        _, t = await http_get(s, base, "public/get_time")
        assert abs(t["result"] + 3_600_000 - time.time() * 1000) < 5000
        twin.faults.clear()
        twin.faults.inject(FaultKind.REFUSE_CONNECTIONS, duration_s=0.3)
        with pytest.raises(aiohttp.ClientError):
            async with aiohttp.ClientSession() as fresh:
                await http_get(fresh, base, "public/get_time")
        twin.faults.clear()
        status, _ = await http_get(s, base, "public/get_time")
        assert status == 200
        assert set(err) | {"id"} == set(_fx("errors_catalog.json")["payload_shape"])  # a GET carries no id


async def test_account_summary_keeps_the_session_pnl_out_of_the_balance_as_deribit_does() -> None:
    """Deribit books futures PnL into ``balance`` at the daily settlement only: within the session
    margin_balance = balance + session upl + session rpl, available_funds = margin_balance - initial
    margin (the OpenAPI example's arithmetic), and only fees have left the balance."""
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        fees = 0.0
        for method, amount in (("private/buy", 1000), ("private/sell", 400)):  # a round trip pays the spread
            done = await _signed(s, twins, method, {"instrument_name": "BTC-PERPETUAL", "amount": amount, "type": "market"})
            fees += sum(t["fee"] for t in done["trades"])
        twins.step(5)
        r = await _signed(s, twins, "private/get_account_summary", {"currency": "BTC"})
        assert r["session_rpl"] < 0 and r["session_upl"] != 0 and fees > 0
        assert r["balance"] == pytest.approx(10.0 - fees, abs=1e-8)  # the session's realised PnL is not in it
        assert r["margin_balance"] == pytest.approx(r["balance"] + r["futures_session_upl"] + r["futures_session_rpl"], abs=1e-7)
        assert r["equity"] == pytest.approx(r["margin_balance"] + r["options_value"], abs=1e-7)
        assert r["available_funds"] == pytest.approx(r["margin_balance"] - r["initial_margin"], abs=1e-7)
        assert r["available_withdrawal_funds"] == pytest.approx(r["balance"] - r["initial_margin"], abs=1e-7)
        assert r["total_pl"] == r["futures_pl"] == pytest.approx(r["session_upl"] + r["session_rpl"], abs=1e-7)
        assert 0 < r["initial_margin"] and r["available_funds"] < r["balance"]
        (same,) = [x for x in (await _signed(s, twins, "private/get_account_summaries"))["summaries"] if x["currency"] == "BTC"]
        assert (same["balance"], same["available_funds"], same["session_upl"]) == (
            r["balance"], r["available_funds"], r["session_upl"])


async def test_a_signed_post_carrying_the_json_rpc_request_places_an_order_once() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        twin, base = _twin(twins), twins["deribit"].rest
        body = json.dumps({"jsonrpc": "2.0", "id": 41, "method": "private/buy", "params": {
            "instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": 1000.5, "label": "post-1"}})
        header = signed_header(twin.credentials.api_key, twin.credentials.secret, "POST", "/api/v2/private/buy", body)
        async with s.post(f"{base}/api/v2/private/buy", data=body,
                          headers={"Authorization": header, "Content-Type": "application/json"}) as resp:
            status, reply = resp.status, await resp.json()
        assert status == 200 and reply["id"] == 41
        assert (reply["result"]["order"]["label"], reply["result"]["order"]["price"]) == ("post-1", 1000.5)
        assert twin.received.count("post-1") == 1
        tampered = body.replace("1000.5", "1001.0")  # the signature covers the body
        async with s.post(f"{base}/api/v2/private/buy", data=tampered,
                          headers={"Authorization": header, "Content-Type": "application/json"}) as resp:
            assert (resp.status, (await resp.json())["error"]["code"]) == (401, 13009)


async def test_a_book_out_of_open_refuses_orders_with_deribits_codes_and_lists_its_state() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        twin, base, c = _twin(twins), twins["deribit"].rest, _twin(twins).credentials

        async def buy(label: str) -> tuple[int, dict[str, Any]]:
            return await signed_get(s, base, c.api_key, c.secret, "private/buy", {
                "instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": 1000, "label": label})

        status, resting = await buy("rest-1")
        assert status == 200
        order_id = resting["result"]["order"]["order_id"]
        for state, code in (("locked", 10012), ("halted", 10012), ("settlement", 10041), ("archivized", 13019)):
            twin.set_book_state("BTC-PERPETUAL", state)
            status, err = await buy(f"no-{state}")
            assert (status, err["error"]["code"]) == (400, code), state
            _, listed = await http_get(s, base, "public/get_instruments", {"currency": "BTC"})
            perp = next(i for i in listed["result"] if i["instrument_name"] == "BTC-PERPETUAL")
            assert (perp["state"], perp["is_active"]) == (state, False)
            _, book = await http_get(s, base, "public/get_order_book", {"instrument_name": "BTC-PERPETUAL"})
            assert book["result"]["state"] == state
        twin.set_book_state("BTC-PERPETUAL", "locked")  # cancels are still taken while locked
        status, cancelled = await signed_get(s, base, c.api_key, c.secret, "private/cancel", {"order_id": order_id})
        assert status == 200 and cancelled["result"]["order_state"] == "cancelled"
        twin.set_book_state("BTC-PERPETUAL", "open")
        status, again = await buy("rest-2")
        assert status == 200
        twin.set_book_state("BTC-PERPETUAL", "inactive")  # entering inactive cancels the book's open orders
        status, after = await signed_get(s, base, c.api_key, c.secret, "private/get_order_state",
                                         {"order_id": again["result"]["order"]["order_id"]})
        assert after["result"]["order_state"] == "cancelled"
        with pytest.raises(ValueError, match="'closed'"):
            twin.set_book_state("BTC-PERPETUAL", "closed")  # a pre-2026 state name
