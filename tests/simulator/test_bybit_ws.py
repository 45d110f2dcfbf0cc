"""Bybit twin WebSockets: acks and pushes vs the wire fixtures, book sequencing, faults, private lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
from test_bybit_rest import FACTORIES, client
from twin_helpers import json_shape, load_fixture

from simulator.bybit import BybitConfig, BybitTwin
from simulator.faults import FaultKind
from simulator.runner import RunningTwin, start_twins

pytestmark = pytest.mark.anyio


async def _recv(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 3.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait_s)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type}"
    out: dict[str, Any] = json.loads(msg.data)
    return out


async def _until(ws: aiohttp.ClientWebSocketResponse, topic: str, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        m = await _recv(ws)
        if m.get("topic") == topic:
            return m
    raise AssertionError(f"no {topic} message within {limit} frames")


def _bybit(rt: RunningTwin) -> BybitTwin:
    assert isinstance(rt.twin, BybitTwin)
    return rt.twin


def _apply(book: dict[str, dict[Decimal, str]], data: dict[str, Any]) -> None:
    for side, key in (("b", "b"), ("a", "a")):
        for p, s in data[key]:
            if s == "0":
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = s


def _levels(book: dict[str, dict[Decimal, str]], side: str, n: int) -> list[list[str]]:
    rows = sorted(book[side].items(), key=lambda lv: lv[0], reverse=side == "b")[:n]
    return [[str(p), s] for p, s in rows]


async def test_public_acks_and_pong_match_the_linear_fixtures() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["bybit"].ws["public"]) as ws:
            await ws.send_str(json.dumps(load_fixture("bybit/ws_ping_request.json")))
            pong = await _recv(ws)
            assert json_shape(pong) == json_shape(load_fixture("bybit/ws_pong_public_linear.json")) and pong["req_id"] == "100001"
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]}))
            ack = await _recv(ws)
            assert json_shape(ack) == json_shape(load_fixture("bybit/ws_subscribe_ack_linear.json")) and ack["success"] is True
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.7.BTCUSDT"], "req_id": "bad"}))
            nack = await _recv(ws)
            assert (nack["success"], nack["req_id"]) == (False, "bad") and "orderbook.7.BTCUSDT" in nack["ret_msg"]
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["kline.1.BTCUSDT", "tickers.BTCUSDT"]}))
            assert (await _recv(ws))["success"] is True
            ticker = await _recv(ws)
            assert set(ticker) == set(load_fixture("bybit/ws_ticker_linear_perp_snapshot.json"))
            assert json_shape(ticker["data"]) == json_shape(load_fixture("bybit/ws_ticker_linear_perp_snapshot.json")["data"])
            twins.step(40)
            trade = await _until(ws, "publicTrade.BTCUSDT")
            assert json_shape(trade) == json_shape(load_fixture("bybit/ws_public_trade.json"))
            kline = await _until(ws, "kline.1.BTCUSDT")
            assert json_shape(kline) == json_shape(load_fixture("bybit/ws_kline.json")) and kline["data"][-1]["confirm"] is False


async def test_book_stream_follows_bybit_sequencing_and_rebuilds_the_twin_book() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        async with s.ws_connect(rt.ws["public"], max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "orderbook.200.BTCUSDT"]}))
            assert (await _recv(ws))["success"] is True
            books: dict[str, dict[str, dict[Decimal, str]]] = {}
            last: dict[str, tuple[int, int]] = {}
            deltas = 0
            for _batch in range(15):
                twins.step(100)
                while True:
                    try:
                        m = await _recv(ws, wait_s=0.3)
                    except TimeoutError:
                        break
                    topic = m["topic"]
                    u, seq = m["data"]["u"], m["data"]["seq"]
                    if topic not in books:
                        assert m["type"] == "snapshot", "snapshot must come first"
                        assert json_shape(m) == json_shape(load_fixture("bybit/ws_orderbook_snapshot.json"))
                        books[topic] = {"b": {}, "a": {}}
                    else:
                        assert m["type"] == "delta" and u == last[topic][0] + 1 and seq > last[topic][1]
                        if deltas == 0:
                            assert json_shape(m) == json_shape(load_fixture("bybit/ws_orderbook_delta.json"))
                        deltas += 1
                    last[topic] = (u, seq)
                    _apply(books[topic], m["data"])
            assert deltas >= 2500
            async with s.get(f"{rt.rest}/__admin/book?symbol=BTCUSDT&depth=200") as r:
                admin = await r.json()
            full = books["orderbook.200.BTCUSDT"]
            assert _levels(full, "b", 200) == admin["bids"] and _levels(full, "a", 200) == admin["asks"]
            top = books["orderbook.50.BTCUSDT"]
            assert _levels(top, "b", 50) == admin["bids"][:50] and _levels(top, "a", 50) == admin["asks"][:50]
            assert len(top["b"]) == 50 and len(top["a"]) == 50


async def test_restart_sends_a_u_1_snapshot_and_skip_sequence_leaves_one_gap() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]}))
            await _recv(ws)
            u0 = (await _recv(ws))["data"]["u"]
            rt.twin.faults.inject(FaultKind.SKIP_SEQUENCE)
            twins.step(3)
            us = [(await _recv(ws))["data"]["u"] for _ in range(2)]
            assert us == [u0 + 2, u0 + 3]
            async with s.post(f"{rt.rest}/__admin/restart") as r:
                assert r.status == 200
            twins.step(2)
            snap, nxt = await _recv(ws), await _recv(ws)
            assert (snap["type"], snap["data"]["u"]) == ("snapshot", 1) and (nxt["type"], nxt["data"]["u"]) == ("delta", 2)


async def test_ticker_deltas_carry_only_changed_fields_and_rebuild_the_ticker() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["tickers.BTCUSDT"]}))
            await _recv(ws)
            state = dict((await _recv(ws))["data"])
            prev = dict(state)
            twins.step(20)
            for _ in range(20):
                m = await _recv(ws)
                assert m["type"] == "delta" and m["data"]["symbol"] == "BTCUSDT"
                changed = {k for k in m["data"] if k != "symbol"}
                assert changed and all(prev[k] != m["data"][k] for k in changed)
                state |= m["data"]
                prev = dict(state)
            assert state == _bybit(rt).ticker_fields("BTCUSDT", _bybit(rt).now_ms()) | {"nextFundingTime": state["nextFundingTime"]}


async def test_ws_faults_drop_stall_malformed_refuse_and_idle_timeout() -> None:
    options = {"bybit": {"config": BybitConfig(idle_timeout_s=0.4)}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        ping = json.dumps({"op": "ping"})
        async with s.ws_connect(rt.ws["public"]) as ws:
            rt.twin.faults.inject(FaultKind.STALL, duration_s=0.3)
            await ws.send_str(ping)
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.2)
            await anyio.sleep(0.15)
            await ws.send_str(ping)
            assert (await _recv(ws))["ret_msg"] == "pong"
            rt.twin.faults.inject(FaultKind.MALFORMED_FRAME)
            await ws.send_str(ping)
            raw = (await ws.receive(timeout=2)).data
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw)
            await ws.send_str(ping)
            assert (await _recv(ws))["op"] == "ping"
            rt.twin.faults.inject(FaultKind.DROP_WS)
            msg = await ws.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        rt.twin.faults.inject(FaultKind.REFUSE_CONNECTIONS, duration_s=0.3)
        with pytest.raises(aiohttp.ClientError):
            async with s.ws_connect(rt.ws["public"]):
                pass
        await anyio.sleep(0.35)
        async with s.ws_connect(rt.ws["public"]) as ws:
            msg = await ws.receive(timeout=2)  # silent client: dropped after idle_timeout_s
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def _auth(key: str, secret: str, expires: int) -> str:
    sig = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"req_id": "10001", "op": "auth", "args": [key, expires, sig]})


async def test_private_stream_auth_pong_and_order_lifecycle_match_the_fixtures() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        cred, c = rt.twin.credentials, client(s, twins)
        async with s.ws_connect(rt.ws["private"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order"]}))
            assert (await _recv(ws))["success"] is False
            await ws.send_str(_auth(cred.api_key, "wrong", time.time_ns() // 1_000_000 + 5000))
            assert (await _recv(ws))["success"] is False
            await ws.send_str(_auth(cred.api_key, cred.secret, time.time_ns() // 1_000_000 + 5000))
            auth = await _recv(ws)
            assert auth["success"] is True and set(auth) - {"req_id"} == set(load_fixture("bybit/ws_auth_response.json"))
            await ws.send_str(json.dumps({"req_id": "test", "op": "ping"}))
            assert json_shape(await _recv(ws)) == json_shape(load_fixture("bybit/ws_pong_private.json"))
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order", "execution", "position", "wallet"]}))
            assert json_shape(await _recv(ws)) == json_shape(load_fixture("bybit/ws_subscribe_ack_private.json"))
            twin = _bybit(rt)
            book = twin.model.book("bybit", "BTCUSDT")
            (ask_px, ask_qty), lot = book.asks(1)[0], twin.specs["BTCUSDT"].lot
            base = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "timeInForce": "GTC"}
            _, placed, _ = await c.call("POST", "/v5/order/create", base | {"qty": str(ask_qty + lot * 3), "price": str(ask_px), "orderLinkId": "life-1"})
            _, got, _ = await c.call("GET", "/v5/order/realtime", {"category": "linear", "orderLinkId": "life-1"})
            row = got["result"]["list"][0]
            assert (row["orderStatus"], row["cumExecQty"], row["orderId"]) == ("PartiallyFilled", str(ask_qty), placed["result"]["orderId"])
            _, canceled, _ = await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "life-1"})
            assert canceled["retCode"] == 0
            msgs = [await _recv(ws) for _ in range(6)]
            orders = [m["data"][0] for m in msgs if m["topic"] == "order"]
            assert [o["orderStatus"] for o in orders] == ["New", "PartiallyFilled", "Cancelled"]
            assert orders[2]["cumExecQty"] == str(ask_qty) and orders[2]["leavesQty"] == "0.000"
            fixtures = {t: load_fixture(f"bybit/ws_private_{n}.json") for t, n in
                        (("order", "order_update"), ("execution", "execution"), ("position", "position"), ("wallet", "wallet"))}
            for m in msgs:
                want = fixtures[m["topic"]]
                assert set(m) == set(want)
                item, want_item = m["data"][0], want["data"][0]
                if m["topic"] == "execution":
                    assert set(item) == set(want_item) and item["execQty"] == str(ask_qty) and item["isMaker"] is False
                else:
                    assert json_shape(item) | {"cumFeeDetail": {}} == json_shape(want_item) | {"cumFeeDetail": {}}
            # a bid resting at the touch fills as maker once the market trades through it
            _, rest, _ = await c.call("POST", "/v5/order/create", base | {"qty": "0.001", "price": str(book.bids(1)[0][0]), "orderLinkId": "life-2"})
            for _ in range(400):
                twins.step()
                if twin.engine.get("BTCUSDT", client_id="life-2").status.value == "FILLED":
                    break
            _, done, _ = await c.call("GET", "/v5/order/realtime", {"category": "linear", "orderLinkId": "life-2"})
            assert done["result"]["list"][0]["orderStatus"] == "Filled"
            statuses = []
            for _ in range(50):
                m = await _recv(ws)
                if m["topic"] == "order":
                    statuses.append(m["data"][0]["orderStatus"])
                if m["topic"] == "execution":
                    assert m["data"][0]["isMaker"] is True and m["data"][0]["orderLinkId"] == "life-2"
                    break
            assert statuses[0] == "New" and statuses[-1] == "Filled" and rest["retCode"] == 0
