"""Bybit twin disconnection protection (DCP): the set and query endpoints, the ``dcp.*`` private topics, and the
trigger on the twin clock, checked against Bybit's documentation (docs/v5/order/dcp.mdx, account/dcp-info.mdx,
websocket/private/dcp.mdx) with an independent signer.

The twin clock is a hand-moved clock: nothing here waits on wall time for a window to pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from test_bybit_rest import FACTORIES, BybitClient

from simulator.bybit import BybitTwin
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins

pytestmark = pytest.mark.anyio
SET = "/v5/order/disconnected-cancel-all"
INFO = "/v5/account/query-dcp-info"


class HandClock:
    """A twin clock (epoch ms) that moves only when told."""

    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.ms


@asynccontextmanager
async def _twin(clock: HandClock, **config: Any) -> AsyncIterator[tuple[Twins, BybitTwin, BybitClient, aiohttp.ClientSession]]:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, clock_ms=clock, symbols=["BTC"],
                           options={"bybit": config}) as twins, aiohttp.ClientSession() as s:
        twin = twins["bybit"].twin
        assert isinstance(twin, BybitTwin)
        rt = twins["bybit"]
        yield twins, twin, BybitClient(s, rt.rest, twin.credentials.api_key, twin.credentials.secret), s


async def _call(c: BybitClient, clock: HandClock, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
    status, body, _ = await c.call(method, path, params, ts=clock.ms)
    assert status == 200
    return body


async def _private(s: aiohttp.ClientSession, twins: Twins, clock: HandClock, *topics: str) -> aiohttp.ClientWebSocketResponse:
    """A private connection, authenticated (expiring a minute ahead of the twin clock), subscribed to ``topics``."""
    twin = twins["bybit"].twin
    ws = await s.ws_connect(twins["bybit"].ws["private"])
    expires = clock.ms + 60_000
    sig = hmac.new(twin.credentials.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    await ws.send_str(json.dumps({"op": "auth", "args": [twin.credentials.api_key, expires, sig]}))
    assert (await _recv(ws))["success"] is True
    if topics:
        await ws.send_str(json.dumps({"op": "subscribe", "args": list(topics), "req_id": "dcp-1"}))
        ack = await _recv(ws)
        assert (ack["success"], ack["op"], ack["req_id"]) == (True, "subscribe", "dcp-1"), ack
    return ws


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5.0)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    out: dict[str, Any] = json.loads(msg.data)
    return out


async def _rest_order(c: BybitClient, clock: HandClock, twins: Twins, link: str) -> None:
    """A resting limit buy far below the market."""
    twins.step(3)
    bid = float(twins["bybit"].twin.book_json("BTCUSDT", 1)["bids"][0][0])  # type: ignore[index]
    body = await _call(c, clock, "POST", "/v5/order/create", {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.010",
        "price": f"{round(bid * 0.8, 1):.1f}", "orderLinkId": link})
    assert body["retCode"] == 0, body


async def _order(c: BybitClient, clock: HandClock, link: str) -> dict[str, Any]:
    body = await _call(c, clock, "GET", "/v5/order/realtime", {"category": "linear", "orderLinkId": link})
    rows: list[dict[str, Any]] = body["result"]["list"]
    assert len(rows) == 1, body
    return rows[0]


async def _eventually(pred: Callable[[], bool], what: str) -> None:
    """Wait until ``pred()`` holds: the twin's handler sees a close on its own time, and signals nothing."""
    with anyio.fail_after(5.0, reason=what):
        while not pred():  # noqa: ASYNC110 - no event to await: the condition is the twin's state
            await anyio.sleep(0.01)


async def _countdown(twin: BybitTwin) -> int:
    """When the DERIVATIVES countdown started (waits for the twin to notice the connection is gone)."""
    await _eventually(lambda: "DERIVATIVES" in twin.dcp.countdowns, "the DCP countdown")
    return twin.dcp.countdowns["DERIVATIVES"]


