"""Commands an exchange actor answers (through ``ActorRef.ask``), besides the order commands.

They are bus-union members so that they can cross processes (NATS) like everything else.
"""

from __future__ import annotations

from messages.base import HealthStatus, InstrumentId, Message, Venue

__all__ = ["GetBalances", "GetPositions", "GetOpenOrders", "HealthCheck", "HealthReport", "SubscribeMarketData"]


class GetBalances(Message, frozen=True, kw_only=True):
    venue: Venue


class GetPositions(Message, frozen=True, kw_only=True):
    venue: Venue


class GetOpenOrders(Message, frozen=True, kw_only=True):
    venue: Venue
    instrument: InstrumentId | None = None


class HealthCheck(Message, frozen=True, kw_only=True):
    venue: Venue


class HealthReport(Message, frozen=True, kw_only=True):
    """Answer to HealthCheck: ``status`` is ok / degraded / down; latency of a cheap REST call."""

    venue: Venue
    status: HealthStatus
    latency_ms: float
    connected_streams: int
    books_live: int
    books_total: int
    clock_offset_ms: float
    detail: str = ""
    ts: int = 0


class SubscribeMarketData(Message, frozen=True, kw_only=True):
    """Ask an exchange actor for more market data on one instrument.

    The instrument's book is always subscribed (Quotes come from it, so ``books`` and ``quotes`` are always
    served). Trades and kline intervals are the actor's configured channels (``[venues.<name>]`` trades /
    klines, one stream set for every instrument): asking for one that is not configured is refused with a
    ConfigError naming it, and nothing is subscribed.
    """

    venue: Venue
    instrument: InstrumentId
    books: bool = True
    trades: bool = False
    quotes: bool = False
    klines: tuple[str, ...] = ()
