"""Bybit twin, account side: cursor paging, USDT and USDC settle coins, realtime vs order history across a
restart, hedge mode and switch-mode, free-margin fields, and WS error replies (success: false)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from test_bybit_rest import FACTORIES, BybitClient, client
from test_bybit_ws import _auth, _recv

from simulator.bybit import BybitTwin
from simulator.bybit_auth import DEFAULT_ENDPOINT_LIMITS, RateLimits
from simulator.runner import Twins, start_twins

pytestmark = pytest.mark.anyio
# More placements a second than Bybit's default 10 (this test is about lists, not the limit).
_LIMITS = RateLimits(endpoint_per_s={**DEFAULT_ENDPOINT_LIMITS, "/v5/order/create": 100})
USDC_PAGED = {"bybit": {"settle_coins": ("USDT", "USDC"), "page_size": 2, "limits": _LIMITS}}


def _twin(twins: Twins) -> BybitTwin:
    twin = twins["bybit"].twin
    assert isinstance(twin, BybitTwin)
    return twin


def _limit(symbol: str, side: str, price: str, link: str, qty: str = "0.001", **extra: Any) -> dict[str, Any]:
    return {"category": "linear", "symbol": symbol, "side": side, "orderType": "Limit", "qty": qty, "price": price,
            "orderLinkId": link, **extra}


def _market(symbol: str, side: str, qty: str, link: str, **extra: Any) -> dict[str, Any]:
    return {"category": "linear", "symbol": symbol, "side": side, "orderType": "Market", "qty": qty,
            "orderLinkId": link, **extra}


async def _all_pages(c: BybitClient, path: str, params: dict[str, Any]) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Every page of a list, following nextPageCursor: (the pages' rows, the cursors sent)."""
    pages, cursors, cursor = [], [], ""
    while True:
        _, body, _ = await c.call("GET", path, params | ({"cursor": cursor} if cursor else {}))
        assert body["retCode"] == 0, body
        pages.append(body["result"]["list"])
        cursor = body["result"]["nextPageCursor"]
        if not cursor:
            return pages, cursors
        cursors.append(cursor)


async def test_lists_page_with_cursors_per_settle_coin_and_usdc_perpetuals_are_listed() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=USDC_PAGED) as twins, \
            aiohttp.ClientSession() as s:
        c = client(s, twins)
        _, info, _ = await c.call("GET", "/v5/market/instruments-info", {"category": "linear"}, signed=False)
        usdc = [r for r in info["result"]["list"] if r["settleCoin"] == "USDC"]
        assert {(r["symbol"], r["quoteCoin"], r["contractType"]) for r in usdc} == {
            ("BTCPERP", "USDC", "LinearPerpetual"), ("ETHPERP", "USDC", "LinearPerpetual")}
        for i in range(5):
            assert (await c.call("POST", "/v5/order/create", _limit("BTCUSDT", "Buy", f"{50000 + i}.0", f"t{i}")))[1]["retCode"] == 0
        for i in range(3):
            assert (await c.call("POST", "/v5/order/create", _limit("BTCPERP", "Buy", f"{50000 + i}.0", f"c{i}")))[1]["retCode"] == 0
        pages, cursors = await _all_pages(c, "/v5/order/realtime", {"category": "linear", "settleCoin": "USDT", "limit": 50})
        assert [[r["orderLinkId"] for r in p] for p in pages] == [["t4", "t3"], ["t2", "t1"], ["t0"]]  # newest first
        assert all("%3D" in cur for cur in cursors)  # percent-encoded, as the venue sends them
        pages, _ = await _all_pages(c, "/v5/order/realtime", {"category": "linear", "settleCoin": "USDC"})
        assert [[r["orderLinkId"] for r in p] for p in pages] == [["c2", "c1"], ["c0"]]
        _, bad, _ = await c.call("GET", "/v5/order/realtime", {"category": "linear", "settleCoin": "USDT", "cursor": "nope"})
        assert bad["retCode"] == 10001
        # Positions by settle coin list open ones only, paged the same way.
        for sym in ("BTCUSDT", "ETHUSDT", "BTCPERP"):
            assert (await c.call("POST", "/v5/order/create", _market(sym, "Buy", "0.01", f"m-{sym}")))[1]["retCode"] == 0
        pages, _ = await _all_pages(c, "/v5/position/list", {"category": "linear", "settleCoin": "USDT", "limit": 200})
        assert [[r["symbol"] for r in p] for p in pages] == [["BTCUSDT", "ETHUSDT"]]
        _, usdc_pos, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDC"})
        assert [(r["symbol"], r["positionIdx"]) for r in usdc_pos["result"]["list"]] == [("BTCPERP", 0)]
        _, flat, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "ETHPERP"})
        assert [(r["size"], r["side"], r["positionIdx"]) for r in flat["result"]["list"]] == [("0.00", "", 0)]
        # Each settle coin has its own wallet.
        _, wallet, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        assert {row["coin"] for row in wallet["result"]["list"][0]["coin"]} == {"USDT", "USDC"}


