"""Actor: a task that owns its state and reads its mailboxes.

Rules:
- Nothing but the actor touches its state; others hold an ActorRef (tell / ask / stop).
- ``run`` is started with ``await tg.start(actor.run)``: the parent learns the actor is ready (after
  ``on_start``) or gets its start-up error.
- One message at a time: the control inbox (tell/ask) first, then bus subscriptions in turn.
- A failing ``ask`` gives its error to the asker and the actor goes on; an error while handling a
  ``tell`` or a bus message ends the actor's task (the supervisor decides about a restart), except the
  ``refusals`` a subclass declares: those refuse one message (the actor has already reported it, e.g. on
  the bus), so a teller's message is dropped and the actor goes on.
- When an actor stops, every pending ask fails with ActorDead; ``on_stop`` always runs.
- Background work the actor needs (a socket reader, a timer) runs in the actor's own task group via
  ``self.start_soon``; it is cancelled when the actor stops and its failure fails the actor.
- A round trip never runs inside the mailbox loop. A handler that needs one returns ``self.pipe(work,
  then)``: ``work`` runs as a child task (bounded by an optional ``lane``), its outcome comes back to the
  actor as a message, and ``then`` (run by the actor, between two messages) turns it into the answer. So
  an actor serves many asks at once and its own state still changes only inside its loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import anyio
from anyio import CapacityLimiter
from anyio.abc import TaskGroup, TaskStatus

from actors.bus import Bus, Subscription
from actors.clock import Clock, LiveClock
from actors.errors import ActorDead, MailboxClosed
from actors.lifecycle import ActorInput, ActorState, next_actor_state
from actors.mailbox import ConflatingReceiver, FifoReceiver, Signal, fifo_mailbox
from actors.ref import ActorRef, Envelope
from messages import Message

__all__ = ["Actor", "Later"]

T = TypeVar("T")

_BATCH = 64  # messages taken from one subscription before looking at the next one
_STOP = object()  # the stop request travels through the inbox, behind what was already queued


class Later(Generic[T]):
    """A handler's answer that needs a round trip (see ``Actor.pipe``); the loop fills in the asker's reply."""

    __slots__ = ("then", "reply", "ok", "value")

    def __init__(self, then: Callable[[T], Any] | None) -> None:
        self.then = then
        self.reply: asyncio.Future[Any] | None = None
        self.ok = False
        self.value: Any = None


class Actor:
    """Base class. Subclasses override ``on_start``, ``on_stop`` and ``handle``."""

    refusals: tuple[type[Exception], ...] = ()
    """Errors that refuse one told message without failing the actor (an asker still gets them)."""

    def __init__(self, name: str, *, bus: Bus | None = None, clock: Clock | None = None, capacity: int = 1024) -> None:
        self.name = name
        self.bus = bus
        self.clock: Clock = clock or LiveClock()
        self._signal = Signal()
        self._inbox_tx, self._inbox_rx = fifo_mailbox(capacity, f"{name}.inbox", signal=self._signal)
        self._subs: list[Subscription] = []
        self._sub_rx: list[FifoReceiver[Any] | ConflatingReceiver] = []
        self._state = ActorState.NEW
        self._stop_requested = False
        self._done = anyio.Event()
        self._tg: TaskGroup | None = None
        self.ref = ActorRef(self)
        self.handled = 0
        self._outcomes: deque[Later[Any]] = deque()  # piped work that has finished, in completion order
        self._pending: set[Later[Any]] = set()  # piped work still running (its askers are failed on stop)

    # -- hooks ------------------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Runs before the actor is reported ready; an error here fails the start."""

    async def on_stop(self) -> None:
        """Runs once when the actor ends, whatever the reason (also after a failure)."""

    async def handle(self, msg: Any) -> Any:
        """Handle one message; the return value answers an ask."""
        return None

    # -- helpers for subclasses -------------------------------------------------------------------
    def subscribe(self, pattern: str, *, conflate: bool, capacity: int = 10_000) -> Subscription:
        """Subscribe this actor to bus topics (call before or in on_start)."""
        if self.bus is None:
            msg = f"actor {self.name!r} has no bus to subscribe to"
            raise RuntimeError(msg)
        name = f"{self.name}:{pattern}".replace(".", "_").replace(">", "all").replace("*", "any")
        if conflate:
            sub = self.bus.subscribe_conflating(pattern, name=name, signal=self._signal)
        else:
            sub = self.bus.subscribe_events(pattern, name=name, capacity=capacity, signal=self._signal)
        self._subs.append(sub)
        assert sub.receiver is not None
        self._sub_rx.append(sub.receiver)
        return sub

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str | None = None) -> None:
        """Run background work owned by this actor (cancelled when it stops)."""
        if self._tg is None:
            msg = f"actor {self.name!r} is not running"
            raise RuntimeError(msg)
        self._tg.start_soon(fn, *args, name=name or f"{self.name}:{getattr(fn, '__name__', 'task')}")

    def publish_every(self, interval_s: float, topic: str, make: Callable[[], Message]) -> None:
        """Publish ``make()`` on ``topic`` now and every ``interval_s`` while the actor runs, whenever anyone
        subscribes to it (nothing is built for nobody): the statistics the daemon's views read."""
        bus = self.bus
        assert bus is not None

        async def loop() -> None:
            while True:
                if bus.has_subscribers(topic):
                    bus.publish(topic, make())
                await self.clock.sleep(interval_s)

        self.start_soon(loop, name=f"{self.name}:{topic}")

    def pipe(
        self,
        work: Callable[[], Awaitable[T]],
        then: Callable[[T], Any] | None = None,
        *,
        lane: CapacityLimiter | None = None,
        name: str | None = None,
    ) -> Later[T]:
        """Run ``work`` as a child task and answer with ``then(result)`` once it is done (return this from
        ``handle``).

        ``work`` must not touch the actor's state: it does the round trip and returns what it learnt. Its
        outcome comes back through the actor's loop, ahead of new mail, where ``then`` may change state and
        gives the answer (no ``then``: the result itself). An error from ``work`` or ``then`` goes to the
        asker, as from ``handle``. ``lane`` bounds how many such tasks of one kind run at once.
        """
        later: Later[T] = Later(then)
        self._pending.add(later)

        async def run() -> None:
            try:
                if lane is None:
                    value: Any = await work()
                else:
                    async with lane:
                        value = await work()
                later.ok = True
            except Exception as exc:  # the asker gets it, through the loop
                value = exc
            later.value = value
            self._outcomes.append(later)
            self._signal.set()

        self.start_soon(run, name=name or f"{self.name}:pipe")
        return later

    @property
    def state(self) -> ActorState:
        return self._state

    @property
    def alive(self) -> bool:
        return self._state in (ActorState.STARTING, ActorState.RUNNING)

    def _move(self, event: ActorInput) -> None:
        self._state = next_actor_state(self._state, event)

    # -- the run loop -----------------------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[ActorRef] = anyio.TASK_STATUS_IGNORED) -> None:
        self._move(ActorInput.START)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self.on_start()
                self._move(ActorInput.STARTED)
                task_status.started(self.ref)
                await self._loop()
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            self._state = ActorState.STOPPED  # cancelled by its owner: a stop, not a failure
            raise
        except BaseExceptionGroup as group:
            self._state = ActorState.FAILED
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None  # our own task group's wrapper adds nothing
            raise
        except BaseException:
            self._state = ActorState.FAILED
            raise
        else:
            self._move(ActorInput.STOPPED)
        finally:
            self._tg = None
            await self._shutdown()

    async def _loop(self) -> None:
        inbox = self._inbox_rx
        signal = self._signal
        handle = self.handle
        subs = self._sub_rx
        outcomes = self._outcomes
        while not self._stop_requested:
            if outcomes:
                await self._settle_piped(outcomes.popleft())
                continue
            if inbox.has_items():
                env: Envelope = inbox.receive_nowait()
                reply = env.reply
                if env.msg is _STOP:
                    self._stop_requested = True
                    break
                if reply is None:
                    try:
                        await handle(env.msg)
                    except self.refusals:
                        pass  # reported by the actor itself; the teller has nobody to hear it
                else:
                    try:
                        result = await handle(env.msg)
                    except Exception as exc:  # the asker gets the error; the actor goes on
                        if not reply.done():
                            reply.set_exception(exc)
                    else:
                        if isinstance(result, Later):
                            result.reply = reply  # answered when its work comes back
                        elif not reply.done():
                            reply.set_result(result)
                self.handled += 1
                continue
            took = 0
            # Subscriptions in turn, a small batch from each; the control inbox keeps priority.
            for rx in subs:
                n = 0
                has = rx.has_items
                take = rx.receive_nowait
                while n < _BATCH and has():
                    await handle(take())
                    n += 1
                    if inbox.has_items():
                        break
                took += n
                if took and inbox.has_items():
                    break
            if took:
                self.handled += took
                continue
            await signal.wait()

    async def _settle_piped(self, later: Later[Any]) -> None:
        """Piped work came back: run its ``then`` inside the actor and answer the asker (if any)."""
        self._pending.discard(later)
        reply = later.reply
        try:
            if not later.ok:
                raise later.value
            result = later.value if later.then is None else later.then(later.value)
            if isinstance(result, Awaitable):
                result = await result
        except Exception as exc:
            if reply is None:
                if not isinstance(exc, self.refusals):
                    raise  # a told message failed: as in ``handle``, the actor fails
                return
            if not reply.done():
                reply.set_exception(exc)
            return
        finally:
            later.value = None  # no reference cycle through the traceback
        if reply is not None and not reply.done():
            reply.set_result(result)

    async def stop(self, timeout: float | None = None) -> None:
        """Stop after the messages already queued, and wait until the actor has ended.

        With ``timeout``, an actor still busy after that many seconds is cancelled.
        """
        if self._state is ActorState.NEW:
            self._state = ActorState.STOPPED
            await self._shutdown()
            return
        if self.alive and not self._stop_requested:
            self._move(ActorInput.STOP)
            try:
                if timeout is None:
                    await self._inbox_tx.send(Envelope(_STOP, None))
                else:
                    with anyio.move_on_after(timeout):
                        await self._inbox_tx.send(Envelope(_STOP, None))
            except MailboxClosed:
                pass
        if timeout is None:
            await self._done.wait()
            return
        with anyio.move_on_after(timeout):
            await self._done.wait()
        if not self._done.is_set() and self._tg is not None:
            self._tg.cancel_scope.cancel()
            await self._done.wait()

    async def _shutdown(self) -> None:
        if self._done.is_set():
            return
        self._inbox_tx.close()
        for env in self._inbox_rx.drain():
            if env.reply is not None and not env.reply.done():
                env.reply.set_exception(ActorDead(self.name, "stopped before handling the message"))
        self._inbox_rx.close()
        for later in [*self._pending, *self._outcomes]:
            if later.reply is not None and not later.reply.done():
                later.reply.set_exception(ActorDead(self.name, "stopped before its answer came back"))
        self._pending.clear()
        self._outcomes.clear()
        for sub in self._subs:
            sub.cancel()
        self._subs.clear()
        self._sub_rx.clear()
        try:
            with anyio.CancelScope(shield=True):
                await self.on_stop()
        finally:
            self._done.set()

    async def wait_stopped(self) -> None:
        await self._done.wait()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._state.value}>"


