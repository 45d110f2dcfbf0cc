"""Per venue: REST latency on the server-time endpoint, WebSocket event-time -> receipt latency, error rate.

    python bench/venues.py [--quick] [--json PATH] [--live] [--venues binance,okx] [--requests N] [--seconds S]

Default: against the twins (simulator.runner.start_twins, in this process, 20 book updates/s). ``--live``:
against the exchanges' public endpoints (each adapter's LIVE_ENDPOINTS; no credentials, public data only).
Per venue, through crossbook's own code paths:
- REST: N sequential ``adapter.server_time_request()`` calls through actors.transport.RestClient; p50/p99
  of the round trip; errors = failed requests / requests;
- WS: one real ExchangeActor subscribed to the venue's BTC perpetual book for S seconds; per Quote,
  ts_recv - ts_event corrected by the actor's measured clock offset (venue event times are ms, so this is
  ms-resolution); errors = frames dropped by the codec / (Quotes + dropped).
A venue that cannot be reached is reported with the URL and the reason, and the others go on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import anyio  # noqa: E402

from actors import topics  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.exchanges.adapter import Endpoints  # noqa: E402
from actors.exchanges.base import ExchangeActor, ExchangeConfig  # noqa: E402
from actors.ratelimit import VenueLimiter
from actors.transport import RestClient  # noqa: E402
from bench.report import print_table, summarize_us, write_json  # noqa: E402
from venues.symbols import InstrumentRegistry  # noqa: E402

VENUES = ("binance", "bybit", "okx", "deribit")
INSTRUMENT = {"binance": "BTC-USDT-PERP", "bybit": "BTC-USDT-PERP", "okx": "BTC-USDT-PERP", "deribit": "BTC-USD-PERP"}


def adapter(venue: str, endpoints: Endpoints | None) -> Any:
    """The venue's adapter with the given endpoints, or its LIVE_ENDPOINTS when None."""
    import importlib

    m = importlib.import_module(f"actors.exchanges.{venue}")
    cls = {"binance": "BinanceAdapter", "bybit": "BybitAdapter", "okx": "OkxAdapter", "deribit": "DeribitAdapter"}[venue]
    ep = endpoints or m.LIVE_ENDPOINTS
    kw: dict[str, Any] = {"trades": False} if venue != "bybit" else {}
    return getattr(m, cls)(InstrumentRegistry(), ep, **kw)


class _Quotes:
    def __init__(self) -> None:
        self.samples: list[tuple[int, int]] = []

    def deliver(self, topic: str, msg: Any) -> None:
        self.samples.append((msg.ts_recv, msg.ts_event))


async def rest_latency(ad: Any, n: int) -> dict[str, Any]:
    spec = ad.server_time_request()
    url = ad.endpoints.rest.rstrip("/") + spec.target
    samples: list[int] = []
    errors: list[str] = []
    buckets, routes = ad.rate_buckets()
    limiter = VenueLimiter(str(ad.venue), buckets, routes=routes)  # paced as the exchange actor paces it
    async with aiohttp.ClientSession() as session:
        client = RestClient(ad.endpoints.rest, session, timeout_s=5.0)
        for _ in range(n):
            await limiter.acquire(spec)
            t0 = time.perf_counter_ns()
            try:
                resp = await client.send(spec)
                ad.raise_for_error(resp)
                ad.parse_server_time(resp)
            except Exception as exc:  # counted and reported: this is the error rate
                errors.append(f"{type(exc).__name__}: {exc}")
                if len(errors) >= 3 and not samples:
                    break  # unreachable: stop hammering it
                continue
            samples.append(time.perf_counter_ns() - t0)
    await anyio.sleep(2.0)  # let per-2-second windows (OKX) empty before the WebSocket part starts the actor
    row = summarize_us(samples) if samples else {}
    tried = len(samples) + len(errors)
    return {"url": url, "rest": row, "rest_errors": len(errors), "rest_requests": tried,
            "rest_error_rate": len(errors) / tried if tried else 1.0, "rest_first_error": errors[0] if errors else ""}


