"""Publish/subscribe over NATS-style topics, fanning out by a synchronous put into mailboxes.

Rules:
- ``publish`` never blocks and never awaits: each subscriber's mailbox ``deliver`` is a plain call
  (conflating mailboxes keep the newest value per topic; event mailboxes drop-and-notify when full).
- The subscriber list per concrete topic is cached; subscribe/unsubscribe clears the cache.
- A subscriber whose mailbox was closed is removed on the next publish that reaches it.
- No I/O here. The NATS bridge is just another subscriber/publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from actors import topics
from actors.errors import MailboxClosed
from actors.mailbox import (
    ConflatingReceiver,
    FifoReceiver,
    Signal,
    conflating_mailbox,
    fifo_mailbox,
)
from messages import Message

__all__ = ["Bus", "Subscription", "Deliverable"]


class Deliverable(Protocol):
    def deliver(self, topic: str, item: Any) -> None: ...


class Subscription:
    """One pattern feeding one mailbox. ``receiver`` is set when the bus created the mailbox."""

    __slots__ = ("pattern", "tokens", "name", "target", "receiver", "_bus")

    def __init__(
        self,
        bus: Bus,
        pattern: str,
        name: str,
        target: Deliverable,
        receiver: FifoReceiver[Any] | ConflatingReceiver | None,
    ) -> None:
        self._bus = bus
        self.pattern = pattern
        self.tokens = topics.validate_pattern(pattern)
        self.name = name
        self.target = target
        self.receiver = receiver

    def cancel(self) -> None:
        self._bus.unsubscribe(self)

    def __repr__(self) -> str:
        return f"Subscription({self.pattern!r} -> {self.name!r})"


class Bus:
    """In-process topic bus."""

    def __init__(self, *, cache_size: int = 100_000) -> None:
        self._subs: list[Subscription] = []
        self._cache: dict[str, tuple[Callable[[str, Any], None], ...]] = {}
        self._cache_size = cache_size
        self.published = 0
        self.delivered = 0

    # -- subscribing ------------------------------------------------------------------------------
    def subscribe(self, pattern: str, target: Deliverable, *, name: str = "") -> Subscription:
        """Deliver every message published on a topic matching ``pattern`` to ``target``."""
        return self._add(Subscription(self, pattern, name or pattern, target, None))

    def subscribe_conflating(
        self, pattern: str, *, name: str = "", max_keys: int = 65_536, signal: Signal | None = None
    ) -> Subscription:
        """A new conflating mailbox (newest value per topic) subscribed to ``pattern``."""
        tx, rx = conflating_mailbox(name or pattern, max_keys=max_keys, signal=signal)
        return self._add(Subscription(self, pattern, name or pattern, tx, rx))

    def subscribe_events(
        self, pattern: str, *, name: str = "", capacity: int = 10_000, signal: Signal | None = None
    ) -> Subscription:
        """A new bounded event mailbox subscribed to ``pattern``: when full, messages are dropped and the
        receiver gets a MailboxOverflow notice with the count."""
        tx, rx = fifo_mailbox(capacity, name or pattern, overflow="notify", signal=signal)
        return self._add(Subscription(self, pattern, name or pattern, tx, rx))

    def _add(self, sub: Subscription) -> Subscription:
        self._subs.append(sub)
        self._cache.clear()  # the cached target lists may now miss this subscriber
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._cache.clear()
        close = getattr(sub.target, "close", None)
        if sub.receiver is not None and close is not None:
            close()
        if sub.receiver is not None:
            sub.receiver.close()

    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    # -- publishing -------------------------------------------------------------------------------
    def _targets(self, topic: str) -> tuple[Callable[[str, Any], None], ...]:
        targets = tuple(s.target.deliver for s in self._subs if topics.matches(s.tokens, topic))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[topic] = targets
        return targets

    def has_subscribers(self, topic: str) -> bool:
        """Whether a publish on ``topic`` would reach anyone (cached like publish): lets a publisher skip
        building a message nobody reads."""
        targets = self._cache.get(topic)
        if targets is None:
            targets = self._targets(topic)
        return bool(targets)

    def publish(self, topic: str, msg: Message) -> int:
        """Deliver ``msg`` to every subscriber of ``topic``; returns how many received it."""
        targets = self._cache.get(topic)
        if targets is None:
            targets = self._targets(topic)
        self.published += 1
        n = 0
        for deliver in targets:
            try:
                deliver(topic, msg)
                n += 1
            except MailboxClosed:
                self._drop_closed()
        self.delivered += n
        return n

    def publish_msg(self, msg: Message) -> int:
        """Publish on the message's own topic (topics.topic_for)."""
        return self.publish(topics.topic_for(msg), msg)

    def _drop_closed(self) -> None:
        keep = []
        for s in self._subs:
            st = s.target.statistics() if hasattr(s.target, "statistics") else None
            if st is not None and (st.receiver_closed or st.sender_closed):
                continue
            keep.append(s)
        self._subs = keep
        self._cache.clear()

    def close(self) -> None:
        """Unsubscribe everything, closing the mailboxes the bus created."""
        for sub in list(self._subs):
            self.unsubscribe(sub)
