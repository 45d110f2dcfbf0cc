"""A test strategy loaded by the daemon from its config: once prices are known, it rests a few buy orders
far below the market through the router, so a shutdown has working orders to settle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors import topics
from actors.strategies.base import Strategy
from messages import BestBidAsk, InstrumentId, OrderIntent, OrderType, Side


class RestingOrdersSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instrument: str = "BTC-USDT-PERP"
    count: int = 3
    quantity: str = "0.001"
    discount: float = 0.05


class RestingOrders(Strategy[RestingOrdersSettings]):
    subscriptions = ((topics.best(topics.ALL), True),)

    def __init__(self, name: str, settings: RestingOrdersSettings, **kw: Any) -> None:
        super().__init__(name, settings, **kw)
        self.placed = False

    async def handle(self, msg: Any) -> Any:
        match msg:
            case BestBidAsk(bid_px=bid) if not self.placed and bid > 0:
                self.placed = True
                s = self.settings
                price = Decimal(str(round(bid * (1 - s.discount), 0)))
                for n in range(s.count):
                    await self.submit(OrderIntent(strategy=self.name, instrument=InstrumentId(s.instrument),
                                                  side=Side.BUY, quantity=Decimal(s.quantity),
                                                  order_type=OrderType.LIMIT, price=price - n))
                return None
        return await super().handle(msg)
