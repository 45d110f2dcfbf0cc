"""Deribit twin over WebSocket: book sequencing, subscriptions, heartbeats, private stream, auth, WS faults."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
from deribit_client import BookFollower, WsRpc, http_get, signed_header
from hypothesis import given
from hypothesis import strategies as st
from twin_helpers import json_shape, load_fixture

from simulator.book import Side
from simulator.deribit import DeribitConfig, DeribitTwin, deribit_twin
from simulator.deribit_auth import RateLimits
from simulator.deribit_format import grouped_levels
from simulator.faults import FaultKind
from simulator.market import DislocationKind
from simulator.runner import Twins, start_twins

pytestmark = pytest.mark.anyio
FACTORIES = {"deribit": deribit_twin}
BOOK = "book.BTC-PERPETUAL.100ms"


def _twin(twins: Twins) -> DeribitTwin:
    twin = twins["deribit"].twin
    assert isinstance(twin, DeribitTwin)
    return twin


def _fx(name: str) -> Any:
    return load_fixture(f"deribit/{name}")


async def _drain(rpc: WsRpc, until_change_id: int, channel: str = BOOK) -> list[dict[str, Any]]:
    """Book notifications up to (and including) the one ending at ``until_change_id``."""
    out: list[dict[str, Any]] = []
    for _ in range(100_000):
        note = await rpc.next_note()
        if note.get("params", {}).get("channel") != channel:
            continue
        out.append(note["params"]["data"])
        if note["params"]["data"]["change_id"] >= until_change_id:
            return out
    raise AssertionError("book stream never reached the admin change_id")


async def test_book_stream_chains_change_ids_over_thousands_of_updates_and_rebuilds_the_twins_book() -> None:
    async with start_twins(["deribit"], rate=0, symbols=["BTC"], factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            rpc = WsRpc(ws)
            reply = await rpc.call("public/subscribe", {"channels": [BOOK]})
            assert reply["result"] == [BOOK]
            follower = BookFollower()
            seen: list[dict[str, Any]] = []
            for _ in range(40):
                twins.step(50)
                last = _twin(twins).depth["BTC-PERPETUAL"].mirror.update_id
                for data in await _drain(rpc, last):
                    follower.feed(data)
                    seen.append(data)
            async with s.get(f"{rt.rest}/__admin/book", params={"symbol": "BTC-PERPETUAL", "depth": "1000"}) as r:
                admin = await r.json()
        assert seen[0]["type"] == "snapshot" and follower.changes_applied >= 1900
        assert all(b["prev_change_id"] == a["change_id"] and b["change_id"] > a["change_id"] for a, b in zip(seen, seen[1:], strict=False))
        assert follower.change_id == admin["update_id"]
        bids, asks = follower.top(1000)
        assert bids == [(Decimal(p), Decimal(a)) for p, a in admin["bids"]]
        assert asks == [(Decimal(p), Decimal(a)) for p, a in admin["asks"]]
        assert set(reply) == set(_fx("ws_real_subscribe_response.json"))
        assert json_shape(seen[0]) == json_shape(_fx("ws_book_100ms_snapshot_data.json"))
        change = next(d for d in seen[1:] if d["bids"] and d["asks"])
        assert json_shape(change) == json_shape(_fx("ws_book_100ms_change_data.json")) | {"asks": json_shape(change["bids"])}


def test_the_book_follower_accepts_the_real_capture_and_rejects_a_gap() -> None:
    frames = load_fixture("deribit/ws_book_raw_real_sequence_BTC-24SEP21-8000-P.jsonl")
    follower = BookFollower()
    for frame in frames:
        follower.feed(frame["params"]["data"])
    assert follower.changes_applied == len(frames) - 1
    gap = dict(frames[5]["params"]["data"], prev_change_id=1)
    with pytest.raises(AssertionError, match="expected prev_change_id"):
        follower.feed(gap)


async def test_rest_snapshot_change_id_sits_on_the_stream() -> None:
    async with start_twins(["deribit"], rate=0, symbols=["BTC"], factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["deribit"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            rpc = WsRpc(ws)
            await rpc.call("public/subscribe", {"channels": [BOOK]})
            await rpc.next_note()  # snapshot
            twins.step(5)
            _, book = await http_get(s, rt.rest, "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 10000})
            twins.step(5)
            changes = await _drain(rpc, _twin(twins).depth["BTC-PERPETUAL"].mirror.update_id)
        follower = BookFollower()
        follower.feed({"type": "snapshot", "change_id": book["result"]["change_id"],
                       "bids": [["new", *lv] for lv in book["result"]["bids"]], "asks": [["new", *lv] for lv in book["result"]["asks"]]})
        for data in changes:
            if data["change_id"] > book["result"]["change_id"]:
                follower.feed(data)
        assert follower.changes_applied == 5 and follower.change_id == _twin(twins).depth["BTC-PERPETUAL"].mirror.update_id


async def test_skip_sequence_fault_breaks_the_chain_once() -> None:
    async with start_twins(["deribit"], rate=0, symbols=["BTC"], factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            rpc = WsRpc(ws)
            await rpc.call("public/subscribe", {"channels": [BOOK]})
            twins.step(2)
            _twin(twins).faults.inject(FaultKind.SKIP_SEQUENCE)
            twins.step(3)
            seen = await _drain(rpc, _twin(twins).depth["BTC-PERPETUAL"].mirror.update_id)
        links = [b["prev_change_id"] == a["change_id"] for a, b in zip(seen, seen[1:], strict=False)]
        assert links == [True, True, False, True] and _twin(twins).faults.snapshot() == []


async def test_control_messages_and_grouped_ticker_quote_trades_chart_channels_match_the_fixtures() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(50)
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            rpc = WsRpc(ws)
            hello = await rpc.call("public/hello", {"client_name": "tests", "client_version": "1.0"})
            assert json_shape(hello["result"]) == json_shape(_fx("ws_public_hello_response.json")["result"])
            test = await rpc.call("public/test")
            assert set(test) == set(_fx("ws_real_subscribe_response.json")) and test["result"] == hello["result"]
            hb = await rpc.call("public/set_heartbeat", {"interval": 30})
            assert hb["result"] == _fx("ws_set_heartbeat_response.json")["result"]
            channels = ["book.BTC-PERPETUAL.5.10.100ms", "ticker.BTC-PERPETUAL.100ms", "quote.BTC-PERPETUAL",
                        "trades.BTC-PERPETUAL.100ms", "chart.trades.BTC-PERPETUAL.1", "deribit_price_index.btc_usd",
                        "book.NOPE-PERPETUAL.100ms", "user.orders.BTC-PERPETUAL.raw"]
            reply = await rpc.call("public/subscribe", {"channels": channels})
            assert reply["result"] == channels[:6]  # unknown instrument and unauthorised private channel skipped
            got: dict[str, Any] = {}
            for _ in range(30):
                twins.step(1)
                for _ in range(200):
                    with anyio.move_on_after(0.05):
                        note = await rpc.next_note()
                        got.setdefault(note["params"]["channel"], note["params"]["data"])
                        continue
                    break
                if len(got) == 6:
                    break
            unsub = await rpc.call("public/unsubscribe", {"channels": ["quote.BTC-PERPETUAL"]})
            assert unsub["result"] == ["quote.BTC-PERPETUAL"]
        grouped = got["book.BTC-PERPETUAL.5.10.100ms"]
        assert json_shape(grouped) == json_shape(_fx("ws_book_grouped_data.json")) and 5 <= len(grouped["bids"]) <= 10
        assert all(p % 5 == 0 for p, _ in grouped["bids"]) and grouped["bids"][0][0] < grouped["asks"][0][0]
        assert json_shape(got["ticker.BTC-PERPETUAL.100ms"]) == json_shape(_fx("ws_ticker_data.json"))
        assert json_shape(got["quote.BTC-PERPETUAL"]) == json_shape(_fx("ws_quote_data.json"))
        assert json_shape(got["trades.BTC-PERPETUAL.100ms"]) == json_shape(_fx("ws_trades_data.json"))
        assert json_shape(got["chart.trades.BTC-PERPETUAL.1"]) == json_shape(_fx("ws_chart_trades_data.json"))
        assert set(got["deribit_price_index.btc_usd"]) == {"timestamp", "price", "index_name"}


async def test_order_lifecycle_is_visible_over_rest_and_on_the_private_stream() -> None:
    async with start_twins(["deribit"], rate=0, symbols=["BTC"], factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin = _twin(twins)
        c = twin.credentials
        async with s.ws_connect(twins["deribit"].ws["private"]) as ws:
            rpc = WsRpc(ws)
            sub = await rpc.call("private/subscribe", {"channels": ["user.orders.BTC-PERPETUAL.raw"]})
            assert sub["error"] == {"message": "unauthorized", "code": 13009}
            assert "access_token" in (await rpc.auth(c.api_key, c.secret))["result"]
            chans = ["user.orders.BTC-PERPETUAL.raw", "user.trades.BTC-PERPETUAL.100ms", "user.changes.BTC-PERPETUAL.100ms",
                     "user.portfolio.btc", "user.orders.future.BTC.100ms"]
            sub = await rpc.call("private/subscribe", {"channels": chans})
            assert sub["result"] == chans
            ask_px, ask_amt = twin.depth["BTC-PERPETUAL"].mirror.asks(1)[0]
            placed = await rpc.call("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": float(ask_amt + 30),
                                                    "type": "limit", "price": float(ask_px), "label": "life-1"})
            order = placed["result"]["order"]
            assert (order["order_state"], order["filled_amount"], order["label"]) == ("open", float(ask_amt), "life-1")
            dup = await rpc.call("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit",
                                                 "price": float(ask_px - 1000), "label": "life-1"})
            assert dup["error"]["code"] == 13032
            by_label = await rpc.call("private/get_order_state_by_label", {"currency": "BTC", "label": "life-1"})
            assert [o["order_id"] for o in by_label["result"]] == [order["order_id"]]
            cancelled = await rpc.call("private/cancel", {"order_id": order["order_id"]})
            assert cancelled["result"]["order_state"] == "cancelled"
            again = await rpc.call("private/cancel", {"order_id": order["order_id"]})
            assert again["error"] == {"message": "not_open_order", "code": 11044}
            # A resting sell above the market fills when the market is pushed through it.
            sell_px = twin.depth["BTC-PERPETUAL"].mirror.asks(1)[0][0] + 20
            rest = await rpc.call("private/sell", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit",
                                                   "price": float(sell_px), "label": "life-2"})
            assert rest["result"]["order"]["order_state"] == "open" and rest["result"]["trades"] == []
            twins.model.dislocate("deribit", "BTC", DislocationKind.JUMP, 40, offset=0.003)
            for _ in range(40):
                twins.step(1)
                state = await rpc.call("private/get_order_state", {"order_id": rest["result"]["order"]["order_id"]})
                if state["result"]["order_state"] == "filled":
                    break
            assert state["result"]["order_state"] == "filled" and state["result"]["average_price"] == float(sell_px)
            notes = list(rpc.notes)
        raw = [n["params"]["data"] for n in notes if n["params"]["channel"] == "user.orders.BTC-PERPETUAL.raw"]
        assert [(o["label"], o["order_state"]) for o in raw] == [
            ("life-1", "open"), ("life-1", "open"), ("life-1", "cancelled"), ("life-2", "open"), ("life-2", "filled")]
        assert raw[1]["filled_amount"] == float(ask_amt)
        trades = [n["params"]["data"] for n in notes if n["params"]["channel"] == "user.trades.BTC-PERPETUAL.100ms"]
        assert [(t[0]["direction"], t[0]["liquidity"], t[0]["amount"]) for t in trades] == [("buy", "T", float(ask_amt)), ("sell", "M", 10.0)]
        changes = next(n["params"]["data"] for n in notes if n["params"]["channel"] == "user.changes.BTC-PERPETUAL.100ms" and n["params"]["data"]["trades"])
        assert changes["positions"][0]["size"] == float(ask_amt) and changes["orders"][0]["label"] == "life-1"
        portfolio = next(n["params"]["data"] for n in notes if n["params"]["channel"] == "user.portfolio.btc")
        assert portfolio["currency"] == "BTC" and portfolio["balance"] < 10.0  # taker fee paid
        by_currency = [n for n in notes if n["params"]["channel"] == "user.orders.future.BTC.100ms"]
        assert all(isinstance(n["params"]["data"], list) for n in by_currency) and len(by_currency) >= 4
        assert set(sub) == set(_fx("ws_real_subscribe_response.json"))
        assert json_shape(raw[0]) | {"original_order_type": "str"} == json_shape(_fx("ws_user_orders_raw_data.json"))
        # Trades of labelled orders carry the label (the fixtures' orders had none, so their trades show none).
        assert [t[0].pop("label") for t in trades] == ["life-1", "life-2"]
        assert all(t.pop("label") == "life-1" for t in changes["trades"])
        assert json_shape(trades[0]) == json_shape(_fx("ws_user_trades_data.json"))
        assert json_shape(changes) == json_shape(_fx("ws_user_changes_data.json")) | {"orders": [json_shape(changes["orders"][0])]}
        assert set(portfolio) == set(_fx("ws_user_portfolio_data.json"))


async def test_client_signature_vector_authenticates_a_websocket_and_a_tampered_one_is_refused() -> None:
    from simulator.twin import Credentials

    vec = next(v for v in load_fixture("signing_vectors.json")["deribit"] if v["name"] == "ws_client_signature_doc")
    cfg = DeribitConfig(credentials=(Credentials(vec["client_id"], vec["secret"]),))
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        twin = _twin(twins)
        twin.faults.inject(FaultKind.CLOCK_SKEW, ms=vec["timestamp"] + 1000 - twin._clock_ms())
        async with s.ws_connect(twins["deribit"].ws["private"]) as ws:
            rpc = WsRpc(ws)
            bad = await rpc.call("public/auth", dict(vec["ws_message"]["params"], signature="0" * 64))
            assert bad["error"] == {"message": "invalid_credentials", "code": 13004}
            raw = await rpc.call("public/subscribe", {"channels": ["book.BTC-PERPETUAL.raw"]})
            assert raw["error"] == {"message": "raw_subscriptions_not_available_for_unauthorized", "code": 13778}
            good = await rpc.call("public/auth", vec["ws_message"]["params"])
            assert good["result"]["token_type"] == "bearer"
            raw = await rpc.call("public/subscribe", {"channels": ["book.BTC-PERPETUAL.raw"]})
            assert raw["result"] == ["book.BTC-PERPETUAL.raw"]
            summary = await rpc.call("private/get_account_summary", {"currency": "BTC"})
            assert summary["result"]["balance"] == 10.0


async def test_heartbeat_test_requests_must_be_answered_or_the_socket_closes() -> None:
    cfg = DeribitConfig(heartbeat_unit_s=0.02)
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            rpc = WsRpc(ws)
            assert (await rpc.call("public/set_heartbeat", {"interval": 9}))["error"]["code"] == -32602
            assert (await rpc.call("public/set_heartbeat", {"interval": 10}))["result"] == "ok"
            for _ in range(3):  # answered: stays open
                note = await rpc.next_note(wait_s=2)
                assert note == {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
                assert "result" in await rpc.call("public/test")
            note = await rpc.next_note(wait_s=2)
            assert note["method"] == "heartbeat"
            msg = await ws.receive(timeout=2)  # not answered: closed within one interval
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert note == _fx("ws_heartbeat_test_request_constructed.json")


async def test_websocket_faults_drop_stall_and_malform_then_clear() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin, url = _twin(twins), twins["deribit"].ws["public"]
        async with s.ws_connect(url) as ws:
            twin.faults.inject(FaultKind.DROP_WS)
            msg = await ws.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        async with s.ws_connect(url) as ws:
            rpc = WsRpc(ws)
            assert "result" in await rpc.call("public/test")
            twin.faults.inject(FaultKind.STALL, duration_s=0.3)
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "public/test", "params": {}}))
            await ws.ping()
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.2)
            await anyio.sleep(0.15)
            assert "result" in await rpc.call("public/test")
            twin.faults.inject(FaultKind.MALFORMED_FRAME)
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "public/test", "params": {}}))
            with pytest.raises(json.JSONDecodeError):
                json.loads((await ws.receive(timeout=2)).data)
            assert "result" in await rpc.call("public/test")
            twin.faults.inject(FaultKind.RATE_LIMIT, duration_s=5)
            limited = await rpc.call("public/test")
            assert limited["error"] == {"message": "too_many_requests", "code": 10028}
            msg = await ws.receive(timeout=2)  # session terminated
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        twin.faults.clear()
        assert twin.faults.snapshot() == []


async def test_running_out_of_credits_on_a_websocket_terminates_the_session() -> None:
    cfg = DeribitConfig(limits=RateLimits(credits_per_request=500, credit_pool=1000, credit_refill_per_s=1))
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins, aiohttp.ClientSession() as s:
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            rpc = WsRpc(ws)
            replies = [await rpc.call("public/get_time") for _ in range(3)]
            assert ["result" in r for r in replies] == [True, True, False]
            assert replies[2]["error"] == {"message": "too_many_requests", "code": 10028}
            msg = await ws.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_cancel_on_disconnect_cancels_open_orders_when_the_socket_goes() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin = _twin(twins)
        async with s.ws_connect(twins["deribit"].ws["private"]) as ws:
            rpc = WsRpc(ws)
            await rpc.auth(twin.credentials.api_key, twin.credentials.secret)
            cod = await rpc.call("private/enable_cancel_on_disconnect", {"scope": "connection"})
            assert cod["result"] == "ok"
            px = float(twin.depth["BTC-PERPETUAL"].mirror.bids(1)[0][0] - 500)
            await rpc.call("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": px})
            assert len(twin.engine.open_orders()) == 1
        for _ in range(50):
            if not twin.engine.open_orders():
                break
            await anyio.sleep(0.02)
        assert twin.engine.open_orders() == []
        assert cod["result"] == _fx("ws_private_enable_cancel_on_disconnect_response.json")["result"]


@given(st.lists(st.tuples(st.integers(1, 400), st.integers(1, 50)), min_size=1, max_size=40, unique_by=lambda t: t[0]),
       st.sampled_from([None, 1, 5, 25]))
def test_grouped_levels_keep_total_amount_and_bucket_prices(rows: list[tuple[int, int]], group: int | None) -> None:
    levels = sorted(((Decimal(p) / 2, Decimal(a)) for p, a in rows), reverse=True)
    out = grouped_levels(levels, Decimal(group) if group else None, Side.BUY, 1000)
    assert sum(a for _, a in out) == float(sum(a for _, a in levels))
    assert all(p % group == 0 for p, _ in out) if group else len(out) == len(levels)
    assert [p for p, _ in out] == sorted((p for p, _ in out), reverse=True)


async def test_instrument_state_notifies_each_book_state_change_of_its_kind_and_currency() -> None:
    async with start_twins(["deribit"], rate=0, symbols=["BTC"], factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin = _twin(twins)
        async with s.ws_connect(twins["deribit"].ws["public"]) as ws:
            rpc = WsRpc(ws)
            channels = ["instrument.state.future.BTC", "instrument.state.future.any", "instrument.state.future.USDC"]
            assert (await rpc.call("public/subscribe", {"channels": channels}))["result"] == channels
            bad = await rpc.call("public/subscribe", {"channels": ["instrument.state.any.BTC"]})  # kind has no "any"
            assert bad["result"] == []
            twin.set_book_state("BTC-PERPETUAL", "settlement")
            twin.set_book_state("BTC-PERPETUAL", "open")
            notes = [await rpc.next_note() for _ in range(4)]
        got = [(n["params"]["channel"], n["params"]["data"]["instrument_name"], n["params"]["data"]["state"]) for n in notes]
        assert got == [("instrument.state.future.BTC", "BTC-PERPETUAL", "settlement"),
                       ("instrument.state.future.any", "BTC-PERPETUAL", "settlement"),
                       ("instrument.state.future.BTC", "BTC-PERPETUAL", "open"),
                       ("instrument.state.future.any", "BTC-PERPETUAL", "open")]
        assert json_shape(notes[0]["params"]["data"]) == json_shape(_fx("ws_instrument_state_data.json"))


# -- cancel-on-disconnect as Deribit documents it (private/enable_cancel_on_disconnect, public/set_heartbeat) ----
USER_ORDERS = "user.orders.any.any.raw"


async def _http_rpc(s: aiohttp.ClientSession, twin: DeribitTwin, base: str, method: str,
                    params: dict[str, Any]) -> dict[str, Any]:
    """A signed JSON-RPC POST: a client that trades over HTTP (no connection of its own)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": method, "params": params})
    header = signed_header(twin.credentials.api_key, twin.credentials.secret, "POST", f"/api/v2/{method}", body)
    async with s.post(f"{base}/api/v2/{method}", data=body,
                      headers={"Authorization": header, "Content-Type": "application/json"}) as resp:
        return await resp.json()  # type: ignore[no-any-return]


