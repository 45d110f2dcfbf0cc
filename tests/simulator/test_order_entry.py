"""Order entry on every twin (simulator/order_entry.py): received placements counted per client order id, and
the EXECUTE_THEN_5XX / EXECUTE_THEN_DROP faults (the venue executed the order, its answer was lost).

Every placement here is a limit buy 10% under the best bid, so it rests and can be looked up afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from deribit_client import WsRpc, signed_get, signed_header
from test_bybit_rest import BybitClient
from test_okx_rest import OkxClient
from twin_helpers import SignedClient, far_bid

from simulator.faults import FaultKind
from simulator.runner import RunningTwin, start_twins

pytestmark = pytest.mark.anyio

Answer = tuple[int, Any]


@dataclass(frozen=True)
class Wire:
    """How to place and look up an order on one venue's twin over its real REST API."""

    symbol: str
    place: Callable[[aiohttp.ClientSession, RunningTwin, str, str], Awaitable[Answer]]
    lookup: Callable[[aiohttp.ClientSession, RunningTwin, str], Awaitable[str | None]]  # order state, None if unknown
    accepted: Callable[[Answer], bool]
    duplicate: Callable[[Answer], bool]
    server_error: Callable[[Answer], bool]  # the venue's own body for an HTTP 500


def _binance(s: aiohttp.ClientSession, rt: RunningTwin) -> SignedClient:
    return SignedClient(s, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)


async def _binance_place(s: aiohttp.ClientSession, rt: RunningTwin, cid: str, px: str) -> Answer:
    status, body, _ = await _binance(s, rt).request("POST", "/fapi/v1/order", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": px,
        "newClientOrderId": cid})
    return status, body


async def _binance_lookup(s: aiohttp.ClientSession, rt: RunningTwin, cid: str) -> str | None:
    status, body, _ = await _binance(s, rt).request("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": cid})
    return str(body["status"]) if status == 200 else None


def _bybit(s: aiohttp.ClientSession, rt: RunningTwin) -> BybitClient:
    return BybitClient(s, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)


async def _bybit_place(s: aiohttp.ClientSession, rt: RunningTwin, cid: str, px: str) -> Answer:
    status, body, _ = await _bybit(s, rt).call("POST", "/v5/order/create", {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.010", "price": px,
        "orderLinkId": cid})
    return status, body


async def _bybit_lookup(s: aiohttp.ClientSession, rt: RunningTwin, cid: str) -> str | None:
    _, body, _ = await _bybit(s, rt).call("GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT",
                                                                      "orderLinkId": cid})
    rows = body["result"]["list"]
    return str(rows[0]["orderStatus"]) if rows else None


async def _okx_place(s: aiohttp.ClientSession, rt: RunningTwin, cid: str, px: str) -> Answer:
    return await OkxClient(s, rt).request("POST", "/api/v5/trade/order", {
        "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": px, "sz": "1",
        "clOrdId": cid})


async def _okx_lookup(s: aiohttp.ClientSession, rt: RunningTwin, cid: str) -> str | None:
    _, body = await OkxClient(s, rt).request("GET", f"/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId={cid}")
    return str(body["data"][0]["state"]) if body["data"] else None


async def _deribit_call(s: aiohttp.ClientSession, rt: RunningTwin, method: str, params: dict[str, Any]) -> Answer:
    c = rt.twin.credentials
    return await signed_get(s, rt.rest, c.api_key, c.secret, method, params)


def _deribit_buy(cid: str, px: str) -> dict[str, Any]:
    return {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": px, "label": cid}


async def _deribit_place(s: aiohttp.ClientSession, rt: RunningTwin, cid: str, px: str) -> Answer:
    # A signed JSON-RPC POST: aiohttp itself resends a GET (an idempotent method) once when the connection
    # drops, which would turn one execute_then_drop placement into two.
    c, uri = rt.twin.credentials, "/api/v2/private/buy"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "private/buy", "params": _deribit_buy(cid, px)})
    headers = {"Authorization": signed_header(c.api_key, c.secret, "POST", uri, body), "Content-Type": "application/json"}
    async with s.post(rt.rest + uri, data=body, headers=headers) as r:
        return r.status, await r.json()


async def _deribit_lookup(s: aiohttp.ClientSession, rt: RunningTwin, cid: str) -> str | None:
    _, body = await _deribit_call(s, rt, "private/get_order_state_by_label", {"currency": "BTC", "label": cid})
    return str(body["result"][0]["order_state"]) if body["result"] else None