# -- REST ------------------------------------------------------------------------------------------------------
async def test_dcp_window_is_set_with_the_documented_answer_and_read_back_in_query_dcp_info() -> None:
    clock = HandClock()
    async with _twin(clock) as (_twins, _twin_, c, _s):
        info = await _call(c, clock, "GET", INFO)
        assert info["retCode"] == 0
        assert info["result"] == {"dcpInfos": [{"product": "DERIVATIVES", "dcpStatus": "ON", "timeWindow": "10"}]}
        done = await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 3})
        assert done == {"retCode": 0, "retMsg": "success"}  # the doc example, nothing more
        info = await _call(c, clock, "GET", INFO)
        assert info["result"]["dcpInfos"] == [{"product": "DERIVATIVES", "dcpStatus": "ON", "timeWindow": "3"}]
        assert (await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": "300"}))["retCode"] == 0


async def test_dcp_window_outside_3_to_300_or_not_an_integer_is_bybits_parameter_error() -> None:
    clock = HandClock()
    async with _twin(clock) as (_twins, _twin_, c, _s):
        for bad in (2, 301, 0, -5, 2.5, "ten", True, None):
            params: dict[str, Any] = {"product": "DERIVATIVES"} | ({"timeWindow": bad} if bad is not None else {})
            body = await _call(c, clock, "POST", SET, params)
            assert (body["retCode"], body["result"]) == (10001, {}), (bad, body)
            assert "timeWindow" in body["retMsg"]
        body = await _call(c, clock, "POST", SET, {"product": "FUTURES", "timeWindow": 10})
        assert body["retCode"] == 10001 and "product" in body["retMsg"]
        info = await _call(c, clock, "GET", INFO)
        assert info["result"]["dcpInfos"][0]["timeWindow"] == "10"  # nothing was set


async def test_a_product_dcp_is_not_enabled_for_is_refused_with_10005_and_options_is_the_default_product() -> None:
    clock = HandClock()
    async with _twin(clock) as (_twins, _twin_, c, _s):
        body = await _call(c, clock, "POST", SET, {"timeWindow": 10})  # product defaults to OPTIONS
        assert body["retCode"] == 10005 and "Permission denied" in body["retMsg"]
        assert (await _call(c, clock, "POST", SET, {"product": "SPOT", "timeWindow": 10}))["retCode"] == 10005


async def test_an_account_without_dcp_lists_nothing_and_cannot_set_a_window() -> None:
    clock = HandClock()
    async with _twin(clock, dcp_enabled=False) as (_twins, _twin_, c, _s):
        info = await _call(c, clock, "GET", INFO)
        assert (info["retCode"], info["result"]) == (0, {"dcpInfos": []})
        body = await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 10})
        assert (body["retCode"], body["result"]) == (10005, {})


async def test_dcp_endpoints_are_signed() -> None:
    clock = HandClock()
    async with _twin(clock) as (_twins, _twin_, c, _s):
        status, body, _ = await c.call("GET", INFO, signed=False)
        assert (status, body["retCode"]) == (200, 10003)
        wrong = BybitClient(c.session, c.base, c.key, "not-the-secret")
        status, body, _ = await wrong.call("POST", SET, {"product": "DERIVATIVES", "timeWindow": 5}, ts=clock.ms)
        assert body["retCode"] == 10004


async def test_a_new_window_comes_into_force_after_the_apply_delay_on_the_twin_clock() -> None:
    clock = HandClock()
    async with _twin(clock, dcp_apply_delay_s=2.0) as (_twins, twin, c, _s):
        assert (await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 5}))["retCode"] == 0
        assert (await _call(c, clock, "GET", INFO))["result"]["dcpInfos"][0]["timeWindow"] == "10"
        clock.ms += 1999
        assert (await _call(c, clock, "GET", INFO))["result"]["dcpInfos"][0]["timeWindow"] == "10"
        clock.ms += 1
        assert (await _call(c, clock, "GET", INFO))["result"]["dcpInfos"][0]["timeWindow"] == "5"
        assert twin.dcp.window("DERIVATIVES", clock.ms) == 5


