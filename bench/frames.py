"""Faithful depth-frame generators for the decode benchmark: one in-sequence stream per venue.

Each venue's stream is a snapshot (Binance: the GET /fapi/v1/depth body; the others: their snapshot
push) followed by delta frames that each change 10 bid and 10 ask levels, byte for byte in the venue's
wire format (PROTOCOLS.md; shapes checked against shared/fixtures/wire):

- Binance USD-M: combined-stream ``{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",...}}`` with
  E, T, s, U, u, pu, b, a. Update ids are contiguous (``U == prev_u + 1``, ``pu == prev_u``), so both the
  futures rule (pu) and the spot rule (U == prev u + 1) that some peers apply accept the stream, and the
  first frame straddles the snapshot's lastUpdateId (``U <= lastUpdateId <= u``).
- Bybit v5: ``orderbook.200.BTCUSDT`` pushes, ``type`` snapshot then delta, ``data.u`` +1 per push,
  ``data.seq`` increasing, ``ts``/``cts`` in ms.
- OKX v5: ``books`` on BTC-USDT-SWAP, ``[px, sz, "0", numOrders]`` levels with OKX's trimmed number
  strings, ``prevSeqId``/``seqId`` chained and a correct signed CRC32 ``checksum`` over the top 25 levels
  of the merged book, computed here from the generator's own book (not from crossbook's code).
- Deribit v2: ``book.BTC-PERPETUAL.100ms`` notifications, ``["new"|"change"|"delete", price, amount]``
  levels with JSON numbers, ``change_id``/``prev_change_id`` chained.

The market model: BTC around 96,500, tick 0.1 (Deribit 0.5); bids at or below a mid tick ``m``, asks at
or above ``m + 1``; ``m`` drifts one tick at a time, and a drift deletes the level that would cross, so
the book is never crossed or locked. Level changes are updates, inserts and deletes (about a quarter),
clustered near the touch. Everything is seeded: the same arguments give the same bytes.

Nothing here imports crossbook: the generator keeps its own book, so it cannot share a codec's bugs.
"""

from __future__ import annotations

import random
import zlib
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["VenueStream", "VENUES", "generate", "binance", "bybit", "okx", "deribit"]

VENUES = ("binance", "bybit", "okx", "deribit")
LEVELS_PER_SIDE = 10  # level changes per side per frame
_Fmt = Callable[[int], str]  # ticks or size units -> the venue's number text
_T0_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z; frames are 100 ms apart


@dataclass
class VenueStream:
    """One venue's generated stream.

    ``snapshot`` is what makes a codec's book LIVE (Binance: REST body for apply_snapshot; the others: a
    WebSocket snapshot frame for feed). ``frames`` are the deltas, in sequence. ``best[i]`` is the
    (bid_px, bid_sz, ask_px, ask_sz) the book must show after ``frames[i]``, from the generator's book.
    """

    venue: str
    symbol: str
    snapshot: bytes
    frames: list[bytes]
    best: list[tuple[float, float, float, float]] = field(repr=False)
    snapshot_levels: tuple[int, int] = (0, 0)

    @property
    def mean_frame_bytes(self) -> float:
        return sum(map(len, self.frames)) / max(1, len(self.frames))


