"""An independent, widely used client (ccxt's async binanceusdm) talks to the Binance twin unmodified."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from simulator.runner import start_twins

ccxt_async = pytest.importorskip("ccxt.async_support", reason="ccxt not installed (pip install ccxt)")

pytestmark = pytest.mark.anyio


def _point_at(exchange: Any, rest: str) -> None:
    for name in list(exchange.urls["api"]):
        if name.startswith("fapi"):
            version = name[len("fapiPublic"):] if name.startswith("fapiPublic") else name[len("fapiPrivate"):]
            exchange.urls["api"][name] = f"{rest}/fapi/{version.lower() or 'v1'}"


async def test_ccxt_binanceusdm_trades_against_the_twin() -> None:
    async with start_twins(["binance"], rate=20) as twins:
        rt = twins["binance"]
        ex = ccxt_async.binanceusdm({"apiKey": rt.twin.credentials.api_key, "secret": rt.twin.credentials.secret,
                                     "options": {"fetchCurrencies": False, "adjustForTimeDifference": False}})
        _point_at(ex, rt.rest)
        try:
            markets = await ex.load_markets()
            assert "BTC/USDT:USDT" in markets and markets["BTC/USDT:USDT"]["precision"]["price"] == 0.1
            ob = await ex.fetch_order_book("BTC/USDT:USDT", limit=50)
            assert len(ob["bids"]) == 50 and ob["bids"][0][0] < ob["asks"][0][0]
            bal = await ex.fetch_balance()
            assert bal["USDT"]["total"] == 100000.0
            bid = ob["bids"][0][0]
            order = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, round(bid - 500, 1), {"clientOrderId": "ccxt-1"})
            assert order["status"] == "open" and order["clientOrderId"] == "ccxt-1"
            fetched = await ex.fetch_order(order["id"], "BTC/USDT:USDT")
            assert fetched["id"] == order["id"] and fetched["amount"] == 0.01
            opened = await ex.fetch_open_orders("BTC/USDT:USDT")
            assert [o["id"] for o in opened] == [order["id"]]
            canceled = await ex.cancel_order(order["id"], "BTC/USDT:USDT")
            assert canceled["status"] == "canceled"
            filled = await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.005)
            assert filled["status"] == "closed" and filled["filled"] == 0.005
            positions = await ex.fetch_positions(["BTC/USDT:USDT"])
            assert positions[0]["contracts"] == 0.005 and positions[0]["side"] == "short"
        finally:
            await ex.close()


async def test_ccxt_pro_watch_order_book_syncs_with_the_twin() -> None:
    ccxt_pro = pytest.importorskip("ccxt.pro", reason="ccxt.pro not available")
    async with start_twins(["binance"], rate=20) as twins:
        rt = twins["binance"]
        ex = ccxt_pro.binanceusdm({"options": {"fetchCurrencies": False}})
        _point_at(ex, rt.rest)
        ex.urls["api"]["ws"]["linear"] = rt.ws["legacy"] + "/ws"
        try:
            await ex.load_markets()
            for _ in range(10):
                ob = await ex.watch_order_book("BTC/USDT:USDT")
            assert ob["bids"][0][0] < ob["asks"][0][0] and len(ob["bids"]) >= 50
            nonce = ob["nonce"]
            assert nonce <= rt.twin.depth["BTCUSDT"].mirror.update_id  # type: ignore[attr-defined]
        finally:
            await ex.close()


async def test_ccxt_switches_to_hedge_mode_and_trades_both_sides() -> None:
    async with start_twins(["binance"], rate=20) as twins:
        rt = twins["binance"]
        ex = ccxt_async.binanceusdm({"apiKey": rt.twin.credentials.api_key, "secret": rt.twin.credentials.secret,
                                     "options": {"fetchCurrencies": False, "adjustForTimeDifference": False}})
        _point_at(ex, rt.rest)
        try:
            await ex.load_markets()
            assert (await ex.fetch_position_mode("BTC/USDT:USDT"))["hedged"] is False
            await ex.set_position_mode(True)
            assert (await ex.fetch_position_mode("BTC/USDT:USDT"))["hedged"] is True
            long_ = await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01, None, {"positionSide": "LONG"})
            short = await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.004, None, {"positionSide": "SHORT"})
            assert long_["status"] == short["status"] == "closed"
            positions = await ex.fetch_positions(["BTC/USDT:USDT"])
            assert sorted((p["side"], p["contracts"]) for p in positions if p["contracts"]) == [
                ("long", 0.01), ("short", 0.004)]
        finally:
            await ex.close()


async def test_ccxt_pro_watch_trades_gets_raw_trades_on_the_public_route() -> None:
    ccxt_pro = pytest.importorskip("ccxt.pro", reason="ccxt.pro not available")
    async with start_twins(["binance"], rate=50) as twins:
        rt = twins["binance"]
        ex = ccxt_pro.binanceusdm({"options": {"fetchCurrencies": False}})
        _point_at(ex, rt.rest)
        ex.urls["api"]["ws"]["linear"] = rt.ws["legacy"] + "/ws"  # ccxt rewrites it to <host>/public/ws for @trade
        try:
            await ex.load_markets()
            with anyio.fail_after(20):  # on the wrong route the venue (and the twin) would stay silent
                trades = await ex.watch_trades("BTC/USDT:USDT")
            assert trades and all(t["symbol"] == "BTC/USDT:USDT" and t["price"] > 0 for t in trades)
        finally:
            await ex.close()
