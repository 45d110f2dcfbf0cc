"""IntentPublisher: the router's stand-in in a strategies-only process.

Strategies call ``router.tell(intent)``; here the ``router`` is this actor's ref, and each OrderIntent is
published on the local bus topic ``orders.intent``, which a NatsBridge carries over JetStream to the process
that runs the OrderRouter (the single writer of the journal). Nothing else is accepted.
"""

from __future__ import annotations

import logging
from typing import Any

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from messages import OrderIntent

__all__ = ["IntentPublisher"]

IntentPublisherMessage = OrderIntent
"""What the intent publisher takes: intents for the router in another process."""

log = logging.getLogger("crossbook.intents")


class IntentPublisher(Actor):
    refusals = (TypeError,)  # a wrong message is refused (an asker gets the error), never fatal

    bus: Bus  # always given (the base class's is optional)

    def __init__(self, *, bus: Bus, clock: Clock | None = None, name: str = "intents") -> None:
        super().__init__(name, bus=bus, clock=clock)
        self.published = 0

    async def handle(self, msg: IntentPublisherMessage) -> Any:
        if isinstance(msg, OrderIntent):
            self.bus.publish(topics.order_intent(), msg)
            self.published += 1
            return None
        text = f"{self.name}: only OrderIntents go to the remote router, got {type(msg).__name__}"  # type: ignore[unreachable]
        log.warning(text)
        raise TypeError(text)