class _Book:
    """Price ticks -> size units per side, with sorted tick lists (bids ascending; best is the last)."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_ticks: list[int] = []
        self.ask_ticks: list[int] = []

    def set(self, side: str, tick: int, units: int) -> None:
        levels, ticks = (self.bids, self.bid_ticks) if side == "b" else (self.asks, self.ask_ticks)
        if units > 0:
            if tick not in levels:
                insort(ticks, tick)
            levels[tick] = units
        elif levels.pop(tick, None) is not None:
            del ticks[bisect_left(ticks, tick)]

    def best_bid(self) -> int:
        return self.bid_ticks[-1]

    def best_ask(self) -> int:
        return self.ask_ticks[0]


class _Model:
    """The shared market model; venue writers turn its changes into bytes."""

    def __init__(self, seed: int, mid_tick: int, depth: int, max_units: int) -> None:
        self.rng = random.Random(seed)
        self.book = _Book()
        self.m = mid_tick
        self.max_units = max_units
        rng = self.rng
        for i in range(depth):
            if i < 3 or rng.random() < 0.8:
                self.book.set("b", mid_tick - i, self._units())
                self.book.set("a", mid_tick + 1 + i, self._units())

    def _units(self) -> int:
        # Sizes skewed small, as on real books: most levels are a few lots, a few are large.
        return 1 + min(self.max_units - 1, int(self.rng.paretovariate(1.2) * self.max_units / 200))

    def step(
        self, unknown_delete_p: float
    ) -> tuple[list[tuple[int, int, bool]], list[tuple[int, int, bool]]]:
        """Advance one frame: 10 bid and 10 ask changes ``(tick, units, existed)``; units 0 deletes."""
        rng = self.rng
        book = self.book
        forced_b: list[int] = []
        forced_a: list[int] = []
        r = rng.random()
        if r < 0.1:  # mid up one tick: an ask at the new m would lock the book
            self.m += 1
            if self.m in book.asks:
                forced_a.append(self.m)
        elif r < 0.2:  # mid down: a bid at the new m + 1 would lock it
            self.m -= 1
            if self.m + 1 in book.bids:
                forced_b.append(self.m + 1)
        bids = self._side("b", self.m, -1, forced_b, unknown_delete_p)
        asks = self._side("a", self.m + 1, +1, forced_a, unknown_delete_p)
        return bids, asks

    def _side(
        self, side: str, touch: int, direction: int, forced: list[int], unknown_delete_p: float
    ) -> list[tuple[int, int, bool]]:
        rng = self.rng
        book = self.book
        levels = book.bids if side == "b" else book.asks
        changes: list[tuple[int, int, bool]] = []
        seen: set[int] = set()
        for tick in forced:
            seen.add(tick)
            changes.append((tick, 0, True))
            book.set(side, tick, 0)
        while len(changes) < LEVELS_PER_SIDE:
            off = min(80, int(rng.expovariate(1 / 10.0)))
            tick = touch + direction * off
            if tick in seen:
                continue
            seen.add(tick)
            existed = tick in levels
            if existed:
                # Levels at the touch and one tick behind it are updated, never deleted at random.
                units = 0 if (rng.random() < 0.25 and off > 1) else self._units()
            elif rng.random() < unknown_delete_p:
                units = 0  # deleting a level the book does not have (Binance does this)
            else:
                units = self._units()
            changes.append((tick, units, existed))
            book.set(side, tick, units)
        return changes

    def best(self, px: _Fmt, sz: _Fmt) -> tuple[float, float, float, float]:
        """Best bid/ask as the floats a decoder gets from this venue's strings (px, sz: formatters)."""
        b = self.book
        bb = b.best_bid()
        ba = b.best_ask()
        return (float(px(bb)), float(sz(b.bids[bb])), float(px(ba)), float(sz(b.asks[ba])))


# -- number formatting, per venue --------------------------------------------------------------------------
def _fixed(n: int, decimals: int) -> str:
    """``n`` units of 10**-decimals as a fixed-point string: _fixed(965001, 1) -> '96500.1'."""
    if decimals == 0:
        return str(n)
    s = str(n).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def _trimmed(n: int, decimals: int) -> str:
    """OKX style: no trailing zeros, no trailing point ('96500', '96500.1', '0.5')."""
    s = _fixed(n, decimals)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _levels(pairs: list[str]) -> str:
    return "[" + ",".join(pairs) + "]"


