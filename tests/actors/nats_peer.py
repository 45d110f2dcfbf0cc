"""A second OS process with its own bus and NatsBridge (run by tests/actors/test_nats_bridge.py and
bench/nats.py as a subprocess).

Usage: ``python -m tests.actors.nats_peer '<json>'`` with keys url, node, quotes (how many Quotes to
publish, ts_recv = time.time_ns() at publish), orders (how many OrderUpdates), interval_s (between quotes).
It prints ``ready`` when connected, publishes, waits until the orders are acknowledged by JetStream, prints
the bridge status as JSON and exits.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import anyio
import msgspec

from actors import topics
from actors.bus import Bus
from actors.nats_bridge import NatsBridge, NatsBridgeConfig
from messages import (
    ClientOrderId,
    InstrumentId,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Quote,
    Side,
    Venue,
)


def order_update(n: int) -> OrderUpdate:
    return OrderUpdate(
        venue=Venue.BINANCE, instrument=InstrumentId("BTC-USDT-PERP"), client_order_id=ClientOrderId(f"cb-{n}"),
        venue_order_id=None, status=OrderStatus.SUBMITTED, raw_status="NEW", side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=Decimal("0.010"), filled_qty=Decimal("0"), avg_price=None,
        price=Decimal("96500.1"), ts_event=n, ts_recv=n,
    )


def quote(n: int) -> Quote:
    t = time.time_ns()
    return Quote(venue=Venue.OKX, instrument=InstrumentId("BTC-USDT-PERP"), bid_px=96500.0 + n, bid_sz=1.0,
                 ask_px=96500.5 + n, ask_sz=2.0, ts_event=n, ts_recv=t)


async def main(args: dict[str, object]) -> None:
    bus = Bus()
    cfg = NatsBridgeConfig(servers=[str(args["url"])], node=str(args["node"]),
                           publish=[topics.quote(">"), topics.order_update("*")])
    bridge = NatsBridge(cfg, bus=bus, name=str(args["node"]))
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        print("ready", flush=True)
        for n in range(int(str(args["orders"]))):
            bus.publish_msg(order_update(n))
        interval = float(str(args.get("interval_s", 0.0)))
        for n in range(int(str(args["quotes"]))):
            bus.publish_msg(quote(n))
            await anyio.sleep(interval)
        with anyio.fail_after(20):
            while bridge.status().pending_orders or bridge.status().published_core < 1:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        await anyio.sleep(0.2)  # let the last core publishes reach the server
        print(msgspec.json.encode(bridge.status()).decode(), flush=True)
        await bridge.ref.stop()
    bus.close()


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]))
