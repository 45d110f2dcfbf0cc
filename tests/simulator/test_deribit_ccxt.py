"""Independent client check: ccxt's async ``deribit`` class, unchanged, pointed at the twin."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.deribit import DeribitTwin, deribit_twin
from simulator.runner import start_twins

pytestmark = pytest.mark.anyio
ccxt_async: Any = pytest.importorskip("ccxt.async_support", reason="ccxt not installed (pip install ccxt)")


async def test_ccxt_deribit_loads_markets_reads_books_balances_positions_and_trades_against_the_twin() -> None:
    async with start_twins(["deribit"], rate=0, factories={"deribit": deribit_twin}) as twins:
        twins.step(30)
        twin = twins["deribit"].twin
        assert isinstance(twin, DeribitTwin)
        ex = ccxt_async.deribit({"apiKey": twin.credentials.api_key, "secret": twin.credentials.secret})
        ex.urls["api"] = {"rest": twins["deribit"].rest}
        try:
            markets = await ex.load_markets()
            btc = markets["BTC/USD:BTC"]
            assert (btc["id"], btc["inverse"], btc["contractSize"], btc["precision"]["price"]) == ("BTC-PERPETUAL", True, 10.0, 0.5)
            assert markets["BTC/USDC:USDC"]["linear"] is True
            book = await ex.fetch_order_book("BTC/USD:BTC", 50)
            mirror = twin.depth["BTC-PERPETUAL"].mirror
            assert book["nonce"] == mirror.update_id and len(book["bids"]) == 50
            assert book["bids"][0] == [float(mirror.bids(1)[0][0]), float(mirror.bids(1)[0][1])]
            balance = await ex.fetch_balance()
            assert balance["BTC"]["total"] == 10.0 and balance["USDC"]["free"] == 1_000_000.0
            price = book["bids"][10][0]
            order = await ex.create_order("BTC/USD:BTC", "limit", "buy", 20, price, {"label": "ccxt-1"})
            assert (order["status"], order["amount"], order["price"], order["side"]) == ("open", 20.0, price, "buy")
            fetched = await ex.fetch_order(order["id"], "BTC/USD:BTC")
            assert fetched["status"] == "open" and fetched["info"]["label"] == "ccxt-1"
            assert [o["id"] for o in await ex.fetch_open_orders("BTC/USD:BTC")] == [order["id"]]
            assert [o["id"] for o in await ex.fetch_open_orders()] == [order["id"]]
            cancelled = await ex.cancel_order(order["id"], "BTC/USD:BTC")
            assert cancelled["status"] == "canceled" and await ex.fetch_open_orders("BTC/USD:BTC") == []
            market = await ex.create_order("BTC/USDC:USDC", "market", "sell", 0.01)
            assert market["status"] == "closed" and market["filled"] == 0.01
            positions = await ex.fetch_positions()
            assert [(p["symbol"], p["contracts"], p["side"]) for p in positions] == [("BTC/USDC:USDC", -0.01, "short")]
            with pytest.raises(ccxt_async.InvalidOrder):  # 11044 not_open_order
                await ex.cancel_order(order["id"], "BTC/USD:BTC")
            with pytest.raises(ccxt_async.OrderNotFound):  # 10004 order_not_found
                await ex.fetch_order("999", "BTC/USD:BTC")
        finally:
            await ex.close()


async def test_ccxt_sees_authentication_errors_for_a_wrong_secret() -> None:
    async with start_twins(["deribit"], rate=0, factories={"deribit": deribit_twin}) as twins:
        twin = twins["deribit"].twin
        ex = ccxt_async.deribit({"apiKey": twin.credentials.api_key, "secret": "not-the-secret"})
        ex.urls["api"] = {"rest": twins["deribit"].rest}
        try:
            await ex.load_markets()
            with pytest.raises(ccxt_async.AuthenticationError):
                await ex.fetch_balance()
        finally:
            await ex.close()
