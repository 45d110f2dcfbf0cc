"""Runtime errors of the actor system, under the shared tree in venues/errors.py.

    LocalError
    ├── MailboxClosed     the other end closed, or we closed ours; ``reason`` says which
    ├── MailboxFull       a non-blocking send found a bounded FIFO full
    ├── MailboxEmpty      a non-blocking receive found nothing
    ├── ActorDead         the actor stopped before (or while) handling the message
    └── AskTimeout        no answer within the timeout
"""

from __future__ import annotations

from venues.errors import LocalError

__all__ = ["MailboxClosed", "MailboxFull", "MailboxEmpty", "ActorDead", "AskTimeout"]


class _Named(LocalError):
    """An error about one mailbox or actor: ``name`` names it."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        super().__init__(text)


class MailboxClosed(_Named):
    """``reason`` is one of "closed" (this end was closed), "peer_ended" (the sender closed: no more
    messages will come) or "peer_gone" (the receiver closed: nobody will read)."""

    def __init__(self, name: str, reason: str) -> None:
        self.reason = reason
        super().__init__(name, f"mailbox {name!r} is closed ({reason})")


class MailboxFull(_Named):
    def __init__(self, name: str, capacity: int) -> None:
        self.capacity = capacity
        super().__init__(name, f"mailbox {name!r} is full ({capacity} messages)")


class MailboxEmpty(_Named):
    def __init__(self, name: str) -> None:
        super().__init__(name, f"mailbox {name!r} is empty")


class ActorDead(_Named):
    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(name, f"actor {name!r} is dead" + (f": {detail}" if detail else ""))


class AskTimeout(_Named):
    def __init__(self, name: str, timeout: float, message_type: str) -> None:
        self.timeout = timeout
        self.message_type = message_type
        super().__init__(name, f"actor {name!r} did not answer {message_type} within {timeout} s")
