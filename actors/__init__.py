"""The runtime: actors, mailboxes, the bus, clocks. The only package (besides supervisor and simulator)
that does I/O."""

from actors.base import Actor
from actors.bus import Bus, Subscription
from actors.clock import Clock, LiveClock, ManualClock
from actors.errors import ActorDead, AskTimeout, MailboxClosed, MailboxEmpty, MailboxFull
from actors.mailbox import (
    ConflatingReceiver,
    ConflatingSender,
    FifoReceiver,
    FifoSender,
    MailboxStatistics,
    Signal,
    conflating_mailbox,
    fifo_mailbox,
)
from actors.ref import ActorRef

__all__ = [
    "Actor",
    "ActorRef",
    "Bus",
    "Subscription",
    "Clock",
    "LiveClock",
    "ManualClock",
    "ActorDead",
    "AskTimeout",
    "MailboxClosed",
    "MailboxEmpty",
    "MailboxFull",
    "ConflatingReceiver",
    "ConflatingSender",
    "FifoReceiver",
    "FifoSender",
    "MailboxStatistics",
    "Signal",
    "conflating_mailbox",
    "fifo_mailbox",
]
