"""Account state: balances and positions, in Decimal (they feed risk, not the hot path)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from messages.base import InstrumentId, Message, Side, Venue

__all__ = ["Balance", "Position", "AccountView", "Exposure", "GetAccount", "VenueAccount"]


class Balance(Message, frozen=True, kw_only=True):
    venue: Venue
    asset: str
    total: Decimal
    available: Decimal
    ts_event: int
    ts_recv: int


class Position(Message, frozen=True, kw_only=True):
    """A position in the venue's quantity unit; ``size`` is unsigned and ``side`` gives the direction."""

    venue: Venue
    instrument: InstrumentId
    side: Side
    size: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    ts_event: int
    ts_recv: int
    leverage: Decimal | None = None
    liquidation_price: Decimal | None = None


class Exposure(msgspec.Struct, frozen=True, kw_only=True):
    """Net exposure to one underlying across venues."""

    underlying: str
    base_qty: Decimal
    quote_value: Decimal
    venues: tuple[Venue, ...]


class AccountView(Message, frozen=True, kw_only=True):
    """Balances and positions gathered from every venue; ``stale`` names venues that did not answer."""

    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]
    exposures: tuple[Exposure, ...]
    stale: tuple[Venue, ...]
    ts: int


class GetAccount(Message, frozen=True, kw_only=True):
    """Command: answer with this venue's VenueAccount (``venue`` set) or the consolidated AccountView (None)."""

    venue: Venue | None = None


class VenueAccount(Message, frozen=True, kw_only=True):
    """One venue's balances and positions, as its exchange actor answers GetAccount."""

    venue: Venue
    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]
    ts: int
