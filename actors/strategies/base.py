"""Strategy actor base.

Rules:
- A strategy declares the bus topics it wants (``subscriptions`` class attribute or the constructor) and
  gets its messages one at a time through ``handle``, which subclasses write as a ``match`` on the class.
- Orders go out only as OrderIntents to the router ``ActorRef`` given at construction (``submit``); a
  strategy never sees an exchange actor. Order updates come back on the bus (``orders.update.>``, and
  refusals on ``orders.rejected``), on event subscriptions: they are never conflated.
- Settings are a msgspec Struct; ``reload`` swaps them (SIGHUP sends ``Reload(settings)``), after
  checking the type, and calls ``on_reload`` so a subclass can react.
- A crash is an ordinary actor failure: the supervisor that owns the strategy decides about a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from actors import topics
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from actors.ref import ActorRef
from messages import GetSettings, OrderIntent

__all__ = ["Strategy", "Reload", "TopicWish"]


S = TypeVar("S", bound=msgspec.Struct)

TopicWish = tuple[str, bool]
"""A bus pattern and whether to conflate it (True for state such as quotes, False for events)."""


class Reload(msgspec.Struct, frozen=True):
    """Control command: replace the strategy's settings."""

    settings: msgspec.Struct

StrategyControl = Reload | GetSettings
"""What every strategy takes besides its own market and order messages."""



class Strategy(Actor, Generic[S]):
    """Base of every strategy. Subclasses override ``handle`` and call ``super().handle`` for the rest."""

    subscriptions: ClassVar[tuple[TopicWish, ...]] = ()

    def __init__(
        self,
        name: str,
        settings: S,
        *,
        router: ActorRef,
        bus: Bus,
        clock: Clock | None = None,
        subscriptions: Sequence[TopicWish] | None = None,
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self.settings: S = settings
        self.router = router
        self._wishes = tuple(subscriptions) if subscriptions is not None else type(self).subscriptions
        self.submitted = 0

    async def on_start(self) -> None:
        for pattern, conflate in self._wishes:
            self.subscribe(pattern, conflate=conflate)
        self.subscribe(topics.order_update("*"), conflate=False)
        self.subscribe(topics.order_rejected(), conflate=False)  # the router's and the venues' refusals

    async def submit(self, intent: OrderIntent) -> None:
        """Send ``intent`` to the router, stamped with this strategy's name and the clock.

        Raises:
            ActorDead: the router has stopped (the strategy fails and its supervisor decides).
        """
        if intent.strategy != self.name or intent.ts == 0:
            intent = msgspec.structs.replace(intent, strategy=self.name, ts=intent.ts or self.clock.time_ns())
        self.submitted += 1
        await self.router.tell(intent)

    def reload(self, settings: S) -> None:
        """Replace the settings (a SIGHUP reload).

        Raises:
            TypeError: ``settings`` is not of the same Struct type as the current settings.
        """
        if type(settings) is not type(self.settings):
            msg = (
                f"strategy {self.name!r} expects settings of type {type(self.settings).__name__}, "
                f"got {type(settings).__name__}"
            )
            raise TypeError(msg)
        old, self.settings = self.settings, settings
        self.on_reload(old, settings)

    def on_reload(self, old: S, new: S) -> None:
        """Hook: the settings changed from ``old`` to ``new``."""

    async def handle(self, msg: Any) -> Any:  # StrategyControl; a subclass names its own messages
        match msg:
            case Reload(settings=settings):
                self.reload(settings)  # type: ignore[arg-type]
                return None
            case GetSettings():
                return self.settings
        return None
