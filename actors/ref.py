"""ActorRef: the only handle other code holds on an actor. Three verbs: tell, ask, stop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from actors.errors import ActorDead, AskTimeout, MailboxClosed

if TYPE_CHECKING:
    from actors.base import Actor

__all__ = ["ActorRef", "Envelope"]


class Envelope:
    """A message plus where to send the answer (``reply`` is None for tell)."""

    __slots__ = ("msg", "reply")

    def __init__(self, msg: Any, reply: asyncio.Future[Any] | None) -> None:
        self.msg = msg
        self.reply = reply


class ActorRef:
    __slots__ = ("_actor", "name")

    def __init__(self, actor: Actor) -> None:
        self._actor = actor
        self.name = actor.name

    @property
    def alive(self) -> bool:
        return self._actor.alive

    async def tell(self, msg: Any) -> None:
        """Queue ``msg`` (waits while the mailbox is full).

        Raises:
            ActorDead: the actor has stopped.
        """
        try:
            await self._actor._inbox_tx.send(Envelope(msg, None))
        except MailboxClosed:
            raise ActorDead(self.name) from None

    def tell_nowait(self, msg: Any) -> None:
        try:
            self._actor._inbox_tx.send_nowait(Envelope(msg, None))
        except MailboxClosed:
            raise ActorDead(self.name) from None

    async def ask(self, msg: Any, timeout: float = 5.0) -> Any:
        """Send ``msg`` and wait for the value ``handle`` returns (or the error it raised).

        Raises:
            ActorDead: the actor stopped before answering.
            AskTimeout: no answer within ``timeout`` seconds.
        """
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            await self._actor._inbox_tx.send(Envelope(msg, fut))
        except MailboxClosed:
            raise ActorDead(self.name) from None
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AskTimeout(self.name, timeout, type(msg).__name__) from None

    async def stop(self, timeout: float | None = None) -> None:
        """Ask the actor to stop after the message it is handling, and wait until it has stopped."""
        await self._actor.stop(timeout)

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r}, alive={self.alive})"
