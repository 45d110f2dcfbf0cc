"""A test strategy the daemon loads from its config: it rests one buy order far below the market on every
configured venue (explicit venue), so a killed daemon leaves working orders everywhere for the venues' own
dead-man's switches to cancel. An intent refused (e.g. while a venue's switch is not armed yet) is sent
again on that venue's next quote."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors import topics
from actors.strategies.base import Strategy
from messages import InstrumentId, OrderIntent, OrderRejected, OrderType, OrderUpdate, Quote, Side, Venue


class RestingEverywhereSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instruments: dict[str, str]  # venue -> instrument id
    quantities: dict[str, str]  # venue -> quantity in the venue's unit (contracts, USD, base)
    discount: float = 0.2


class RestingEverywhere(Strategy[RestingEverywhereSettings]):
    subscriptions = ((topics.quote("*"), True),)

    def __init__(self, name: str, settings: RestingEverywhereSettings, **kw: Any) -> None:
        super().__init__(name, settings, **kw)
        self.asked: set[Venue] = set()  # an intent is on its way or resting there

    async def handle(self, msg: Any) -> Any:
        match msg:
            case Quote(venue=venue, instrument=inst, bid_px=bid) if bid > 0 and venue not in self.asked:
                s = self.settings
                if s.instruments.get(venue.value) != inst:
                    return None
                self.asked.add(venue)
                price = Decimal(str(round(bid * (1 - s.discount), 0)))
                await self.submit(OrderIntent(strategy=self.name, instrument=InstrumentId(inst), venue=venue,
                                              side=Side.BUY, quantity=Decimal(s.quantities[venue.value]), order_type=OrderType.LIMIT,
                                              price=price))
                return None
            case OrderRejected(venue=venue):
                self.asked.discard(venue)  # try again on its next quote
                return None
            case OrderUpdate():
                return None
        return await super().handle(msg)
