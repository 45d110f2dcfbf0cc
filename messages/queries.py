"""The control plane's questions: what one actor asks another through ``ask``, each with its typed answer.

| question | asked of | answer |
|---|---|---|
| ``GetActiveVenue(scope)`` | the health monitor | ``Venue | None`` (the active venue of that scope) |
| ``StopChild(name)`` | a supervisor | ``None``, once the child has stopped |
| ``GetChildren()`` | a supervisor | ``list[ChildStatus]``, in start order |
| ``Refresh()`` | the account book, the aggregator (their own timers tell it) | ``None``, once the periodic work is done now: the account read again, best prices recomputed |
| ``GetSettings()`` | a strategy | its settings Struct |
| ``GetStats()`` | a strategy | ``ArbStats`` (cross_arb), ``SpreadStats`` (spread_monitor) |
| ``GetArbPositions()`` | the cross-venue arbitrage strategy | ``list[ArbPosition]`` |
"""

from __future__ import annotations

from decimal import Decimal

from messages.base import InstrumentId, Message, Venue

__all__ = [
    "GetActiveVenue",
    "StopChild",
    "GetChildren",
    "ChildStatus",
    "Refresh",
    "GetSettings",
    "GetStats",
    "ArbStats",
    "GroupStats",
    "SpreadStats",
    "GetArbPositions",
    "ArbPosition",
]


class GetActiveVenue(Message, frozen=True, kw_only=True):
    """The venue the health monitor has chosen for ``scope`` ("all", or an instrument group)."""

    scope: str = "all"


class StopChild(Message, frozen=True, kw_only=True):
    name: str


class GetChildren(Message, frozen=True, kw_only=True):
    """Every child of a supervisor, as ``ChildStatus``."""


class ChildStatus(Message, frozen=True, kw_only=True):
    name: str
    running: bool
    restarts: int
    gave_up: bool
    last_error: str


class Refresh(Message, frozen=True, kw_only=True):
    """Do the periodic work now (the account book reads every venue again; the aggregator recomputes)."""


class GetSettings(Message, frozen=True, kw_only=True):
    """A strategy's settings as they are now (after any reload)."""


class GetStats(Message, frozen=True, kw_only=True):
    """A strategy's statistics (its own typed answer)."""


class ArbStats(Message, frozen=True, kw_only=True):
    """The cross-venue arbitrage strategy's counts: attempts, completed (both legs filled), unwinds (a leg
    failed and the other was closed), unhedged (an unwind that could not close), in flight now."""

    attempts: int
    completed: int
    unwinds: int
    unhedged: int
    in_flight: int


class GroupStats(Message, frozen=True, kw_only=True):
    """One instrument group's spread episodes: opened, updated, closed, their durations, the widest net."""

    opened: int
    closed: int
    updated: int
    mean_duration_s: float
    max_duration_s: float
    max_net_bps: float


class SpreadStats(Message, frozen=True, kw_only=True):
    groups: dict[str, GroupStats]


class GetArbPositions(Message, frozen=True, kw_only=True):
    """The arbitrage strategy's own positions per venue and instrument (venue units, signed)."""


class ArbPosition(Message, frozen=True, kw_only=True):
    venue: Venue
    instrument: InstrumentId
    quantity: Decimal
