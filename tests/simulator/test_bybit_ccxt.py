"""Independent client check: ccxt's async ``bybit`` class, unchanged, pointed at the twin."""

from __future__ import annotations

import pytest

from simulator.bybit import bybit_factory
from simulator.runner import start_twins

pytestmark = pytest.mark.anyio
ccxt = pytest.importorskip("ccxt.async_support", reason="ccxt is not installed (pip install ccxt)")


async def test_ccxt_bybit_loads_markets_trades_and_reads_the_account_on_the_twin() -> None:
    async with start_twins(["bybit"], rate=20, factories={"bybit": bybit_factory}) as twins:
        rt = twins["bybit"]
        ex = ccxt.bybit({"apiKey": rt.twin.credentials.api_key, "secret": rt.twin.credentials.secret})
        for name in list(ex.urls["api"]):
            ex.urls["api"][name] = rt.rest
        try:
            markets = await ex.load_markets()
            assert {"BTC/USDT:USDT", "ETH/USDT:USDT"} <= set(markets)
            btc = markets["BTC/USDT:USDT"]
            assert btc["linear"] is True and btc["precision"]["price"] == 0.1 and btc["precision"]["amount"] == 0.001
            book = await ex.fetch_order_book("BTC/USDT:USDT", 50)
            assert len(book["bids"]) == 50 and book["bids"][0][0] < book["asks"][0][0]
            balance = await ex.fetch_balance()
            assert balance["USDT"]["total"] == 100000.0
            order = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-1"})
            opened = await ex.fetch_open_orders("BTC/USDT:USDT")
            assert [o["id"] for o in opened] == [order["id"]] and opened[0]["clientOrderId"] == "ccxt-1"
            fetched = await ex.fetch_order(order["id"], "BTC/USDT:USDT", {"acknowledged": True})
            assert (fetched["status"], fetched["amount"], fetched["price"]) == ("open", 0.01, 50000.0)
            canceled = await ex.cancel_order(order["id"], "BTC/USDT:USDT")
            assert canceled["id"] == order["id"]
            assert await ex.fetch_open_orders("BTC/USDT:USDT") == []
            fetched = await ex.fetch_order(order["id"], "BTC/USDT:USDT", {"acknowledged": True})
            assert fetched["status"] == "canceled"
            await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.02)
            positions = await ex.fetch_positions(["BTC/USDT:USDT"])
            assert (positions[0]["contracts"], positions[0]["side"]) == (0.02, "short")
            assert len(await ex.fetch_positions()) == 1
            with pytest.raises(ccxt.InvalidOrder):
                await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-1"})
        finally:
            await ex.close()


async def test_ccxt_bybit_pages_with_cursors_and_trades_hedge_mode_on_the_twin() -> None:
    """ccxt's own cursor paging reads every page; its hedged orders name positionIdx 1 / 2 and close a side
    with the opposite order on that side (ccxt leaves reduceOnly out there)."""
    options = {"bybit": {"hedge": True, "page_size": 2}}
    async with start_twins(["bybit"], rate=20, factories={"bybit": bybit_factory}, options=options) as twins:
        rt = twins["bybit"]
        ex = ccxt.bybit({"apiKey": rt.twin.credentials.api_key, "secret": rt.twin.credentials.secret})
        for name in list(ex.urls["api"]):
            ex.urls["api"][name] = rt.rest
        try:
            await ex.load_markets()
            ids = [(await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.001, 50000 + i, {"hedged": True}))["id"]
                   for i in range(5)]
            opened = await ex.fetch_open_orders("BTC/USDT:USDT", params={"paginate": True})
            assert sorted(o["id"] for o in opened) == sorted(ids)  # three pages of 2, 2 and 1
            assert len(await ex.fetch_open_orders("BTC/USDT:USDT")) == 2  # one page without paginate
            await ex.cancel_all_orders("BTC/USDT:USDT")
            await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.02, None, {"hedged": True})
            await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.01, None, {"hedged": True})
            held = await ex.fetch_positions(["BTC/USDT:USDT"])
            assert sorted((p["side"], p["contracts"], p["hedged"]) for p in held) == [
                ("long", 0.02, True), ("short", 0.01, True)]
            await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.02, None, {"hedged": True, "reduceOnly": True})
            held = await ex.fetch_positions(["BTC/USDT:USDT"])
            assert sorted((p["side"], p["contracts"]) for p in held if p["contracts"]) == [("short", 0.01)]
        finally:
            await ex.close()
