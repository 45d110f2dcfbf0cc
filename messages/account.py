"""Account state: balances and positions, in Decimal (they feed risk, not the hot path)."""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from messages.base import InstrumentId, Message, Side, Venue

__all__ = ["Balance", "Position", "AccountView", "Exposure", "GetAccount", "VenueAccount", "PositionMode",
           "AccountConfig", "SwitchState", "DeadMansSwitch"]


class Balance(Message, frozen=True, kw_only=True):
    """One settle asset's money at a venue, with one meaning per field on every venue:

    - ``total``: the wallet balance, without unrealised PnL (Binance ``walletBalance``, Bybit
      ``walletBalance``, OKX ``cashBal``, Deribit ``balance``);
    - ``available``: what the venue says can open new positions (Binance ``availableBalance``, Bybit
      ``totalAvailableBalance`` for a unified account, OKX ``availEq`` / ``availBal``, Deribit
      ``available_funds``);
    - ``unrealized_pnl``: apart, where the venue reports it (0 otherwise).
    """

    venue: Venue
    asset: str
    total: Decimal
    available: Decimal
    ts_event: int
    ts_recv: int
    unrealized_pnl: Decimal = Decimal(0)


class PositionMode(enum.StrEnum):
    """How a venue account holds positions: one net position per instrument, or a long and a short side
    (Binance hedge mode ``dualSidePosition``, Bybit ``positionIdx`` 1/2, OKX ``long_short_mode``)."""

    ONE_WAY = "one_way"
    HEDGE = "hedge"


class AccountConfig(Message, frozen=True, kw_only=True):
    """A venue account's settings that change how orders must be sent, as read at start and whenever the
    venue says they changed (published on ``account.config.<venue>``)."""

    venue: Venue
    position_mode: PositionMode
    ts: int
    detail: str = ""


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


class SwitchState(enum.StrEnum):
    """Where a venue's dead-man's switch stands (see ``DeadMansSwitch``)."""

    ARMING = "arming"  # configured; the venue has not confirmed it yet (orders are refused)
    ARMED = "armed"  # the venue confirmed it and it is refreshed in time: it cancels our orders if we die
    FAILING = "failing"  # a refresh or a confirmation failed for a transient reason; still trying
    REFUSED = "refused"  # the venue refused it (not enabled for the account, bad window, no permission)


class DeadMansSwitch(Message, frozen=True, kw_only=True):
    """A venue's dead-man's switch changed state (published on ``venue.switch.<venue>``).

    Armed, the venue itself cancels our resting orders within ``window_s`` of the daemon dying or losing
    its connection. Orders are only sent to a venue whose configured switch is ARMED.
    """

    venue: Venue
    state: SwitchState
    window_s: float
    detail: str
    ts: int
