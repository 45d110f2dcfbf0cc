"""The OKX twin under the doctor's strict reading: a clean twin (market data, orders placed, filled and
cancelled, every REST answer the client reads) gives the drift collector nothing to report; the drift faults
UNKNOWN_FIELD / UNKNOWN_EVENT give it exactly what they inject; ``ip_allowed`` False refuses signed REST and the
private login with OKX's 50110; the preflight endpoints (account config, leverage info) answer as documented."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest

from simulator.faults import FaultKind
from simulator.okx import OkxConfig, OkxTwin, okx_twin_factory
from simulator.okx_auth import iso_ms, sign
from simulator.runner import RunningTwin, Twins, start_twins
from venues.drift import DriftCollector
from venues.okx import schema

pytestmark = pytest.mark.anyio
FACTORIES = {"okx": okx_twin_factory}
INST = "BTC-USDT-SWAP"


class _Client:
    """An independent signed OKX client that hands every raw answer to the collector."""

    def __init__(self, http: aiohttp.ClientSession, rt: RunningTwin, drift: DriftCollector) -> None:
        self.http, self.rt, self.drift = http, rt, drift
        self.cred = rt.twin.credentials

    async def call(self, method: str, path: str, body: Any = None, signed: bool = True) -> tuple[int, Any]:
        text = json.dumps(body) if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if signed:
            ts = iso_ms(time.time_ns() // 1_000_000)
            headers |= {"OK-ACCESS-KEY": self.cred.api_key, "OK-ACCESS-TIMESTAMP": ts,
                        "OK-ACCESS-PASSPHRASE": self.cred.passphrase or "",
                        "OK-ACCESS-SIGN": sign(self.cred.secret, ts + method + path + text)}
        async with self.http.request(method, self.rt.rest + path, data=text or None, headers=headers) as r:
            raw = await r.read()
        self.drift.response(path.split("?")[0], raw)
        return r.status, json.loads(raw)


def _login(cred: Any) -> str:
    ts = str(int(time.time()))
    arg = {"apiKey": cred.api_key, "passphrase": cred.passphrase, "timestamp": ts,
           "sign": sign(cred.secret, ts + "GET/users/self/verify")}
    return json.dumps({"op": "login", "args": [arg]})


@asynccontextmanager
async def _streams(twins: Twins, http: aiohttp.ClientSession,
                   drift: DriftCollector) -> AsyncIterator[dict[str, aiohttp.ClientWebSocketResponse]]:
    """Public, business and private connections subscribed to everything our client uses (and books5 /
    bbo-tbt / tickers), each frame read into ``drift`` by ``_pump``."""
    rt = twins["okx"]
    async with http.ws_connect(rt.ws["public"]) as pub, http.ws_connect(rt.ws["business"]) as bus, \
            http.ws_connect(rt.ws["private"]) as prv:
        args = [{"channel": c, "instId": INST} for c in ("books", "books5", "bbo-tbt", "trades", "tickers")]
        await pub.send_str(json.dumps({"id": "1", "op": "subscribe", "args": args}))
        await pub.send_str("ping")
        await bus.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "candle1m", "instId": INST}]}))
        await prv.send_str(_login(rt.twin.credentials))
        login = (await prv.receive(timeout=5)).data
        drift.frame("private", login)
        assert json.loads(login)["event"] == "login"
        private = [{"channel": "orders", "instType": "SWAP"}, {"channel": "positions", "instType": "SWAP"},
                   {"channel": "account"}]
        await prv.send_str(json.dumps({"op": "subscribe", "args": private}))
        yield {"public": pub, "business": bus, "private": prv}


async def _pump(conns: dict[str, aiohttp.ClientWebSocketResponse], drift: DriftCollector) -> list[str]:
    """Read whatever has arrived on each connection into ``drift``; the raw frames."""
    frames = []
    for name, ws in conns.items():
        while True:
            try:
                msg = await ws.receive(timeout=0.02)
            except TimeoutError:
                break
            drift.frame(name, msg.data)
            frames.append(msg.data)
    return frames


async def _run_market(twins: Twins, conns: dict[str, aiohttp.ClientWebSocketResponse], drift: DriftCollector,
                      steps: int = 30) -> list[str]:
    frames = []
    for _ in range(steps):
        twins.step(3)
        await anyio.sleep(0.01)
        frames += await _pump(conns, drift)
    return frames


async def _trade(c: _Client, twin: OkxTwin) -> None:
    """A resting order, cancelled; a crossing order, filled; and every read the client makes of them."""
    book = twin.book_json(INST, 1)
    assert book is not None
    bid, ask = Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
    rest = {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "1",
            "px": str((bid * Decimal("0.9")).quantize(Decimal("0.1"))), "clOrdId": "dr1"}
    status, placed = await c.call("POST", "/api/v5/trade/order", rest)
    assert (status, placed["code"]) == (200, "0"), placed
    await c.call("GET", f"/api/v5/trade/order?instId={INST}&clOrdId=dr1")
    await c.call("GET", "/api/v5/trade/orders-pending?instType=SWAP&limit=100")
    _, cancelled = await c.call("POST", "/api/v5/trade/cancel-order", {"instId": INST, "clOrdId": "dr1"})
    assert cancelled["data"][0]["sCode"] == "0"
    take = {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "1",
            "px": str((ask * Decimal("1.01")).quantize(Decimal("0.1"))), "clOrdId": "dr2"}
    _, filled = await c.call("POST", "/api/v5/trade/order", take)
    assert filled["data"][0]["sCode"] == "0"
    _, details = await c.call("GET", f"/api/v5/trade/order?instId={INST}&clOrdId=dr2")
    assert details["data"][0]["state"] == "filled"


async def _reads(c: _Client) -> None:
    """Every other answer the client (and the doctor) reads."""
    for path in ("/api/v5/public/time", "/api/v5/public/instruments?instType=SWAP",
                 f"/api/v5/market/books?instId={INST}&sz=400", f"/api/v5/market/candles?instId={INST}&bar=1m",
                 f"/api/v5/market/trades?instId={INST}", f"/api/v5/market/ticker?instId={INST}"):
        assert (await c.call("GET", path, signed=False))[0] == 200, path
    for path in ("/api/v5/account/balance", "/api/v5/account/positions?instType=SWAP", "/api/v5/account/config",
                 f"/api/v5/account/leverage-info?instId={INST}&mgnMode=cross"):
        status, body = await c.call("GET", path)
        assert (status, body["code"]) == (200, "0"), (path, body)
    for time_out in ("10", "0"):
        await anyio.sleep(1.05 if time_out == "0" else 0)  # 1 Cancel All After a second
        status, body = await c.call("POST", "/api/v5/trade/cancel-all-after", {"timeOut": time_out})
        assert (status, body["code"]) == (200, "0"), body


async def test_a_clean_twin_gives_the_drift_collector_nothing_to_report() -> None:
    drift = DriftCollector(schema)
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as http:
        twin = twins["okx"].twin
        assert isinstance(twin, OkxTwin)
        async with _streams(twins, http, drift) as conns:
            frames = [json.dumps({"event": "login"})] + await _run_market(twins, conns, drift)
            c = _Client(http, twins["okx"], drift)
            await _trade(c, twin)
            await _reads(c)
            frames += await _run_market(twins, conns, drift, 10)
    kinds = {schema.frame_kind("", json.loads(f)) for f in frames if f != "pong"}
    # every documented family our client meets was read (the snapshot, updates, pushes, acks, login)
    assert {"push:books", "push:books5", "push:bbo-tbt", "push:trades", "push:tickers", "push:candle",
            "push:orders", "push:positions", "push:account", "event:subscribe", "event:login"} <= kinds
    assert "pong" in frames and drift.responses >= 18
    assert drift.report() == []


async def test_unknown_field_and_unknown_event_faults_are_reported_and_nothing_else() -> None:
    drift = DriftCollector(schema)
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as http:
        twin = twins["okx"].twin
        assert isinstance(twin, OkxTwin)
        async with _streams(twins, http, drift) as conns:
            await _run_market(twins, conns, drift, 5)
            twin.faults.inject(FaultKind.UNKNOWN_FIELD, field="x_tier", value="gold")
            twin.faults.inject(FaultKind.UNKNOWN_EVENT, event="x_auction")
            assert twin.faults.active(FaultKind.UNKNOWN_EVENT) is None  # one-shot: used on injection
            frames = await _run_market(twins, conns, drift, 20)
            c = _Client(http, twins["okx"], drift)
            await _trade(c, twin)
            await _reads(c)
            frames += await _run_market(twins, conns, drift, 5)
    found = drift.report()
    fields = {f.where for f in found if f.what == "unknown field"}
    events = [f for f in found if f.what == "unknown event type"]
    assert {f.what for f in found} == {"unknown field", "unknown event type"}
    assert all(w.endswith("/data.x_tier") for w in fields), fields
    assert all(f.example == '"gold"' for f in found if f.what == "unknown field")
    # every market-data push with object rows and every REST answer with rows carries it
    assert {"push:books/data.x_tier", "push:books5/data.x_tier", "push:bbo-tbt/data.x_tier",
            "push:trades/data.x_tier", "push:tickers/data.x_tier", "/api/v5/trade/order/data.x_tier",
            "/api/v5/account/balance/data.x_tier", "/api/v5/account/config/data.x_tier",
            "/api/v5/public/instruments/data.x_tier"} <= fields
    assert not any(w.startswith(("push:orders", "push:positions", "push:account")) for w in fields)  # private: no
    assert [(e.where, e.count) for e in events] == [("business", 1), ("public", 1)]
    assert all('"channel":"x_auction"' in e.example for e in events)
    assert sum('"x_auction"' in f for f in frames) == 2  # once on each public-data connection, never again


async def test_a_host_off_the_key_whitelist_is_refused_with_50110_on_signed_rest_and_the_private_login() -> None:
    opts = {"okx": {"config": OkxConfig(ip_allowed=False)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, \
            aiohttp.ClientSession() as http:
        rt = twins["okx"]
        c = _Client(http, rt, DriftCollector(schema))
        for method, path, body in (("GET", "/api/v5/account/config", None), ("GET", "/api/v5/account/balance", None),
                                   ("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "0"})):
            status, answer = await c.call(method, path, body)
            assert status == 401 and answer["code"] == "50110", answer
            assert answer["msg"] == "Your IP 127.0.0.1 is not included in your API key's IP whitelist."
        assert (await c.call("GET", "/api/v5/public/time", signed=False))[1]["code"] == "0"  # public: not affected
        async with http.ws_connect(rt.ws["private"]) as prv:
            await prv.send_str(_login(rt.twin.credentials))
            reply = json.loads((await prv.receive(timeout=5)).data)
            assert (reply["event"], reply["code"]) == ("error", "50110")
            await prv.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "account"}]}))
            assert json.loads((await prv.receive(timeout=5)).data)["code"] == "60011"  # still not logged in
        # a bad signature is still a bad signature (the IP is checked once the key is known to be used right)
        c.cred = type(c.cred)(c.cred.api_key, "wrong", c.cred.passphrase)
        assert (await c.call("GET", "/api/v5/account/config"))[1]["code"] == "50113"


async def test_config_reports_the_keys_permissions_and_leverage_info_checks_its_parameters() -> None:
    opts = {"okx": {"config": OkxConfig(perm="read_only,trade,withdraw", key_ips="203.0.113.7,203.0.113.8",
                                        hedge=True)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, \
            aiohttp.ClientSession() as http:
        c = _Client(http, twins["okx"], DriftCollector(schema))
        row = (await c.call("GET", "/api/v5/account/config"))[1]["data"][0]
        assert (row["perm"], row["ip"], row["posMode"]) == ("read_only,trade,withdraw", "203.0.113.7,203.0.113.8",
                                                           "long_short_mode")
        _, body = await c.call("GET", f"/api/v5/account/leverage-info?instId={INST}&mgnMode=isolated")
        assert [(r["instId"], r["mgnMode"], r["posSide"], r["lever"]) for r in body["data"]] == [
            (INST, "isolated", "long", "20"), (INST, "isolated", "short", "20")]
        cases = {f"instId={INST}": ("50014", 400), f"instId={INST}&mgnMode=spot": ("51000", 400),
                 "mgnMode=cross": ("50014", 400), "instId=NOPE-SWAP&mgnMode=cross": ("51001", 200)}
        for query, (code, status) in cases.items():
            got_status, got = await c.call("GET", f"/api/v5/account/leverage-info?{query}")
            assert (got["code"], got_status) == (code, status), query
        assert c.drift.report() == []
