"""OKX twin Cancel All After (the dead-man's switch), built to OKX's docs: the timeOut range, 0 switching it
off, the answer, signing, 1 request a second per tag, and the expiry on the twin clock (every pending order
cancelled and pushed with cancelSource 20)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import aiohttp
import anyio
import pytest

from simulator.okx import OkxTwin, okx_twin_factory
from simulator.okx_auth import iso_ms, sign
from simulator.runner import RunningTwin, Twins, start_twins

pytestmark = pytest.mark.anyio
FACTORIES = {"okx": okx_twin_factory}
CAA = "/api/v5/trade/cancel-all-after"
START_MS = 1_780_000_000_000


class _Clock:
    """The twin's clock, moved by hand (it never moves by itself, so fixed rate-limit windows are exact)."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


class _Client:
    """An independent OKX v5 signer: base64 HMAC-SHA256 over ISO timestamp + METHOD + path + body."""

    def __init__(self, session: aiohttp.ClientSession, rt: RunningTwin, clock: _Clock) -> None:
        self.session, self.rt, self.clock = session, rt, clock
        self.cred = rt.twin.credentials

    async def post(self, path: str, body: Any, *, signed: bool = True, secret: str | None = None) -> tuple[int, Any]:
        text = json.dumps(body)
        ts = iso_ms(self.clock())
        headers = {"Content-Type": "application/json"}
        if signed:
            mac = hmac.new((secret or self.cred.secret).encode(), (ts + "POST" + path + text).encode(), hashlib.sha256)
            headers |= {"OK-ACCESS-KEY": self.cred.api_key, "OK-ACCESS-SIGN": base64.b64encode(mac.digest()).decode(),
                        "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": self.cred.passphrase or ""}
        async with self.session.post(self.rt.rest + path, data=text, headers=headers) as r:
            return r.status, await r.json()

    async def admin(self, method: str, body: Any = None) -> tuple[int, Any]:
        url = self.rt.rest + "/__admin/cancel_all_after"
        async with self.session.request(method, url, json=body) as r:
            return r.status, await r.json()

    async def place(self, cl_ord_id: str, tag: str = "") -> str:
        """A buy far below the market: it rests."""
        order = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "1000",
                 "sz": "1", "clOrdId": cl_ord_id}
        _, body = await self.post("/api/v5/trade/order", order | ({"tag": tag} if tag else {}))
        assert body["code"] == "0", body
        return str(body["data"][0]["ordId"])


def _okx(twins: Twins) -> OkxTwin:
    twin = twins["okx"].twin
    assert isinstance(twin, OkxTwin)
    return twin


def _twins(clock: _Clock) -> Any:
    return start_twins(["okx"], rate=0, factories=FACTORIES, options={"okx": {"clock_ms": clock}})


async def test_cancel_all_after_answers_its_trigger_time_on_the_twin_clock_and_zero_switches_it_off() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        c = _Client(s, twins["okx"], clock)
        status, body = await c.post(CAA, {"timeOut": "10"})
        assert (status, body) == (200, {"code": "0", "msg": "", "data": [
            {"triggerTime": str(START_MS + 10_000), "tag": "", "ts": str(START_MS)}]})
        assert (await c.admin("GET"))[1]["timers"] == {"": START_MS + 10_000}
        clock.now += 1000
        _, refreshed = await c.post(CAA, {"timeOut": "120"})  # a refresh replaces the deadline
        assert refreshed["data"][0]["triggerTime"] == str(START_MS + 1000 + 120_000)
        clock.now += 1000
        _, off = await c.post(CAA, {"timeOut": "0"})
        assert off["data"] == [{"triggerTime": "0", "tag": "", "ts": str(START_MS + 2000)}]
        assert (await c.admin("GET"))[1]["timers"] == {}


async def test_cancel_all_after_refuses_a_time_out_outside_0_or_10_to_120_with_51000() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        c = _Client(s, twins["okx"], clock)
        for value in ("9", "121", "-1", "10.5", "abc", "1e2", True):
            clock.now += 1000  # one call a second: never the rate limit
            assert await c.post(CAA, {"timeOut": value}) == (
                400, {"code": "51000", "msg": "Parameter timeOut error", "data": []}), value
        for body in ({}, {"timeOut": ""}):
            clock.now += 1000
            assert await c.post(CAA, body) == (400, {"code": "50014", "msg": "Parameter timeOut can not be empty.",
                                                      "data": []})
        clock.now += 1000
        assert (await c.post(CAA, {"timeOut": "30", "tag": "not-alnum"}))[1]["code"] == "51000"
        assert (await c.admin("GET"))[1]["timers"] == {}
        for edge in ("10", "120"):
            clock.now += 1000
            assert (await c.post(CAA, {"timeOut": edge}))[1]["code"] == "0"


async def test_cancel_all_after_is_a_signed_endpoint() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        c = _Client(s, twins["okx"], clock)
        assert await c.post(CAA, {"timeOut": "10"}, signed=False) == (
            401, {"code": "50103", "msg": 'Request header "OK-ACCESS-KEY" cannot be empty.', "data": []})
        status, body = await c.post(CAA, {"timeOut": "10"}, secret="wrong")
        assert (status, body["code"]) == (401, "50113")
        assert (await c.admin("GET"))[1]["timers"] == {}


