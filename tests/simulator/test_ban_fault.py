"""The ``ban`` fault: every twin answers REST the way its venue bans, for the fault's duration only."""

from __future__ import annotations

import json

import aiohttp
import anyio
import pytest

from simulator.runner import start_twins

pytestmark = pytest.mark.anyio

# venue -> (server-time path, status while banned, a mark of the venue's ban answer in the body)
CASES = {
    "binance": ("/fapi/v1/time", 418, "IP banned until"),
    "bybit": ("/v5/market/time", 403, "access too frequent"),
    "okx": ("/api/v5/public/time", 429, '"50011"'),
    "deribit": ("/api/v2/public/get_time", 429, "10028"),
}


@pytest.mark.parametrize("venue", list(CASES))
async def test_ban_answers_the_venues_way_until_it_ends(venue: str) -> None:
    path, status, mark = CASES[venue]
    async with start_twins([venue], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins[venue]
        rt.twin.faults.inject("ban", duration_s=0.4)
        async with s.get(rt.rest + path) as resp:
            body = await resp.text()
            assert resp.status == status and mark in body, (resp.status, body)
            if venue == "binance":
                assert int(resp.headers["Retry-After"]) >= 1
        await anyio.sleep(0.45)
        async with s.get(rt.rest + path) as resp:
            assert resp.status == 200, await resp.text()


async def test_deribit_ban_terminates_open_sessions_with_10028() -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "public/get_time", "params": {}}))
            assert "result" in json.loads((await ws.receive(timeout=2)).data)
            rt.twin.faults.inject("ban", duration_s=0.5)
            with anyio.fail_after(2):
                msg = await ws.receive()
                assert json.loads(msg.data)["error"]["code"] == 10028
                assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
