"""A router process that is SIGKILLed at a chosen point (run by tests/actors/test_router.py as a subprocess).

Usage: ``python -m tests.actors.router_crash '<json>'`` with keys rest, ws, api_key, secret, journal,
price, quantity and kill ("after_journal": the intent is durable, nothing was sent; "after_send": the venue
answered, the answer is not journaled).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from decimal import Decimal
from typing import Any

import anyio

from actors.bus import Bus
from actors.exchanges.adapter import Endpoints
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from actors.journal import Journal
from actors.router import OrderRouter, RouterConfig
from messages import ClientOrderId, InstrumentId, OrderIntent, Side, Venue
from venues import Credentials
from venues.symbols import InstrumentRegistry


def _kill(cid: ClientOrderId) -> None:
    print(cid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def _run(args: dict[str, Any]) -> None:
    bus = Bus()
    adapter = BinanceAdapter(InstrumentRegistry(), Endpoints(rest=args["rest"], ws=args["ws"]), trades=False)
    actor = ExchangeActor(adapter, ExchangeConfig(instruments=["BTC-USDT-PERP"], depth_levels=0), bus=bus,
                          credentials=Credentials(args["api_key"], args["secret"]))
    journal = Journal(args["journal"])
    hooks = {args["kill"]: _kill}
    router = OrderRouter(journal, {Venue.BINANCE: actor.ref}, bus=bus, config=RouterConfig(initial_venue=Venue.BINANCE),
                         id_makers={Venue.BINANCE: adapter.make_client_order_id}, registries={Venue.BINANCE: adapter.registry},
                         **hooks)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(actor.run)
        rref = await tg.start(router.run)
        await rref.ask(OrderIntent(strategy="crash", instrument=InstrumentId("BTC-USDT-PERP"), side=Side.BUY,
                                   quantity=Decimal(args["quantity"]), price=Decimal(args["price"])))
        await anyio.sleep(30)  # the hook kills us long before this
        raise SystemExit("the kill hook never fired")


def main() -> None:
    anyio.run(_run, json.loads(sys.argv[1]))


if __name__ == "__main__":
    main()
