"""The object graph: from a Config to the supervisor's child specs. The one place that knows every
component (the composition root); everything is passed down explicitly.

Start order (the supervisor stops them in reverse): status view, NATS bridge, exchange actors, router,
health monitor, aggregator, account view, strategies. Strategies are stopped first at shutdown, then the
router settles open orders, then the rest; the bridge stops last, after it has sent what they published.

Roles (``daemon.role``): ``all`` is everything in one process (plus a bridge when ``[nats] url`` is set);
``venues`` leaves out the strategies, and its router takes the intents arriving over NATS on the bus topic
``orders.intent``; ``strategies`` runs only the strategies, whose ``router`` is an IntentPublisher that
publishes their intents on ``orders.intent`` for the bridge (no exchange actors, no journal there).
"""

from __future__ import annotations

import importlib
import inspect
import os
import random
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors import topics
from actors.account import AccountBook
from actors.aggregation import AggregatorConfig, InstrumentGroup
from actors.aggregator import Aggregator
from actors.backoff import Backoff
from actors.base import Actor
from actors.bus import Bus
from actors.circuit import CircuitConfig
from actors.clock import Clock
from actors.exchanges.adapter import Endpoints, VenueAdapter
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.venue_table import VENUE_TABLE
from actors.health import HealthConfig, HealthMonitor
from actors.intent_publisher import IntentPublisher
from actors.journal import Journal
from actors.nats_bridge import NatsBridge, NatsBridgeConfig
from actors.ref import ProxyRef
from actors.router import OrderRouter, RouterConfig
from actors.selection import SelectionConfig, VenueSelector
from actors.strategies.base import Strategy
from actors.supervision import ChildSpec, Directory, Intensity, RestartPolicy, Supervisor
from daemon.config import Config, Role, StrategySection, VenueSection, credentials_for
from messages import (
    GetActiveVenue,
    GetBalances,
    GetPositions,
    HealthCheck,
    HealthStatus,
    InstrumentId,
    Venue,
    VenueAccount,
)
from venues import Credentials
from venues.errors import ConfigError
from venues.symbols import InstrumentRegistry

__all__ = ["Graph", "build_graph", "adapter_for", "load_strategy_class", "nats_topics", "BRIDGE"]

BRIDGE = "nats"  # the bridge's child name


def exchange_name(venue: Venue) -> str:
    """The child name of a venue's exchange actor."""
    return f"exchange.{venue.value}"

# What each role sends to NATS and takes from it (``[nats] publish/subscribe`` replace these when set).
# Book deltas stay local: core NATS conflates per topic, which a delta stream cannot survive.
_VENUES_OUT = [topics.quote(topics.ALL), topics.trade(topics.ALL), topics.book(topics.ALL), topics.kline(topics.ALL),
               topics.aggregates(), topics.venue_health(), topics.order_update(), topics.fill(), topics.order_rejected(),
               topics.orders_at_risk(), topics.failover()]
_STRATEGIES_IN = [topics.market_data(), topics.aggregates(), topics.venue_events(), topics.orders(), topics.failover()]


def nats_topics(config: Config) -> tuple[list[str], list[str]]:
    """(publish, subscribe) patterns of this process's bridge."""
    n = config.nats
    role = config.daemon.role
    if role is Role.STRATEGIES:
        publish, subscribe = [topics.order_intent()], _STRATEGIES_IN
    elif role is Role.VENUES:
        publish, subscribe = _VENUES_OUT, [topics.order_intent()]
    else:
        publish, subscribe = _VENUES_OUT, []
    return list(n.publish or publish), list(n.subscribe or subscribe)


def adapter_for(venue: Venue, registry: InstrumentRegistry, endpoints: Endpoints | None, section: VenueSection) -> VenueAdapter:
    """The venue's adapter (from ``VENUE_TABLE``), with live endpoints, or its testnet / demo ones and testnet
    options when ``section.testnet``.

    ``rest`` / ``ws`` keys in the section override either set. ``endpoints`` (``--simulate``: the twins)
    replaces them all; the twins speak the live protocol, so the testnet options are left out.
    """
    entry = VENUE_TABLE[venue]
    options: Mapping[str, Any] = {}
    if endpoints is None:
        endpoints = _configured_endpoints(entry.testnet if section.testnet else entry.live, section)
        if section.testnet:
            options = entry.testnet_options
    return entry.adapter(registry, endpoints, stale_after_s=section.stale_after_s, trades=section.trades,
                         klines=tuple(section.klines), emit_deltas=section.book_deltas,
                         dead_mans_switch_s=section.dead_mans_switch_s, **options)