# -- WebSocket and the trigger -----------------------------------------------------------------------------------
async def test_dcp_topics_are_acked_like_other_private_topics_after_auth_and_the_old_dcp_topic_is_not_served() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, _c, s):
        async with s.ws_connect(twins["bybit"].ws["private"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["dcp.future"]}))
            nack = await _recv(ws)
            assert nack["success"] is False and "authorized" in nack["ret_msg"]
        ws = await _private(s, twins, clock, "dcp.future", "dcp.spot")
        assert twin.hub.dcp_holders() == {"dcp.future": 1, "dcp.spot": 1, "dcp.option": 0}
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["dcp"], "req_id": "old"}))
        nack = await _recv(ws)
        assert (nack["success"], nack["req_id"]) == (False, "old") and "topic:dcp" in nack["ret_msg"]
        await ws.close()


async def test_orders_are_cancelled_by_dcp_once_the_last_dcp_connection_has_been_gone_for_the_window() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, c, s):
        assert (await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 3}))["retCode"] == 0
        watcher = await _private(s, twins, clock, "order.linear")  # counts for nothing: no dcp topic
        ws = await _private(s, twins, clock, "dcp.future")
        await _rest_order(c, clock, twins, "dcp-rest-1")
        assert (await _recv(watcher))["data"][0]["orderStatus"] == "New"
        await ws.close()
        since = await _countdown(twin)
        assert since == clock.ms
        clock.ms = since + 2999
        twins.step()
        assert (await _order(c, clock, "dcp-rest-1"))["orderStatus"] == "New"
        clock.ms = since + 3000
        twins.step()
        row = await _order(c, clock, "dcp-rest-1")
        assert (row["orderStatus"], row["cancelType"]) == ("Cancelled", "CancelByDCP")
        pushed = (await _recv(watcher))["data"][0]
        assert (pushed["orderLinkId"], pushed["orderStatus"], pushed["cancelType"]) == ("dcp-rest-1", "Cancelled",
                                                                                        "CancelByDCP")
        [fired] = twin.dcp.fired
        assert (fired.product, fired.at_ms, fired.since_ms, fired.window_s, len(fired.order_ids)) == (
            "DERIVATIVES", since + 3000, since, 3, 1)
        assert twin.dcp.countdowns == {}
        await watcher.close()


async def test_a_dcp_subscription_within_the_window_stops_the_countdown() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, c, s):
        assert (await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 3}))["retCode"] == 0
        ws = await _private(s, twins, clock, "dcp.future")
        await _rest_order(c, clock, twins, "dcp-rest-2")
        await ws.close()
        since = await _countdown(twin)
        clock.ms = since + 2999
        back = await _private(s, twins, clock, "dcp.future")
        assert twin.dcp.countdowns == {}
        clock.ms = since + 60_000
        twins.step()
        assert (await _order(c, clock, "dcp-rest-2"))["orderStatus"] == "New" and twin.dcp.fired == []
        await back.close()


async def test_a_dcp_subscription_after_the_window_is_too_late_the_overdue_countdown_fires_first() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, c, s):
        ws = await _private(s, twins, clock, "dcp.future")  # Bybit's default window: 10 s
        await _rest_order(c, clock, twins, "dcp-rest-3")
        await ws.close()
        since = await _countdown(twin)
        clock.ms = since + 10_000  # no step, no request in between
        late = await _private(s, twins, clock, "dcp.future")
        assert [f.since_ms for f in twin.dcp.fired] == [since] and twin.dcp.countdowns == {}
        assert (await _order(c, clock, "dcp-rest-3"))["cancelType"] == "CancelByDCP"
        await late.close()