async def ws_latency(ad: Any, venue: str, seconds: float) -> dict[str, Any]:
    bus = Bus()
    probe = _Quotes()
    bus.subscribe(topics.quote(topics.ALL), probe, name="bench.quotes")
    actor = ExchangeActor(ad, ExchangeConfig(instruments=[INSTRUMENT[venue]], depth_levels=0, connect_timeout_s=5.0),
                          bus=bus, name=f"exchange.{venue}")
    try:
        with anyio.fail_after(seconds + 15):
            async with anyio.create_task_group() as tg:
                await tg.start(actor.run)
                await anyio.sleep(seconds)
                tg.cancel_scope.cancel()
    except Exception as exc:
        return {"ws_error": f"{type(exc).__name__}: {exc}"[:300], "ws_error_rate": 1.0}
    finally:
        bus.close()
    off_ns = int(actor.offset_ms * 1e6)
    lat = [tr + off_ns - te for tr, te in probe.samples]
    dropped = sum(actor.dropped.values())
    n = len(probe.samples)
    return {"ws": summarize_us(lat) if lat else {}, "ws_quotes": n, "ws_dropped": dropped,
            "ws_error_rate": dropped / (n + dropped) if n + dropped else 1.0, "clock_offset_ms": actor.offset_ms}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    async def one(venue: str, endpoints: Endpoints | None) -> None:
        ad = adapter(venue, endpoints)
        r = await rest_latency(ad, args.requests)
        row: dict[str, Any] = {"name": venue, "target": "live" if args.live else "twin", "url": r["url"],
                               "rest_error_rate": r["rest_error_rate"]}
        if r["rest"]:
            row["rest_p50_us"], row["rest_p99_us"] = r["rest"]["p50_us"], r["rest"]["p99_us"]
        else:
            row["error"] = f"unreachable: {r['url']}: {r['rest_first_error']}"[:300]
            print(f"  {venue}: {row['error']}", flush=True)
            rows.append(row)
            return
        w = await ws_latency(adapter(venue, endpoints), venue, args.seconds)
        if "ws" in w and w["ws"]:
            row["ws_event_to_recv_p50_us"] = w["ws"]["p50_us"]
            row["ws_event_to_recv_p99_us"] = w["ws"]["p99_us"]
            row["ws_quotes"] = w["ws_quotes"]
        row["ws_error_rate"] = w["ws_error_rate"]
        if "ws_error" in w:
            row["error"] = f"websocket: {w['ws_error']}"
        rows.append(row)

    if args.live:
        for v in args.venues:
            await one(v, None)
        return rows
    from simulator.runner import start_twins

    async with start_twins(list(args.venues), symbols=["BTC"], rate=20) as twins:
        for v in args.venues:
            rt = twins[v]
            await one(v, Endpoints(rest=rt.rest, ws=dict(rt.ws)))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--live", action="store_true", help="the real exchanges' public endpoints (needs internet)")
    p.add_argument("--venues", default=",".join(VENUES))
    p.add_argument("--requests", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None)
    args = p.parse_args()
    args.venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    bad = [v for v in args.venues if v not in VENUES]
    if bad:
        p.error(f"--venues: expected a subset of {','.join(VENUES)}, got {','.join(bad)}")
    args.requests = args.requests or (50 if args.quick else 300)
    args.seconds = args.seconds or (3.0 if args.quick else 20.0)
    rows = anyio.run(run, args, backend="asyncio")
    cols = ["name", "target", "rest_p50_us", "rest_p99_us", "rest_error_rate", "ws_event_to_recv_p50_us",
            "ws_event_to_recv_p99_us", "ws_quotes", "ws_error_rate", "error"]
    print_table(f"venues ({'live' if args.live else 'twins'}; ws latency from ms event times, offset-corrected)", rows, cols)
    if args.json:
        write_json(args.json, {"quick": args.quick, "live": args.live, "requests": args.requests,
                               "seconds": args.seconds}, rows)
    unreachable = [r for r in rows if "rest_p50_us" not in r]
    return 2 if unreachable and len(unreachable) == len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
