"""The Bybit twin read strictly (venues/bybit/schema.py through venues.drift): a clean twin says nothing the
documentation does not; the drift faults (UNKNOWN_FIELD, UNKNOWN_EVENT) show exactly what they inject; with
``ip_allowed=False`` every signed request and the private login get 10010.

The client here is independent of venues/bybit (its own signer, raw WebSockets): the twin is judged against
the documented shapes, not against our codec."""

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
from test_bybit_rest import FACTORIES, BybitClient, client

from simulator.bybit import BybitTwin
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from venues.bybit import schema
from venues.drift import DriftCollector

pytestmark = pytest.mark.anyio

PUBLIC_TOPICS = ["orderbook.50.BTCUSDT", "orderbook.1.BTCUSDT", "publicTrade.BTCUSDT", "kline.1.BTCUSDT",
                 "tickers.BTCUSDT"]
PRIVATE_TOPICS = ["order.linear", "execution.linear", "position.linear", "wallet"]
MARKET_KINDS = {"orderbook", "publicTrade", "kline", "tickers"}


class _Tap:
    """Every frame and answer of a session, into one collector, with the kinds seen."""

    def __init__(self) -> None:
        self.drift = DriftCollector(schema)
        self.kinds: dict[str, set[str]] = {"public": set(), "private": set()}
        self.paths: set[str] = set()
        self.ok_paths: set[str] = set()
        self.events: dict[int, int] = {}  # public connection -> undocumented-topic frames seen

    def frame(self, stream: str, text: str, conn: int = 0) -> None:
        self.drift.frame(stream, text)
        kind = schema.frame_kind(stream, json.loads(text))
        if kind is None:
            self.events[conn] = self.events.get(conn, 0) + 1
        elif kind:
            self.kinds[stream].add(kind)

    async def call(self, api: BybitClient, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        status, body, _headers = await api.call(method, path, params)
        assert status == 200, (path, body)
        self.drift.response(path, json.dumps(body).encode())
        self.paths.add(path)
        if body.get("retCode") == 0 and "result" in body:
            self.ok_paths.add(path)
        return body


async def _drain(ws: aiohttp.ClientWebSocketResponse, tap: _Tap, stream: str, conn: int = 0,
                 quiet_s: float = 0.3) -> None:
    """Read frames until the socket has been quiet for ``quiet_s``."""
    while True:
        try:
            msg = await ws.receive(timeout=quiet_s)
        except TimeoutError:
            return
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return
        tap.frame(stream, msg.data, conn)


def _auth(twin: BybitTwin) -> dict[str, Any]:
    expires = time.time_ns() // 1_000_000 + 10_000
    sig = hmac.new(twin.credentials.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return {"op": "auth", "args": [twin.credentials.api_key, expires, sig], "req_id": "a1"}


def _twin(twins: Twins) -> BybitTwin:
    twin = twins["bybit"].twin
    assert isinstance(twin, BybitTwin)
    return twin


async def _session(twins: Twins, tap: _Tap, before_market: Any = None) -> None:
    """Market data on two public connections, the private stream, and every REST read the client makes, with
    orders placed, cancelled and filled."""
    rt, twin = twins["bybit"], _twin(twins)
    async with aiohttp.ClientSession() as s, s.ws_connect(rt.ws["public"]) as pub, \
            s.ws_connect(rt.ws["public"]) as pub2, s.ws_connect(rt.ws["private"]) as prv:
        api = client(s, twins)
        await prv.send_str(json.dumps(_auth(twin)))
        await prv.send_str(json.dumps({"op": "subscribe", "args": PRIVATE_TOPICS, "req_id": "p1"}))
        await prv.send_str(json.dumps({"op": "subscribe", "args": ["dcp.future"], "req_id": "p2"}))
        await prv.send_str(json.dumps({"op": "ping", "req_id": "p3"}))
        for ws in (pub, pub2):
            await ws.send_str(json.dumps({"op": "subscribe", "args": PUBLIC_TOPICS, "req_id": "s1"}))
            await ws.send_str(json.dumps({"op": "ping", "req_id": "s2"}))
        await _drain(pub, tap, "public", 1)
        await _drain(pub2, tap, "public", 2)
        if before_market is not None:
            before_market()
        for path, params in [("/v5/market/time", {}), ("/v5/market/instruments-info", {"category": "linear"}),
                             ("/v5/market/orderbook", {"category": "linear", "symbol": "BTCUSDT", "limit": "50"}),
                             ("/v5/market/kline", {"category": "linear", "symbol": "BTCUSDT", "interval": "1"}),
                             ("/v5/market/recent-trade", {"category": "linear", "symbol": "BTCUSDT"}),
                             ("/v5/market/tickers", {"category": "linear", "symbol": "BTCUSDT"})]:
            await tap.call(api, "GET", path, params)
        await tap.call(api, "POST", "/v5/position/switch-mode", {"category": "linear", "coin": "USDT", "mode": 3})
        await tap.call(api, "POST", "/v5/position/switch-mode", {"category": "linear", "coin": "USDT", "mode": 0})
        await tap.call(api, "POST", "/v5/order/disconnected-cancel-all", {"product": "DERIVATIVES", "timeWindow": 10})
        for _ in range(3):
            twins.step(10)
            await _drain(pub, tap, "public", 1, 0.1)
            await _drain(pub2, tap, "public", 2, 0.1)
        bid = Decimal(str(twin.book_json("BTCUSDT", 1)["bids"][0][0]))  # type: ignore[index]
        rest = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.010",
                "price": str((bid * Decimal("0.8")).quantize(Decimal("0.1"))), "orderLinkId": "doc-rest-1"}
        await tap.call(api, "POST", "/v5/order/create", rest)
        await tap.call(api, "GET", "/v5/order/realtime", {"category": "linear", "orderLinkId": "doc-rest-1"})
        await tap.call(api, "POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT",
                                                         "orderLinkId": "doc-rest-1"})
        await tap.call(api, "POST", "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                         "orderType": "Market", "qty": "0.010",
                                                         "orderLinkId": "doc-mkt-1"})
        for path, params in [("/v5/order/history", {"category": "linear", "symbol": "BTCUSDT"}),
                             ("/v5/order/realtime", {"category": "linear", "settleCoin": "USDT"}),
                             ("/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"}),
                             ("/v5/account/wallet-balance", {"accountType": "UNIFIED"}),
                             ("/v5/account/info", {}), ("/v5/account/query-dcp-info", {}),
                             ("/v5/user/query-api", {})]:
            await tap.call(api, "GET", path, params)
        await _drain(prv, tap, "private")
        await _drain(pub, tap, "public", 1, 0.1)
        await _drain(pub2, tap, "public", 2, 0.1)