async def test_dcp_waits_for_every_dcp_connection_and_ignores_the_others() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, c, s):
        a = await _private(s, twins, clock, "dcp.future")
        b = await _private(s, twins, clock, "order.linear")
        cc = await _private(s, twins, clock, "dcp.future")
        await _rest_order(c, clock, twins, "dcp-rest-4")
        await a.close()
        await _eventually(lambda: twin.hub.dcp_holders()["dcp.future"] == 1, "A's close")
        clock.ms += 60_000
        twins.step()
        assert twin.dcp.countdowns == {} and (await _order(c, clock, "dcp-rest-4"))["orderStatus"] == "New"
        await cc.close()  # B is alive but never subscribed dcp: it does not count
        since = await _countdown(twin)
        clock.ms = since + 10_000
        twins.step()
        assert (await _order(c, clock, "dcp-rest-4"))["cancelType"] == "CancelByDCP"
        await b.close()


async def test_a_dropped_connection_and_an_unsubscribe_start_the_countdown_too() -> None:
    clock = HandClock()
    async with _twin(clock) as (twins, twin, _c, s):
        ws = await _private(s, twins, clock, "dcp.future")
        twin.faults.inject(FaultKind.DROP_WS.value)  # TCP abort, no close frame
        since = await _countdown(twin)
        assert since == clock.ms
        await ws.close()
        back = await _private(s, twins, clock, "dcp.future")
        assert twin.dcp.countdowns == {}
        clock.ms += 1000
        await back.send_str(json.dumps({"op": "unsubscribe", "args": ["dcp.future"]}))
        assert (await _recv(back))["success"] is True
        assert twin.dcp.countdowns == {"DERIVATIVES": clock.ms}
        await back.close()


async def test_an_idle_dcp_connection_closed_by_the_twin_starts_the_countdown() -> None:
    clock = HandClock()
    async with _twin(clock, idle_timeout_s=0.3) as (twins, twin, _c, s):
        ws = await _private(s, twins, clock, "dcp.future")
        since = await _countdown(twin)  # no ping for idle_timeout_s: the twin closes it
        assert since == clock.ms
        await ws.close()


async def test_without_dcp_enabled_nothing_is_ever_cancelled() -> None:
    clock = HandClock()
    async with _twin(clock, dcp_enabled=False) as (twins, twin, c, s):
        ws = await _private(s, twins, clock, "dcp.future")  # the subscription itself is accepted
        await _rest_order(c, clock, twins, "dcp-rest-5")
        await ws.close()
        await _eventually(lambda: twin.hub.dcp_holders()["dcp.future"] == 0, "the close")
        clock.ms += 600_000
        twins.step()
        assert twin.dcp.countdowns == {} and twin.dcp.fired == []
        assert (await _order(c, clock, "dcp-rest-5"))["orderStatus"] == "New"


async def test_the_admin_view_shows_windows_countdowns_and_triggers() -> None:
    clock = HandClock()
    async with _twin(clock, dcp_apply_delay_s=1.0) as (twins, twin, c, s):
        assert (await _call(c, clock, "POST", SET, {"product": "DERIVATIVES", "timeWindow": 4}))["retCode"] == 0
        ws = await _private(s, twins, clock, "dcp.future")
        async with s.get(f"{twins['bybit'].rest}/__admin/dcp") as r:
            view = await r.json()
        assert view["enabled"] == ["DERIVATIVES"] and view["windows"] == {"DERIVATIVES": 10}
        assert view["pending"] == {"DERIVATIVES": {"timeWindow": 4, "from_ms": clock.ms + 1000}}
        assert view["holders"]["dcp.future"] == 1 and view["countdowns"] == {} and view["fired"] == []
        await ws.close()
        since = await _countdown(twin)
        clock.ms = since + 4000  # the new window (4 s) is in force by then, and has passed
        async with s.get(f"{twins['bybit'].rest}/__admin/dcp") as r:
            view = await r.json()
        assert view["windows"] == {"DERIVATIVES": 4} and view["pending"] == {} and view["countdowns"] == {}
        assert view["fired"] == [{"product": "DERIVATIVES", "at_ms": since + 4000, "since_ms": since, "window_s": 4,
                                  "cancelled": 0}]
