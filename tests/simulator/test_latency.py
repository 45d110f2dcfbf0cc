"""Twin latency (simulator/latency.py, wsconn.DelayLine): profiles, overlap, order under jitter, admin API.

Checked by ordering and overlap, never by "finished within X s": a delay is at least what was asked, requests
overlap (all reach the twin before the first answer returns), frames keep their order.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import aiohttp
import anyio
import pytest
from twin_helpers import SignedClient, far_bid

from simulator.latency import LatencyProfile
from simulator.runner import start_twins
from simulator.wsconn import DelayLine

pytestmark = pytest.mark.anyio


# -- the profile -------------------------------------------------------------------------------------------------
def test_from_rtt_splits_the_round_trip_half_per_direction_for_rest_and_ws() -> None:
    p = LatencyProfile.from_rtt(200, jitter_ms=20, seed=4)
    assert (p.rest_in_ms, p.rest_out_ms, p.ws_in_ms, p.ws_out_ms, p.jitter_ms, p.seed) == (100, 100, 100, 100, 20, 4)


def test_from_json_takes_rtt_as_a_shorthand_that_explicit_fields_override() -> None:
    p = LatencyProfile.from_json({"rtt_ms": 100, "ws_out_ms": 5, "jitter_ms": "3", "seed": 9})
    assert p == LatencyProfile(rest_in_ms=50, rest_out_ms=50, ws_in_ms=50, ws_out_ms=5, jitter_ms=3, seed=9)
    assert LatencyProfile.from_json(p.to_json()) == p


@pytest.mark.parametrize(("body", "needle"), [
    ({"rtt": 100}, "unknown latency field(s) rtt"),
    ({"rest_in_ms": -1}, "rest_in_ms must be a number of ms >= 0, got -1.0"),
    ({"jitter_ms": "lots"}, "latency fields must be numbers"),
])
def test_from_json_refuses_unknown_negative_or_non_numeric_fields_naming_them(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError) as err:
        LatencyProfile.from_json(body)
    assert needle in str(err.value)


# -- the delay line ----------------------------------------------------------------------------------------------
async def test_a_delay_line_keeps_order_under_jitter_and_holds_each_item_at_least_its_own_delay() -> None:
    rng = random.Random(5)
    delays = [rng.uniform(0.0, 0.03) for _ in range(40)]
    draws = iter(delays)
    line = DelayLine[int](100, lambda: next(draws))
    put_at = []
    for i in range(40):
        put_at.append(time.monotonic())
        line.put_nowait(i)
    line.close()
    got = [(item, time.monotonic()) async for item in line]
    line.dispose()
    assert [i for i, _ in got] == list(range(40))
    assert all(t >= put_at[i] + delays[i] for i, t in got)


async def test_a_cancelled_wait_on_a_delay_line_loses_no_item() -> None:
    line = DelayLine[str](4, lambda: 0.05)
    line.put_nowait("first")
    with anyio.move_on_after(0.001) as scope:
        await line.get()
    assert scope.cancelled_caught
    assert await line.get() == "first"
    line.dispose()


# -- REST ----------------------------------------------------------------------------------------------------
async def test_concurrent_rest_requests_overlap_under_a_round_trip_profile() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0, latency=LatencyProfile.from_rtt(200)) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = SignedClient(s, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)
        px = await far_bid(s, rt, "BTCUSDT")
        sent: dict[str, float] = {}
        done: dict[str, float] = {}
        received_when_done: dict[str, int] = {}

        async def place(cid: str) -> None:
            sent[cid] = time.perf_counter()
            status, body, _ = await c.request("POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
                "price": px, "newClientOrderId": cid})
            done[cid] = time.perf_counter()
            received_when_done[cid] = len(rt.twin.received.to_json())
            assert status == 200, body

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(place, f"overlap-{i}")
    first = min(done, key=lambda cid: done[cid])
    assert max(sent.values()) < done[first]  # the last one was sent before the first one finished
    assert received_when_done[first] == 8  # every request had reached the twin before the first answer came back
    assert all(done[cid] - sent[cid] >= 0.2 for cid in done)  # each paid the whole round trip


async def test_the_latency_fault_still_delays_rest_on_top_of_a_zero_profile() -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        rt.twin.faults.inject("latency", ms=150)
        t0 = time.perf_counter()
        async with s.get(f"{rt.rest}/v5/market/time") as r:
            assert r.status == 200
        assert time.perf_counter() - t0 >= 0.15


# -- WebSocket -----------------------------------------------------------------------------------------------
async def test_outgoing_ws_frames_keep_their_order_under_jitter() -> None:
    profile = LatencyProfile(ws_out_ms=5, jitter_ms=60, seed=7)
    async with start_twins(["binance"], symbols=["BTC"], rate=0, latency=profile) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{twins['binance'].ws['public']}/ws") as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1}))
            assert json.loads((await ws.receive(timeout=5)).data) == {"result": None, "id": 1}
            twins.step(30)  # 30 depth events queued at once, each with its own jitter draw
            events = [json.loads((await ws.receive(timeout=5)).data) for _ in range(30)]
    assert all(b["pu"] == a["u"] for a, b in zip(events, events[1:], strict=False)), [(e["pu"], e["u"]) for e in events]


async def test_incoming_ws_frames_are_handled_in_the_order_sent_under_jitter() -> None:
    profile = LatencyProfile(ws_in_ms=5, ws_out_ms=5, jitter_ms=60, seed=3)
    async with start_twins(["deribit"], symbols=["BTC"], rate=0, latency=profile) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            for i in range(1, 21):
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": i, "method": "public/get_time", "params": {}}))
            ids = [json.loads((await ws.receive(timeout=5)).data)["id"] for _ in range(20)]
    assert ids == list(range(1, 21))


async def test_ws_frames_each_way_wait_at_least_their_one_way_delay() -> None:
    profile = LatencyProfile(ws_in_ms=120, ws_out_ms=80)
    async with start_twins(["okx"], symbols=["BTC"], rate=0, latency=profile) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["okx"].ws["public"]) as ws:
            t0 = time.perf_counter()
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "pong"
            assert time.perf_counter() - t0 >= 0.2


# -- where a profile comes from ------------------------------------------------------------------------------
async def test_start_twins_gives_every_twin_the_profile_and_set_latency_changes_them_all() -> None:
    profile = LatencyProfile.from_rtt(40, jitter_ms=4, seed=2)
    async with start_twins(["binance", "deribit"], symbols=["BTC"], rate=0, latency=profile) as twins:
        assert [twins[v].twin.latency.profile for v in ("binance", "deribit")] == [profile, profile]
        twins.set_latency(None)
        assert [twins[v].twin.latency.profile for v in ("binance", "deribit")] == [LatencyProfile()] * 2


async def test_admin_latency_sets_reads_and_clears_the_profile_and_is_itself_never_delayed() -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        admin = f"{twins['okx'].rest}/__admin/latency"
        async with s.post(admin, json={"rtt_ms": 1000, "jitter_ms": 5, "seed": 3}) as r:
            assert r.status == 200
            want = {"rest_in_ms": 500.0, "rest_out_ms": 500.0, "ws_in_ms": 500.0, "ws_out_ms": 500.0,
                    "jitter_ms": 5.0, "seed": 3}
            assert await r.json() == {"latency": want}
        finished: list[str] = []

        async def market() -> None:
            async with s.get(f"{twins['okx'].rest}/api/v5/public/time") as r:
                assert r.status == 200
            finished.append("market")

        async with anyio.create_task_group() as tg:
            tg.start_soon(market)
            async with s.get(admin) as r:
                assert await r.json() == {"latency": want}
            finished.append("admin")
        assert finished == ["admin", "market"]
        async with s.post(admin, json={"ws_out_ms": -3}) as r:
            assert r.status == 400 and "ws_out_ms must be a number of ms >= 0" in (await r.json())["error"]
        async with s.delete(admin) as r:
            assert (await r.json())["latency"]["rest_in_ms"] == 0.0
        assert twins["okx"].twin.latency.profile == LatencyProfile()
