"""The supervisor: starts actors from specs, restarts the ones that fail, gives up when restarting does
not help, and stops everything in reverse start order (the daemon's command, ``python -m supervisor``, is
daemon/cli.py).

Rules:
- Restart policy per child: permanent (always restarted), transient (restarted only after an error),
  temporary (never restarted).
- Restart delay: exponential backoff with full jitter, ``uniform(0, min(cap, base * 2**attempt))``,
  with the injected ``random.Random``; ``attempt`` goes back to 0 once the child has run for
  ``reset_after_s`` without failing.
- Restart intensity: more than ``max_restarts`` restarts within ``window_s`` seconds and the supervisor
  gives up on that child (ActorGaveUp on the bus); its other children keep running. A child with no
  intensity (``intensity=None``: a venue connection) is never given up on: it is retried with the capped
  backoff for as long as the supervisor runs, and its handle says when the next try is.
- Every start, failure (exception type and message), restart, give-up and stop is published on the bus.
- Shutdown stops children in reverse start order, each within its ``shutdown_timeout_s`` (then cancelled).
- Time and randomness are injected (Clock, random.Random) so tests run on a ManualClock.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from actors.backoff import Backoff
from actors.base import Actor
from actors.bus import Bus
from actors.clock import Clock
from actors.ref import ActorRef, ProxyRef
from messages import (
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    ChildStatus,
    GetChildren,
    StopChild,
    Venue,
)

__all__ = [
    "RestartPolicy",
    "Backoff",
    "Intensity",
    "ChildSpec",
    "ChildHandle",
    "Supervisor",
    "Directory",
]



class RestartPolicy(enum.StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Intensity(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Give up after more than ``max_restarts`` restarts within ``window_s`` seconds."""

    max_restarts: int = 5
    window_s: float = 60.0


class ChildSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    factory: Callable[[], Actor]
    restart: RestartPolicy = RestartPolicy.PERMANENT
    backoff: Backoff = Backoff()
    intensity: Intensity | None = Intensity()  # None: never give up (retry with the capped backoff forever)
    shutdown_timeout_s: float = 5.0
    venue: Venue | None = None

SupervisorMessage = ChildSpec | StopChild | GetChildren
"""What a supervisor takes: a child to start, a child to stop, a question about its children."""



