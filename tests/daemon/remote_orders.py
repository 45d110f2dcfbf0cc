"""A test strategy for a strategies-only daemon (orders over NATS): on the first best price it rests
``count`` buy orders far below the market; each time a SIGHUP reload changes ``batch`` it rests another
``count`` on the next best price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors import topics
from actors.strategies.base import Strategy
from messages import BestBidAsk, InstrumentId, OrderIntent, OrderType, Side


class RemoteOrdersSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instrument: str = "BTC-USDT-PERP"
    count: int = 3
    quantity: str = "0.002"
    discount: float = 0.05
    batch: int = 1


class RemoteOrders(Strategy[RemoteOrdersSettings]):
    subscriptions = ((topics.best(topics.ALL), True),)

    def __init__(self, name: str, settings: RemoteOrdersSettings, **kw: Any) -> None:
        super().__init__(name, settings, **kw)
        self.placed = False

    def on_reload(self, old: RemoteOrdersSettings, new: RemoteOrdersSettings) -> None:
        if new.batch != old.batch:
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
