"""Build the object graph from the configuration and run it until a signal or ``--duration``.

Signals: SIGINT and SIGTERM stop the supervisor (children in reverse start order) and exit 0.
uvloop is used when it is installed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

import anyio
import msgspec

from actors import topics
from actors.bus import Bus
from actors.clock import LiveClock
from supervisor import Supervisor

__all__ = ["run_daemon"]


def _log(fmt: str, event: str, **fields: Any) -> None:
    if fmt == "json" or (fmt == "auto" and not sys.stdout.isatty()):
        print(json.dumps({"ts": time.time(), "event": event, **fields}), flush=True)
    else:
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        print(f"{time.strftime('%H:%M:%S')} {event} {extra}", flush=True)


async def _amain(args: argparse.Namespace) -> int:
    if not args.simulate:
        return await _run(args)
    from simulator.runner import default_factories, start_twins

    async with start_twins(list(default_factories()), seed=1, symbols=("BTC", "ETH"), rate=10.0) as twins:
        for venue, rt in twins.running.items():
            _log(args.log_format, "twin.started", venue=venue, rest=rt.rest)
        return await _run(args)


async def _run(args: argparse.Namespace) -> int:
    bus = Bus()
    clock = LiveClock()
    sup = Supervisor("root", [], bus=bus, clock=clock)
    events = bus.subscribe_events(topics.actor(), name="daemon-log", capacity=10_000)
    fmt = args.log_format
    _log(fmt, "daemon.starting", simulate=bool(args.simulate), duration=args.duration)
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        _log(fmt, "daemon.started", children=len(sup.children))

        async def _signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as sigs:
                async for signum in sigs:
                    _log(fmt, "daemon.signal", signal=signal.Signals(signum).name)
                    break
            done.set()

        async def _timer() -> None:
            await anyio.sleep(args.duration)
            done.set()

        async def _events() -> None:
            assert events.receiver is not None
            while True:
                msg = await events.receiver.receive()
                _log(fmt, f"actor.{type(msg).__name__}", **msgspec.to_builtins(msg))

        tg.start_soon(_signals)
        tg.start_soon(_events)
        if args.duration is not None:
            tg.start_soon(_timer)
        await done.wait()
        await sup.stop(10.0)  # children stop in reverse start order
        tg.cancel_scope.cancel()
    events.cancel()
    _log(fmt, "daemon.stopped")
    return 0


def run_daemon(args: argparse.Namespace) -> int:
    if args.check:
        _log(args.log_format, "config.ok", config=args.config or "<built-in default>")
        return 0
    backend_options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        backend_options["use_uvloop"] = True
    except ImportError:
        pass
    return anyio.run(_amain, args, backend="asyncio", backend_options=backend_options)