async def test_cancel_all_after_takes_one_request_a_second_per_tag() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        c = _Client(s, twins["okx"], clock)
        assert (await c.post(CAA, {"timeOut": "10"}))[1]["code"] == "0"
        status, body = await c.post(CAA, {"timeOut": "10"})
        assert (status, body["code"]) == (429, "50011")
        assert (await c.post(CAA, {"timeOut": "10", "tag": "mm1"}))[1]["code"] == "0"  # User ID + tag
        clock.now += 1000
        assert (await c.post(CAA, {"timeOut": "10"}))[1]["code"] == "0"


async def _private_orders(ws: aiohttp.ClientWebSocketResponse, rt: RunningTwin, clock: _Clock) -> None:
    cred = rt.twin.credentials
    ts = str(clock() // 1000)
    login = {"apiKey": cred.api_key, "passphrase": cred.passphrase, "timestamp": ts,
             "sign": sign(cred.secret, ts + "GET/users/self/verify")}
    await ws.send_str(json.dumps({"op": "login", "args": [login]}))
    assert json.loads((await ws.receive(timeout=5)).data)["code"] == "0"
    await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SWAP"}]}))
    assert json.loads((await ws.receive(timeout=5)).data)["event"] == "subscribe"


async def _canceled_pushes(ws: aiohttp.ClientWebSocketResponse, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Read ``orders`` pushes until each of ``ids`` was pushed as canceled; those rows."""
    seen: dict[str, dict[str, Any]] = {}
    with anyio.fail_after(5):
        while set(seen) != ids:
            msg = json.loads((await ws.receive()).data)
            for row in msg.get("data", []):
                if row["state"] == "canceled":
                    seen[row["ordId"]] = row
    return seen


async def test_when_the_deadline_passes_every_pending_order_is_cancelled_and_pushed_with_cancel_source_20() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["okx"], _okx(twins)
        c = _Client(s, rt, clock)
        async with s.ws_connect(rt.ws["private"]) as ws:
            await _private_orders(ws, rt, clock)
            ids = {await c.place("caa1"), await c.place("caa2", tag="mm1")}
            assert (await c.post(CAA, {"timeOut": "10"}))[1]["code"] == "0"
            clock.now += 9_999
            assert twin.caa.check() == []  # what the background check runs: not yet due
            assert {str(o.order_id) for o in twin.engine.open_orders()} == ids
            clock.now += 1  # the deadline: the background check fires it
            rows = await _canceled_pushes(ws, ids)
        assert {r["clOrdId"] for r in rows.values()} == {"caa1", "caa2"}
        assert {(r["cancelSource"], r["uTime"]) for r in rows.values()} == {("20", str(START_MS + 10_000))}
        assert twin.engine.open_orders() == []
        view = (await c.admin("GET"))[1]
        assert view["timers"] == {} and [(f["tag"], sorted(map(str, f["order_ids"]))) for f in view["fired"]] == [
            ("", sorted(ids))]
        oid = next(iter(ids))
        status, details = await _get(s, c, f"/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={oid}")
        row = details["data"][0]
        assert (status, row["state"], row["cancelSource"], row["cancelSourceReason"]) == (
            200, "canceled", "20", "Cancel all after triggered")
        await c.place("after")
        clock.now += 60_000  # the timer is off until set again: a new order stays
        assert twin.caa.check() == [] and len(twin.engine.open_orders()) == 1


async def _get(s: aiohttp.ClientSession, c: _Client, path: str) -> tuple[int, Any]:
    ts = iso_ms(c.clock())
    mac = hmac.new(c.cred.secret.encode(), (ts + "GET" + path).encode(), hashlib.sha256)
    headers = {"OK-ACCESS-KEY": c.cred.api_key, "OK-ACCESS-SIGN": base64.b64encode(mac.digest()).decode(),
               "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": c.cred.passphrase or ""}
    async with s.get(c.rt.rest + path, headers=headers) as r:
        return r.status, await r.json()


async def test_a_tag_level_timer_cancels_only_the_orders_placed_with_its_tag() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["okx"], _okx(twins)
        c = _Client(s, rt, clock)
        async with s.ws_connect(rt.ws["private"]) as ws:
            await _private_orders(ws, rt, clock)
            untagged, other, mine = await c.place("t0"), await c.place("t1", tag="other"), await c.place("t2", tag="mm1")
            _, body = await c.post(CAA, {"timeOut": "10", "tag": "mm1"})
            assert body["data"][0]["tag"] == "mm1"
            assert (await c.admin("POST", {"tag": "mm1", "in_ms": 0}))[0] == 200  # run it out now
            assert set(await _canceled_pushes(ws, {mine})) == {mine}
        assert {str(o.order_id) for o in twin.engine.open_orders()} == {untagged, other}
        assert (await c.admin("POST", {"tag": "mm1", "in_ms": 0}))[0] == 404  # fired: off until set again


async def test_a_refresh_before_the_deadline_keeps_the_orders() -> None:
    clock = _Clock()
    async with _twins(clock) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["okx"], _okx(twins)
        c = _Client(s, rt, clock)
        async with s.ws_connect(rt.ws["private"]) as ws:
            await _private_orders(ws, rt, clock)
            oid = await c.place("keep")
            assert (await c.post(CAA, {"timeOut": "10"}))[1]["code"] == "0"
            clock.now += 6_000
            assert (await c.post(CAA, {"timeOut": "10"}))[1]["code"] == "0"
            clock.now += 6_000  # past the first deadline, before the refreshed one
            assert twin.caa.check() == [] and len(twin.engine.open_orders()) == 1
            clock.now += 4_000  # the refreshed deadline
            await _canceled_pushes(ws, {oid})
        assert [f.deadline_ms for f in twin.caa.fired] == [START_MS + 16_000]
