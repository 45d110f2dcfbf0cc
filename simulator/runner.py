"""Start venue twins on loopback ports inside a test, a bench or ``python -m simulator``.

Invariants:
- Every server binds 127.0.0.1 only; port 0 means an ephemeral port.
- The venue registry is the one ``TWIN_FACTORIES`` mapping built by ``default_factories()``; adding a venue
  means adding one entry there (nothing else dispatches on venue names).
- One market driver task (owned by the ``start_twins`` task group) steps the shared model at ``rate``
  steps per second and hands each twin its changes; ``rate <= 0`` means "step by hand" with
  ``Twins.step()`` (deterministic tests).
- ``latency`` (a ``LatencyProfile``) is set on every twin before the block starts; ``Twins.set_latency``
  changes it on all of them at run time (each twin's admin API changes its own).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from aiohttp import web

from simulator.latency import LatencyProfile
from simulator.market import MarketModel
from simulator.twin import Twin, TwinUrls

__all__ = ["TwinFactory", "default_factories", "RunningTwin", "Twins", "start_twins", "UnknownVenue"]

TwinFactory = Callable[[MarketModel, int, dict[str, Any]], Twin]
"""``factory(model, seed, options) -> twin``; options are venue-specific keyword arguments."""


def _binance(model: MarketModel, seed: int, options: dict[str, Any]) -> Twin:
    from simulator.binance import BinanceConfig, BinanceTwin

    config = options.get("config") or BinanceConfig(**{k: v for k, v in options.items() if k != "clock_ms"})
    return BinanceTwin(model, config, clock_ms=options.get("clock_ms"), seed=seed)


def _bybit(model: MarketModel, seed: int, options: dict[str, Any]) -> Twin:
    from simulator.bybit import bybit_factory

    return bybit_factory(model, seed, options)


def _okx(model: MarketModel, seed: int, options: dict[str, Any]) -> Twin:
    from simulator.okx import okx_twin_factory

    return okx_twin_factory(model, seed, options)


def _deribit(model: MarketModel, seed: int, options: dict[str, Any]) -> Twin:
    from simulator.deribit import deribit_twin

    return deribit_twin(model, seed, options)


def default_factories() -> dict[str, TwinFactory]:
    """The venue registry: venue name -> twin factory."""
    return {"binance": _binance, "bybit": _bybit, "okx": _okx, "deribit": _deribit}


class UnknownVenue(ValueError):
    """A venue name with no twin factory."""

    def __init__(self, venue: str, known: Iterable[str]) -> None:
        self.venue = venue
        self.known = sorted(known)
        super().__init__(f"no twin for venue {venue!r}; known venues: {', '.join(self.known)}")


@dataclass(slots=True)
class RunningTwin:
    """A started twin: its object (faults, engine, books), URLs, credentials and port."""

    twin: Twin
    urls: TwinUrls
    port: int

    @property
    def rest(self) -> str:
        return self.urls.rest

    @property
    def ws(self) -> dict[str, str]:
        return self.urls.ws

    def to_json(self) -> dict[str, Any]:
        return {"rest": self.urls.rest, "ws": self.urls.ws, "credentials": self.twin.credentials.to_json()}


class Twins:
    """The running twins of one ``start_twins`` block, keyed by venue name."""

    def __init__(self, model: MarketModel, running: dict[str, RunningTwin], clock_ms: Callable[[], int]) -> None:
        self.model = model
        self.running = running
        self._clock_ms = clock_ms

    def __getitem__(self, venue: str) -> RunningTwin:
        return self.running[venue]

    def step(self, n: int = 1) -> None:
        """Advance the market ``n`` steps and publish each to every twin (for ``rate <= 0`` runs)."""
        for _ in range(n):
            changes = self.model.step()
            now = self._clock_ms()
            for venue, rt in self.running.items():
                mine = {sym: ch for (v, sym), ch in changes.items() if v == venue}
                rt.twin.on_market(mine, now)

    def set_latency(self, profile: LatencyProfile | None) -> None:
        """Give every twin ``profile`` (None: no latency) from now on."""
        for rt in self.running.values():
            rt.twin.latency.set(profile)

    def to_json(self) -> dict[str, Any]:
        return {v: rt.to_json() for v, rt in self.running.items()}


@asynccontextmanager
async def start_twins(
    venues: Iterable[str] = ("binance",),
    *,
    seed: int = 1,
    symbols: Iterable[str] = ("BTC", "ETH"),
    rate: float = 10.0,
    ports: Mapping[str, int] | None = None,
    options: Mapping[str, dict[str, Any]] | None = None,
    factories: Mapping[str, TwinFactory] | None = None,
    clock_ms: Callable[[], int] | None = None,
    latency: LatencyProfile | None = None,
) -> AsyncIterator[Twins]:
    """Run twins on 127.0.0.1 for the duration of the block.

    Args:
        venues: Venue names from the registry.
        seed: Seed of the market model and twins.
        symbols: Underlyings to price (``BTC``, ``ETH``, ...); each twin lists its own instruments for them.
        rate: Model steps (book updates per instrument) per second; <= 0 disables the driver.
        ports: Fixed port per venue (default ephemeral).
        options: Per-venue factory options (e.g. ``{"binance": {"config": BinanceConfig(...)}}``).
        factories: Override the registry (tests, new venues).
        clock_ms: Wall clock in epoch ms for every twin.
        latency: Network delays of every twin (simulator/latency.py; default none, loopback speed).

    Raises:
        UnknownVenue: a venue has no factory.
    """
    registry = dict(factories or default_factories())
    venues = list(venues)
    for v in venues:
        if v not in registry:
            raise UnknownVenue(v, registry)
    clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
    model = MarketModel(seed, list(symbols))
    runners: list[web.AppRunner] = []
    running: dict[str, RunningTwin] = {}
    try:
        for i, venue in enumerate(venues):
            opts = dict((options or {}).get(venue, {}))
            opts.setdefault("clock_ms", clock)
            twin = registry[venue](model, seed + i, opts)
            runner = web.AppRunner(twin.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", (ports or {}).get(venue, 0))
            await site.start()
            port = runner.addresses[0][1]
            base = f"127.0.0.1:{port}"
            running[venue] = RunningTwin(twin, twin.urls(f"http://{base}", f"ws://{base}"), port)
        twins = Twins(model, running, clock)
        twins.set_latency(latency)
        async with anyio.create_task_group() as tg:
            if rate > 0:
                tg.start_soon(_drive, twins, rate)
            try:
                yield twins
            finally:
                tg.cancel_scope.cancel()
    finally:
        for rt in running.values():
            with anyio.CancelScope(shield=True):
                await rt.twin.aclose()
        for runner in reversed(runners):
            with anyio.CancelScope(shield=True):
                await runner.cleanup()


async def _drive(twins: Twins, rate: float) -> None:
    """Step the model at ``rate`` Hz on a fixed schedule (no drift), until cancelled."""
    period = 1.0 / rate
    next_at = anyio.current_time()
    while True:
        twins.step()
        next_at += period
        await anyio.sleep(max(0.0, next_at - anyio.current_time()))