async def _trader(ws: aiohttp.ClientWebSocketResponse, twin: DeribitTwin, *, cod: bool = True,
                  watch: bool = False) -> WsRpc:
    rpc = WsRpc(ws)
    await rpc.auth(twin.credentials.api_key, twin.credentials.secret)
    if cod:
        assert (await rpc.call("private/enable_cancel_on_disconnect", {"scope": "connection"}))["result"] == "ok"
    if watch:
        assert (await rpc.call("private/subscribe", {"channels": [USER_ORDERS]}))["result"] == [USER_ORDERS]
    return rpc


def _far_bid_params(twin: DeribitTwin, label: str) -> dict[str, Any]:
    px = float(twin.depth["BTC-PERPETUAL"].mirror.bids(1)[0][0] - 500)
    return {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": px, "label": label}


async def _until_order_note(rpc: WsRpc, label: str, state: str) -> dict[str, Any]:
    """The next ``user.orders`` notification of the order ``label`` in ``state`` (others are skipped)."""
    for _ in range(10_000):
        note = await rpc.next_note()
        data = note.get("params", {}).get("data")
        if note.get("params", {}).get("channel") == USER_ORDERS and data["label"] == label and data["order_state"] == state:
            return data  # type: ignore[no-any-return]
    raise AssertionError(f"no {state} notification for {label}")


async def _until_gone(twin: DeribitTwin, cid: int) -> None:
    """The twin has finished with connection ``cid`` (its handler, and any cancel-on-disconnect, ran)."""
    with anyio.fail_after(5):
        while any(c.cid == cid for c in twin.hub.conns):  # noqa: ASYNC110 - the twin's connection handler has no event
            await anyio.sleep(0.01)


def _conn_ids(twin: DeribitTwin) -> set[int]:
    return {c.cid for c in twin.hub.conns}


async def test_cancel_on_disconnect_cancels_only_the_orders_created_via_that_connection() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        twin, rt = _twin(twins), twins["deribit"]
        async with s.ws_connect(rt.ws["private"]) as other_ws:
            other = await _trader(other_ws, twin, watch=True)
            (other_cid,) = _conn_ids(twin)
            async with s.ws_connect(rt.ws["private"]) as ws:
                rpc = await _trader(ws, twin)
                (cid,) = _conn_ids(twin) - {other_cid}
                mine = (await rpc.call("private/buy", _far_bid_params(twin, "cod-mine")))["result"]["order"]
                theirs = (await other.call("private/buy", _far_bid_params(twin, "cod-other")))["result"]["order"]
                http = (await _http_rpc(s, twin, rt.rest, "private/buy", _far_bid_params(twin, "cod-http")))["result"]["order"]
                ids = {label: twin.find_order(o["order_id"])[1].order_id
                       for label, o in (("mine", mine), ("theirs", theirs), ("http", http))}
                assert {k: twin.created_via.get(v) for k, v in ids.items()} == {"mine": cid, "theirs": other_cid, "http": None}
            # ws closed (a proper close, no logout): its orders, and only those, are cancelled
            cancelled = await _until_order_note(other, "cod-mine", "cancelled")
            assert cancelled["cancel_reason"] == "cancel_on_disconnect"
            still = (await other.call("private/get_open_orders", {}))["result"]
            assert sorted(o["label"] for o in still) == ["cod-http", "cod-other"]
            state = await other.call("private/get_order_state", {"order_id": mine["order_id"]})
            assert (state["result"]["order_state"], state["result"]["cancel_reason"]) == ("cancelled", "cancel_on_disconnect")


async def test_a_graceful_logout_does_not_trigger_cancel_on_disconnect() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        twin, rt = _twin(twins), twins["deribit"]
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = await _trader(ws, twin)
            (cid,) = _conn_ids(twin)
            order = (await rpc.call("private/buy", _far_bid_params(twin, "cod-logout")))["result"]["order"]
            assert (await rpc.call("private/logout", {}))["result"] == "ok"
            msg = await ws.receive(timeout=2)  # the twin ends the session after the answer
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await _until_gone(twin, cid)
        state = await _http_rpc(s, twin, rt.rest, "private/get_order_state", {"order_id": order["order_id"]})
        assert state["result"]["order_state"] == "open"


async def test_an_unanswered_heartbeat_closes_the_connection_and_fires_cancel_on_disconnect() -> None:
    cfg = DeribitConfig(heartbeat_unit_s=0.02)  # interval 10 lasts 0.2 s
    async with start_twins(["deribit"], rate=0, factories=FACTORIES, options={"deribit": {"config": cfg}}) as twins, \
            aiohttp.ClientSession() as s:
        twins.step(20)
        twin, rt = _twin(twins), twins["deribit"]
        async with s.ws_connect(rt.ws["private"]) as watch_ws:
            watcher = await _trader(watch_ws, twin, cod=False, watch=True)
            async with s.ws_connect(rt.ws["private"]) as ws:
                rpc = await _trader(ws, twin)
                assert (await rpc.call("public/set_heartbeat", {"interval": 10}))["result"] == "ok"
                await rpc.call("private/buy", _far_bid_params(twin, "cod-hung"))
                # A hung client: the test_request is never answered with public/test.
                note = await rpc.next_note(wait_s=2)
                while note.get("method") != "heartbeat":
                    note = await rpc.next_note(wait_s=2)
                assert note["params"] == {"type": "test_request"}
                cancelled = await _until_order_note(watcher, "cod-hung", "cancelled")
                assert cancelled["cancel_reason"] == "cancel_on_disconnect"
                while True:  # the twin closed it: the test_request went unanswered
                    msg = await ws.receive(timeout=2)
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_account_scope_cancel_on_disconnect_starts_every_new_connection_with_it() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twin, rt = _twin(twins), twins["deribit"]
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = await _trader(ws, twin, cod=False)
            assert (await rpc.call("private/get_cancel_on_disconnect", {}))["result"] == {"scope": "connection", "enabled": False}
            bad = await rpc.call("private/enable_cancel_on_disconnect", {"scope": "everything"})
            assert bad["error"]["code"] == -32602
            assert (await rpc.call("private/enable_cancel_on_disconnect", {"scope": "account"}))["result"] == "ok"
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = await _trader(ws, twin, cod=False)
            assert (await rpc.call("private/get_cancel_on_disconnect", {}))["result"] == {"scope": "connection", "enabled": True}
            assert (await rpc.call("private/get_cancel_on_disconnect", {"scope": "account"}))["result"] == {
                "scope": "account", "enabled": True}
        over_http = await _http_rpc(s, twin, rt.rest, "private/enable_cancel_on_disconnect", {"scope": "connection"})
        assert over_http["error"]["code"] == 10030  # WebSocket only


async def test_orders_over_the_socket_answer_and_notify_exactly_as_over_http() -> None:
    async with start_twins(["deribit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        twins.step(20)
        twin, rt = _twin(twins), twins["deribit"]
        async with s.ws_connect(rt.ws["private"]) as ws:
            rpc = await _trader(ws, twin, watch=True)
            placed = {"ws": (await rpc.call("private/buy", _far_bid_params(twin, "via-ws")))["result"],
                      "http": (await _http_rpc(s, twin, rt.rest, "private/buy", _far_bid_params(twin, "via-http")))["result"]}
            notes = {k: await _until_order_note(rpc, f"via-{k}", "open") for k in ("ws", "http")}
            cancelled = {"ws": (await rpc.call("private/cancel", {"order_id": placed["ws"]["order"]["order_id"]}))["result"],
                         "http": (await _http_rpc(s, twin, rt.rest, "private/cancel",
                                                  {"order_id": placed["http"]["order"]["order_id"]}))["result"]}
            cancel_notes = {k: await _until_order_note(rpc, f"via-{k}", "cancelled") for k in ("ws", "http")}
            by_label = await rpc.call("private/cancel_by_label", {"label": "nothing-open", "currency": "BTC"})
        same = ("order_state", "price", "amount", "direction", "order_type", "time_in_force", "post_only")
        for pair in (placed, cancelled):
            ws_o, http_o = (pair[k]["order"] if "order" in pair[k] else pair[k] for k in ("ws", "http"))
            assert json_shape(ws_o) == json_shape(http_o)
            assert [ws_o[f] for f in same] == [http_o[f] for f in same]
        for pair in (notes, cancel_notes):
            assert json_shape(pair["ws"]) == json_shape(pair["http"])
        assert json_shape(placed["ws"]) == json_shape(placed["http"])
        assert by_label["result"] == 0
        assert twin.received.count("via-ws") == twin.received.count("via-http") == 1
