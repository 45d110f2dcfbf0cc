"""Per-venue matching engine: orders against the model's books, one account, private events.

Invariants:
- Orders are keyed by venue order id (int, increasing) and by client order id; a client id may not be
  reused while an order carrying it is open (``DUPLICATE_CLIENT_ID``).
- Every state change appends events to the outbox in the order a venue would report them: NEW before any
  TRADE of the same order, an ``AccountEvent`` after each fill. ``drain_events()`` empties it.
- Taker fills consume book liquidity (``VenueBook.take``) and print public trades; resting limit orders fill
  at their own price (maker) when the book crosses them (``on_market``).
- Rejections raise ``OrderRejected`` with a venue-neutral reason; the twin maps it to the venue's error.
- Pure: no I/O, no clock (``now_ms`` is passed in).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from simulator.account import Account, PositionSide
from simulator.book import BookChanges, Fill, Side, VenueBook
from simulator.instruments import InstrumentSpec

__all__ = [
    "OrderType", "TimeInForce", "OrderStatus", "ExecType", "RejectReason", "Order", "OrderRequest",
    "OrderEvent", "AccountEvent", "EngineEvent", "OrderRejected", "UnknownOrder", "MatchingEngine",
]

_ZERO = Decimal(0)


class OrderType(enum.StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"  # Binance GTX, Bybit PostOnly, OKX post_only, Deribit post_only


class OrderStatus(enum.StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecType(enum.StrEnum):
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class RejectReason(enum.StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"
    POSITION_SIDE_MISMATCH = "position_side_mismatch"  # BOTH in hedge mode, LONG/SHORT in one-way mode
    INSUFFICIENT_MARGIN = "insufficient_margin"
    BAD_QTY = "bad_qty"
    BAD_PRICE = "bad_price"


class OrderRejected(Exception):
    """The engine refused an order; ``reason`` says why, ``detail`` has the values involved."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"order rejected ({reason}): {detail}")


