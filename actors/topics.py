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

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

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
    try:
        rule = _RULES[type(msg)]
    except KeyError:
        rule = _inherited_rule(type(msg))
    return rule(msg)


def _inherited_rule(cls: type) -> Callable[[Any], str]:
    """A subclass of a message publishes where its message type does (remembered after the first look)."""
    for base in cls.__mro__[1:]:
        if base in _RULES:
            _RULES[cls] = _RULES[base]
            return _RULES[cls]
    msg = f"no topic rule for {cls.__name__}"
    raise ValueError(msg)


# The topic of each message type, as tables: market data by kind, per-venue topics by their builder, fixed
# topics, and the few that key on something else. ``topic_for`` is one dict lookup per published message.
_MARKET: dict[type, str] = {Quote: "quote", Trade: "trade", BookDelta: "delta", BookSnapshot: "book", Kline: "kline"}
_PER_VENUE: dict[type, Callable[[str], str]] = {
    VenueHealth: venue_health, CircuitChanged: circuit, RateLimited: rate_limit, VenueSignal: venue_signal,
    OrderUpdate: order_update, OrdersAtRisk: orders_at_risk, ReconcileNeeded: reconcile, Fill: fill,
    Balance: balance, Position: position, AccountConfig: account_config, DeadMansSwitch: switch,
    ExchangeStats: exchange_stats,
}  # fmt: skip
_FIXED: dict[type, str] = {
    Failover: failover(), OrderIntent: order_intent(), OrderRejected: order_rejected(),
    AccountView: account_view(), RouterStats: router_stats(), NatsBridgeStatus: bridge_stats(),
}  # fmt: skip
_ACTOR_EVENTS = (ActorStarted, ActorFailed, ActorRestarted, ActorGaveUp, ActorStopped)


def _market_topic(kind: str, m: Any) -> str:
    return _vi(kind, m.venue, m.instrument)


def _venue_topic(build: Callable[[str], str], m: Any) -> str:
    return build(m.venue)


def _fixed_topic(topic: str, m: Any) -> str:
    return topic


def _rules() -> dict[type, Callable[[Any], str]]:
    rules: dict[type, Callable[[Any], str]] = {
        BestBidAsk: lambda m: best(m.group),
        ArbOpportunity: lambda m: arb(m.group),
        BookIntegrity: lambda m: book_integrity(m.venue, m.instrument),
        MailboxOverflow: lambda m: f"control.overflow.{token(m.subscriber)}",
    }
    for cls, kind in _MARKET.items():
        rules[cls] = partial(_market_topic, kind)
    for cls, build in _PER_VENUE.items():
        rules[cls] = partial(_venue_topic, build)
    for cls, topic in _FIXED.items():
        rules[cls] = partial(_fixed_topic, topic)
    for cls in _ACTOR_EVENTS:
        rules[cls] = lambda m: actor(m.name)
    return rules


_RULES = _rules()


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