def _configured_endpoints(base: Endpoints, section: VenueSection) -> Endpoints:
    """``base`` (the live or testnet set) with the section's ``rest`` / ``ws`` overrides applied."""
    if not section.rest and not section.ws:
        return base
    return Endpoints(rest=section.rest or base.rest, ws={**base.ws, **section.ws})


def load_strategy_class(path: str) -> type[Strategy[Any]]:
    """Import ``package.module:ClassName``.

    Raises:
        ConfigError: not importable, or not a Strategy subclass.
    """
    module, _, name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        msg = f"strategy {path!r} cannot be loaded: {exc}"
        raise ConfigError(msg) from None
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        msg = f"strategy {path!r} is not a Strategy subclass"
        raise ConfigError(msg)
    return cls


def settings_type(cls: type[Strategy[Any]]) -> type[msgspec.Struct]:
    for base in getattr(cls, "__orig_bases__", ()):
        args = typing.get_args(base)
        if args and isinstance(args[0], type):
            return args[0]
    msg = f"{cls.__name__} does not declare its settings type (class X(Strategy[MySettings]))"
    raise ConfigError(msg)


def strategy_settings(cls: type[Strategy[Any]], section: StrategySection) -> msgspec.Struct:
    try:
        return msgspec.convert(section.settings, type=settings_type(cls))
    except msgspec.ValidationError as exc:
        msg = f"strategy {section.name!r} settings: {exc}"
        raise ConfigError(msg) from None


@dataclass
class Graph:
    registry: InstrumentRegistry
    journal: Journal | None
    supervisor: Supervisor = field(init=False)  # made last, with every spec
    exchange_names: dict[Venue, str] = field(default_factory=dict)
    strategy_names: list[str] = field(default_factory=list)
    strategy_sections: dict[str, StrategySection] = field(default_factory=dict)
    role: Role = Role.ALL
    bridge_name: str | None = None


