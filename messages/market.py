"""Market data. Prices and sizes are floats (speed); timestamps are int nanoseconds.

``ts_event`` is the venue's event time, ``ts_recv`` our local receive time (``time.time_ns()`` in the
transport), so latency can be measured end to end. Sizes are in the venue's quantity unit
(contracts where the venue quotes contracts); Instrument.contract_size converts them.
"""

from __future__ import annotations

from messages.base import InstrumentId, Message, Side, Venue

__all__ = ["Quote", "Trade", "BookSnapshot", "BookDelta", "Kline", "Level"]

Level = tuple[float, float]
"""One book level: (price, size). A size of 0.0 in a delta deletes the level."""


class Quote(Message, frozen=True, kw_only=True):
    """Best bid and ask of one venue's book for one instrument."""

    venue: Venue
    instrument: InstrumentId
    bid_px: float
    bid_sz: float
    ask_px: float
    ask_sz: float
    ts_event: int
    ts_recv: int


class Trade(Message, frozen=True, kw_only=True):
    """A public trade; ``side`` is the aggressor's side."""

    venue: Venue
    instrument: InstrumentId
    price: float
    size: float
    side: Side
    trade_id: str
    ts_event: int
    ts_recv: int


class BookSnapshot(Message, frozen=True, kw_only=True):
    """The top N levels of a book: bids best (highest) first, asks best (lowest) first."""

    venue: Venue
    instrument: InstrumentId
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    sequence: int
    ts_event: int
    ts_recv: int


class BookDelta(Message, frozen=True, kw_only=True):
    """Level changes applied to a book in sequence: absolute sizes, 0.0 deletes."""

    venue: Venue
    instrument: InstrumentId
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    sequence: int
    prev_sequence: int
    ts_event: int
    ts_recv: int


class Kline(Message, frozen=True, kw_only=True):
    """One candle. ``closed`` is true once the interval has ended and the values are final."""

    venue: Venue
    instrument: InstrumentId
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool
    ts_event: int
    ts_recv: int