async def test_a_clean_twin_says_nothing_the_documentation_does_not() -> None:
    tap = _Tap()
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins:
        await _session(twins, tap)
    assert tap.kinds["public"] == MARKET_KINDS | {"ack"}
    assert tap.kinds["private"] == {"ack", "pong", "order", "execution", "position", "wallet"}
    assert tap.paths == set(schema.REST), set(schema.REST) ^ tap.paths  # every documented answer we read, asked
    assert tap.drift.report() == [] and tap.events == {} and tap.drift.unreadable == 0


async def test_drift_faults_show_exactly_the_injected_field_and_event() -> None:
    tap = _Tap()
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins:
        twin = _twin(twins)
        twin.faults.inject(FaultKind.UNKNOWN_FIELD.value, field="x_new_field", value=7)

        def event() -> None:
            twin.faults.inject(FaultKind.UNKNOWN_EVENT.value)  # one-shot: once on each public connection

        await _session(twins, tap, before_market=event)
        assert twin.faults.active(FaultKind.UNKNOWN_EVENT) is None  # used up
    found = {(f.what, f.where) for f in tap.drift.report()}
    expected = {("unknown event type", "public")}
    expected |= {("unknown field", f"{kind}/data.x_new_field") for kind in MARKET_KINDS}
    expected |= {("unknown field", f"{path}/result.x_new_field") for path in tap.ok_paths}
    assert found == expected
    assert tap.events == {1: 1, 2: 1}  # one undocumented push on every public connection
    event_finding = next(f for f in tap.drift.report() if f.what == "unknown event type")
    assert '"topic":"x_new_event"' in event_finding.example
    assert all(f.example == "7" for f in tap.drift.report() if f.what == "unknown field")
    assert "/v5/position/list" in tap.ok_paths and "/v5/user/query-api" in tap.ok_paths


async def test_the_event_fault_before_any_connection_reaches_the_first_public_subscriber() -> None:
    tap = _Tap()
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin = _twin(twins)
        twin.faults.inject(FaultKind.UNKNOWN_EVENT.value, event="liquidationV9")
        async with s.ws_connect(twins["bybit"].ws["public"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]}))
            await _drain(ws, tap, "public")
    [f] = tap.drift.report()
    assert f.what == "unknown event type" and '"liquidationV9"' in f.example and tap.events == {0: 1}


async def test_an_ip_not_bound_to_the_key_gets_10010_on_signed_requests_and_the_private_login() -> None:
    options = {"bybit": {"ip_allowed": False}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, \
            aiohttp.ClientSession() as s:
        api, twin = client(s, twins), _twin(twins)
        for method, path, params in [("GET", "/v5/user/query-api", {}),
                                     ("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}),
                                     ("POST", "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT"})]:
            status, body, _ = await api.call(method, path, params)
            assert (status, body["retCode"]) == (200, 10010), path
            assert body["retMsg"] == "Unmatched IP, please check your API key's bound IP addresses."
            assert body["result"] == {}
        status, body, _ = await api.call("GET", "/v5/market/time", signed=False)
        assert (status, body["retCode"]) == (200, 0)  # public reads are not bound to the key
        async with s.ws_connect(twins["bybit"].ws["private"]) as ws:
            await ws.send_str(json.dumps(_auth(twin)))
            with anyio.fail_after(3):
                ack = json.loads((await ws.receive()).data)
            assert (ack["op"], ack["success"]) == ("auth", False) and "Unmatched IP" in ack["ret_msg"]
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order.linear"]}))
            nack = json.loads((await ws.receive(timeout=3)).data)
            assert nack["success"] is False  # never logged in