def build_graph(
    config: Config,
    bus: Bus,
    clock: Clock,
    rng: random.Random,
    *,
    endpoints: dict[Venue, Endpoints] | None = None,
    credentials: dict[Venue, Credentials] | None = None,
    with_strategies: bool = True,
    first: Sequence[ChildSpec] = (),
) -> Graph:
    """Child specs for this process's role, under one supervisor (not started); ``first`` start before them
    (the status view: it sees every event from the start)."""
    r = config.restart
    backoff = Backoff(base_s=r.base_s, cap_s=r.cap_s, reset_after_s=r.reset_after_s)
    intensity = Intensity(max_restarts=r.max_restarts, window_s=r.window_s)
    venue_backoff = Backoff(base_s=r.base_s, cap_s=r.venue_cap_s, reset_after_s=r.reset_after_s)  # never given up
    registry = InstrumentRegistry()
    role = config.daemon.role
    venues = config.enabled_venues()
    specs: list[ChildSpec] = []
    names: dict[Venue, str] = {}
    adapters: dict[Venue, VenueAdapter] = {}
    bridge_name: str | None = None
    if config.nats.url:
        bridge_name = BRIDGE
        n = config.nats
        publish, subscribe = nats_topics(config)
        bcfg = NatsBridgeConfig(servers=[u.strip() for u in n.url.split(",") if u.strip()],
                                node=n.node or role.value, subject_prefix=n.subject_prefix, publish=publish,
                                subscribe=subscribe, reconnect_wait_s=n.reconnect_wait_s, ack_wait_s=n.ack_wait_s)

        def make_bridge() -> Actor:
            return NatsBridge(bcfg, bus=bus, name=BRIDGE, clock=clock, rng=rng)

        # First: it stops last, after everything it carries has been published.
        specs.append(ChildSpec(name=BRIDGE, factory=make_bridge, backoff=backoff, intensity=intensity,
                               shutdown_timeout_s=config.daemon.shutdown_timeout_s))
    children = Directory()  # the supervisor's, made first: refs to siblings are handed out while building

    def supervisor() -> Supervisor:
        drill = os.environ.get(FAIL_ACTOR_ENV, "")
        ordered = [_failing(spec) if spec.name == drill else spec for spec in [*first, *specs]]
        return Supervisor("root", ordered, bus=bus, clock=clock, rng=rng, directory=children)

    if role is Role.STRATEGIES:
        specs.append(ChildSpec(name="intents", factory=lambda: IntentPublisher(bus=bus, clock=clock),
                               backoff=backoff, intensity=intensity))
        graph = Graph(registry=registry, journal=None, role=role, bridge_name=bridge_name)
        if with_strategies:
            _strategies(config, bus, clock, children.ref("intents"), specs, graph, backoff, intensity,
                        lambda: _groups(config, venues, None), registry)
        graph.supervisor = supervisor()
        return graph
    for venue, section in venues.items():
        creds = (credentials or {}).get(venue) or credentials_for(venue.value, section)
        adapter = adapter_for(venue, registry, (endpoints or {}).get(venue), section)
        adapters[venue] = adapter
        xcfg = ExchangeConfig(instruments=list(section.instruments), depth_levels=config.aggregator.depth_levels,
                              max_in_flight=section.max_in_flight, cancel_in_flight=section.cancel_in_flight)
        name = names[venue] = exchange_name(venue)

        def make_exchange(adapter: VenueAdapter = adapter, xcfg: ExchangeConfig = xcfg, creds: Credentials | None = creds,
                          name: str = name) -> Actor:
            return ExchangeActor(adapter, xcfg, bus=bus, credentials=creds, clock=clock, rng=rng, name=name)

        specs.append(ChildSpec(name=name, factory=make_exchange, backoff=venue_backoff, intensity=None, venue=venue,
                               shutdown_timeout_s=config.daemon.shutdown_timeout_s))
    refs: dict[Venue, ProxyRef] = {v: children.ref(n) for v, n in names.items()}

    journal: Journal | None = None
    router_ref: ProxyRef = children.ref("router")
    health_ref: ProxyRef = children.ref("health")
    journal = Journal(config.daemon.journal)
    intent_source: Any = None
    if role is Role.VENUES:
        # Made here, not by the router: intents the bridge delivers before the router is up (or while it
        # restarts) wait in this mailbox.
        intent_source = bus.subscribe_events(topics.order_intent(), name="router:intents", capacity=10_000).receiver

    def make_router() -> Actor:
        assert journal is not None
        return OrderRouter(journal, refs, bus=bus, config=RouterConfig(keep_finished=config.daemon.keep_finished_orders),
                           clock=clock,
                           id_makers={v: a.make_client_order_id for v, a in adapters.items()},
                           registries={v: registry for v in adapters}, active_venue=_active(health_ref),
                           intent_source=intent_source)

    specs.append(ChildSpec(name="router", factory=make_router, backoff=backoff, intensity=intensity,
                           shutdown_timeout_s=config.daemon.shutdown_timeout_s))

    # Health monitor and the active-venue selector.
    order = sorted(venues, key=lambda v: venues[v].priority)
    h = config.health
    hcfg = HealthConfig(venues=order, probe_interval_s=h.probe_interval_s, latency_degraded_ms=h.latency_degraded_ms,
                        circuit=CircuitConfig(failure_threshold=h.breaker_failures, cooldown_base_s=h.breaker_cooldown_s))
    probes = {v: [_probe(refs[v], v)] for v in order}

    def make_health() -> Actor:
        sel = VenueSelector(SelectionConfig(venues=order, priority={v: venues[v].priority for v in order}, hold_s=h.hold_s))
        return HealthMonitor(hcfg, bus=bus, clock=clock, rng=rng, probes=probes, selectors=[sel])

    specs.append(ChildSpec(name="health", factory=make_health, backoff=backoff, intensity=intensity))

    def make_aggregator() -> Actor:
        groups = _groups(config, venues, registry)
        a = config.aggregator
        acfg = AggregatorConfig(groups=groups, taker_fee_bps={v: s.taker_fee_bps for v, s in venues.items()},
                                stale_after_ms=a.staleness_ms, arb_threshold_bps=a.threshold_bps,
                                min_size_base=a.min_size_base)
        return Aggregator(acfg, registry, bus=bus, clock=clock)

    specs.append(ChildSpec(name="aggregator", factory=make_aggregator, backoff=backoff, intensity=intensity))
    sources = {v: _account_source(refs[v], v) for v in names}
    specs.append(ChildSpec(name="account", factory=lambda: AccountBook(sources, registry, bus=bus, clock=clock),
                           backoff=backoff, intensity=intensity))

    graph = Graph(registry=registry, journal=journal, exchange_names=names, role=role, bridge_name=bridge_name)
    if with_strategies and role is Role.ALL:
        _strategies(config, bus, clock, router_ref, specs, graph, backoff, intensity,
                    lambda: _groups(config, venues, registry), registry)
    graph.supervisor = supervisor()  # it starts them in this order
    return graph


