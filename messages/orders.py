"""Order commands and events. Prices and quantities are Decimal, rounded to tick and lot by venue code.

Commands are imperative (PlaceOrder, CancelOrder, QueryOrder); events past tense (OrderUpdate carries the
unified status, OrderRejected the venue's code and text). OrderIntent is what a strategy sends to the
router: the venue is optional (the router then picks the active venue) and so is the client order id
(the router assigns one in the venue's allowed format).
"""

from __future__ import annotations

from decimal import Decimal

from messages.base import (
    ClientOrderId,
    InstrumentId,
    Message,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)

__all__ = [
    "OrderIntent",
    "PlaceOrder",
    "CancelOrder",
    "QueryOrder",
    "OrderUpdate",
    "OrderRejected",
    "Fill",
    "OrdersAtRisk",
]


class OrderIntent(Message, frozen=True, kw_only=True):
    """A strategy's wish to trade; the router turns it into a PlaceOrder on a venue."""

    strategy: str
    instrument: InstrumentId
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    venue: Venue | None = None
    client_order_id: ClientOrderId | None = None
    ts: int = 0


class PlaceOrder(Message, frozen=True, kw_only=True):
    """A concrete order for one venue. ``quantity`` is in the venue's unit (contracts where it uses them)."""

    venue: Venue
    instrument: InstrumentId
    client_order_id: ClientOrderId
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False


class CancelOrder(Message, frozen=True, kw_only=True):
    """Cancel by client order id or by venue order id (at least one must be set)."""

    venue: Venue
    instrument: InstrumentId
    client_order_id: ClientOrderId | None = None
    venue_order_id: VenueOrderId | None = None


class QueryOrder(Message, frozen=True, kw_only=True):
    """Ask the venue for an order's state, by client order id or venue order id."""

    venue: Venue
    instrument: InstrumentId
    client_order_id: ClientOrderId | None = None
    venue_order_id: VenueOrderId | None = None


class OrderUpdate(Message, frozen=True, kw_only=True):
    """The venue's view of an order: unified status plus the raw status it sent."""

    venue: Venue
    instrument: InstrumentId
    client_order_id: ClientOrderId | None
    venue_order_id: VenueOrderId | None
    status: OrderStatus
    raw_status: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    price: Decimal | None
    ts_event: int
    ts_recv: int
    last_fill_qty: Decimal | None = None
    last_fill_px: Decimal | None = None
    reduce_only: bool = False


class OrderRejected(Message, frozen=True, kw_only=True):
    """The venue (or the router) refused an order; ``code`` keeps the venue's own error code."""

    venue: Venue | None
    instrument: InstrumentId
    client_order_id: ClientOrderId | None
    code: str
    text: str
    ts: int


class Fill(Message, frozen=True, kw_only=True):
    """One execution of one of our orders."""

    venue: Venue
    instrument: InstrumentId
    client_order_id: ClientOrderId | None
    venue_order_id: VenueOrderId
    trade_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: str  # "maker" or "taker"
    ts_event: int
    ts_recv: int


class ReconcileNeeded(Message, frozen=True, kw_only=True):
    """A venue's private stream may have missed order updates (it reconnected, or a frame on it could not be
    read): the order router, owner of order state, asks the venue about every order it tracks there."""

    venue: Venue
    reason: str
    ts: int


class OrdersAtRisk(Message, frozen=True, kw_only=True):
    """Orders left working (or of unknown outcome) on a venue that failed over; the router reconciles them
    with that venue when it answers again."""

    venue: Venue
    client_order_ids: tuple[ClientOrderId, ...]
    ts: int