async def test_realtime_finds_recent_closed_orders_until_a_restart_and_history_has_them_after() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        await c.call("POST", "/v5/order/create", _limit("BTCUSDT", "Buy", "50000.0", "r-open"))
        await c.call("POST", "/v5/order/create", _limit("BTCUSDT", "Buy", "50001.0", "r-closed"))
        await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "r-closed"})

        async def rows(path: str, **params: str) -> list[tuple[str, str]]:
            _, body, _ = await c.call("GET", path, {"category": "linear", **params})
            return [(r["orderLinkId"], r["orderStatus"]) for r in body["result"]["list"]]

        assert await rows("/v5/order/realtime", symbol="BTCUSDT") == [("r-open", "New")]  # openOnly=0: open only
        assert await rows("/v5/order/realtime", symbol="BTCUSDT", openOnly="1") == [("r-closed", "Cancelled")]
        assert await rows("/v5/order/realtime", orderLinkId="r-closed") == [("r-closed", "Cancelled")]
        assert await rows("/v5/order/history", orderLinkId="r-open") == []  # no open order in history (UTA)
        assert await rows("/v5/order/history", orderLinkId="r-closed") == [("r-closed", "Cancelled")]
        async with s.post(f"{twins['bybit'].rest}/__admin/restart") as r:
            assert r.status == 200
        assert await rows("/v5/order/realtime", orderLinkId="r-closed") == []  # gone from realtime ...
        assert await rows("/v5/order/history", orderLinkId="r-closed") == [("r-closed", "Cancelled")]  # ... not history
        assert await rows("/v5/order/realtime", orderLinkId="r-open") == [("r-open", "New")]