# -- venues ------------------------------------------------------------------------------------------------
def binance(n_frames: int, seed: int = 1) -> VenueStream:
    """BTCUSDT USD-M: prices with 2 decimals ("96500.10"), quantities with 3 ("1.234", delete "0.000")."""
    model = _Model(seed, 965_000, depth=1000, max_units=20_000)  # tick 0.1 -> ticks of 0.1; lots of 0.001 BTC
    px: _Fmt = lambda t: _fixed(t, 1) + "0"  # noqa: E731
    qty: _Fmt = lambda u: _fixed(u, 3)  # noqa: E731
    book = model.book
    last_id = 7_000_000_000_000
    snap_bids = ",".join(f'["{px(t)}","{qty(book.bids[t])}"]' for t in reversed(book.bid_ticks))
    snap_asks = ",".join(f'["{px(t)}","{qty(book.asks[t])}"]' for t in book.ask_ticks)
    snapshot = (
        f'{{"lastUpdateId":{last_id},"E":{_T0_MS - 5},"T":{_T0_MS - 7},'
        f'"bids":[{snap_bids}],"asks":[{snap_asks}]}}'
    ).encode()
    frames: list[bytes] = []
    best: list[tuple[float, float, float, float]] = []
    rng = model.rng
    prev_u = last_id - 4  # the first frame straddles lastUpdateId: U = last_id - 3 <= last_id <= u
    for i in range(n_frames):
        bids, asks = model.step(unknown_delete_p=0.05)
        first = prev_u + 1
        u = first + 3 + rng.randrange(40)
        t_ms = _T0_MS + 100 * i
        b = ",".join(f'["{px(t)}","{qty(n)}"]' for t, n, _ in bids)
        a = ",".join(f'["{px(t)}","{qty(n)}"]' for t, n, _ in asks)
        frames.append(
            (
                '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",'
                f'"E":{t_ms + 3},"T":{t_ms},"s":"BTCUSDT","U":{first},"u":{u},"pu":{prev_u},'
                f'"b":[{b}],"a":[{a}]}}}}'
            ).encode()
        )
        prev_u = u
        best.append(model.best(px, qty))
    return VenueStream("binance", "BTCUSDT", snapshot, frames, best, (len(book.bids), len(book.asks)))


def bybit(n_frames: int, seed: int = 2) -> VenueStream:
    """orderbook.200.BTCUSDT (linear): prices "96500.10", sizes "1.234", delete "0"."""
    model = _Model(seed + 1, 965_000, depth=200, max_units=20_000)
    px: _Fmt = lambda t: _fixed(t, 1) + "0"  # noqa: E731
    qty: _Fmt = lambda u: _fixed(u, 3) if u else "0"  # noqa: E731
    book = model.book
    topic = "orderbook.200.BTCUSDT"
    u = 48_000_000
    seq = 120_000_000_000
    rng = model.rng

    def push(kind: str, bids: str, asks: str, t_ms: int) -> bytes:
        return (
            f'{{"topic":"{topic}","type":"{kind}","ts":{t_ms},"data":{{"s":"BTCUSDT",'
            f'"b":[{bids}],"a":[{asks}],"u":{u},"seq":{seq}}},"cts":{t_ms - 2}}}'
        ).encode()

    snapshot = push(
        "snapshot",
        ",".join(f'["{px(t)}","{qty(book.bids[t])}"]' for t in reversed(book.bid_ticks)),
        ",".join(f'["{px(t)}","{qty(book.asks[t])}"]' for t in book.ask_ticks),
        _T0_MS - 100,
    )
    levels = (len(book.bids), len(book.asks))
    frames: list[bytes] = []
    best: list[tuple[float, float, float, float]] = []
    for i in range(n_frames):
        bids, asks = model.step(unknown_delete_p=0.0)
        u += 1
        seq += 1 + rng.randrange(2000)
        frames.append(
            push(
                "delta",
                ",".join(f'["{px(t)}","{qty(n)}"]' for t, n, _ in bids),
                ",".join(f'["{px(t)}","{qty(n)}"]' for t, n, _ in asks),
                _T0_MS + 100 * i,
            )
        )
        best.append(model.best(px, qty))
    return VenueStream("bybit", "BTCUSDT", snapshot, frames, best, levels)


