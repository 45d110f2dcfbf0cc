"""Peer harness: cryptofeed 2.4.1's book handlers on the decode benchmark's frames, offline.

Runs inside bench/.venv-peers (bash bench/setup_peers.sh), as a subprocess of bench/decode.py:

    bench/.venv-peers/bin/python bench/peers/cryptofeed_decode.py --venue binance --frames F --warmup W

The frames file holds the snapshot on line 1 (Binance: the GET /fapi/v1/depth body; OKX: the snapshot push)
and one delta frame per following line. Nothing touches the network:
- the symbol cache is filled by hand (``Symbols.set``), so constructing the feed fetches no exchangeInfo;
- Binance: ``_l2_book`` and ``last_update_id`` are primed from the snapshot body exactly as
  ``Binance._snapshot`` does after its REST call, so ``_book`` never calls ``_snapshot``;
- OKX: the snapshot push goes through ``message_handler`` like any frame (``checksum_validation=True``,
  the same work crossbook's OKX codec does).
Then ``await feed.message_handler(frame_str, None, ts)`` runs for every frame, with an L2_BOOK callback that
does nothing ("noop") or reads best bid and ask (``book.book.bids.index(0)``, ``asks.index(0)``: "best").
Each repeat builds a fresh feed; the first ``--warmup`` frames are fed untimed, the rest timed one by one
with perf_counter_ns. msgs/s is timed frames / sum of per-frame times (timer overhead < 1 % here).

Prints one JSON object on stdout: {"peer", "version", "venue", "modes": {mode: [run, ...]}, "final_best",
"callbacks"}; each run has p50_us, p99_us, mean_us, msgs_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import time
from decimal import Decimal
from importlib.metadata import version

from cryptofeed.defines import L2_BOOK, OKX, PERPETUAL
from cryptofeed.exchanges import OKX as OkxFeed
from cryptofeed.exchanges import BinanceFutures
from cryptofeed.symbols import Symbols
from cryptofeed.types import OrderBook

PAIR = "BTC-USDT-PERP"
perf_ns = time.perf_counter_ns


def _percentile(s: list[int], q: float) -> float:
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * (len(s) - 1)))))
    return s[k] / 1000.0


class _Sink:
    """L2_BOOK callbacks: count calls; optionally read best bid/ask the way a cryptofeed user would."""

    def __init__(self) -> None:
        self.calls = 0
        self.best: tuple[str, str, str, str] | None = None

    async def noop(self, book, receipt_timestamp) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1

    async def best_read(self, book, receipt_timestamp) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1
        bb = book.book.bids.index(0)
        ba = book.book.asks.index(0)
        self.best = (str(bb[0]), str(bb[1]), str(ba[0]), str(ba[1]))


def _binance_feed(snapshot: str, cb) -> BinanceFutures:  # type: ignore[no-untyped-def]
    Symbols.set(
        BinanceFutures.id,
        {PAIR: "BTCUSDT"},
        {"tick_size": {PAIR: "0.10"}, "instrument_type": {PAIR: PERPETUAL}},
    )
    feed = BinanceFutures(symbols=[PAIR], channels=[L2_BOOK], callbacks={L2_BOOK: cb})
    # What Binance._snapshot does with the REST answer (cryptofeed/exchanges/binance.py), minus the HTTP.
    resp = json.loads(snapshot, parse_float=Decimal)
    feed.last_update_id[PAIR] = resp["lastUpdateId"]
    feed._l2_book[PAIR] = OrderBook(
        feed.id,
        PAIR,
        max_depth=feed.max_depth,
        bids={Decimal(u[0]): Decimal(u[1]) for u in resp["bids"]},
        asks={Decimal(u[0]): Decimal(u[1]) for u in resp["asks"]},
    )
    return feed


async def _okx_feed(snapshot: str, cb):  # type: ignore[no-untyped-def]
    Symbols.set(
        OKX, {PAIR: "BTC-USDT-SWAP"}, {"tick_size": {PAIR: "0.1"}, "instrument_type": {PAIR: PERPETUAL}}
    )
    feed = OkxFeed(symbols=[PAIR], channels=[L2_BOOK], callbacks={L2_BOOK: cb}, checksum_validation=True)
    await feed.message_handler(snapshot, None, time.time())
    return feed


async def _run_once(venue: str, snapshot: str, frames: list[str], warmup: int, mode: str) -> dict:
    sink = _Sink()
    cb = sink.noop if mode == "noop" else sink.best_read
    feed = _binance_feed(snapshot, cb) if venue == "binance" else await _okx_feed(snapshot, cb)
    handler = feed.message_handler
    ts = time.time()
    for f in frames[:warmup]:
        await handler(f, None, ts)
    timed = frames[warmup:]
    samples = [0] * len(timed)
    gc.collect()
    i = 0
    for f in timed:
        t0 = perf_ns()
        await handler(f, None, ts)
        samples[i] = perf_ns() - t0
        i += 1
    total = sum(samples)
    samples.sort()
    book = feed._l2_book[PAIR].book
    bb = book.bids.index(0)
    ba = book.asks.index(0)
    calls = sink.calls - (1 if venue == "okx" else 0)  # the OKX snapshot push also calls back
    await feed.http_conn.close()
    return {
        "p50_us": _percentile(samples, 50),
        "p99_us": _percentile(samples, 99),
        "mean_us": total / len(samples) / 1000.0,
        "msgs_per_s": len(samples) / (total / 1e9),
        "callbacks": calls,
        "final_best": [str(bb[0]), str(bb[1]), str(ba[0]), str(ba[1])],
    }


async def _main(args: argparse.Namespace, lines: list[str]) -> dict:
    snapshot, frames = lines[0], lines[1:]
    out: dict = {
        "peer": "cryptofeed",
        "version": version("cryptofeed"),
        "venue": args.venue,
        "frames": len(frames),
        "warmup": args.warmup,
        "modes": {},
    }
    for mode in args.modes.split(","):
        runs = [await _run_once(args.venue, snapshot, frames, args.warmup, mode) for _ in range(args.repeats)]
        out["modes"][mode] = runs
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venue", choices=("binance", "okx"), required=True)
    p.add_argument("--frames", required=True, help="snapshot on line 1, one frame per following line")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--modes", default="noop,best")
    args = p.parse_args()
    logging.disable(logging.CRITICAL)  # a "Missing book update" warning would show up as a callback miss
    with open(args.frames, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    print(json.dumps(asyncio.run(_main(args, lines))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
