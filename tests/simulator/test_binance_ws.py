"""Binance twin WebSockets: depth sequencing and book sync, routing, (un)subscribe, faults."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from twin_helpers import json_shape, load_fixture

from simulator.binance import BinanceConfig
from simulator.faults import FaultKind
from simulator.runner import start_twins

pytestmark = pytest.mark.anyio


def _apply(book: dict[str, dict[Decimal, str]], ev: dict[str, Any]) -> None:
    for key, side in (("b", "bids"), ("a", "asks")):
        for p, q in ev[key]:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = q


async def _recv_json(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def test_client_following_the_documented_procedure_rebuilds_the_twin_book_exactly() -> None:
    async with start_twins(["binance"], rate=400) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['public']}/stream?streams=btcusdt@depth@100ms") as ws:
            buffered = [await _recv_json(ws) for _ in range(5)]
            async with s.get(f"{rt.rest}/fapi/v1/depth?symbol=BTCUSDT&limit=1000") as r:
                snap = await r.json()
            book = {"bids": {Decimal(p): q for p, q in snap["bids"]}, "asks": {Decimal(p): q for p, q in snap["asks"]}}
            last_id = snap["lastUpdateId"]
            prev_u: int | None = None
            applied = 0
            while applied < 2000:
                msg = buffered.pop(0) if buffered else await _recv_json(ws)
                assert msg["stream"] == "btcusdt@depth@100ms"
                ev = msg["data"]
                assert ev["U"] <= ev["u"]
                if ev["u"] < last_id:
                    continue
                if prev_u is None:
                    assert ev["U"] <= last_id <= ev["u"]
                else:
                    assert ev["pu"] == prev_u and ev["U"] > prev_u  # not contiguous, but chained by pu
                _apply(book, ev)
                prev_u = ev["u"]
                applied += 1
            twins_rate_stop = rt.twin.depth["BTCUSDT"].mirror.update_id  # type: ignore[attr-defined]
            while prev_u != twins_rate_stop:  # catch up to the twin's published state
                ev = (await _recv_json(ws))["data"]
                assert ev["pu"] == prev_u
                _apply(book, ev)
                prev_u = ev["u"]
                twins_rate_stop = rt.twin.depth["BTCUSDT"].mirror.update_id  # type: ignore[attr-defined]
            truth = rt.twin.book_json("BTCUSDT", 100000)
            assert truth is not None and truth["update_id"] == prev_u
            mine_bids = sorted(book["bids"].items(), reverse=True)
            assert [[str(p), q] for p, q in mine_bids] == truth["bids"]
            assert [[str(p), q] for p, q in sorted(book["asks"].items())] == truth["asks"]
            assert len(truth["bids"]) >= 50


async def test_stream_payloads_have_the_fixture_keys_and_json_types() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        pub = await s.ws_connect(f"{rt.ws['public']}/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker")
        mkt = await s.ws_connect(f"{rt.ws['market']}/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m")
        got: dict[str, Any] = {}
        for _ in range(200):
            twins.step()
            await anyio.lowlevel.checkpoint()
            if len(got) == 4:
                break
        with anyio.move_on_after(3):
            while len(got) < 4:
                for ws in (pub, mkt):
                    msg = await ws.receive(timeout=0.2) if not ws.closed else None
                    if msg is not None and msg.type is aiohttp.WSMsgType.TEXT:
                        frame = json.loads(msg.data)
                        got.setdefault(frame["stream"].split("@", 1)[1], frame)
        await pub.close()
        await mkt.close()
        assert json_shape(got["depth@100ms"]["data"]) == json_shape(load_fixture("binance/ws_depth_update.json"))
        assert json_shape(got["bookTicker"]) == json_shape(load_fixture("binance/ws_bookticker_real.json"))
        assert json_shape(got["aggTrade"]) == json_shape(load_fixture("binance/ws_aggtrade_real.json"))
        assert json_shape(got["kline_1m"]) == json_shape(load_fixture("binance/ws_kline_real.json"))


async def test_live_subscribe_list_and_unsubscribe_follow_the_documented_replies() -> None:
    async with start_twins(["binance"], rate=50) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['public']}/ws") as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth", "ethusdt@bookTicker"], "id": 1}))
            assert await _recv_json(ws) == {"result": None, "id": 1}
            ev = await _recv_json(ws)
            assert ev["e"] in ("depthUpdate", "bookTicker") and "stream" not in ev  # raw stream: bare payload
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 4}))
            await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth", "ethusdt@bookTicker"], "id": 5}))
            replies = []
            with anyio.move_on_after(3):
                while len(replies) < 3:
                    m = await _recv_json(ws)
                    if "id" in m:
                        replies.append(m)
            assert replies[0] == {"result": ["btcusdt@depth", "ethusdt@bookTicker"], "id": 3}
            assert replies[1] == {"result": None, "id": 4}  # aggTrade lives on /market: accepted, never sent
            assert replies[2] == {"result": None, "id": 5}


async def test_legacy_paths_serve_public_streams_and_lowercase_names() -> None:
    async with start_twins(["binance"], rate=100) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['legacy']}/ws/btcusdt@depth5@100ms") as ws:
            ev = await _recv_json(ws)
            assert ev["e"] == "depthUpdate" and len(ev["b"]) == 5 and len(ev["a"]) == 5


# -- routing: each stream on its category, silence elsewhere ----------------------------------------------
ALL_KINDS = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@aggTrade", "btcusdt@kline_1m", "btcusdt@markPrice@1s"]


async def _frames_until_answer(ws: aiohttp.ClientWebSocketResponse, req_id: int) -> tuple[list[Any], Any]:
    """Everything the connection delivered before the answer to a LIST_SUBSCRIPTIONS sent now (a connection
    keeps its frames in order, so that answer comes after every frame published before the request)."""
    await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": req_id}))
    frames: list[Any] = []
    while True:
        msg = await _recv_json(ws)
        if isinstance(msg, dict) and msg.get("id") == req_id:
            return frames, msg
        frames.append(msg)


def _event_types(frames: list[Any]) -> set[str]:
    return {(f["data"] if "stream" in f else f)["e"] for f in frames}


async def _step_until_traded(twins: Any) -> None:
    """Step the market until the twin printed trades (every kind of market stream then had something)."""
    with anyio.fail_after(10):
        while len(twins["binance"].twin.trades["BTCUSDT"]) < 3:
            twins.step()
            await anyio.lowlevel.checkpoint()


async def test_each_stream_is_delivered_on_its_category_only_and_a_misrouted_one_is_acked_then_silent() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        pub = await s.ws_connect(f"{rt.ws['public']}/ws")
        mkt = await s.ws_connect(f"{rt.ws['market']}/ws")
        for i, ws in enumerate((pub, mkt)):
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ALL_KINDS, "id": i}))
            assert await _recv_json(ws) == {"result": None, "id": i}  # every name accepted, on both routes
        await _step_until_traded(twins)
        pub_frames, pub_list = await _frames_until_answer(pub, 10)
        mkt_frames, mkt_list = await _frames_until_answer(mkt, 11)
        await pub.close()
        await mkt.close()
        assert pub_list["result"] == mkt_list["result"] == ALL_KINDS  # listed, delivered or not
        assert _event_types(pub_frames) == {"depthUpdate", "trade"}  # raw trades ride /public
        assert _event_types(mkt_frames) == {"aggTrade", "kline", "markPriceUpdate"}


async def test_streams_in_the_url_of_the_wrong_category_connect_and_deliver_nothing() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        wrong_public = await s.ws_connect(f"{rt.ws['public']}/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m")
        wrong_market = await s.ws_connect(f"{rt.ws['market']}/ws/btcusdt@depth@100ms")
        right_market = await s.ws_connect(f"{rt.ws['market']}/stream?streams=btcusdt@aggTrade")
        await _step_until_traded(twins)
        for i, ws in enumerate((wrong_public, wrong_market)):
            frames, listed = await _frames_until_answer(ws, i)
            assert frames == [] and listed["result"]  # accepted and listed, never delivered
        frames, _ = await _frames_until_answer(right_market, 9)
        assert _event_types(frames) == {"aggTrade"} and frames[0]["stream"] == "btcusdt@aggTrade"
        for ws in (wrong_public, wrong_market, right_market):
            await ws.close()


@pytest.mark.parametrize(("all_streams", "expected"), [
    (False, {"depthUpdate", "trade"}),  # production since 2026-04-23: /public data only
    (True, {"depthUpdate", "trade", "aggTrade", "kline", "markPriceUpdate"}),  # the testnet's legacy paths
])
async def test_the_unrouted_path_serves_public_data_unless_the_legacy_switch_is_on(
    all_streams: bool, expected: set[str]
) -> None:
    options = {"binance": {"config": BinanceConfig(legacy_all_streams=all_streams)}}
    async with start_twins(["binance"], rate=0, options=options) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{twins['binance'].ws['legacy']}/ws") as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ALL_KINDS, "id": 1}))
            assert await _recv_json(ws) == {"result": None, "id": 1}
            await _step_until_traded(twins)
            frames, _ = await _frames_until_answer(ws, 2)
        assert _event_types(frames) == expected


# -- user data ----------------------------------------------------------------------------------------------
async def test_user_streams_carry_pushed_events_and_honour_the_events_selection() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        hdr = {"X-MBX-APIKEY": rt.twin.credentials.api_key}
        async with s.post(f"{rt.rest}/fapi/v1/listenKey", headers=hdr) as r:
            key = (await r.json())["listenKey"]
        every = await s.ws_connect(f"{rt.ws['private']}/ws?listenKey={key}")
        chosen = await s.ws_connect(f"{rt.ws['private']}/ws?listenKey={key}&events=ALGO_UPDATE/GRID_UPDATE")
        combined = await s.ws_connect(f"{rt.ws['private']}/stream?listenKey={key}&events=STRATEGY_UPDATE")
        sent = []
        for body in ({"event": "STRATEGY_UPDATE"}, {"event": "ALGO_UPDATE", "o": {"caid": "cb-algo-1", "X": "NEW"}},
                     {"event": "GRID_UPDATE"}, {"event": "MARGIN_CALL"}):
            async with s.post(f"{rt.rest}/__admin/user_event", json=body) as r:
                assert r.status == 200
                sent.append(await r.json())
        algo = sent[1]
        assert (algo["o"]["caid"], algo["o"]["X"], algo["o"]["aid"], algo["o"]["o"]) == (
            "cb-algo-1", "NEW", 2148719, "TAKE_PROFIT")  # the doc example with the fields given
        assert [await _recv_json(every) for _ in sent] == sent
        assert [await _recv_json(chosen) for _ in range(2)] == [sent[1], sent[2]]
        assert await _recv_json(combined) == {"stream": key, "data": sent[0]}
        async with s.post(f"{rt.rest}/__admin/user_event", json={"event": "NOT_AN_EVENT"}) as r:
            assert r.status == 400 and "ALGO_UPDATE" in (await r.json())["error"]
        for ws in (every, chosen, combined):
            await ws.close()


async def test_more_than_ten_messages_a_second_closes_the_connection() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{twins['binance'].ws['public']}/ws") as ws:
            for i in range(12):
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            with anyio.fail_after(5):
                while (await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    pass
            assert ws.closed and ws.close_code == 1008


async def test_server_pings_at_the_configured_interval() -> None:
    cfg = BinanceConfig(ping_interval_s=0.1)
    async with start_twins(["binance"], rate=0, options={"binance": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{twins['binance'].ws['public']}/ws", autoping=False) as ws:
            msg = await ws.receive(timeout=3)
            assert msg.type is aiohttp.WSMsgType.PING


async def test_drop_ws_fault_closes_every_socket_and_then_clears() -> None:
    async with start_twins(["binance"], rate=20) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        ws1 = await s.ws_connect(f"{rt.ws['public']}/ws/btcusdt@depth")
        ws2 = await s.ws_connect(f"{rt.ws['market']}/ws/btcusdt@aggTrade")
        async with s.post(f"{rt.rest}/__admin/faults", json={"fault": "drop_ws"}) as r:
            assert (await r.json())["injected"] == "drop_ws"
        for ws in (ws1, ws2):
            with anyio.fail_after(5):
                while (await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    pass
            assert ws.closed
        async with s.ws_connect(f"{rt.ws['public']}/ws/btcusdt@depth") as ws3:  # one-shot: new sockets work
            assert (await _recv_json(ws3))["e"] == "depthUpdate"


async def test_skip_sequence_fault_makes_pu_differ_from_the_previous_u_once() -> None:
    async with start_twins(["binance"], rate=50) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['public']}/ws/btcusdt@depth@100ms") as ws:
            first = await _recv_json(ws)
            rt.twin.faults.inject(FaultKind.SKIP_SEQUENCE)
            evs = [first] + [await _recv_json(ws) for _ in range(6)]
        gaps = [b for a, b in zip(evs, evs[1:], strict=False) if b["pu"] != a["u"]]
        assert len(gaps) == 1


async def test_stall_sends_nothing_then_resumes_and_admin_lists_it() -> None:
    async with start_twins(["binance"], rate=50) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['public']}/ws/btcusdt@depth") as ws:
            await _recv_json(ws)
            rt.twin.faults.inject(FaultKind.STALL, duration_s=0.5)
            async with s.get(f"{rt.rest}/__admin/faults") as r:
                assert [f["fault"] for f in (await r.json())["faults"]] == ["stall"]
            await anyio.sleep(0.05)
            while True:  # drain frames queued before the stall
                try:
                    await ws.receive(timeout=0.01)
                except TimeoutError:
                    break
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.3)
            assert (await _recv_json(ws))["e"] == "depthUpdate"


async def test_rest_faults_5xx_rate_limit_latency_and_clear() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        url = f"{rt.rest}/fapi/v1/time"
        rt.twin.faults.inject("http_5xx", status=502)
        async with s.get(url) as r:
            assert r.status == 502 and (await r.json())["code"] == -1000
        rt.twin.faults.clear()
        rt.twin.faults.inject("rate_limit", duration_s=5)
        async with s.get(url) as r:
            assert r.status == 429 and (await r.json())["code"] == -1003 and "Retry-After" in r.headers
        async with s.delete(f"{rt.rest}/__admin/faults") as r:
            assert (await r.json())["faults"] == []
        rt.twin.faults.inject("latency", ms=300)
        t0 = anyio.current_time()
        async with s.get(url) as r:
            assert r.status == 200
        assert anyio.current_time() - t0 >= 0.3
        rt.twin.faults.clear("latency")
        rt.twin.faults.inject("clock_skew", ms=-60_000)
        async with s.get(url) as r:
            skewed = (await r.json())["serverTime"]
        rt.twin.faults.clear()
        async with s.get(url) as r:
            assert (await r.json())["serverTime"] - skewed >= 59_000


async def test_refuse_connections_and_malformed_frame_faults() -> None:
    async with start_twins(["binance"], rate=50) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        async with s.ws_connect(f"{rt.ws['public']}/ws/btcusdt@depth") as ws:
            await _recv_json(ws)
            rt.twin.faults.inject("malformed_frame")
            with pytest.raises(json.JSONDecodeError):
                for _ in range(50):
                    json.loads((await ws.receive(timeout=5)).data)
        rt.twin.faults.inject("refuse_connections", duration_s=1)
        with pytest.raises(aiohttp.ClientError):
            async with s.get(f"{rt.rest}/fapi/v1/time") as r:
                await r.read()
        rt.twin.faults.clear()
        async with s.get(f"{rt.rest}/fapi/v1/time") as r:
            assert r.status == 200


async def test_listen_key_expiry_fault_sends_listen_key_expired_and_closes() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        hdr = {"X-MBX-APIKEY": rt.twin.credentials.api_key}
        async with s.post(f"{rt.rest}/fapi/v1/listenKey", headers=hdr) as r:
            key = (await r.json())["listenKey"]
        async with s.put(f"{rt.rest}/fapi/v1/listenKey", headers=hdr) as r:
            assert (await r.json())["listenKey"] == key
        async with s.ws_connect(f"{rt.ws['private']}/ws/{key}") as ws:
            async with s.post(f"{rt.rest}/__admin/faults", json={"fault": "expire_listen_key"}) as r:
                assert r.status == 200
            ev = await _recv_json(ws)
            assert ev["e"] == "listenKeyExpired" and ev["listenKey"] == key
            assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with s.put(f"{rt.rest}/fapi/v1/listenKey", headers=hdr) as r:
            assert (r.status, (await r.json())["code"]) == (400, -1125)


async def test_admin_book_endpoint_matches_the_rest_snapshot() -> None:
    async with start_twins(["binance"], rate=0) as twins, aiohttp.ClientSession() as s:
        rt = twins["binance"]
        twins.step(20)
        async with s.get(f"{rt.rest}/__admin/book?symbol=BTCUSDT&depth=50") as r:
            admin = await r.json()
        async with s.get(f"{rt.rest}/fapi/v1/depth?symbol=BTCUSDT&limit=50") as r:
            snap = await r.json()
        assert admin["bids"] == snap["bids"] and admin["update_id"] == snap["lastUpdateId"]
