"""Cross-venue results computed by the aggregator."""

from __future__ import annotations

import enum

import msgspec

from messages.base import Message, Venue

__all__ = ["Exclusion", "BestBidAsk", "ArbOpportunity", "ArbPhase", "ExclusionReason"]


class ExclusionReason(enum.StrEnum):
    STALE = "stale"
    BOOK_NOT_LIVE = "book_not_live"
    CIRCUIT_OPEN = "circuit_open"
    CROSSED = "crossed"
    LOCKED = "locked"
    VENUE_DOWN = "venue_down"


class Exclusion(msgspec.Struct, frozen=True, kw_only=True):
    venue: Venue
    reason: ExclusionReason
    detail: str = ""


class BestBidAsk(Message, frozen=True, kw_only=True):
    """Best bid and best ask for one instrument group across the included venues."""

    group: str
    bid_venue: Venue | None
    bid_px: float
    bid_sz: float
    ask_venue: Venue | None
    ask_px: float
    ask_sz: float
    included: tuple[Venue, ...]
    excluded: tuple[Exclusion, ...]
    ts_event: int
    ts_recv: int
    ts: int


class ArbPhase(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


class ArbOpportunity(Message, frozen=True, kw_only=True):
    """Buy at the lowest ask on ``buy_venue``, sell at the highest bid on ``sell_venue``.

    ``size_base`` is executable size in base units (contract sizes converted); spreads are given gross
    and net of both venues' taker fees, in basis points and in quote currency for ``size_base``.
    """

    group: str
    phase: ArbPhase
    buy_venue: Venue
    buy_px: float
    sell_venue: Venue
    sell_px: float
    size_base: float
    gross_bps: float
    net_bps: float
    gross_quote: float
    net_quote: float
    opened_ts: int
    duration_ns: int
    ts: int
