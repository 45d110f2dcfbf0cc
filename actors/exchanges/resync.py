"""ResyncWorker: the slow work a venue session asks for (a control frame, a REST fetch such as a book
snapshot or a listenKey keep-alive, a connection to replace), one item at a time.

Rules:
- Work items are the session's effects (``Send``, ``Fetch``, ``Reconnect``); a keyed item already queued
  under the same key is not queued twice, so a burst of gaps costs one snapshot (or resubscribe) per book.
- One task serves the queue, so resyncs across a venue are serial and paced by its REST budget: no
  snapshot storm after a mass reconnect.
- A fetch's answer goes back to the session (``response`` / ``failed``) and what the session asks next is
  executed by the owner; after a failure the worker waits a full-jitter backoff first, growing with the
  failures of that key in a row, so a session that asks again after a failure (a snapshot retry) is paced.
- ``forget()`` (a stream dropped) clears the dedupe keys: the reconnect resubscribes every book anyway. An
  item carries the owner's ``tag`` (the connection it was meant for); the owner skips one whose connection
  is gone, so a frame queued for the old connection never goes out on the new one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from actors.backoff import Backoff
from actors.clock import Clock
from actors.mailbox import fifo_mailbox
from actors.pacing import Pacing
from venues.errors import InstrumentError, RemoteError
from venues.session import Fetch, Reconnect, Send

__all__ = ["ResyncWorker", "WorkItem"]

log = logging.getLogger("crossbook.exchange")

WorkItem = Send | Fetch | Reconnect


class ResyncWorker:
    """Args:
        perform: Does one item (the exchange actor's executor); raises a venue error when it fails.
        failed: Told of a failed item (after the backoff), e.g. to hand the error to the session.
    """

    def __init__(self, name: str, perform: Callable[[WorkItem, int], Awaitable[None]],
                 failed: Callable[[WorkItem, Exception], None], *, clock: Clock, rng: random.Random,
                 backoff: Backoff) -> None:
        self.name = name
        self._perform = perform
        self._failed = failed
        self._pacing = Pacing(clock, rng, backoff)
        self._tx, self._rx = fifo_mailbox(65_536, f"{name}.resync")
        self._pending: set[str] = set()
        self._failures: dict[str, int] = {}  # fetch key -> failures in a row (the backoff grows with them)
        self.resyncs = 0  # book resyncs queued (snapshots, resubscribes)
        self.failures = 0

    def want(self, item: WorkItem, tag: int = 0) -> None:
        """Queue ``item`` (never blocks); a keyed item already pending under its key is not queued again."""
        if isinstance(item, Fetch | Send) and item.key:
            if item.key in self._pending:
                return
            self._pending.add(item.key)
            if item.resync:
                self.resyncs += 1
        self._tx.send_nowait((item, tag))

    def forget(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        self._tx.close()
        self._rx.close()

    async def run(self) -> None:
        while True:
            item, tag = await self._rx.receive()
            key = item.key if isinstance(item, Fetch | Send) else ""
            self._pending.discard(key)
            try:
                await self._perform(item, tag)
            except (RemoteError, InstrumentError) as exc:  # venue errors, undecodable answers
                self.failures += 1
                n = self._failures[key] = self._failures.get(key, 0) + 1
                log.warning("%s: %s failed (%d in a row): %s", self.name, _describe(item), n, exc)
                await self._pacing.sleep(n)
                self._failed(item, exc)
            else:
                self._failures.pop(key, None)


def _describe(item: WorkItem) -> str:
    if isinstance(item, Fetch):
        return f"fetch {item.key}"
    return f"{'send on' if isinstance(item, Send) else 'reconnect'} {item.stream}"