def _okx_checksum(book: _Book, px: _Fmt, sz: _Fmt) -> int:
    """OKX rule, written independently: top 25 bids (desc) and asks (asc), 'bpx:bsz:apx:asz:...',
    the longer side's tail appended, CRC32 as a signed 32-bit int."""
    top_b = book.bid_ticks[-25:][::-1]
    top_a = book.ask_ticks[:25]
    parts: list[str] = []
    for k in range(max(len(top_b), len(top_a))):
        if k < len(top_b):
            t = top_b[k]
            parts.append(f"{px(t)}:{sz(book.bids[t])}")
        if k < len(top_a):
            t = top_a[k]
            parts.append(f"{px(t)}:{sz(book.asks[t])}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def okx(n_frames: int, seed: int = 3) -> VenueStream:
    """books on BTC-USDT-SWAP: trimmed strings ("96500.1", "96500"), sizes in contracts (lot 0.01)."""
    model = _Model(seed + 2, 965_000, depth=400, max_units=50_000)
    px: _Fmt = lambda t: _trimmed(t, 1)  # noqa: E731
    sz: _Fmt = lambda u: _trimmed(u, 2)  # noqa: E731
    book = model.book
    rng = model.rng
    inst = "BTC-USDT-SWAP"
    seq = 21_000_000_000

    def lv(t: int, n: int) -> str:
        if n == 0:
            return f'["{px(t)}","0","0","0"]'
        return f'["{px(t)}","{sz(n)}","0","{1 + n % 17}"]'

    def push(action: str, bids: str, asks: str, t_ms: int, prev: int, cur: int) -> bytes:
        return (
            f'{{"arg":{{"channel":"books","instId":"{inst}"}},"action":"{action}","data":[{{'
            f'"asks":[{asks}],"bids":[{bids}],"ts":"{t_ms}","checksum":{_okx_checksum(book, px, sz)},'
            f'"prevSeqId":{prev},"seqId":{cur}}}]}}'
        ).encode()

    snapshot = push(
        "snapshot",
        ",".join(lv(t, book.bids[t]) for t in reversed(book.bid_ticks)),
        ",".join(lv(t, book.asks[t]) for t in book.ask_ticks),
        _T0_MS - 100,
        -1,
        seq,
    )
    levels = (len(book.bids), len(book.asks))
    frames: list[bytes] = []
    best: list[tuple[float, float, float, float]] = []
    for i in range(n_frames):
        bids, asks = model.step(unknown_delete_p=0.0)
        prev = seq
        seq += 1 + rng.randrange(50)
        frames.append(
            push(
                "update",
                ",".join(lv(t, n) for t, n, _ in bids),
                ",".join(lv(t, n) for t, n, _ in asks),
                _T0_MS + 100 * i,
                prev,
                seq,
            )
        )
        best.append(model.best(px, sz))
    return VenueStream("okx", inst, snapshot, frames, best, levels)


def deribit(n_frames: int, seed: int = 4) -> VenueStream:
    """book.BTC-PERPETUAL.100ms: tick 0.5, amounts in USD (multiples of 10), JSON numbers."""
    model = _Model(seed + 3, 193_000, depth=500, max_units=50_000)  # ticks of 0.5 -> 96,500.0
    px: _Fmt = lambda t: repr(t / 2)  # noqa: E731  # 96500.5, 96500.0: Deribit sends JSON floats
    amt: _Fmt = lambda u: repr(float(u * 10))  # noqa: E731
    book = model.book
    rng = model.rng
    name = "BTC-PERPETUAL"
    change_id = 80_000_000_000

    def lv(t: int, n: int, existed: bool) -> str:
        if n == 0:
            return f'["delete",{px(t)},0.0]'
        return f'["{"change" if existed else "new"}",{px(t)},{amt(n)}]'

    def note(data: str) -> bytes:
        return (
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.'
            + name
            + '.100ms","data":'
            + data
            + "}}"
        ).encode()

    snap_b = ",".join(lv(t, book.bids[t], False) for t in reversed(book.bid_ticks))
    snap_a = ",".join(lv(t, book.asks[t], False) for t in book.ask_ticks)
    snapshot = note(
        f'{{"type":"snapshot","timestamp":{_T0_MS - 100},"instrument_name":"{name}",'
        f'"change_id":{change_id},"bids":[{snap_b}],"asks":[{snap_a}]}}'
    )
    levels = (len(book.bids), len(book.asks))
    frames: list[bytes] = []
    best: list[tuple[float, float, float, float]] = []
    for i in range(n_frames):
        bids, asks = model.step(unknown_delete_p=0.0)
        prev = change_id
        change_id += 1 + rng.randrange(20)
        b = ",".join(lv(t, n, e) for t, n, e in bids)
        a = ",".join(lv(t, n, e) for t, n, e in asks)
        frames.append(
            note(
                f'{{"type":"change","timestamp":{_T0_MS + 100 * i},"prev_change_id":{prev},'
                f'"instrument_name":"{name}","change_id":{change_id},"bids":[{b}],"asks":[{a}]}}'
            )
        )
        best.append(model.best(px, amt))
    return VenueStream("deribit", name, snapshot, frames, best, levels)


_GENERATORS = {"binance": binance, "bybit": bybit, "okx": okx, "deribit": deribit}


def generate(venue: str, n_frames: int, seed: int | None = None) -> VenueStream:
    """The stream of ``venue`` (one of VENUES) with ``n_frames`` delta frames."""
    gen = _GENERATORS[venue]
    return gen(n_frames) if seed is None else gen(n_frames, seed)