class UnknownOrder(Exception):
    """No order matches the given id(s)."""

    def __init__(self, symbol: str, order_id: int | None, client_id: str | None) -> None:
        self.symbol, self.order_id, self.client_id = symbol, order_id, client_id
        super().__init__(f"no order {symbol} order_id={order_id} client_id={client_id!r}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as the twin parsed it from the venue's request."""

    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    client_id: str
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH


@dataclass(slots=True)
class Order:
    """An order's current state. ``avg_price`` is 0 until the first fill."""

    order_id: int
    client_id: str
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: Decimal | None
    qty: Decimal
    reduce_only: bool
    created_ms: int
    updated_ms: int
    status: OrderStatus = OrderStatus.NEW
    filled: Decimal = _ZERO
    cum_quote: Decimal = _ZERO  # sum(fill qty x price x contract size): quote value traded
    fees: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    position_side: PositionSide = PositionSide.BOTH

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.filled if self.filled else _ZERO


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One order update; ``order`` is a snapshot taken when the event happened."""

    exec_type: ExecType
    order: Order
    ts_ms: int
    last_qty: Decimal = _ZERO
    last_price: Decimal = _ZERO
    fee: Decimal = _ZERO
    fee_asset: str = ""
    trade_id: int = 0
    is_maker: bool = False
    realized_pnl: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """Balances and the position touched by a fill (snapshot values)."""

    ts_ms: int
    asset: str
    wallet_balance: Decimal
    balance_change: Decimal
    symbol: str
    position_qty: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    position_side: PositionSide = PositionSide.BOTH


EngineEvent = OrderEvent | AccountEvent


class MatchingEngine:
    """Orders, fills and one account for one venue.

    Args:
        specs: Instruments by symbol.
        books: The model's live books by symbol (the engine takes liquidity from them).
        account: The account to trade.
        maker_fee: Fee rate of maker fills (fraction of notional).
        taker_fee: Fee rate of taker fills.
        first_order_id: Id of the first order (venues use large numbers).
        keep_orders: Orders held at most before the oldest *final* ones are forgotten (open orders never
            are), as venues stop answering for old closed orders; each forgotten order goes to the
            ``on_forget`` hooks, so a twin can drop what it keeps per order. Bounds a long run's memory.
    """

    def __init__(
        self,
        specs: Mapping[str, InstrumentSpec],
        books: Mapping[str, VenueBook],
        account: Account,
        *,
        maker_fee: Decimal = Decimal("0.0002"),
        taker_fee: Decimal = Decimal("0.0005"),
        first_order_id: int = 4_000_000_000,
        keep_orders: int = 20_000,
    ) -> None:
        self.specs = dict(specs)
        self.books = books
        self.account = account
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self._next_id = first_order_id
        self._next_trade_id = 1
        self.orders: dict[int, Order] = {}  # insertion order = age: the oldest are forgotten first
        self.keep_orders = keep_orders
        self.forgotten = 0
        self.on_forget: list[Callable[[Order], object]] = []  # hooks; what they return is ignored
        self._by_client: dict[tuple[str, str], int] = {}
        self._outbox: list[EngineEvent] = []

    # -- queries --------------------------------------------------------------------------------------------
    def get(self, symbol: str, order_id: int | None = None, client_id: str | None = None) -> Order:
        """Find an order by venue id or client id.

        Raises:
            UnknownOrder: nothing matches (or the ids disagree, or belong to another symbol).
        """
        oid = order_id if order_id is not None else self._by_client.get((symbol, client_id or ""))
        order = self.orders.get(oid) if oid is not None else None
        if order is None or order.symbol != symbol or (client_id is not None and order.client_id != client_id):
            raise UnknownOrder(symbol, order_id, client_id)
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, oldest first."""
        return [o for o in self.orders.values() if o.status.is_open and (symbol is None or o.symbol == symbol)]

    def drain_events(self) -> list[EngineEvent]:
        """Events since the last drain, in order."""
        out, self._outbox = self._outbox, []
        return out

    def marks(self) -> dict[str, Decimal]:
        """Mid price per symbol (the twins' mark price)."""
        return {s: b.mid() for s, b in self.books.items()}

    # -- commands -------------------------------------------------------------------------------------------
    def place(self, req: OrderRequest, now_ms: int) -> Order:
        """Accept, fill and/or rest a new order.

        Raises:
            OrderRejected: see ``RejectReason``; nothing changed and no event was emitted.
        """
        spec = self.specs.get(req.symbol)
        book = self.books.get(req.symbol)
        if spec is None or book is None:
            raise OrderRejected(RejectReason.UNKNOWN_SYMBOL, req.symbol)
        self._validate(spec, book, req)
        order = Order(
            self._next_id, req.client_id, req.symbol, req.side, req.type, req.tif, req.price, req.qty,
            req.reduce_only, now_ms, now_ms, position_side=req.position_side,
        )
        self._next_id += 1
        if len(self.orders) >= self.keep_orders:
            self._forget_old()
        self.orders[order.order_id] = order
        self._by_client[(req.symbol, req.client_id)] = order.order_id
        self._emit(ExecType.NEW, order, now_ms)
        limit = req.price if req.type is OrderType.LIMIT else None
        fills = book.take(req.side, order.remaining, limit)
        for f in fills:
            self._fill(spec, order, f, maker=False, now_ms=now_ms)
        if order.remaining > 0 and (req.type is OrderType.MARKET or req.tif is TimeInForce.IOC):
            order.status = OrderStatus.EXPIRED
            order.updated_ms = now_ms
            self._emit(ExecType.EXPIRED, order, now_ms)
        return order

    def _forget_old(self) -> None:
        """Forget the oldest final orders down to 90 % of ``keep_orders`` (amortised: one pass per 10 %)."""
        excess = len(self.orders) - self.keep_orders * 9 // 10
        gone = []
        for o in self.orders.values():
            if excess <= 0:
                break
            if not o.status.is_open:
                gone.append(o)
                excess -= 1
        for o in gone:
            del self.orders[o.order_id]
            key = (o.symbol, o.client_id)
            if self._by_client.get(key) == o.order_id:
                del self._by_client[key]
            for hook in self.on_forget:
                hook(o)
        self.forgotten += len(gone)

    def _validate(self, spec: InstrumentSpec, book: VenueBook, req: OrderRequest) -> None:
        key = (req.symbol, req.client_id)
        if key in self._by_client and self.orders[self._by_client[key]].status.is_open:
            raise OrderRejected(RejectReason.DUPLICATE_CLIENT_ID, req.client_id)
        if req.qty <= 0 or req.qty % spec.lot != 0 or req.qty < spec.min_order_qty:
            raise OrderRejected(RejectReason.BAD_QTY, f"qty {req.qty} with lot {spec.lot}, min {spec.min_order_qty}")
        if req.type is OrderType.LIMIT and (req.price is None or req.price <= 0 or req.price % spec.tick != 0):
            raise OrderRejected(RejectReason.BAD_PRICE, f"price {req.price} with tick {spec.tick}")
        would = book.take(req.side, req.qty, req.price if req.type is OrderType.LIMIT else None, dry_run=True)
        if req.tif is TimeInForce.POST_ONLY and would:
            raise OrderRejected(RejectReason.POST_ONLY_WOULD_TAKE, f"{req.side} {req.price} crosses the book")
        if req.tif is TimeInForce.FOK and sum((f.qty for f in would), _ZERO) < req.qty:
            raise OrderRejected(RejectReason.FOK_NOT_FILLABLE, f"only {sum((f.qty for f in would), _ZERO)} of {req.qty} available")
        hedged = req.position_side is not PositionSide.BOTH
        if hedged != self.account.hedge:
            mode = "hedge" if self.account.hedge else "one-way"
            raise OrderRejected(RejectReason.POSITION_SIDE_MISMATCH, f"position side {req.position_side} in {mode} mode")
        pos = self.account.position(req.symbol, req.position_side).qty
        # In hedge mode an order against its side's direction closes that side (SELL on LONG, BUY on SHORT).
        closes = hedged and (req.side is Side.SELL) == (req.position_side is PositionSide.LONG)
        if req.reduce_only or closes:
            reduces = (pos > 0 and req.side is Side.SELL) or (pos < 0 and req.side is Side.BUY)
            if not reduces or req.qty > abs(pos):
                raise OrderRejected(RejectReason.REDUCE_ONLY_REJECTED,
                                    f"{req.position_side} position {pos}, order {req.side} {req.qty}")
            return
        ref_price = req.price if req.price is not None else (would[-1].price if would else book.mid())
        asset = spec.settle_asset
        marks = self.marks()
        used = self.account.margin_used(self.specs, marks, asset) + sum(
            (self.specs[o.symbol].notional(o.remaining, o.price or marks[o.symbol]) / self.account.leverage
             for o in self.open_orders() if self.specs[o.symbol].settle_asset == asset), _ZERO)
        need = spec.notional(req.qty, ref_price) / self.account.leverage
        free = self.account.balances.get(asset, _ZERO) - used
        if need > free:
            raise OrderRejected(RejectReason.INSUFFICIENT_MARGIN, f"need {need} {asset}, free {free}")

    def cancel(self, symbol: str, now_ms: int, order_id: int | None = None, client_id: str | None = None) -> Order:
        """Cancel an open order.

        Raises:
            UnknownOrder: no such order, or it is no longer open.
        """
        order = self.get(symbol, order_id, client_id)
        if not order.status.is_open:
            raise UnknownOrder(symbol, order_id, client_id)
        order.status = OrderStatus.CANCELED
        order.updated_ms = now_ms
        self._emit(ExecType.CANCELED, order, now_ms)
        return order

    def cancel_all(self, symbol: str, now_ms: int) -> list[Order]:
        """Cancel every open order of ``symbol``; returns them."""
        return [self.cancel(symbol, now_ms, o.order_id) for o in self.open_orders(symbol)]

    def on_market(self, symbol: str, now_ms: int) -> None:
        """Fill resting limit orders the book now crosses (call after every market step), at their price."""
        spec, book = self.specs[symbol], self.books[symbol]
        for order in self.open_orders(symbol):
            if order.type is not OrderType.LIMIT or order.price is None:
                continue
            fills = book.take(order.side, order.remaining, order.price)
            qty = sum((f.qty for f in fills), _ZERO)
            if qty > 0:
                self._fill(spec, order, Fill(order.price, qty), maker=True, now_ms=now_ms)

    def match(self, symbol: str, changes: BookChanges, now_ms: int) -> BookChanges:
        """One market step of ``symbol``: fill the resting orders it crosses (``on_market``).

        Returns:
            ``changes`` plus the book changes those fills made: what the venue publishes for the step.
        """
        self.on_market(symbol, now_ms)
        extra = self.books[symbol].drain_changes()
        return changes.merged(extra) if extra else changes

    # -- internals ------------------------------------------------------------------------------------------
    def _emit(self, exec_type: ExecType, order: Order, now_ms: int, **kw: object) -> None:
        self._outbox.append(OrderEvent(exec_type, replace(order), now_ms, **kw))  # type: ignore[arg-type]

    def _fill(self, spec: InstrumentSpec, order: Order, fill: Fill, *, maker: bool, now_ms: int) -> None:
        rate = self.maker_fee if maker else self.taker_fee
        fee = spec.notional(fill.qty, fill.price) * rate
        signed = fill.qty if order.side is Side.BUY else -fill.qty
        before = self.account.balances.get(spec.settle_asset, _ZERO)
        change = self.account.apply_fill(spec, signed, fill.price, fee, now_ms, order.position_side)
        order.filled += fill.qty
        order.cum_quote += fill.qty * fill.price
        order.fees += fee
        order.realized_pnl += change.realized_pnl
        order.status = OrderStatus.FILLED if order.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        order.updated_ms = now_ms
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        self._emit(
            ExecType.TRADE, order, now_ms, last_qty=fill.qty, last_price=fill.price, fee=fee,
            fee_asset=spec.settle_asset, trade_id=trade_id, is_maker=maker, realized_pnl=change.realized_pnl,
        )
        pos = self.account.position(spec.symbol, order.position_side)
        wallet = self.account.balances[spec.settle_asset]
        mark = self.books[spec.symbol].mid()
        self._outbox.append(AccountEvent(
            now_ms, spec.settle_asset, wallet, wallet - before, spec.symbol, pos.qty, pos.entry_price,
            pos.realized_pnl, pos.unrealized(spec, mark), pos.side,
        ))
