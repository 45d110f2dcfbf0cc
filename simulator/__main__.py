"""``python -m simulator``: run venue twins on 127.0.0.1 until SIGINT/SIGTERM.

The first line on stdout is one JSON object: per venue its REST base URL, WebSocket URLs and the
credentials it accepts. Ports: binance P+1, bybit P+2, okx P+3, deribit P+4 (P = ``--port-base``).
``--rtt-ms R --jitter-ms J`` give every twin ``LatencyProfile.from_rtt(R, J, seed)``: each REST request and
response and each WS frame either way is delayed R/2 ms plus a uniform 0..J ms (simulator/latency.py).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

import anyio

from simulator.latency import LatencyProfile
from simulator.runner import UnknownVenue, default_factories, start_twins

PORT_OFFSETS = {"binance": 1, "bybit": 2, "okx": 3, "deribit": 4}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    known = ", ".join(default_factories())
    p = argparse.ArgumentParser(prog="python -m simulator", description="Run venue twins on 127.0.0.1.")
    p.add_argument("--port-base", type=int, default=8100, help="binance on P+1, bybit P+2, okx P+3, deribit P+4")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--symbols", default="BTC,ETH", help="underlyings, comma separated")
    p.add_argument("--rate", type=float, default=10.0, help="book updates per second per instrument")
    p.add_argument("--venues", default=",".join(default_factories()), help=f"comma separated; available: {known}")
    p.add_argument("--rtt-ms", type=float, default=0.0,
                   help="network round trip of every twin: REST request/response and WS frames each way get half")
    p.add_argument("--jitter-ms", type=float, default=0.0,
                   help="uniform 0..J ms extra on every delayed message, per direction (seeded by --seed)")
    p.add_argument("--twin-option", action="append", default=[], metavar="VENUE.KEY=JSON",
                   help="a twin config option, e.g. bybit.dcp_enabled=false (repeatable; the value is JSON)")
    args = p.parse_args(argv)
    try:
        args.options = _twin_options(args.twin_option)
    except ValueError as exc:
        p.error(str(exc))
    if not (args.rtt_ms >= 0 and args.jitter_ms >= 0):
        p.error(f"--rtt-ms and --jitter-ms must be >= 0, got {args.rtt_ms} and {args.jitter_ms}")
    return args


def _twin_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["bybit.dcp_enabled=false"]`` -> ``{"bybit": {"dcp_enabled": False}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        venue, dot, name = key.partition(".")
        if not (sep and dot and venue and name):
            msg = f"--twin-option {item!r}: expected VENUE.KEY=JSON"
            raise ValueError(msg)
        try:
            out.setdefault(venue, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            msg = f"--twin-option {item!r}: the value is not JSON"
            raise ValueError(msg) from None
    return out


async def _run(args: argparse.Namespace) -> int:
    venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    ports = {v: args.port_base + PORT_OFFSETS.get(v, 10 + i) for i, v in enumerate(venues)}
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    latency = LatencyProfile.from_rtt(args.rtt_ms, args.jitter_ms, seed=args.seed)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with start_twins(venues, seed=args.seed, symbols=symbols, rate=args.rate, ports=ports,
                               latency=latency, options=args.options) as twins:
            print(json.dumps(twins.to_json()), flush=True)
            async for _sig in signals:
                break
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return anyio.run(_run, args)
    except UnknownVenue as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
