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
import gc
import json
import logging
import random
import signal
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
from aiohttp import web

from actors import topics
from actors.bus import Bus
from actors.clock import LiveClock
from actors.exchanges.adapter import Endpoints
from actors.journal import JournalUnusable
from actors.router import SettleOrders
from actors.strategies.base import Reload
from actors.supervision import ChildSpec
from daemon.config import Config, Role, default_config, load_config
from daemon.logs import DaemonLogHandler
from daemon.logs import install as install_logs
from daemon.metrics import metrics_app
from daemon.observe import collectors, health_summary
from daemon.status import StatusView
from daemon.wiring import adapter_for, build_graph, exchange_name, load_strategy_class, strategy_settings
from messages import ActorGaveUp, DeadMansSwitch, SwitchState, Venue
from venues import Credentials
from venues.errors import ConfigError
from venues.symbols import InstrumentRegistry

__all__ = ["run_daemon"]

log = logging.getLogger("crossbook.daemon")


def _json_mode(fmt: str) -> bool:
    return fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())


def _recent_warnings() -> list[str]:
    """The latest warnings of the process's log handler (for the live table)."""
    return [line for h in logging.getLogger().handlers if isinstance(h, DaemonLogHandler) for line in h.recent]


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
    for name, section in cfg.enabled_venues().items():
        adapter_for(name, InstrumentRegistry(), None, section)  # venue options (the switch's range...) hold
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
            from simulator.latency import LatencyProfile
            from simulator.runner import start_twins

            venues = [v.value for v in cfg.enabled_venues()]
            latency = LatencyProfile.from_rtt(args.simulate_rtt_ms, args.simulate_jitter_ms, seed=args.seed)
            twins = await stack.enter_async_context(
                start_twins(venues, seed=args.seed, symbols=_underlyings(cfg), rate=args.rate, latency=latency)
            )
            for name, rt in twins.running.items():
                venue = Venue(name)
                endpoints[venue] = Endpoints(rest=rt.rest, ws=dict(rt.ws))
                c = rt.twin.credentials
                creds[venue] = Credentials(c.api_key, c.secret, c.passphrase or "")
                _log(fmt, "twin.started", venue=name, rest=rt.rest)
        trading = cfg.daemon.role is not Role.STRATEGIES
        status = StatusView(bus, tty=tty, json_logs=json_logs, interval_s=cfg.daemon.status_interval_s,
                            warnings=_recent_warnings, nats=bool(cfg.nats.url),
                            venues={v.value: exchange_name(v) for v in cfg.enabled_venues()} if trading else {})
        # First, so it sees every event from the start (the first Failover, book states...).
        graph = build_graph(cfg, bus, clock, rng, endpoints=endpoints, credentials=creds,
                            first=[ChildSpec(name="status", factory=lambda: status)])
        sup = graph.supervisor
        _log(fmt, "daemon.starting", role=cfg.daemon.role.value, simulate=bool(args.simulate),
             venues=[v.value for v in graph.exchange_names],
             strategies=graph.strategy_names, duration=args.duration)
        done = anyio.Event()
        fatal = ""  # set when a critical actor was given up on: the daemon stops and exits non-zero
        refused = ""  # set when a configured dead-man's switch cannot be armed: the daemon refuses (exit 2)
        give_ups = _Events(bus, topics.actor("*"), "daemon:give-ups")
        switches = _Events(bus, topics.switch(), "daemon:switches")
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            # Everything built at start lives as long as the daemon: out of the collector, so that a full
            # collection scans only what came since and never pauses the loop long enough to look like a
            # stalled venue.
            gc.collect()
            gc.freeze()
            if cfg.daemon.metrics:
                host, _, port = cfg.daemon.metrics.rpartition(":")
                app = metrics_app(collectors(status, bus), lambda: health_summary(status))
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

            critical = {"router", "health", "aggregator"} | ({graph.bridge_name} if graph.bridge_name else set())

            async def _give_ups() -> None:
                """An actor the system cannot run without was given up on: stop, loudly. A strategy: it alone."""
                nonlocal fatal
                with give_ups:
                    async for ev in give_ups:
                        if not isinstance(ev, ActorGaveUp):
                            continue
                        h = sup.children.get(ev.name)
                        why = h.last_error if h is not None else ""
                        if ev.name in critical:
                            fatal = f"{ev.name} gave up after {ev.restarts} restarts in {ev.window_s:.0f} s: {why}"
                            done.set()
                            return
                        logging.getLogger("crossbook.daemon").error(
                            "%s stopped: gave up after %d restarts in %.0f s: %s", ev.name, ev.restarts, ev.window_s, why)

            async def _switches() -> None:
                """A venue refused its configured dead-man's switch before it was ever armed: refuse to run
                (resting orders there would outlive the daemon). Refused later: that venue takes no orders
                (the exchange actor refuses them), the log and the status say why."""
                nonlocal refused
                armed: set[Venue] = set()
                with switches:
                    async for ev in switches:
                        if not isinstance(ev, DeadMansSwitch):
                            continue
                        if ev.state is SwitchState.ARMED:
                            armed.add(ev.venue)
                        elif ev.state is SwitchState.REFUSED and ev.venue not in armed:
                            refused = f"{ev.venue}: dead-man's switch ({ev.window_s:g} s) cannot be armed: {ev.detail}"
                            done.set()
                            return

            tg.start_soon(_give_ups)
            tg.start_soon(_switches)
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
    if refused:
        _log(fmt, "daemon.stopped", error=refused)
        print(f"crossbook: refusing to start: {refused}", file=sys.stderr, flush=True)
        return 2
    if fatal:
        _log(fmt, "daemon.stopped", error=fatal)
        print(f"crossbook: stopped: {fatal}", file=sys.stderr, flush=True)
        return 3
    _log(fmt, "daemon.stopped")
    return 0


class _Events:
    """Events of one topic pattern from the bus, as an async iterator (a real event subscription, closed on
    exit)."""

    def __init__(self, bus: Bus, pattern: str, name: str) -> None:
        self._sub = bus.subscribe_events(pattern, name=name, capacity=10_000)

    def __enter__(self) -> _Events:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sub.cancel()

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> Any:
        assert self._sub.receiver is not None
        return await self._sub.receiver.receive()


async def _drain(cfg: Config, graph: Any, sup: Any, fmt: str) -> None:
    """Strategies first, then the router settles orders, then everything else in reverse start order."""
    for name in reversed(graph.strategy_names):
        await sup.stop_child(name)
    router = sup.children.get("router")
    ref = router.ref if router is not None and router.running else None
    if ref is not None:
        try:
            summary = await ref.ask(
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
    fmt = args.log_format if args.log_format != "auto" else cfg.daemon.log_format
    install_logs("json" if _json_mode(fmt) else "table" if sys.stdout.isatty() and fmt == "auto" else "text")
    backend_options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        backend_options["use_uvloop"] = True
    except ImportError:
        pass
    try:
        return anyio.run(_amain, args, cfg, backend="asyncio", backend_options=backend_options)
    except (ConfigError, JournalUnusable, BaseExceptionGroup) as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        print(f"crossbook: {refusal}", file=sys.stderr)
        return 2


def _refusal(exc: BaseException) -> str | None:
    """One line for a start-up refusal (a bad config, an unusable journal), wherever a task group wrapped it;
    None for anything else (which is a bug and keeps its traceback)."""
    if isinstance(exc, ConfigError):
        return f"config error: {exc}"
    if isinstance(exc, JournalUnusable):
        return f"refusing to start: {exc}"
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _refusal(exc.exceptions[0])
    return None
