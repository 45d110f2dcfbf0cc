"""``python -m supervisor``: load the config, build the graph, run until a signal or ``--duration``.

Rules:
- A broken config is one line on stderr naming the file and the problem, and exit code 2.
- ``--simulate`` starts the venue twins in this process and points every venue at them with the twins'
  credentials; with no ``--config`` the built-in demo config is used.
- ``daemon.role`` (all | venues | strategies) picks what runs here (daemon/wiring.py); a strategies process
  starts no twins, no exchange actors and no journal. The NATS bridge's state is in the status lines and
  metrics; NATS being down never stops the local process.
- SIGTERM / SIGINT drain in order: strategies stop, the router settles open orders by the configured
  shutdown policy (cancel or leave), then the rest stops in reverse start order (journal closed, sockets
  closed), all within a bounded time. SIGHUP reloads the strategies' settings from the config file.
- On a terminal a live status table; otherwise structured JSON log lines. Secrets are never printed.
- uvloop is used when it is installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import msgspec
from aiohttp import web

from actors.bus import Bus
from actors.clock import LiveClock
from actors.exchanges.adapter import Endpoints
from actors.exchanges.base import ExchangeActor
from actors.nats_bridge import NatsBridge
from actors.router import OrderRouter, SettleOrders
from actors.strategies.base import Reload
from daemon.config import Config, Role, default_config, load_config
from daemon.metrics import metrics_app
from daemon.observe import collectors, health_summary
from daemon.status import StatusView
from daemon.wiring import build_graph, load_strategy_class, strategy_settings
from messages import Venue
from supervisor import ChildSpec
from venues import Credentials
from venues.errors import ConfigError

__all__ = ["run_daemon"]

log = logging.getLogger("crossbook.daemon")


def _json_mode(fmt: str) -> bool:
    return fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())


def _log(fmt: str, event: str, **fields: Any) -> None:
    if _json_mode(fmt):
        print(json.dumps({"ts": time.time(), "event": event, **fields}, default=str), flush=True)
    elif fmt == "text":
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        print(f"{time.strftime('%H:%M:%S')} {event} {extra}", flush=True)


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config) if args.config else default_config()


def _check(cfg: Config, simulate: bool) -> None:
    """Everything that can be validated without a network: strategies import, settings decode, credentials."""
    from daemon.config import credentials_for

    for s in cfg.strategies:
        if s.enabled:
            strategy_settings(load_strategy_class(s.path), s)
    if cfg.daemon.role is Role.STRATEGIES:
        return  # no venue is reached from here
    if not simulate:
        for name, section in cfg.venues.items():
            if section.enabled:
                credentials_for(name, section)
    if not cfg.enabled_venues():
        msg = "no venue is enabled"
        raise ConfigError(msg)


def _underlyings(cfg: Config) -> list[str]:
    out: list[str] = []
    for section in cfg.enabled_venues().values():
        for inst in section.instruments:
            base = inst.split("-", 1)[0]
            if base not in out:
                out.append(base)
    return out or ["BTC"]


async def _amain(args: argparse.Namespace, cfg: Config) -> int:
    fmt = args.log_format if args.log_format != "auto" else cfg.daemon.log_format
    json_logs = _json_mode(fmt)
    tty = sys.stdout.isatty() and fmt == "auto"
    bus = Bus()
    clock = LiveClock()
    rng = random.Random()
    async with AsyncExitStack() as stack:
        endpoints: dict[Venue, Endpoints] = {}
        creds: dict[Venue, Credentials] = {}
        if args.simulate and cfg.daemon.role is not Role.STRATEGIES:
            from simulator.runner import start_twins

            venues = [v.value for v in cfg.enabled_venues()]
            twins = await stack.enter_async_context(
                start_twins(venues, seed=args.seed, symbols=_underlyings(cfg), rate=args.rate)
            )
            for name, rt in twins.running.items():
                venue = Venue(name)
                endpoints[venue] = Endpoints(rest=rt.rest, ws=dict(rt.ws))
                c = rt.twin.credentials
                creds[venue] = Credentials(c.api_key, c.secret, c.passphrase or "")
                _log(fmt, "twin.started", venue=name, rest=rt.rest)
        graph = build_graph(cfg, bus, clock, rng, endpoints=endpoints, credentials=creds)
        sup = graph.supervisor

        def exchange(venue: Venue) -> ExchangeActor | None:
            h = sup.children.get(graph.exchange_names[venue])
            return h.actor if h is not None and isinstance(h.actor, ExchangeActor) else None

        sources = {v.value: (lambda v=v: (exchange(v).stats() if exchange(v) is not None else {"state": "down"}))
                   for v in graph.exchange_names}
        status = StatusView(bus, tty=tty, json_logs=json_logs, interval_s=cfg.daemon.status_interval_s,
                            sources=sources, nats=_bridge_status(sup, graph.bridge_name) if graph.bridge_name else None)
        # First, so it sees every event from the start (the first Failover, book states...).
        sup._specs.insert(0, ChildSpec(name="status", factory=lambda: status))  # noqa: SLF001
        _log(fmt, "daemon.starting", role=cfg.daemon.role.value, simulate=bool(args.simulate),
             venues=[v.value for v in graph.exchange_names],
             strategies=graph.strategy_names, duration=args.duration)
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            if cfg.daemon.metrics:
                host, _, port = cfg.daemon.metrics.rpartition(":")
                app = metrics_app(collectors(sup, graph, status, bus), lambda: health_summary(status))
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                stack.push_async_callback(runner.cleanup)
                try:
                    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
                except OSError as exc:  # the daemon is worth more than its metrics: go on without them
                    _log(fmt, "metrics.unavailable", address=cfg.daemon.metrics, error=str(exc))
                else:
                    _log(fmt, "metrics.listening", address=f"http://{host or '127.0.0.1'}:{port}/metrics")
            _log(fmt, "daemon.started", children=list(sup.children))

            async def _signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as sigs:
                    async for signum in sigs:
                        name = signal.Signals(signum).name
                        _log(fmt, "daemon.signal", signal=name)
                        if signum == signal.SIGHUP:
                            await _reload(args, graph, sup, fmt)
                            continue
                        done.set()
                        return

            async def _timer() -> None:
                await anyio.sleep(args.duration)
                done.set()

            tg.start_soon(_signals)
            if args.duration is not None:
                tg.start_soon(_timer)
            await done.wait()
            with anyio.CancelScope(shield=True), anyio.move_on_after(cfg.daemon.shutdown_timeout_s * 3):
                await _drain(cfg, graph, sup, fmt)
            tg.cancel_scope.cancel()
        if graph.journal is not None:
            graph.journal.close()
    bus.close()
    _log(fmt, "daemon.stopped")
    return 0


def _bridge_status(sup: Any, name: str) -> Any:
    def read() -> dict[str, Any]:
        h = sup.children.get(name)
        actor = h.actor if h is not None else None
        if not isinstance(actor, NatsBridge):
            return {"state": "down"}
        return msgspec.to_builtins(actor.status())  # type: ignore[no-any-return]

    return read


async def _drain(cfg: Config, graph: Any, sup: Any, fmt: str) -> None:
    """Strategies first, then the router settles orders, then everything else in reverse start order."""
    for name in reversed(graph.strategy_names):
        await sup.stop_child(name)
    router = sup.children.get("router")
    if router is not None and isinstance(router.actor, OrderRouter) and router.actor.alive:
        try:
            summary = await router.actor.ref.ask(
                SettleOrders(policy=cfg.daemon.shutdown_policy, timeout_s=cfg.daemon.shutdown_timeout_s),
                timeout=cfg.daemon.shutdown_timeout_s + 2,
            )
            _log(fmt, "router.settled", policy=cfg.daemon.shutdown_policy, **summary)
        except Exception as exc:  # noqa: BLE001 - shutdown goes on whatever the router says
            _log(fmt, "router.settle_failed", error=f"{type(exc).__name__}: {exc}")
    await sup.stop(cfg.daemon.shutdown_timeout_s * 2)


async def _reload(args: argparse.Namespace, graph: Any, sup: Any, fmt: str) -> None:
    if not args.config:
        _log(fmt, "config.reload_skipped", reason="no --config file (built-in defaults)")
        return
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        _log(fmt, "config.reload_failed", error=str(exc))
        return
    for s in cfg.strategies:
        name = f"strategy.{s.name}"
        h = sup.children.get(name)
        if h is None or h.ref is None:
            continue
        try:
            settings = strategy_settings(load_strategy_class(s.path), s)
            await h.ref.tell(Reload(settings=settings))
            _log(fmt, "strategy.reloaded", strategy=s.name)
        except (ConfigError, Exception) as exc:  # noqa: BLE001 - a bad reload keeps the old settings
            _log(fmt, "strategy.reload_failed", strategy=s.name, error=str(exc))


def run_daemon(args: argparse.Namespace) -> int:
    try:
        cfg = _load(args)
        _check(cfg, bool(args.simulate))
    except ConfigError as exc:
        print(f"crossbook: config error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"crossbook: config ok: {args.config or '<built-in default>'} "
              f"({len(cfg.enabled_venues())} venues, {len(cfg.strategies)} strategies)")
        return 0
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    backend_options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        backend_options["use_uvloop"] = True
    except ImportError:
        pass
    try:
        return anyio.run(_amain, args, cfg, backend="asyncio", backend_options=backend_options)
    except ConfigError as exc:
        print(f"crossbook: config error: {exc}", file=sys.stderr)
        return 2
