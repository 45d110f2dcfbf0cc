"""What a venue session asks its I/O shell to do (venues/session.py describes the protocol): effects, and
``Out``, everything a session's methods return."""

from __future__ import annotations

import msgspec

from messages import Message
from venues.events import CodecEvent
from venues.http import RequestSpec

__all__ = ["Effect", "Send", "Fetch", "SetTimer", "Reconnect", "Out"]


class Effect(msgspec.Struct, frozen=True, kw_only=True):
    """Base of what a session asks its I/O shell to do."""


class Send(Effect, frozen=True):
    """A control frame. With a ``key``, a Send already queued under that key is not queued again (a book's
    resubscribe); ``resync`` counts it as a book resync."""

    stream: str
    frame: bytes
    key: str = ""
    resync: bool = False


class Fetch(Effect, frozen=True):
    """A REST request; ``key`` names it in ``response`` / ``failed`` and dedupes it while queued; ``resync``
    counts it as a book resync (a snapshot); ``urgent``: done at once, beside the queue (the dead-man's
    switch must never wait behind a mass resync)."""

    key: str
    spec: RequestSpec
    resync: bool = False
    urgent: bool = False


class SetTimer(Effect, frozen=True):
    key: str
    after_s: float


class Reconnect(Effect, frozen=True):
    stream: str
    reason: str


Out = Message | CodecEvent | Effect