class ChildHandle:
    """The supervisor's record of one child; ``ref`` always points at the current incarnation."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.actor: Actor | None = None
        self.restarts: deque[float] = deque()
        self.attempt = 0
        self.total_restarts = 0
        self.gave_up = False
        self.finished = False
        self.stopping = False
        self.scope: anyio.CancelScope | None = None
        self.last_error = ""
        self.next_try_ns = 0  # when the next incarnation starts (0: none pending)
        self.done = anyio.Event()

    @property
    def ref(self) -> ActorRef | None:
        return self.actor.ref if self.actor is not None else None

    @property
    def running(self) -> bool:
        return self.actor is not None and self.actor.alive


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class Directory:
    """A supervisor's children by name, made before the supervisor: while a graph is built, its actors are
    handed refs (``ref``) to siblings that do not exist yet. The supervisor is the only one that writes it."""

    def __init__(self) -> None:
        self.children: dict[str, ChildHandle] = {}

    def ref(self, name: str) -> ProxyRef:
        """A ref to child ``name`` that follows it across restarts (the child need not exist yet)."""

        def resolve() -> ActorRef | None:
            h = self.children.get(name)
            return h.ref if h is not None else None

        return ProxyRef(name, resolve)


class Supervisor(Actor):
    """An actor whose job is other actors: it starts ``specs`` in order (more by ``ChildSpec`` messages)."""

    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        name: str,
        specs: list[ChildSpec],
        *,
        bus: Bus,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        directory: Directory | None = None,
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self._rng = rng or random.Random()
        self._specs = tuple(specs)
        self.directory = directory or Directory()
        self.children = self.directory.children
        self._order: list[str] = []


    async def on_start(self) -> None:
        for spec in self._specs:
            await self.start_child(spec)

    async def start_child(self, spec: ChildSpec) -> ChildHandle:
        """Start a child and wait for its first incarnation to be ready (or to fail at start-up)."""
        if spec.name in self.children and not self.children[spec.name].finished:
            msg = f"supervisor {self.name!r} already has a child named {spec.name!r}"
            raise ValueError(msg)
        handle = ChildHandle(spec)
        self.children[spec.name] = handle
        self._order.append(spec.name)
        assert self._tg is not None
        await self._tg.start(self._run_child, handle)
        return handle

    def child(self, name: str) -> ChildHandle:
        return self.children[name]

    def child_ref(self, name: str) -> ProxyRef:
        """A ref to child ``name`` that follows it across restarts (the child need not exist yet)."""
        return self.directory.ref(name)

    async def _run_child(self, h: ChildHandle, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        spec = h.spec
        clock = self.clock
        reported = False
        with anyio.CancelScope() as outer:
            h.scope = outer
            while True:
                started_at = clock.monotonic()
                failed: BaseException | None = None
                try:
                    actor = spec.factory()  # a factory that raises is a failed start, decided on like any other
                    h.actor = actor
                    async with anyio.create_task_group() as tg:
                        await tg.start(actor.run)
                        self.bus.publish_msg(ActorStarted(name=spec.name, ts=clock.time_ns(), venue=spec.venue))
                        if not reported:
                            reported = True
                            task_status.started()
                except Exception as exc:  # noqa: BLE001 - every failure is reported and decided on
                    failed = _leaf(exc)
                    h.last_error = f"{type(failed).__name__}: {failed}"
                    self.bus.publish_msg(
                        ActorFailed(
                            name=spec.name,
                            error_type=type(failed).__name__,
                            error=str(failed)[:500],
                            ts=clock.time_ns(),
                            venue=spec.venue,
                        )
                    )
                if not reported:
                    reported = True
                    task_status.started()
                if h.stopping:
                    break
                if spec.restart is RestartPolicy.TEMPORARY or (
                    spec.restart is RestartPolicy.TRANSIENT and failed is None
                ):
                    break
                now = clock.monotonic()
                if now - started_at >= spec.backoff.reset_after_s:
                    h.attempt = 0  # it ran stably: start the backoff over
                window = spec.intensity.window_s if spec.intensity is not None else 0.0
                h.restarts.append(now)
                while h.restarts and now - h.restarts[0] > window:
                    h.restarts.popleft()
                if spec.intensity is not None and len(h.restarts) > spec.intensity.max_restarts:
                    h.gave_up = True
                    self.bus.publish_msg(
                        ActorGaveUp(
                            name=spec.name,
                            restarts=len(h.restarts),
                            window_s=window,
                            ts=clock.time_ns(),
                            venue=spec.venue,
                        )
                    )
                    break
                delay = spec.backoff.delay(h.attempt, self._rng)
                h.attempt += 1
                h.total_restarts += 1
                self.bus.publish_msg(
                    ActorRestarted(name=spec.name, attempt=h.attempt, delay_s=delay, ts=clock.time_ns(), venue=spec.venue)
                )
                h.next_try_ns = clock.time_ns() + int(delay * 1e9)
                await clock.sleep(delay)
                h.next_try_ns = 0
        h.finished = True
        h.done.set()
        self.bus.publish_msg(ActorStopped(name=spec.name, ts=clock.time_ns(), venue=spec.venue))

    async def stop_child(self, name: str) -> None:
        """Stop one child (within its shutdown timeout, then cancel it) and wait for its runner to end."""
        h = self.children[name]
        h.stopping = True
        if h.actor is not None and h.actor.alive:
            await h.actor.stop(h.spec.shutdown_timeout_s)
        if h.scope is not None and not h.finished:
            h.scope.cancel()
        with anyio.move_on_after(h.spec.shutdown_timeout_s + 1.0):
            await h.done.wait()

    async def _loop(self) -> None:
        await super()._loop()
        await self._stop_children()  # before our task group (which holds the children) is cancelled

    async def _stop_children(self) -> None:
        """Reverse start order, each child within its own timeout, then cancelled."""
        for name in reversed(self._order):
            await self.stop_child(name)

    async def run(self, *, task_status: TaskStatus[ActorRef] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            for h in self.children.values():
                if h.scope is not None:
                    h.scope.cancel()

    async def handle(self, msg: SupervisorMessage) -> Any:
        match msg:
            case ChildSpec():
                await self.start_child(msg)
                return None
            case StopChild(name=name):
                await self.stop_child(name)
                return None
            case GetChildren():
                return [ChildStatus(name=n, running=h.running, restarts=h.total_restarts, gave_up=h.gave_up,
                                    last_error=h.last_error) for n, h in self.children.items()]
        return None  # type: ignore[unreachable]  # a message outside the union, told at run time: ignored
