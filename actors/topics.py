"""The one place topic strings are built and matched.

Topics are dot-separated and NATS-compatible: tokens are non-empty and contain no '.', ' ', '*' or '>'.
Patterns may use ``*`` (exactly one token) and ``>`` (one or more trailing tokens, last only), so a
topic maps to a NATS subject one to one. Nobody formats a topic by hand: call these functions.

    md.quote.<venue>.<instrument>       Quote                 md.trade.<venue>.<instrument>   Trade
    md.book.<venue>.<instrument>        BookSnapshot (top N)  md.delta.<venue>.<instrument>   BookDelta
    md.kline.<venue>.<instrument>       Kline                 agg.best.<group> / agg.arb.<group>
    venue.health.<venue>  venue.circuit.<venue>  venue.book.<venue>.<instrument>  venue.ratelimit.<venue>
    control.failover  control.actor.<name>  orders.intent  orders.update.<venue>  orders.rejected
    orders.at_risk.<venue>  orders.fill.<venue>  account.balance.<venue>  account.position.<venue>  account.view
"""

from __future__ import annotations

from functools import lru_cache

from messages import (
    AccountConfig,
    AccountView,
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    ArbOpportunity,
    Balance,
    BestBidAsk,
    BookDelta,
    BookIntegrity,
    BookSnapshot,
    CircuitChanged,
    DeadMansSwitch,
    ExchangeStats,
    Failover,
    Fill,
    InstrumentId,
    Kline,
    MailboxOverflow,
    Message,
    NatsBridgeStatus,
    OrderIntent,
    OrderRejected,
    OrdersAtRisk,
    OrderUpdate,
    Position,
    Quote,
    RateLimited,
    ReconcileNeeded,
    RouterStats,
    Trade,
    Venue,
    VenueHealth,
    VenueSignal,
)

__all__ = [
    "token",
    "exchange_stats",
    "router_stats",
    "bridge_stats",
    "quote",
    "trade",
    "book",
    "delta",
    "kline",
    "best",
    "arb",
    "venue_health",
    "circuit",
    "book_integrity",
    "rate_limit",
    "venue_signal",
    "failover",
    "actor",
    "order_intent",
    "order_update",
    "order_rejected",
    "orders_at_risk",
    "reconcile",
    "fill",
    "balance",
    "position",
    "account_config",
    "account_view",
    "market_data",
    "aggregates",
    "venue_events",
    "orders",
    "topic_for",
    "matches",
    "covers",
    "overlaps",
    "validate_pattern",
    "ALL",
    "any_venue",
]

ALL = ">"
_BAD = frozenset(". *>\t\r\n")


def token(value: str) -> str:
    """Check one token: non-empty, no separators or wildcards."""
    if not value or any(c in _BAD for c in value):
        msg = f"invalid topic token {value!r}: must be non-empty without '.', spaces, '*' or '>'"
        raise ValueError(msg)
    return value


def _last(prefix: str, value: str) -> str:
    """``prefix.value``, the last token checked unless it is the ``*`` wildcard."""
    return f"{prefix}.{value if value == '*' else token(value)}"


def any_venue() -> str:
    return "*"


@lru_cache(maxsize=65_536)
def _vi(kind: str, venue: str, instrument: str) -> str:
    return f"md.{kind}.{token(venue)}.{token(instrument)}"


def quote(venue: Venue | str, instrument: InstrumentId | str = ALL) -> str:
    return _pattern_or_topic("quote", venue, instrument)


def trade(venue: Venue | str, instrument: InstrumentId | str = ALL) -> str:
    return _pattern_or_topic("trade", venue, instrument)


def book(venue: Venue | str, instrument: InstrumentId | str = ALL) -> str:
    return _pattern_or_topic("book", venue, instrument)


def delta(venue: Venue | str, instrument: InstrumentId | str = ALL) -> str:
    return _pattern_or_topic("delta", venue, instrument)


def kline(venue: Venue | str, instrument: InstrumentId | str = ALL) -> str:
    return _pattern_or_topic("kline", venue, instrument)


def _pattern_or_topic(kind: str, venue: str, instrument: str) -> str:
    if venue in ("*", ">") or instrument in ("*", ">"):
        if venue == ">":
            return f"md.{kind}.>"
        v = venue if venue == "*" else token(venue)
        i = instrument if instrument in ("*", ">") else token(instrument)
        return f"md.{kind}.{v}.{i}"
    return _vi(kind, str(venue), str(instrument))


def best(group: str = ALL) -> str:
    return f"agg.best.{group if group in ('*', '>') else token(group)}"


def arb(group: str = ALL) -> str:
    return f"agg.arb.{group if group in ('*', '>') else token(group)}"


def venue_health(venue: Venue | str = "*") -> str:
    return _last("venue.health", venue)


def circuit(venue: Venue | str = "*") -> str:
    return _last("venue.circuit", venue)


def book_integrity(venue: Venue | str = "*", instrument: InstrumentId | str = "*") -> str:
    v = venue if venue == "*" else token(venue)
    i = instrument if instrument == "*" else token(instrument)
    return f"venue.book.{v}.{i}"


def rate_limit(venue: Venue | str = "*") -> str:
    return _last("venue.ratelimit", venue)


def venue_signal(venue: Venue | str = "*") -> str:
    return _last("venue.signal", venue)


def failover() -> str:
    return "control.failover"


def actor(name: str = "*") -> str:
    """Actor names may be dotted (``exchange.binance``); the dots become ``_`` inside the one token."""
    return f"control.actor.{name if name == '*' else token(name.replace('.', '_'))}"


def order_intent() -> str:
    return "orders.intent"


