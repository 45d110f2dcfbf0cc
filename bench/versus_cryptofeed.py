"""crossbook vs cryptofeed 2.4.1 on the same generated Binance USD-M and OKX depth frames, offline.

    python bench/versus_cryptofeed.py [--quick] [--json PATH] [--repeats N]

Frames: bench/frames.py (10+10 level changes per frame, in sequence; OKX with its CRC32 checksum), checked
frame by frame against the generator's best bid/ask on our codec before timing (bench/decode.py's
``_validate``). Per venue:
- ours without a best read: ``codec.feed(frame, ts)`` on a LIVE book, result discarded;
- ours with a best read: the same, then bid/ask read from the Quote it returns;
- cryptofeed, no-op L2_BOOK callback, and with best bid/ask read per message (bench/peers/
  cryptofeed_decode.py in bench/.venv-peers; create it with ``bash bench/setup_peers.sh``).
Both OKX sides verify the checksum. Reported: msgs/s (medians over repeats, min, max), per-frame p50/p99,
and ratio_vs_cryptofeed = our msgs/s / cryptofeed's in the same mode.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import frames as gen  # noqa: E402
from bench.decode import _peer, _peer_row, _row, _validate, _Venue  # noqa: E402
from bench.report import print_table, write_json  # noqa: E402

perf_ns = time.perf_counter_ns
VENUES = ("binance", "okx")


def _per_frame(feed: Any, frames: list[bytes], read_best: bool) -> list[int]:
    out = [0] * len(frames)
    for i, f in enumerate(frames):
        t0 = perf_ns()
        q = feed(f, t0)
        if read_best:
            q = q[-1]
            bid, ask = q.bid_px, q.ask_px  # noqa: F841
        out[i] = perf_ns() - t0
    return out


def _batch(feed: Any, frames: list[bytes], read_best: bool) -> float:
    t0 = perf_ns()
    if read_best:
        for f in frames:
            q = feed(f, t0)[-1]
            bid, ask = q.bid_px, q.ask_px  # noqa: F841
    else:
        for f in frames:
            feed(f, t0)
    return len(frames) / ((perf_ns() - t0) / 1e9)


def _ours(v: _Venue, stream: gen.VenueStream, warmup: int, repeats: int, read_best: bool) -> dict[str, Any]:
    timed = stream.frames[warmup:]
    runs, rates = [], []
    for _ in range(repeats):
        for per_frame in (True, False):
            codec = v.live_codec(stream)
            _batch(codec.feed, stream.frames[:warmup], False)
            gc.collect()
            if per_frame:
                runs.append(_per_frame(codec.feed, timed, read_best))
            else:
                rates.append(_batch(codec.feed, timed, read_best))
    what = "+ best bid/ask read" if read_best else "no best read"
    return _row(f"{v.name} crossbook codec.feed, {what}", runs, rates)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    n_timed, warmup = (10_000, 2_000) if args.quick else (50_000, 5_000)
    t_start = time.perf_counter()
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in VENUES:
        v = _Venue(name)
        stream = gen.generate(name, warmup + n_timed)
        _validate(v, stream)
        ours_noop = _ours(v, stream, warmup, repeats, False) | {"venue": name, "mode": "noop", "who": "crossbook"}
        ours_best = _ours(v, stream, warmup, repeats, True) | {"venue": name, "mode": "best", "who": "crossbook"}
        results += [ours_noop, ours_best]
        peer = _peer(name, stream, warmup, repeats)
        if isinstance(peer, str):
            notes.append(f"{name}: cryptofeed rows missing: {peer}")
            continue
        noop = _peer_row(f"{name} cryptofeed {peer['version']} handler, no-op callback", peer["modes"]["noop"])
        best = _peer_row(f"{name} cryptofeed {peer['version']} handler + best bid/ask read", peer["modes"]["best"])
        noop |= {"venue": name, "mode": "noop", "who": "cryptofeed"}
        best |= {"venue": name, "mode": "best", "who": "cryptofeed"}
        ours_noop["ratio_vs_cryptofeed"] = ours_noop["msgs_per_s"] / noop["msgs_per_s"]
        ours_best["ratio_vs_cryptofeed"] = ours_best["msgs_per_s"] / best["msgs_per_s"]
        results += [noop, best]
    cols = ["name", "p50_us", "p99_us", "mean_us", "msgs_per_s", "msgs_per_s_min", "msgs_per_s_max",
            "ratio_vs_cryptofeed"]
    print_table(f"crossbook vs cryptofeed, offline, same frames (repeats={repeats}, medians; "
                "ratio = our msgs/s / cryptofeed's, same mode)", results, cols)
    for n in notes:
        print(f"note: {n}")
    elapsed = time.perf_counter() - t_start
    print(f"\n({elapsed:.1f} s)")
    if args.json:
        write_json(args.json, {"quick": args.quick, "repeats": repeats, "frames_timed": n_timed, "warmup": warmup,
                               "notes": notes, "elapsed_s": round(elapsed, 1)}, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