FAIL_ACTOR_ENV = "CROSSBOOK_FAULT_FAIL_ACTOR"
"""A drill: the actor of this name fails every start, so an operator (or a test) sees what the daemon does when
an actor gives up (a critical one stops the daemon, loudly; a strategy stops alone)."""


def _failing(spec: ChildSpec) -> ChildSpec:
    def fail() -> Actor:
        msg = f"{spec.name} fails every start ({FAIL_ACTOR_ENV} drill)"
        raise RuntimeError(msg)

    return msgspec.structs.replace(spec, factory=fail)


def _strategies(config: Config, bus: Bus, clock: Clock, router_ref: ProxyRef, specs: list[ChildSpec], graph: Graph,
                backoff: Backoff, intensity: Intensity, groups: Callable[[], list[InstrumentGroup]],
                registry: InstrumentRegistry) -> None:
    for s in config.strategies:
        if not s.enabled:
            continue
        cls = load_strategy_class(s.path)
        settings = strategy_settings(cls, s)
        name = f"strategy.{s.name}"

        def make_strategy(cls: type[Strategy[Any]] = cls, settings: msgspec.Struct = settings, name: str = name) -> Actor:
            # Optional context a strategy may ask for by naming it in its constructor.
            extras: dict[str, Any] = {}
            params = inspect.signature(cls).parameters
            if "groups" in params:
                extras["groups"] = groups()
            if "instruments" in params:
                extras["instruments"] = registry
            return cls(name=name, settings=settings, router=router_ref, bus=bus, clock=clock, **extras)  # type: ignore[call-arg]

        specs.append(ChildSpec(name=name, factory=make_strategy, backoff=backoff, intensity=intensity,
                               restart=RestartPolicy.PERMANENT))
        graph.strategy_names.append(name)
        graph.strategy_sections[name] = s


def _groups(config: Config, venues: dict[Venue, VenueSection], registry: InstrumentRegistry | None) -> list[InstrumentGroup]:
    """Configured groups, keeping the members whose venue is enabled and whose instrument has loaded (with no
    registry, a strategies-only process, every member of an enabled venue is kept)."""
    groups = []
    for g in config.groups:
        members = [(Venue(v), InstrumentId(i)) for v, _, i in (m.partition(":") for m in g.members)]
        present = [m for m in members if m[0] in venues and (registry is None or registry.find(m[0], m[1]) is not None)]
        if present:
            groups.append(InstrumentGroup(name=g.name, members=present))
    return groups


def _active(health: ProxyRef) -> Callable[[], Any]:
    async def active() -> Venue | None:
        result: Venue | None = await health.ask(GetActiveVenue(scope="all"), timeout=2.0)
        return result

    return active


def _probe(ref: ProxyRef, venue: Venue) -> Callable[[], Any]:
    async def probe() -> float:
        report = await ref.ask(HealthCheck(venue=venue), timeout=5.0)
        if report.status is HealthStatus.DOWN:
            msg = f"{venue} health check: down ({report.detail})"
            raise RuntimeError(msg)
        return float(report.latency_ms)

    return probe


def _account_source(ref: ProxyRef, venue: Venue) -> Callable[[], Any]:
    async def source() -> VenueAccount:
        balances = await ref.ask(GetBalances(venue=venue), timeout=10.0)
        positions = await ref.ask(GetPositions(venue=venue), timeout=10.0)
        return VenueAccount(venue=venue, balances=tuple(balances), positions=tuple(positions), ts=time.time_ns())

    return source