def order_update(venue: Venue | str = "*") -> str:
    return _last("orders.update", venue)


def order_rejected() -> str:
    return "orders.rejected"


def orders_at_risk(venue: Venue | str = "*") -> str:
    return _last("orders.at_risk", venue)


def reconcile(venue: Venue | str = "*") -> str:
    return _last("orders.reconcile", venue)


def fill(venue: Venue | str = "*") -> str:
    return _last("orders.fill", venue)


def balance(venue: Venue | str = "*") -> str:
    return _last("account.balance", venue)


def position(venue: Venue | str = "*") -> str:
    return _last("account.position", venue)


def account_config(venue: Venue | str = "*") -> str:
    return _last("account.config", venue)


def switch(venue: Venue | str = "*") -> str:
    """A venue's dead-man's switch state (DeadMansSwitch)."""
    return _last("venue.switch", venue)


def account_view() -> str:
    return "account.view"


LOCAL_PREFIX = "stats."
"""Topics of one process's own statistics: never bridged to another process."""


def exchange_stats(venue: Venue | str = "*") -> str:
    """An exchange actor's counters (ExchangeStats), every second while it runs."""
    return _last("stats.exchange", venue)


def router_stats() -> str:
    return "stats.router"


def bridge_stats() -> str:
    return "stats.bridge"


def market_data() -> str:
    """Every market-data topic (quotes, trades, books, deltas, klines): ``md.>``."""
    return "md.>"


def aggregates() -> str:
    """Every aggregator topic (best bid/ask and arbitrage of every group): ``agg.>``."""
    return "agg.>"


def venue_events() -> str:
    """Every venue-state topic (health, circuit, book integrity, rate limits, signals, switch): ``venue.>``."""
    return "venue.>"


def orders() -> str:
    """Every order topic (intents, updates, fills, rejections, orders at risk, reconciles): ``orders.>``."""
    return "orders.>"


def topic_for(msg: Message) -> str:
    """The topic a message is published on, from its own fields."""
    match msg:
        case Quote(venue=v, instrument=i):
            return _vi("quote", v, i)
        case Trade(venue=v, instrument=i):
            return _vi("trade", v, i)
        case BookDelta(venue=v, instrument=i):
            return _vi("delta", v, i)
        case BookSnapshot(venue=v, instrument=i):
            return _vi("book", v, i)
        case Kline(venue=v, instrument=i):
            return _vi("kline", v, i)
        case BestBidAsk(group=g):
            return best(g)
        case ArbOpportunity(group=g):
            return arb(g)
        case VenueHealth(venue=v):
            return venue_health(v)
        case CircuitChanged(venue=v):
            return circuit(v)
        case BookIntegrity(venue=v, instrument=i):
            return book_integrity(v, i)
        case RateLimited(venue=v):
            return rate_limit(v)
        case VenueSignal(venue=v):
            return venue_signal(v)
        case Failover():
            return failover()
        case ActorStarted(name=n) | ActorFailed(name=n) | ActorRestarted(name=n) | ActorGaveUp(name=n) | ActorStopped(
            name=n
        ):
            return actor(n)
        case OrderIntent():
            return order_intent()
        case OrderUpdate(venue=v):
            return order_update(v)
        case OrderRejected():
            return order_rejected()
        case OrdersAtRisk(venue=v):
            return orders_at_risk(v)
        case ReconcileNeeded(venue=v):
            return reconcile(v)
        case Fill(venue=v):
            return fill(v)
        case Balance(venue=v):
            return balance(v)
        case Position(venue=v):
            return position(v)
        case AccountView():
            return account_view()
        case AccountConfig(venue=v):
            return account_config(v)
        case DeadMansSwitch(venue=v):
            return switch(v)
        case ExchangeStats(venue=v):
            return exchange_stats(v)
        case RouterStats():
            return router_stats()
        case NatsBridgeStatus():
            return bridge_stats()
        case MailboxOverflow(subscriber=s):
            return f"control.overflow.{token(s)}"
    msg_ = f"no topic rule for {type(msg).__name__}"
    raise ValueError(msg_)


def validate_pattern(pattern: str) -> tuple[str, ...]:
    """Split a pattern into tokens, checking wildcard placement."""
    parts = tuple(pattern.split("."))
    for n, part in enumerate(parts):
        if part == ">":
            if n != len(parts) - 1:
                msg = f"'>' must be the last token in {pattern!r}"
                raise ValueError(msg)
        elif part != "*":
            token(part)
    return parts


def matches(pattern: str | tuple[str, ...], topic: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` one or more trailing tokens."""
    pat = validate_pattern(pattern) if isinstance(pattern, str) else pattern
    toks = topic.split(".")
    for n, p in enumerate(pat):
        if p == ">":
            return len(toks) > n
        if n >= len(toks):
            return False
        if p != "*" and p != toks[n]:
            return False
    return len(toks) == len(pat)


def covers(outer: str, inner: str) -> bool:
    """True when every topic matching pattern ``inner`` also matches pattern ``outer``."""
    a, b = validate_pattern(outer), validate_pattern(inner)
    for n, p in enumerate(a):
        if p == ">":
            return len(b) > n
        if n >= len(b) or b[n] == ">":
            return False
        if p != "*" and (b[n] == "*" or b[n] != p):
            return False
    return len(a) == len(b)


def overlaps(first: str, second: str) -> bool:
    """True when some topic matches both patterns."""
    a, b = validate_pattern(first), validate_pattern(second)
    for n in range(min(len(a), len(b))):
        if a[n] == ">" or b[n] == ">":
            return True
        if a[n] != "*" and b[n] != "*" and a[n] != b[n]:
            return False
    return len(a) == len(b)
