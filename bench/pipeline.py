"""The two pipelines the latency and throughput benchmarks drive over loopback, one phase at a time.

- ``run_ours``: crossbook as deployed: four real ExchangeActors (Binance USD-M, Bybit, OKX, Deribit; one
  BTC perpetual each; default ExchangeConfig, so the depth publisher runs too) and the real Aggregator on
  one Bus, in this process. A tiny bus subscriber on ``agg.best.>`` stamps ``time.time_ns()`` when the
  aggregator publishes (the bus delivers synchronously inside ``publish``); another on ``quote.>`` counts
  the Quotes the actors publish. frame -> best = stamp - BestBidAsk.ts_recv (the transport's receive
  stamp, carried Quote -> BestBidAsk); server -> best = stamp - the source's send stamp (bench/replay.py
  puts it in the venue's event-time field: ts_event // 1e6). A BestBidAsk counts once per frame (the
  first one carrying that frame's ts_recv); depth-snapshot-driven ones are left out.
- ``run_floor``: the hand-written loop doing the same work on the same source streams: aiohttp ws
  receive, typed msgspec decode into minimal structs, sequence check, dict book with incrementally
  tracked best (rescan only when the best level is deleted), OKX's checksum verified (as the codec does:
  an unverified OKX book is not usable), yield per frame, one asyncio.Queue hop to an aggregator task
  that takes the best across venues and stamps. It publishes nothing else, so it is a lower bound.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import msgspec

from actors import topics
from actors.aggregation import AggregatorConfig, InstrumentGroup
from actors.aggregator import Aggregator
from actors.bus import Bus
from actors.exchanges.adapter import Endpoints
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from bench.decode import _Floor as _BinanceFloor
from bench.replay import WS_STREAM, FrameSource
from messages import InstrumentId, Venue
from venues.symbols import InstrumentRegistry

__all__ = ["VENUES", "Phase", "run_ours", "run_floor"]

VENUES = ("binance", "bybit", "okx", "deribit")
_IDS = {"binance": ("BTC-USDT-PERP", Venue.BINANCE), "bybit": ("BTC-USDT-PERP", Venue.BYBIT),
        "okx": ("BTC-USDT-PERP", Venue.OKX), "deribit": ("BTC-USD-PERP", Venue.DERIBIT)}  # fmt: skip
now_ns = time.time_ns


@dataclass
class Phase:
    """What one phase measured: per-frame samples (ns) and counts over the measuring window."""

    frame_to_best_ns: list[int] = field(default_factory=list)
    server_to_best_ns: list[int] = field(default_factory=list)
    frames: int = 0
    bests: int = 0
    window_s: float = 0.0

    @property
    def msgs_per_s(self) -> float:
        return self.frames / self.window_s if self.window_s else 0.0


class _BestProbe:
    """Bus target on agg.best.>: (publish stamp, ts_recv, ts_event) while recording."""

    def __init__(self) -> None:
        self.on = False
        self.rows: list[tuple[int, int, int]] = []

    def deliver(self, topic: str, msg: Any) -> None:
        if self.on:
            self.rows.append((now_ns(), msg.ts_recv, msg.ts_event))


class _QuoteProbe:
    def __init__(self) -> None:
        self.on = False
        self.seen: set[int] = set()
        self.venues: set[Any] = set()

    def deliver(self, topic: str, msg: Any) -> None:
        self.venues.add(msg.venue)
        if self.on:
            self.seen.add(msg.ts_recv)


def _adapter(venue: str, registry: InstrumentRegistry, rest: str, ws: dict[str, str], url: str) -> Any:
    ep = Endpoints(rest=rest, ws={**ws, WS_STREAM[venue]: url})
    if venue == "binance":
        from actors.exchanges.binance import BinanceAdapter

        return BinanceAdapter(registry, ep, trades=False)
    if venue == "bybit":
        from actors.exchanges.bybit import BybitAdapter

        return BybitAdapter(registry, ep, depth=200)
    if venue == "okx":
        from actors.exchanges.okx import OkxAdapter

        return OkxAdapter(registry, ep, trades=False)
    from actors.exchanges.deribit import DeribitAdapter

    return DeribitAdapter(registry, ep, trades=False)


async def run_ours(src: FrameSource, rate: float, warm_s: float, measure_s: float,
                   phases: dict[str, float] | None = None) -> Phase:
    """One phase of crossbook's pipeline at ``rate`` frames/s per venue (``phases``: each venue's stream on
    the source's shared grid, see bench/replay.py; None: as the connections come)."""
    bus = Bus()
    registry = InstrumentRegistry()
    actors = []
    for v in VENUES:
        u = src.urls[v]
        at = (phases or {}).get(v)
        url = src.stream_url(v, rate, at) if v != "binance" else src.stream_url(v, rate, at).rsplit("/", 1)[0]
        adapter = _adapter(v, registry, u["rest"], u["ws"], url)
        actors.append(ExchangeActor(adapter, ExchangeConfig(instruments=[_IDS[v][0]]), bus=bus, name=f"exchange.{v}"))
    members = [(_IDS[v][1], InstrumentId(_IDS[v][0])) for v in VENUES]
    best, quotes = _BestProbe(), _QuoteProbe()
    bus.subscribe(topics.best(), best, name="bench.best")
    bus.subscribe(topics.quote(topics.ALL), quotes, name="bench.quotes")
    phase = Phase()
    async with anyio.create_task_group() as tg:
        for a in actors:
            tg.start_soon(a.run)
        with anyio.fail_after(30):  # the actors load instruments from the twins' REST in on_start
            while any(registry.find(v, i) is None for v, i in members):
                await anyio.sleep(0.02)
        group = InstrumentGroup(name="btc", members=members)
        await tg.start(Aggregator(AggregatorConfig(groups=[group]), registry, bus=bus).run)
        with anyio.fail_after(30):
            while len(quotes.venues) < len(VENUES):
                await anyio.sleep(0.02)
        await anyio.sleep(warm_s)
        t0 = time.perf_counter()
        best.on = quotes.on = True
        await anyio.sleep(measure_s)
        best.on = quotes.on = False
        phase.window_s = time.perf_counter() - t0
        tg.cancel_scope.cancel()
    bus.close()
    seen = quotes.seen
    done: set[int] = set()
    for t, ts_recv, ts_event in best.rows:
        if ts_recv in seen and ts_recv not in done:
            done.add(ts_recv)
            phase.frame_to_best_ns.append(t - ts_recv)
            phase.server_to_best_ns.append(t - ts_event // 1_000_000)
    phase.frames = len(seen)
    phase.bests = len(done)
    return phase


# -- the floor ----------------------------------------------------------------------------------------------
class _Book:
    """Dict book, best tracked incrementally; a side is rescanned only when its best level is deleted."""

    __slots__ = ("bids", "asks", "bb", "ba")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.bb = 0.0
        self.ba = 0.0

    def reset(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.bb = float("-inf")
        self.ba = float("inf")

    def bid(self, px: float, sz: float) -> None:
        bids = self.bids
        if sz > 0.0:
            bids[px] = sz
            if px > self.bb:
                self.bb = px
        elif bids.pop(px, None) is not None and px == self.bb:
            self.bb = max(bids) if bids else float("-inf")

    def ask(self, px: float, sz: float) -> None:
        asks = self.asks
        if sz > 0.0:
            asks[px] = sz
            if px < self.ba:
                self.ba = px
        elif asks.pop(px, None) is not None and px == self.ba:
            self.ba = min(asks) if asks else float("inf")

    def top(self, ts_event: int) -> tuple[float, float, float, float, int]:
        bb, ba = self.bb, self.ba
        if bb >= ba:
            raise RuntimeError(f"floor: crossed book {bb} >= {ba}")
        return bb, self.bids[bb], ba, self.asks[ba], ts_event


class _BybitData(msgspec.Struct):
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    u: int


class _BybitPush(msgspec.Struct):
    type: str
    ts: int
    data: _BybitData


class _OkxData(msgspec.Struct):
    asks: list[tuple[str, str, str, str]]  # strings: the checksum is over the text OKX sent
    bids: list[tuple[str, str, str, str]]
    ts: int
    seqId: int
    prevSeqId: int
    checksum: int


class _OkxPush(msgspec.Struct):
    action: str
    data: list[_OkxData]


class _DeribitData(msgspec.Struct):
    type: str
    timestamp: int
    change_id: int
    bids: list[tuple[str, float, float]]
    asks: list[tuple[str, float, float]]
    prev_change_id: int = 0


class _DeribitParams(msgspec.Struct):
    data: _DeribitData


class _DeribitNote(msgspec.Struct):
    params: _DeribitParams


class _BybitFloor:
    def __init__(self) -> None:
        self.book = _Book()
        self.u = -1
        self.dec = msgspec.json.Decoder(_BybitPush, strict=False).decode

    def feed(self, frame: str) -> tuple[float, float, float, float, int]:
        p = self.dec(frame)
        d = p.data
        book = self.book
        if p.type == "snapshot":
            book.reset()
        elif d.u != self.u + 1:
            raise RuntimeError(f"floor bybit: u {d.u} after {self.u}")
        self.u = d.u
        for px, sz in d.b:
            book.bid(px, sz)
        for px, sz in d.a:
            book.ask(px, sz)
        return book.top(p.ts)


class _OkxFloor:
    """OKX, checksum included: a book that is not verified is not a usable OKX book, so the floor pays for it
    too (original "px:sz" strings per side in price order, top 25 interleaved, CRC32)."""

    def __init__(self) -> None:
        self.book = _Book()
        self.seq = -1
        self.dec = msgspec.json.Decoder(_OkxPush, strict=False).decode
        self.btext: dict[float, str] = {}  # -px -> "px:sz"
        self.atext: dict[float, str] = {}
        self.bkeys: list[float] = []  # ascending: best first
        self.akeys: list[float] = []

    def feed(self, frame: str) -> tuple[float, float, float, float, int]:
        p = self.dec(frame)
        d = p.data[0]
        book = self.book
        bt, at, bk, ak = self.btext, self.atext, self.bkeys, self.akeys
        if p.action == "snapshot":
            book.reset()
            bt.clear()
            at.clear()
            bk.clear()
            ak.clear()
        elif d.prevSeqId != self.seq:
            raise RuntimeError(f"floor okx: prevSeqId {d.prevSeqId} after {self.seq}")
        self.seq = d.seqId
        for spx, ssz, _, _ in d.bids:
            px = float(spx)
            sz = float(ssz)
            book.bid(px, sz)
            k = -px
            if sz > 0.0:
                if k not in bt:
                    insort(bk, k)
                bt[k] = spx + ":" + ssz
            elif bt.pop(k, None) is not None:
                del bk[bisect_left(bk, k)]
        for spx, ssz, _, _ in d.asks:
            px = float(spx)
            sz = float(ssz)
            book.ask(px, sz)
            if sz > 0.0:
                if px not in at:
                    insort(ak, px)
                at[px] = spx + ":" + ssz
            elif at.pop(px, None) is not None:
                del ak[bisect_left(ak, px)]
        bs = [bt[k] for k in bk[:25]]
        as_ = [at[k] for k in ak[:25]]
        n = min(len(bs), len(as_))
        parts = [""] * (2 * n)
        parts[::2] = bs[:n]
        parts[1::2] = as_[:n]
        parts += bs[n:] if len(bs) > n else as_[n:]
        crc = zlib.crc32(":".join(parts).encode())
        if (crc - (1 << 32) if crc >= 1 << 31 else crc) != d.checksum:
            raise RuntimeError(f"floor okx: checksum mismatch at seqId {d.seqId}")
        return book.top(d.ts)


class _DeribitFloor:
    def __init__(self) -> None:
        self.book = _Book()
        self.cid = -1
        self.dec = msgspec.json.Decoder(_DeribitNote, strict=False).decode

    def feed(self, frame: str) -> tuple[float, float, float, float, int]:
        d = self.dec(frame).params.data
        book = self.book
        if d.type == "snapshot":
            book.reset()
        elif d.prev_change_id != self.cid:
            raise RuntimeError(f"floor deribit: prev_change_id {d.prev_change_id} after {self.cid}")
        self.cid = d.change_id
        for _, px, sz in d.bids:
            book.bid(px, sz)
        for _, px, sz in d.asks:
            book.ask(px, sz)
        return book.top(d.timestamp)


class _BinanceFloorAdapter:
    def __init__(self, snapshot: bytes) -> None:
        self.f = _BinanceFloor(snapshot)

    def feed(self, frame: str) -> tuple[float, float, float, float, int]:
        b = self.f.feed(frame, 0)[0]  # type: ignore[arg-type]
        return b.bid_px, b.bid_sz, b.ask_px, b.ask_sz, b.ts


async def run_floor(src: FrameSource, rate: float, warm_s: float, measure_s: float,
                    phases: dict[str, float] | None = None) -> Phase:
    """The floor at ``rate`` frames/s per venue, on the same source streams (and the same ``phases``)."""
    q: asyncio.Queue[tuple[int, tuple[float, float, float, float, int], int]] = asyncio.Queue()
    rows: list[tuple[int, int, int]] = []
    state = {"on": False, "frames": 0}
    live: set[int] = set()

    async def reader(session: aiohttp.ClientSession, i: int, venue: str) -> None:
        if venue == "binance":
            async with session.get(src.urls[venue]["rest"] + "/fapi/v1/depth?symbol=BTCUSDT&limit=1000") as r:
                floor: Any = _BinanceFloorAdapter(await r.read())
        else:
            floor = {"bybit": _BybitFloor, "okx": _OkxFloor, "deribit": _DeribitFloor}[venue]()
        feed = floor.feed
        put = q.put_nowait
        text = aiohttp.WSMsgType.TEXT
        async with session.ws_connect(src.stream_url(venue, rate, (phases or {}).get(venue)), max_msg_size=1 << 22,
                                      compress=0) as ws:
            while True:
                msg = await ws.receive()
                ts = now_ns()
                if msg.type is not text:
                    return
                put((i, feed(msg.data), ts))
                live.add(i)
                await asyncio.sleep(0)

    async def aggregator() -> None:
        slots: list[tuple[float, float, float, float, int] | None] = [None] * len(VENUES)
        get = q.get
        while True:
            i, top, ts_recv = await get()
            slots[i] = top
            bid = ask = None
            for s in slots:
                if s is None:
                    continue
                if bid is None or s[0] > bid[0]:
                    bid = s
                if ask is None or s[2] < ask[2]:
                    ask = s
            t = now_ns()
            if state["on"]:
                rows.append((t, ts_recv, top[4]))

    phase = Phase()
    async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
        tg.start_soon(aggregator)
        for i, v in enumerate(VENUES):
            tg.start_soon(reader, session, i, v)
        with anyio.fail_after(30):
            while len(live) < len(VENUES):
                await anyio.sleep(0.02)
        await anyio.sleep(warm_s)
        t0 = time.perf_counter()
        state["on"] = True
        await anyio.sleep(measure_s)
        state["on"] = False
        phase.window_s = time.perf_counter() - t0
        tg.cancel_scope.cancel()
    for t, ts_recv, ts_ev in rows:
        phase.frame_to_best_ns.append(t - ts_recv)
        phase.server_to_best_ns.append(t - ts_ev)
    phase.frames = phase.bests = len(rows)
    return phase
