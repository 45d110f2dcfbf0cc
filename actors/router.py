"""OrderRouter: OrderIntent -> client order id -> journal -> exchange actor, tracked to a terminal state.

The order-safety rules, in the order they apply:

1. Journal first. An intent is written to the SQLite journal, fsynced, before its PlaceOrder is handed to
   an exchange actor. ``ask(intent)`` answers with the client order id once the intent is durable; the
   venue's answer arrives later on the bus (OrderUpdate on ``orders.update.<venue>``, OrderRejected on
   ``orders.rejected``). Refusals the router makes itself (no active venue, venue down, bad size...) are
   published on ``orders.rejected`` too and raised to an asker as ``IntentRejected``.
2. One id per intent, never reused for another intent: ``make_client_order_id("<prefix>-<journal id>-<seq>-
   <strategy>")`` in the venue's format, from the journal's own sequence (deterministic, survives restarts).
3. An unknown outcome (timeout, lost connection, 5xx, ``OutcomeUnknown``, a dead exchange actor) is never
   answered by sending again. The router asks the venue about that client id (QueryOrder), and keeps asking
   while the venue cannot answer.
4. Re-send rule. The same PlaceOrder (same venue, same client id) may go out again only when all hold:
   the venue answered "unknown order" to a query made at least ``resend_grace_s`` after the previous send
   attempt ended; fewer than ``max_sends`` sends were made; the venue has not failed over; and the intent
   was made by this router process (an intent replayed from the journal after a restart is never re-sent:
   the market has moved, so it is reported not placed and the strategy decides again).
   ``resend_grace_s`` must exceed the venue's receive window for signed requests plus the clock offset
   (Binance recvWindow is 5 s, so 6 s by default): a delayed original can then no longer be accepted when
   the copy leaves, and venues refuse a client id that is already open.
   When a query says "unknown order" and a re-send is not allowed, the intent ends ``not_placed``.
5. Failover. New intents without a venue go to the active venue (``control.failover`` events, or the
   configured initial venue). Orders already on the failed venue stay there (re-routing them could double
   the position): they are published as ``OrdersAtRisk`` and reconciled (GetOpenOrders, then QueryOrder per
   tracked id) until the venue answers, and again when it becomes active or healthy.
6. Start. The journal's non-terminal intents are replayed and reconciled with their venues the same way.

7. One owner, one path. The router is the only owner of order state (the journal is its memory; its moves
   follow the journal's table, ``next_journal_state``). Exchange actors hold no per-order state: they
   publish everything a venue says about an order on ``orders.update.<venue>`` (REST answers and private-
   stream pushes alike), and the router takes order state from there only, so each outcome reaches it
   once; the answer to its own ask tells it only whether the venue answered (sent, refused, unknown,
   unknown order). Reconciliation lives here too: after a failover, a restart, a venue's
   ``ReconcileNeeded`` (its private stream may have missed updates) or a dropped update (MailboxOverflow).
8. No round trip in the mailbox loop: sends, queries, forwarded cancels and the shutdown cancels run as
   tasks of the router (``pipe`` / task groups); resolving waits for the bus update or a backoff delay.

Every order ends in exactly one final journal state: ``done`` (the venue's terminal status) or
``not_placed``. All SQLite work goes through ``Journal.call`` (a worker thread, one at a time).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import sqlite3
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import anyio
import msgspec

from actors import topics
from actors.base import Actor, Later
from actors.bus import Bus, Subscription
from actors.clock import Clock
from actors.errors import ActorDead, AskTimeout
from actors.journal import Journal, JournalEntry, JournalState, next_journal_state
from actors.ref import ActorRef
from messages import (
    CancelOrder,
    ClientOrderId,
    Failover,
    GetOpenOrders,
    GetStats,
    HealthStatus,
    MailboxOverflow,
    OrderIntent,
    OrderRejected,
    OrdersAtRisk,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
    ReconcileNeeded,
    RouterStats,
    Venue,
    VenueHealth,
    VenueOrderId,
)
from venues.errors import (
    CrossbookError,
    DuplicateClientOrderId,
    InvalidOrder,
    LocalError,
    RemoteError,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.symbols import InstrumentRegistry, check_order_size, round_price, round_qty

__all__ = ["OrderRouter", "RouterConfig", "IntentRejected", "TrackedOrder", "RejectCode"]


T = TypeVar("T")
log = logging.getLogger("crossbook.router")

IdMaker = Callable[[str], str]

# Router-made rejection codes (OrderRejected.code); venue rejections keep the venue's own code.
RejectCode = str
NO_ACTIVE_VENUE: RejectCode = "no_active_venue"
UNKNOWN_VENUE: RejectCode = "unknown_venue"
VENUE_DOWN: RejectCode = "venue_down"
UNKNOWN_INSTRUMENT: RejectCode = "unknown_instrument"
INVALID_SIZE: RejectCode = "invalid_size"
INVALID_PRICE: RejectCode = "invalid_price"
DUPLICATE_ID: RejectCode = "duplicate_client_order_id"
INVALID_CLIENT_ID: RejectCode = "invalid_client_order_id"
NOT_PLACED: RejectCode = "not_placed"

_RANK = {OrderStatus.PENDING: 0, OrderStatus.SUBMITTED: 1, OrderStatus.PARTIALLY_FILLED: 2}


class RouterConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    initial_venue: Venue | None = None
    id_prefix: str = "cb"
    place_timeout_s: float = 30.0  # ask timeout for a PlaceOrder: above the actor's REST timeout + its own checks
    query_timeout_s: float = 15.0
    query_interval_s: float = 0.5  # first wait before asking about an order of unknown outcome
    query_interval_cap_s: float = 4.0  # the waits double up to this
    resend_grace_s: float = 6.0  # > venue receive window (Binance 5 s) + clock offset; see rule 4
    max_sends: int = 3
    keep_finished: int = 10_000  # final orders kept in memory (the journal keeps them all); bounds RSS
    reconcile_retry_s: float = 1.0
    stats_interval_s: float = 1.0  # RouterStats on the bus this often


class SettleOrders(msgspec.Struct, frozen=True, kw_only=True):
    """Shutdown command: ``cancel`` every order still working (or ``leave`` them), then report.

    The answer is a dict: ``working`` (orders still open on a venue), ``cancelled`` (cancel requests the
    venues accepted), ``unknown`` (orders whose outcome is still being resolved), ``failed`` (cancels refused).
    """

    policy: str = "cancel"
    timeout_s: float = 5.0

RouterMessage = (OrderIntent | OrderUpdate | Failover | VenueHealth | ReconcileNeeded | MailboxOverflow | CancelOrder
                 | QueryOrder | SettleOrders | GetStats)
"""What the order router takes: intents and commands by ask / tell, the rest from its subscriptions."""


class IntentRejected(LocalError):
    """The router refused an intent; ``rejection`` is the OrderRejected it also published."""

    def __init__(self, rejection: OrderRejected) -> None:
        self.rejection = rejection
        where = rejection.venue.value if rejection.venue is not None else "no venue"
        super().__init__(f"intent for {rejection.instrument} refused ({where}): {rejection.code}: {rejection.text}")

    @property
    def code(self) -> str:
        """The rejection's code (the venue's own, or one of the router's below)."""
        return self.rejection.code