async def test_hedge_mode_orders_name_their_position_and_each_side_is_listed_apart() -> None:
    options = {"bybit": {"hedge": True}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, \
            aiohttp.ClientSession() as s:
        c = client(s, twins)
        refused = (await c.call("POST", "/v5/order/create", _market("BTCUSDT", "Buy", "0.01", "h0")))[1]
        assert (refused["retCode"], refused["retMsg"]) == (10001, "position idx not match position mode")
        for link, side, idx in (("h1", "Buy", 1), ("h2", "Sell", 2)):  # open a long, then a short
            assert (await c.call("POST", "/v5/order/create", _market("BTCUSDT", side, "0.02", link, positionIdx=idx)))[1]["retCode"] == 0
        _, pos, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
        assert [(r["positionIdx"], r["side"], r["size"]) for r in pos["result"]["list"]] == [(1, "Buy", "0.020"), (2, "Sell", "0.020")]
        # Closing: against the position's side, reduce-only or not (ccxt leaves reduceOnly out); never beyond it.
        assert (await c.call("POST", "/v5/order/create", _market("BTCUSDT", "Sell", "0.01", "h3", positionIdx=1, reduceOnly=True)))[1]["retCode"] == 0
        assert (await c.call("POST", "/v5/order/create", _market("BTCUSDT", "Buy", "0.02", "h4", positionIdx=2)))[1]["retCode"] == 0
        too_much = (await c.call("POST", "/v5/order/create", _market("BTCUSDT", "Sell", "0.02", "h5", positionIdx=1, reduceOnly=True)))[1]
        assert too_much["retCode"] == 110017
        _, pos, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
        assert [(r["positionIdx"], r["size"]) for r in pos["result"]["list"]] == [(1, "0.010"), (2, "0.000")]
        _, by_coin, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDT"})
        assert [(r["symbol"], r["positionIdx"]) for r in by_coin["result"]["list"]] == [("BTCUSDT", 1)]
        _, orders, _ = await c.call("GET", "/v5/order/realtime", {"category": "linear", "orderLinkId": "h3"})
        assert orders["result"]["list"][0]["positionIdx"] == 1


async def test_switch_mode_follows_the_venue_s_rules() -> None:
    options = {"bybit": {"settle_coins": ("USDT", "USDC")}}
    async with start_twins(["bybit"], rate=0, factories=FACTORIES, options=options) as twins, \
            aiohttp.ClientSession() as s:
        c = client(s, twins)

        async def switch(mode: int, **target: str) -> tuple[int, str]:
            _, body, _ = await c.call("POST", "/v5/position/switch-mode", {"category": "linear", "mode": mode, **target})
            return body["retCode"], body["retMsg"]

        assert (await switch(0, coin="USDT"))[0] == 110025  # already one-way
        assert (await switch(3, coin="USDC"))[0] == 110029  # USDC perpetuals: one-way only
        assert (await switch(3))[0] == 10001  # symbol or coin
        await c.call("POST", "/v5/order/create", _limit("BTCUSDT", "Buy", "50000.0", "sw-1"))
        assert (await switch(3, symbol="BTCUSDT"))[0] == 110028  # an open order
        await c.call("POST", "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "sw-1"})
        await c.call("POST", "/v5/order/create", _market("ETHUSDT", "Buy", "0.10", "sw-2"))
        assert (await switch(3, symbol="BTCUSDT"))[0] == 110024  # a position
        await c.call("POST", "/v5/order/create", _market("ETHUSDT", "Sell", "0.10", "sw-3", reduceOnly=True))
        assert await switch(3, coin="USDT") == (0, "OK")
        assert _twin(twins).engine.account.hedge
        _, pos, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
        assert [r["positionIdx"] for r in pos["result"]["list"]] == [1, 2]
        # A USDC perpetual stays one-way while the USDT ones are hedged.
        assert (await c.call("POST", "/v5/order/create", _market("BTCPERP", "Buy", "0.01", "sw-4")))[1]["retCode"] == 0
        _, perp, _ = await c.call("GET", "/v5/position/list", {"category": "linear", "symbol": "BTCPERP"})
        assert [(r["positionIdx"], r["size"]) for r in perp["result"]["list"]] == [(0, "0.010")]


async def test_wallet_reports_free_margin_account_wide_and_no_available_to_withdraw() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        c = client(s, twins)
        await c.call("POST", "/v5/order/create", _market("BTCUSDT", "Buy", "0.10", "w-1"))
        await c.call("POST", "/v5/order/create", _limit("ETHUSDT", "Buy", "1000.00", "w-2", qty="1.00"))
        _, wallet, _ = await c.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        acct = wallet["result"]["list"][0]
        (usdt,) = acct["coin"]
        assert usdt["availableToWithdraw"] == ""  # UNIFIED: deprecated since 2025-01-09
        im = Decimal(usdt["totalPositionIM"]) + Decimal(usdt["totalOrderIM"])
        assert Decimal(usdt["totalOrderIM"]) > 0 and Decimal(usdt["totalPositionIM"]) > 0
        margin = Decimal(acct["totalWalletBalance"]) + Decimal(acct["totalPerpUPL"])
        assert Decimal(acct["totalAvailableBalance"]) == margin - im < Decimal(usdt["walletBalance"]) - Decimal(usdt["locked"])
        assert Decimal(usdt["equity"]) == Decimal(usdt["walletBalance"]) + Decimal(usdt["unrealisedPnl"])


async def test_ws_error_replies_say_success_false_with_the_op_and_the_req_id() -> None:
    async with start_twins(["bybit"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt, twin = twins["bybit"], _twin(twins)
        cred = rt.twin.credentials
        async with s.ws_connect(rt.ws["private"]) as ws:
            await ws.send_str(_auth(cred.api_key, cred.secret, time.time_ns() // 1_000_000 + 5000))
            assert (await _recv(ws))["success"] is True
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order", "execution.linear"], "req_id": "mix"}))
            mixed = await _recv(ws)
            assert (mixed["success"], mixed["op"], mixed["req_id"]) == (False, "subscribe", "mix") and mixed["ret_msg"]
            twin.refuse_subscribes = 1
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order.linear"], "req_id": "busy"}))
            busy = await _recv(ws)
            assert (busy["success"], busy["op"], busy["req_id"]) == (False, "subscribe", "busy") and busy["conn_id"]
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["order.linear"], "req_id": "again"}))
            assert (await _recv(ws))["success"] is True