WIRES = {
    "binance": Wire("BTCUSDT", _binance_place, _binance_lookup,
                    accepted=lambda a: a[0] == 200 and a[1]["status"] == "NEW",
                    duplicate=lambda a: (a[0], a[1]["code"]) == (400, -4116),
                    server_error=lambda a: (a[0], a[1]["code"]) == (500, -1000)),
    "bybit": Wire("BTCUSDT", _bybit_place, _bybit_lookup,
                  accepted=lambda a: a[0] == 200 and a[1]["retCode"] == 0,
                  duplicate=lambda a: a[1]["retCode"] == 110072,
                  server_error=lambda a: (a[0], a[1]["retCode"]) == (500, 10016)),
    "okx": Wire("BTC-USDT-SWAP", _okx_place, _okx_lookup,
                accepted=lambda a: a[0] == 200 and a[1]["data"][0]["sCode"] == "0",
                duplicate=lambda a: a[1]["data"][0]["sCode"] == "51016",
                server_error=lambda a: (a[0], a[1]["code"]) == (500, "50026")),
    "deribit": Wire("BTC-PERPETUAL", _deribit_place, _deribit_lookup,
                    accepted=lambda a: a[0] == 200 and a[1]["result"]["order"]["order_state"] == "open",
                    duplicate=lambda a: a[1]["error"]["code"] == 13032,
                    server_error=lambda a: (a[0], a[1]["error"]["code"]) == (500, 11094)),
}
OPEN = {"binance": "NEW", "bybit": "New", "okx": "live", "deribit": "open"}


async def _received(s: aiohttp.ClientSession, rt: RunningTwin, cid: str | None = None) -> dict[str, int]:
    async with s.get(f"{rt.rest}/__admin/received", params={"client_order_id": cid} if cid else None) as r:
        return await r.json()  # type: ignore[no-any-return]


# -- received counts -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("venue", list(WIRES))
async def test_a_client_id_sent_twice_is_received_twice_though_the_second_is_refused_as_a_duplicate(venue: str) -> None:
    wire = WIRES[venue]
    async with start_twins([venue], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins[venue]
        px = await far_bid(s, rt, wire.symbol)
        first = await wire.place(s, rt, "twice", px)
        assert wire.accepted(first), first
        again = await wire.place(s, rt, "twice", px)
        assert wire.duplicate(again), again
        other = await wire.place(s, rt, "once", px)
        assert wire.accepted(other), other
        assert rt.twin.received.count("twice") == 2
        assert await _received(s, rt, "twice") == {"twice": 2}
        assert await _received(s, rt, "never") == {"never": 0}
        assert await _received(s, rt) == {"twice": 2, "once": 1}
        async with s.delete(f"{rt.rest}/__admin/received") as r:
            assert r.status == 200
        assert await _received(s, rt) == {}


async def test_a_placement_is_counted_before_its_signature_is_checked() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        forged = SignedClient(s, rt.rest, rt.twin.credentials.api_key, "not-the-secret")
        status, body, _ = await forged.request("POST", "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
            "price": "1000", "newClientOrderId": "forged"})
        assert (status, body["code"]) == (400, -1022)
        assert rt.twin.received.to_json() == {"forged": 1}


async def test_each_order_of_an_okx_batch_is_counted() -> None:
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        px = await far_bid(s, rt, "BTC-USDT-SWAP")
        item = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": px, "sz": "1"}
        status, body = await OkxClient(s, rt).request("POST", "/api/v5/trade/batch-orders", [
            item | {"clOrdId": "b1"}, item | {"clOrdId": "b2"}, item])
        assert status == 200 and body["code"] == "0"
        assert rt.twin.received.to_json() == {"b1": 1, "b2": 1, "": 1}


async def test_a_deribit_placement_over_websocket_is_counted() -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        px = await far_bid(s, rt, "BTC-PERPETUAL")
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = WsRpc(ws)
            assert "result" in await rpc.auth(rt.twin.credentials.api_key, rt.twin.credentials.secret)
            assert "result" in await rpc.call("private/buy", _deribit_buy("ws-1", px))
            assert (await rpc.call("private/buy", _deribit_buy("ws-1", px)))["error"]["code"] == 13032
        assert rt.twin.received.to_json() == {"ws-1": 2}


async def test_a_placement_refused_at_the_connection_is_not_counted() -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["bybit"]
        rt.twin.faults.inject("refuse_connections")
        with pytest.raises(aiohttp.ClientConnectionError):
            await _bybit_place(s, rt, "refused", "1000.0")
        assert rt.twin.received.to_json() == {}