@dataclass(slots=True)
class TrackedOrder:
    """The router's view of one order (its state mirrors the journal row)."""

    order: PlaceOrder
    strategy: str
    state: JournalState
    sends: int = 0
    last_send_ns: int = 0  # when the last send attempt ended (wall clock: it survives restarts via the journal)
    status: OrderStatus | None = None
    filled_qty: Decimal = Decimal(0)
    venue_order_id: VenueOrderId | None = None
    reason: str = ""
    replayed: bool = False
    busy: bool = False  # a task of this router is sending or resolving it
    history: list[JournalState] = field(default_factory=list)
    moved: anyio.Event = field(default_factory=anyio.Event)  # set when an update moves it (a resolver waits on it)

    @property
    def client_order_id(self) -> ClientOrderId:
        return self.order.client_order_id

    @property
    def venue(self) -> Venue:
        return self.order.venue


class OrderRouter(Actor):
    """Routes strategies' intents to exchange actors and tracks every order to a terminal state.

    Args:
        journal: The intent journal (owned by the caller, who closes it).
        venues: Exchange actor refs by venue.
        bus: The bus (order updates and failovers in; rejections and at-risk reports out).
        config: Router settings.
        id_makers: The venue's ``make_client_order_id`` per venue (adapter/codec); a conservative default
            (letters, digits and ``-``, at most 32 characters) serves venues without one.
        registries: The instrument registry of each venue's exchange actor, for tick/lot rounding and size
            checks; a venue without one only gets the basic checks (positive size, a price for a limit).
        after_journal / after_send: Test hooks called with the client order id after the intent is durable /
            after a send attempt returned (crash tests kill the process there).
        intents_from_bus: Also take OrderIntents published on the bus topic ``orders.intent`` (strategies in
            another process, over a NatsBridge), exactly like told ones.
        intent_source: The receiver of an event subscription to ``orders.intent`` owned by the caller (implies
            ``intents_from_bus``); it outlives a router restart, so intents arriving meanwhile wait for the next.
    """

    refusals = (IntentRejected,)

    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        journal: Journal,
        venues: Mapping[Venue, ActorRef],
        *,
        bus: Bus,
        config: RouterConfig | None = None,
        clock: Clock | None = None,
        id_makers: Mapping[Venue, IdMaker] | None = None,
        registries: Mapping[Venue, InstrumentRegistry] | None = None,
        after_journal: Callable[[ClientOrderId], None] | None = None,
        after_send: Callable[[ClientOrderId], None] | None = None,
        active_venue: Callable[[], Awaitable[Venue | None]] | None = None,
        intents_from_bus: bool = False,
        intent_source: Any = None,
        name: str = "router",
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        self.journal = journal
        self.venues = dict(venues)
        self.config = config or RouterConfig()
        self.active: Venue | None = self.config.initial_venue
        self.registries = dict(registries or {})
        self._id_makers = dict(id_makers or {})
        self._after_journal = after_journal
        self._after_send = after_send
        self._active_venue = active_venue
        self.orders: dict[ClientOrderId, TrackedOrder] = {}
        self._writes = 0  # journal writes in flight (a state is in memory before its row is committed)
        self._finished: deque[ClientOrderId] = deque()  # final orders, oldest first (bounded by keep_finished)
        self.finished_total: Counter[str] = Counter()  # final orders by status/state, since start (metrics)
        self.down: set[Venue] = set()
        self._reconciling: set[Venue] = set()
        self._reconcile_again: set[Venue] = set()
        self._rng = random.Random()  # asked for again while one was running
        self._failovers: Subscription | None = None  # the failover subscription (its mailbox is drained before routing)
        self.reconciled: dict[Venue, int] = {}  # venue -> completed reconciliations (observability, tests)
        self.intents_from_bus = intents_from_bus or intent_source is not None
        self._intent_source = intent_source

    # -- lifecycle ---------------------------------------------------------------------------------
    async def on_start(self) -> None:
        self.subscribe(topics.order_update("*"), conflate=False)
        self._failovers = self.subscribe(topics.failover(), conflate=False)
        self.subscribe(topics.venue_health("*"), conflate=True)
        self.subscribe(topics.reconcile("*"), conflate=False)
        if self.intents_from_bus:
            # Strategies in another process (over NATS): their intents arrive on the bus topic orders.intent.
            # They are told to ourselves, so they take exactly the told path (refusals published, not fatal).
            rx = self._intent_source
            if rx is None:
                sub = self.bus.subscribe_events(topics.order_intent(), name=f"{self.name}:intents", capacity=10_000)
                self._subs.append(sub)  # cancelled with the others when the router stops
                rx = sub.receiver
            self.start_soon(self._intake, rx, name=f"{self.name}:intents")
        entries = await self.journal.call(self.journal.non_terminal)
        for e in entries:
            self.orders[e.client_order_id] = self._replayed(e)
        self.publish_every(self.config.stats_interval_s, topics.router_stats(), self.stats)
        for venue in sorted({e.order.venue for e in entries}):
            if venue not in self.venues:
                ids = tuple(e.client_order_id for e in entries if e.order.venue is venue)
                log.error("%s: %d journaled orders on %s, which has no exchange actor", self.name, len(ids), venue)
                self.bus.publish_msg(OrdersAtRisk(venue=venue, client_order_ids=ids, ts=self.clock.time_ns()))
                continue
            self._reconcile_soon(venue)
        if self._active_venue is not None and self.active is None:
            try:
                self.active = await self._active_venue()  # a restart after the last Failover was published
            except (ActorDead, AskTimeout):
                pass  # the health monitor is not up yet: its first Failover will come on the bus

    async def _intake(self, rx: Any) -> None:
        """Feed OrderIntents published on the bus into our own inbox, in order (``intents_from_bus``)."""
        while True:
            msg = await rx.receive()
            if isinstance(msg, OrderIntent):
                await self.ref.tell(msg)
            elif isinstance(msg, MailboxOverflow):
                log.error("%s: %d intents from the bus dropped (mailbox full)", self.name, msg.dropped)

    def _replayed(self, e: JournalEntry) -> TrackedOrder:
        return TrackedOrder(order=e.order, strategy=e.strategy, state=e.state, sends=e.sends,
                            last_send_ns=e.updated_ns, status=e.status, filled_qty=e.filled_qty,
                            venue_order_id=e.venue_order_id, reason=e.reason, replayed=True, history=[e.state])

    # -- messages ----------------------------------------------------------------------------------
    async def handle(self, msg: RouterMessage) -> Any:
        match msg:
            case OrderIntent():
                return await self._submit(msg)
            case OrderUpdate(client_order_id=cid) if cid is not None:
                o = self.orders.get(cid)
                if o is not None and o.venue is msg.venue:
                    await self._apply(o, msg)
                return None
            case Failover():
                self._on_failover(msg)
                return None
            case VenueHealth(venue=v, status=HealthStatus.OK) if v in self.down:
                self.down.discard(v)  # healthy again: explicit intents may go there; check what happened meanwhile
                self._reconcile_soon(v)
                return None
            case ReconcileNeeded(venue=v):
                self._reconcile_soon(v)  # the venue's private stream may have missed updates
                return None
            case MailboxOverflow(subscriber=who):
                # Order updates were dropped on their way to us: ask every venue about every order.
                log.error("%s: %d bus messages dropped (%s); reconciling every venue", self.name, msg.dropped, who)
                for v in self.venues:
                    self._reconcile_soon(v)
                return None
            case CancelOrder() | QueryOrder():
                return self._forward(msg)
            case SettleOrders():
                return self.pipe(functools.partial(self._settle, msg), name=f"{self.name}:settle")
            case GetStats():
                return self.stats()
        return None

    def stats(self) -> RouterStats:
        """Working orders by journal state, final ones since start by status (the answer to GetStats)."""
        working = Counter(o.state.value for o in self.orders.values() if not o.state.is_final)
        return RouterStats(working=dict(sorted(working.items())), finished=dict(sorted(self.finished_total.items())),
                           ts=self.clock.time_ns())

    async def _settle(self, cmd: SettleOrders) -> dict[str, int]:
        """Cancel (or leave) what is still working, within ``timeout_s``; the journal keeps every state."""
        cancelled = failed = 0
        working = [o for o in self.orders.values() if o.state is JournalState.OPEN]

        async def cancel(o: TrackedOrder) -> None:
            nonlocal cancelled, failed
            ref = self.venues.get(o.venue)
            try:
                if ref is None:
                    msg = f"no exchange actor for {o.venue}"
                    raise InvalidOrder(msg)
                await ref.ask(CancelOrder(venue=o.venue, instrument=o.order.instrument, client_order_id=o.client_order_id),
                              timeout=self.config.query_timeout_s)
                cancelled += 1
            except (LocalError, VenueReject, VenueUnavailable, AskTimeout, ActorDead) as exc:
                failed += 1
                log.warning("router: cancel %s on %s at shutdown failed: %s", o.client_order_id, o.venue, exc)

        async def moved_on(o: TrackedOrder) -> None:  # the venue's answer reaches the order on the bus
            while o.state is JournalState.OPEN:
                if o.moved.is_set():
                    o.moved = anyio.Event()
                await o.moved.wait()

        if cmd.policy == "cancel":
            with anyio.move_on_after(cmd.timeout_s):
                async with anyio.create_task_group() as tg:  # all at once: the venues limit, not our loop
                    for o in working:
                        tg.start_soon(cancel, o)
                for o in working:
                    await moved_on(o)
        still = sum(1 for o in self.orders.values() if o.state is JournalState.OPEN)
        unknown = sum(1 for o in self.orders.values() if o.state in (JournalState.UNKNOWN, JournalState.SENT))
        return {"working": still, "cancelled": cancelled, "unknown": unknown, "failed": failed}

    # -- intents -----------------------------------------------------------------------------------
    async def _submit(self, intent: OrderIntent) -> ClientOrderId:
        if intent.venue is None:
            self._apply_pending_failovers()
        venue = intent.venue or self.active
        if venue is None:
            self._refuse(intent, None, NO_ACTIVE_VENUE, "no venue in the intent and no active venue")
        ref = self.venues.get(venue)
        if ref is None:
            known = ", ".join(sorted(v.value for v in self.venues))
            self._refuse(intent, venue, UNKNOWN_VENUE, f"no exchange actor for {venue}; known: {known}")
        if venue in self.down or not ref.alive:
            why = "failed over" if venue in self.down else "its exchange actor is not running"
            self._refuse(intent, venue, VENUE_DOWN, f"{venue} is down ({why})")
        qty, price = self._size(intent, venue)
        seq = self.journal.next_seq()
        cid = self._client_id(intent, venue, seq)
        order = PlaceOrder(
            venue=venue, instrument=intent.instrument, client_order_id=cid, side=intent.side, quantity=qty,
            order_type=intent.order_type, price=price, time_in_force=intent.time_in_force,
            post_only=intent.post_only, reduce_only=intent.reduce_only,
        )
        now = self.clock.time_ns()
        try:
            await self.journal.call(self.journal.record_intent, seq, intent.strategy, order, now)
        except sqlite3.IntegrityError:
            self._refuse(intent, venue, DUPLICATE_ID, f"client order id {cid!r} is already in the journal")
        o = TrackedOrder(order=order, strategy=intent.strategy, state=JournalState.JOURNALED,
                         history=[JournalState.JOURNALED])
        self.orders[cid] = o
        if self._after_journal is not None:
            self._after_journal(cid)
        o.busy = True
        self.start_soon(self._drive, o, name=f"{self.name}:{cid}")
        return cid

    def _size(self, intent: OrderIntent, venue: Venue) -> tuple[Decimal, Decimal | None]:
        qty = intent.quantity
        price = intent.price if intent.order_type is OrderType.LIMIT else None
        if intent.order_type is OrderType.LIMIT and (price is None or price <= 0):
            self._refuse(intent, venue, INVALID_PRICE, f"a limit order needs a positive price, got {price}")
        registry = self.registries.get(venue)
        if registry is None:
            if qty <= 0:
                self._refuse(intent, venue, INVALID_SIZE, f"quantity must be positive, got {qty}")
            return qty, price
        inst = registry.find(venue, intent.instrument)
        if inst is None:
            self._refuse(intent, venue, UNKNOWN_INSTRUMENT, f"{intent.instrument} is not listed on {venue}")
        try:
            qty = round_qty(inst, qty)
            if price is not None:
                price = round_price(inst, price, intent.side)  # passive: rounding never makes it more aggressive
            check_order_size(inst, qty, price)
        except InvalidOrder as exc:
            self._refuse(intent, venue, INVALID_SIZE, f"{exc} (asked {intent.quantity} @ {intent.price})")
        return qty, price

    def _client_id(self, intent: OrderIntent, venue: Venue, seq: int) -> ClientOrderId:
        make = self._id_makers.get(venue, _default_id)
        if intent.client_order_id is not None:
            if make(intent.client_order_id) != intent.client_order_id:
                self._refuse(intent, venue, INVALID_CLIENT_ID,
                             f"{intent.client_order_id!r} is not a valid {venue} client order id")
            if intent.client_order_id in self.orders:
                self._refuse(intent, venue, DUPLICATE_ID, f"{intent.client_order_id!r} is already used")
            return intent.client_order_id
        seed = f"{self.config.id_prefix}-{self.journal.journal_id}-{seq}-{intent.strategy}"
        return ClientOrderId(make(seed))

    def _refuse(self, intent: OrderIntent, venue: Venue | None, code: str, text: str) -> NoReturn:
        rej = OrderRejected(venue=venue, instrument=intent.instrument, client_order_id=intent.client_order_id,
                            code=code, text=f"{intent.strategy}: {text}", ts=self.clock.time_ns())
        self.bus.publish_msg(rej)
        raise IntentRejected(rej)

    # -- sending and resolving ---------------------------------------------------------------------
    async def _drive(self, o: TrackedOrder) -> None:
        """Send a fresh intent once, then resolve an unknown outcome by asking (rules 3 and 4)."""
        try:
            if o.state is JournalState.JOURNALED and not o.replayed:
                await self._send(o)
            attempt = 0
            pending = (JournalState.JOURNALED, JournalState.SENT, JournalState.UNKNOWN)
            while o.state in pending:
                # The venue's answer comes on the bus (orders.update.<venue>): wait for it, and ask only if
                # nothing came within the backoff delay.
                with anyio.move_on_after(self._query_delay(attempt)):
                    await o.moved.wait()
                o.moved = anyio.Event()
                if o.state not in pending:
                    break
                attempt += 1
                await self._resolve_once(o)
        finally:
            o.busy = False

    def _query_delay(self, attempt: int) -> float:
        """Backoff between queries about one order: ``query_interval_s`` doubling up to
        ``query_interval_cap_s``, each delay jittered down to half so many orders do not ask in step."""
        bound = min(self.config.query_interval_cap_s, self.config.query_interval_s * 2.0 ** min(attempt, 16))
        return bound * self._rng.uniform(0.5, 1.0)

    async def _send(self, o: TrackedOrder) -> None:
        cid = o.client_order_id
        ref = self.venues[o.venue]
        self._advance(o, JournalState.SENT)  # in memory first: an update arriving during the write sees it sent
        o.sends = await self._write(self.journal.mark_sent, cid, self.clock.time_ns())
        outcome: OrderUpdate | BaseException
        try:
            outcome = await ref.ask(o.order, timeout=self.config.place_timeout_s)
        except Exception as exc:  # classified below, after the hook
            outcome = exc
        if self._after_send is not None:
            self._after_send(cid)
        match outcome:
            case OrderUpdate():  # acknowledged; its state reaches us on the bus, once
                o.last_send_ns = self.clock.time_ns()
            case DuplicateClientOrderId():
                await self._unknown(o, f"venue says the id is taken: {outcome}")
            case VenueUnavailable() | AskTimeout() | ActorDead():  # OutcomeUnknown, timeouts, 5xx, lost links
                await self._unknown(o, str(outcome))
            case VenueReject():  # a definite refusal: the venue does not have the order
                await self._final(o, JournalState.DONE, f"{outcome.code}: {outcome.text}", status=OrderStatus.REJECTED)
            case LocalError():  # refused while building the request: it never left
                await self._final(o, JournalState.NOT_PLACED, str(outcome))
                self.bus.publish_msg(OrderRejected(venue=o.venue, instrument=o.order.instrument, client_order_id=cid,
                                                    code=NOT_PLACED, text=str(outcome), ts=self.clock.time_ns()))
            case _:  # anything else: we cannot tell whether it left, so treat it as unknown
                log.error("%s: sending %s: %r", self.name, cid, outcome)
                await self._unknown(o, f"{type(outcome).__name__}: {outcome}")

    async def _unknown(self, o: TrackedOrder, reason: str) -> None:
        o.last_send_ns = self.clock.time_ns()
        if o.state is not JournalState.SENT:  # a bus update already told us more
            return
        self._advance(o, JournalState.UNKNOWN)
        o.reason = reason
        await self._write(self.journal.mark_unknown, o.client_order_id, o.last_send_ns, reason[:500])

    async def _resolve_once(self, o: TrackedOrder) -> None:
        ref = self.venues.get(o.venue)
        if ref is None:
            return
        q = QueryOrder(venue=o.venue, instrument=o.order.instrument, client_order_id=o.client_order_id)
        try:
            await ref.ask(q, timeout=self.config.query_timeout_s)  # the answer itself reaches us on the bus
        except UnknownOrder:
            if o.state not in (JournalState.SENT, JournalState.UNKNOWN):
                return  # an update came while we asked: the order is known after all
            waited = (self.clock.time_ns() - o.last_send_ns) / 1e9
            if waited < self.config.resend_grace_s:
                return  # a delayed original could still arrive: ask again later
            if o.replayed or o.sends >= self.config.max_sends or o.venue in self.down:
                why = ("replayed after a restart" if o.replayed else
                       "venue failed over" if o.venue in self.down else f"{o.sends} sends")
                text = f"{o.venue} does not know {o.client_order_id} {waited:.1f} s after the last send ({why})"
                await self._final(o, JournalState.NOT_PLACED, text)
                self.bus.publish_msg(OrderRejected(venue=o.venue, instrument=o.order.instrument,
                                                    client_order_id=o.client_order_id, code=NOT_PLACED, text=text,
                                                    ts=self.clock.time_ns()))
                return
            await self._send(o)  # rule 4: the same PlaceOrder, the same client id
        except (CrossbookError, AskTimeout, ActorDead) as exc:
            log.info("%s: query %s on %s failed (%s); asking again", self.name, o.client_order_id, o.venue, exc)

    # -- state -------------------------------------------------------------------------------------
    async def _apply(self, o: TrackedOrder, upd: OrderUpdate) -> None:
        """Take a venue update if it moves the order forward (updates can arrive out of order)."""
        if o.state.is_final:
            return
        if o.status is not None and not upd.status.is_terminal:
            if _RANK.get(upd.status, 0) < _RANK.get(o.status, 0) and upd.filled_qty <= o.filled_qty:
                return
            if upd.status is o.status and upd.filled_qty <= o.filled_qty and o.state is JournalState.OPEN:
                return  # nothing new
        o.status = upd.status
        o.filled_qty = max(o.filled_qty, upd.filled_qty)
        o.venue_order_id = upd.venue_order_id or o.venue_order_id
        state = self._advance(o, JournalState.DONE if upd.status.is_terminal else JournalState.OPEN)
        o.moved.set()
        await self._write(self.journal.record_update, o.client_order_id, self.clock.time_ns(), o.status,
                          o.filled_qty, o.venue_order_id, upd.raw_status)
        if state.is_final:
            self._retire(o)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """One journal write for a state already set in memory; counted until committed (see ``wait_settled``)."""
        self._writes += 1
        try:
            return await self.journal.call(fn, *args)
        finally:
            self._writes -= 1

    @staticmethod
    def _advance(o: TrackedOrder, target: JournalState) -> JournalState:
        """Move an order's in-memory state by the journal's table (an illegal move raises)."""
        o.state = next_journal_state(o.state, target)
        o.history.append(target)
        return target

    def _retire(self, o: TrackedOrder) -> None:
        """Count a final order and forget the oldest final ones beyond ``keep_finished`` (memory stays flat)."""
        self.finished_total[o.status.value if o.status is not None else o.state.value] += 1
        self._finished.append(o.client_order_id)
        while len(self._finished) > self.config.keep_finished:
            old = self._finished.popleft()
            gone = self.orders.get(old)
            if gone is not None and gone.state.is_final:
                del self.orders[old]

    async def _final(self, o: TrackedOrder, state: JournalState, reason: str, status: OrderStatus | None = None) -> None:
        if o.state.is_final:
            return
        self._advance(o, state)
        o.moved.set()
        o.reason = reason
        now = self.clock.time_ns()
        if status is not None:
            o.status = status
            await self._write(self.journal.record_update, o.client_order_id, now, status, o.filled_qty,
                                    o.venue_order_id, "final", reason[:500])
        else:
            await self._write(self.journal.mark_terminal, o.client_order_id, now, state, reason[:500])
        self._retire(o)

    def _forward(self, cmd: CancelOrder | QueryOrder) -> Later[OrderUpdate | None]:
        """Cancel or query for a strategy, on the venue the order actually went to. The round trip runs
        piped (never in the router's loop); the venue's answer reaches the order's state on the bus."""
        cid = cmd.client_order_id
        o = self.orders.get(cid) if cid is not None else None
        if o is not None and o.venue is not cmd.venue:
            cmd = msgspec.structs.replace(cmd, venue=o.venue)
        ref = self.venues.get(cmd.venue)
        if ref is None:
            msg = f"no exchange actor for {cmd.venue}"
            raise InvalidOrder(msg)
        return self.pipe(functools.partial(ref.ask, cmd, timeout=self.config.query_timeout_s),
                         name=f"{self.name}:{type(cmd).__name__}")

    # -- failover and reconciliation ---------------------------------------------------------------
    def _apply_pending_failovers(self) -> None:
        """Apply Failover events already in the mailbox before routing an intent without a venue.

        The control inbox (asks) is served before bus messages, and the router may be busy with another
        message when a Failover is published: without this, an intent asked right after a Failover (e.g. by
        a strategy reacting to it) could still go to the venue that was just left.
        """
        rx = self._failovers.receiver if self._failovers is not None else None
        while rx is not None and rx.has_items():
            ev = rx.receive_nowait()
            if isinstance(ev, Failover):
                self._on_failover(ev)

    def _on_failover(self, ev: Failover) -> None:
        self.active = ev.to_venue
        if ev.to_venue is not None and ev.to_venue in self.down:
            self.down.discard(ev.to_venue)
            self._reconcile_soon(ev.to_venue)  # it is back: what happened while it was away?
        failed = ev.from_venue
        if failed is None or failed is ev.to_venue:
            return
        self.down.add(failed)
        ids = tuple(o.client_order_id for o in self.orders.values() if o.venue is failed and not o.state.is_final)
        self.bus.publish_msg(OrdersAtRisk(venue=failed, client_order_ids=ids, ts=self.clock.time_ns()))
        if ids:
            self._reconcile_soon(failed)

    def _reconcile_soon(self, venue: Venue) -> None:
        if venue not in self.venues:
            return
        if venue in self._reconciling:
            self._reconcile_again.add(venue)  # what it learns now may predate the reason: once more after
            return
        self._reconciling.add(venue)
        self.start_soon(self._reconcile_until_done, venue, name=f"{self.name}:reconcile:{venue}")

    async def _reconcile_until_done(self, venue: Venue) -> None:
        try:
            while True:
                self._reconcile_again.discard(venue)
                try:
                    await self.reconcile(venue)
                    if venue not in self._reconcile_again:
                        return
                except (RemoteError, AskTimeout, ActorDead) as exc:  # the venue could not answer; a local
                    # error (an illegal state move) is a bug and fails the router
                    log.info("%s: reconciling %s failed (%s); retrying", self.name, venue, exc)
                await self.clock.sleep(self.config.reconcile_retry_s)
        finally:
            self._reconciling.discard(venue)

    async def reconcile(self, venue: Venue) -> None:
        """Bring every non-final order on ``venue`` up to date: open orders first, then one query per id.

        Raises:
            VenueReject, AskTimeout, ActorDead: the venue could not answer; nothing was concluded.
        """
        ref = self.venues[venue]
        opens: list[OrderUpdate] = await ref.ask(GetOpenOrders(venue=venue), timeout=self.config.query_timeout_s)
        seen = set()
        for upd in opens:
            o = self.orders.get(upd.client_order_id) if upd.client_order_id is not None else None
            if o is not None and o.venue is venue:
                seen.add(o.client_order_id)
                await self._apply(o, upd)
        for o in [o for o in self.orders.values() if o.venue is venue and not o.state.is_final]:
            if o.client_order_id in seen or o.busy:
                continue  # open at the venue, or a task of ours is already asking about it
            if o.state is JournalState.OPEN:
                q = QueryOrder(venue=venue, instrument=o.order.instrument, client_order_id=o.client_order_id)
                try:
                    await ref.ask(q, timeout=self.config.query_timeout_s)  # its answer reaches us on the bus
                except UnknownOrder:
                    await self._final(o, JournalState.DONE, "acknowledged earlier, unknown to the venue now",
                                      status=OrderStatus.EXPIRED)
                continue
            # journaled / sent / unknown: resolve it by asking, under the re-send rule
            if o.state is not JournalState.UNKNOWN:
                self._advance(o, JournalState.UNKNOWN)
                await self._write(self.journal.mark_unknown, o.client_order_id, o.last_send_ns,
                                  "outcome to be resolved by asking the venue")
            o.busy = True
            self.start_soon(self._drive, o, name=f"{self.name}:{o.client_order_id}")
        self.reconciled[venue] = self.reconciled.get(venue, 0) + 1

    # -- views -------------------------------------------------------------------------------------
    def open_orders(self) -> list[TrackedOrder]:
        return [o for o in self.orders.values() if not o.state.is_final]

    async def wait_settled(self, timeout: float) -> None:
        """Wait until no order is between states and every state is committed to the journal.

        A test and shutdown helper; polls the router's state.
        """
        with anyio.fail_after(timeout):
            while self._unsettled():  # noqa: ASYNC110 - many orders' tasks, no single event to wait on
                await anyio.sleep(0.02)

    def _unsettled(self) -> bool:
        pending = (JournalState.JOURNALED, JournalState.SENT, JournalState.UNKNOWN)
        return self._writes > 0 or any(o.busy or o.state in pending for o in self.orders.values())


def _default_id(seed: str) -> str:
    """Letters, digits and '-', at most 32 characters: accepted by every venue we know of."""
    clean = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else "-" for ch in seed)
    if len(clean) <= 32:
        return clean
    return clean[:15] + "-" + hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
