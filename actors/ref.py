"""ActorRef: the only handle other code holds on an actor. Three verbs: tell, ask, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from actors.errors import ActorDead, AskTimeout, MailboxClosed
from actors.mailbox import FifoSender

__all__ = ["ActorRef", "Envelope", "ProxyRef", "Addressee"]


class Addressee(Protocol):
    """What a ref needs of its actor (actors/base.py's Actor): its name, whether it runs, its inbox, stop."""

    name: str
    _inbox_tx: FifoSender[Any]

    @property
    def alive(self) -> bool: ...

    async def stop(self, timeout: float | None = None) -> None: ...


class Envelope:
    """A message plus where to send the answer (``reply`` is None for tell)."""

    __slots__ = ("msg", "reply")

    def __init__(self, msg: Any, reply: asyncio.Future[Any] | None) -> None:
        self.msg = msg
        self.reply = reply


class ActorRef:
    __slots__ = ("_actor", "name")

    def __init__(self, actor: Addressee) -> None:
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


class ProxyRef:
    """A handle that always reaches the current incarnation of a supervised actor.

    The supervisor restarts a failed child as a new Actor object; holders of a ProxyRef (the router's
    venue refs, for instance) keep working across restarts. Between incarnations every verb raises
    ActorDead, like a dead actor's own ref.
    """

    __slots__ = ("name", "_resolve")

    def __init__(self, name: str, resolve: Callable[[], ActorRef | None]) -> None:
        self.name = name
        self._resolve = resolve

    def _current(self) -> ActorRef:
        ref = self._resolve()
        if ref is None or not ref.alive:
            raise ActorDead(self.name, "not running (between restarts or given up)")
        return ref

    @property
    def alive(self) -> bool:
        ref = self._resolve()
        return ref is not None and ref.alive

    async def tell(self, msg: Any) -> None:
        await self._current().tell(msg)

    def tell_nowait(self, msg: Any) -> None:
        self._current().tell_nowait(msg)

    async def ask(self, msg: Any, timeout: float = 5.0) -> Any:
        return await self._current().ask(msg, timeout)

    async def stop(self, timeout: float | None = None) -> None:
        ref = self._resolve()
        if ref is not None:
            await ref.stop(timeout)

    def __repr__(self) -> str:
        return f"ProxyRef({self.name!r}, alive={self.alive})"