# -- execute, then lose the answer ---------------------------------------------------------------------------
@pytest.mark.parametrize("venue", list(WIRES))
async def test_execute_then_5xx_places_the_order_then_answers_the_venues_server_error_once(venue: str) -> None:
    wire = WIRES[venue]
    async with start_twins([venue], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins[venue]
        px = await far_bid(s, rt, wire.symbol)
        rt.twin.faults.inject("execute_then_5xx")
        lost = await wire.place(s, rt, "lost5xx", px)
        assert wire.server_error(lost), lost
        assert await wire.lookup(s, rt, "lost5xx") == OPEN[venue]  # it was executed all the same
        assert rt.twin.faults.active(FaultKind.EXECUTE_THEN_5XX) is None
        assert wire.accepted(await wire.place(s, rt, "after5xx", px))
        assert rt.twin.received.to_json() == {"lost5xx": 1, "after5xx": 1}


@pytest.mark.parametrize("venue", list(WIRES))
async def test_execute_then_drop_places_the_order_then_drops_the_connection_without_an_answer_once(venue: str) -> None:
    wire = WIRES[venue]
    async with start_twins([venue], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins[venue]
        px = await far_bid(s, rt, wire.symbol)
        rt.twin.faults.inject("execute_then_drop")
        with pytest.raises(aiohttp.ClientConnectionError):
            await wire.place(s, rt, "lostdrop", px)
        assert await wire.lookup(s, rt, "lostdrop") == OPEN[venue]
        assert rt.twin.faults.active(FaultKind.EXECUTE_THEN_DROP) is None
        assert wire.accepted(await wire.place(s, rt, "afterdrop", px))
        assert rt.twin.received.to_json() == {"lostdrop": 1, "afterdrop": 1}


async def test_execute_then_5xx_with_a_count_fires_that_many_times_and_with_a_duration_until_it_ends() -> None:
    wire = WIRES["binance"]
    async with start_twins(["binance"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        px = await far_bid(s, rt, wire.symbol)
        rt.twin.faults.inject("execute_then_5xx", count=2, status=503)
        assert [(await wire.place(s, rt, f"c{i}", px))[0] for i in range(3)] == [503, 503, 200]
        rt.twin.faults.inject("execute_then_5xx", duration_s=60)
        assert [(await wire.place(s, rt, f"d{i}", px))[0] for i in range(3)] == [500, 500, 500]
        rt.twin.faults.clear("execute_then_5xx")
        assert wire.accepted(await wire.place(s, rt, "dafter", px))
        assert [await wire.lookup(s, rt, cid) for cid in ("c0", "c1", "d0", "d1", "d2")] == ["NEW"] * 5


async def test_execute_then_5xx_on_a_deribit_websocket_order_answers_internal_server_error() -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        px = await far_bid(s, rt, "BTC-PERPETUAL")
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = WsRpc(ws)
            await rpc.auth(rt.twin.credentials.api_key, rt.twin.credentials.secret)
            rt.twin.faults.inject("execute_then_5xx")
            reply = await rpc.call("private/buy", _deribit_buy("ws-5xx", px))
            assert reply["error"]["code"] == 11094 and "result" not in reply
            state = await rpc.call("private/get_order_state_by_label", {"currency": "BTC", "label": "ws-5xx"})
            assert [o["order_state"] for o in state["result"]] == ["open"]
            assert "result" in await rpc.call("private/buy", _deribit_buy("ws-after", px))


async def test_execute_then_drop_on_a_deribit_websocket_sends_the_order_update_then_drops_without_a_reply() -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        px = await far_bid(s, rt, "BTC-PERPETUAL")
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = WsRpc(ws)
            await rpc.auth(rt.twin.credentials.api_key, rt.twin.credentials.secret)
            sub = await rpc.call("private/subscribe", {"channels": ["user.orders.BTC-PERPETUAL.raw"]})
            assert sub["result"] == ["user.orders.BTC-PERPETUAL.raw"]
            rt.twin.faults.inject("execute_then_drop")
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "private/buy",
                                          "params": _deribit_buy("ws-drop", px)}))
            note = json.loads((await ws.receive(timeout=5)).data)
            assert (note["method"], note["params"]["data"]["label"]) == ("subscription", "ws-drop")
            end = await ws.receive(timeout=5)
            assert end.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), end
        assert await _deribit_lookup(s, rt, "ws-drop") == "open"
        assert rt.twin.faults.active(FaultKind.EXECUTE_THEN_DROP) is None
