"""``python -m simulator``: run venue twins on 127.0.0.1 until SIGINT/SIGTERM.

The first line on stdout is one JSON object: per venue its REST base URL, WebSocket URLs and the
credentials it accepts. Ports: binance P+1, bybit P+2, okx P+3, deribit P+4 (P = ``--port-base``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

import anyio

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
    return p.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    ports = {v: args.port_base + PORT_OFFSETS.get(v, 10 + i) for i, v in enumerate(venues)}
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with start_twins(venues, seed=args.seed, symbols=symbols, rate=args.rate, ports=ports) as twins:
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
