"""The OKX order book: levels on the instrument's tick grid, kept as OKX's own ``"px:sz"`` strings.

Why not L2Book: OKX's CRC32 covers the best 25 levels of each side *as the strings OKX sent*, on every
message, so the book must give its top 25 strings in price order after every update. A float-keyed dict
plus a sorted key list costs a float parse, a bisect and two list inserts per new or deleted level and
50 dict reads per checksum (17 us per 10+10-level frame, measured); this layout costs one dict read and
one list write per level, and two slices filtered in C per checksum.

Layout (per side):
- ``texts``: a list indexed by tick, best first: a bid at tick ``t`` sits at ``origin - t``, an ask at
  ``t - origin``, so both sides run from the best price outwards. A slot holds ``"px:sz"`` or None.
- ``index``: price string -> slot, filled on first sight of each string (a float parse and a check that
  the price is on the grid), cleared whenever the grid moves. Different spellings of one price
  ("8477", "8477.0") map to the same slot; the slot keeps the latest spelling, as OKX's rule requires.
- ``best``: the lowest occupied slot (``len(texts)`` when the side is empty).
- The grid grows (and recentres) when a price falls outside it, and becomes finer when a price is not a
  multiple of the registry's tick (a tick-size change): the book is never wrong, only re-laid out.

Sizes stay strings until read: the best level is parsed for every Quote, deeper levels when a depth view
or snapshot reads them. A size that does not parse is a typed DecodeError at that read, and ``corrupt``
is set so the codec drops the book and resubscribes. A size of "0" deletes the level (any spelling of
zero does, e.g. "0.0").

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from venues.errors import CrossedBook, DecodeError
from venues.okx.checksum import CHECKSUM_DEPTH, checksum_string, crc32_signed
from venues.okx.codes import VENUE

__all__ = ["OkxBook", "TextLevel"]

Level = tuple[float, float]
_INF = float("inf")
_MIN_SLOTS = 1024
_MAX_SLOTS = 1 << 22  # 4M slots (32 MB) per side: a price this far from the rest is refused
_WINDOW = 40  # slots read per side for the top 25 before widening (dense books need about 26-32)


class TextLevel(Protocol):
    """What the book reads from one wire level: OKX's price and size strings."""

    @property
    def px(self) -> str: ...

    @property
    def sz(self) -> str: ...


class _Regrid(Exception):
    """Internal: the grid was rebuilt under a running apply; the batch is re-run (it is idempotent)."""


def _is_zero(sz: str) -> bool:
    """True for OKX's "0" and any other spelling of zero; only sizes starting with "0" are parsed."""
    return sz == "0" or (sz[:1] == "0" and not float(sz))


def _first_occupied(texts: list[str | None], start: int) -> int:
    """The first slot at or after ``start`` that holds a level (``len(texts)`` if none); C-level skips."""
    n = len(texts)
    while start < n:
        chunk = texts[start : start + 64]
        if chunk.count(None) != len(chunk):
            for j, x in enumerate(chunk):
                if x is not None:
                    return start + j
        start += 64
    return n


def _parse(text: str, book: OkxBook) -> Level:
    px, _, sz = text.partition(":")
    try:
        p = float(px)
        s = float(sz)
    except ValueError:
        p = s = -1.0
    if not (0.0 < p < _INF and 0.0 < s < _INF):
        book.corrupt = True
        raise DecodeError(VENUE, f"{book.instrument} book level", f"expected price > 0 and size > 0, got {text!r}")
    return p, s


class _Side:
    """One side of the grid (see the module docstring); ``sign`` is -1 for bids, +1 for asks."""

    __slots__ = ("sign", "texts", "index", "origin", "best", "top_text", "top")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.top_text: str | None = None  # the best level's text when ``top`` was parsed from it
        self.top: Level = (0.0, 0.0)
        self.texts: list[str | None] = []
        self.index: dict[str, int] = {}
        self.origin = 0
        self.best = 0

    def layout(self, ticks: Iterable[int], levels: dict[int, str]) -> None:
        """Lay the side out around ``ticks`` (which must cover ``levels``' ticks) with room to move."""
        slots = [self.sign * t for t in ticks]
        if not slots:
            self.texts = [None] * _MIN_SLOTS
            self.origin = 0
            self.index.clear()
            self.best = len(self.texts)
            return
        lo, hi = min(slots), max(slots)
        span = hi - lo + 1
        size = max(_MIN_SLOTS, 2 * span + 256)
        if size > _MAX_SLOTS:
            raise DecodeError(VENUE, "book level", f"levels span {span} ticks; at most {_MAX_SLOTS // 2} are kept")
        margin = (size - span) // 2
        # slot = sign * t - origin for asks (sign 1) and origin - t for bids: one formula, slot = sign*t + off
        off = margin - lo
        texts: list[str | None] = [None] * size
        for t, text in levels.items():
            texts[self.sign * t + off] = text
        self.texts = texts
        self.origin = off
        self.index.clear()
        self.best = _first_occupied(texts, 0)

    def levels_by_tick(self) -> dict[int, str]:
        sign = self.sign
        off = self.origin
        return {sign * (i - off): x for i, x in enumerate(self.texts) if x is not None}


class OkxBook:
    """One OKX book; the read API matches ``venues.book.L2Book``, plus ``checksum()``.

    Args:
        venue: venue name for errors.
        instrument: unified instrument id, for errors.
        tick: the instrument's price tick (a finer one is found if OKX's prices need it).
    """

    __slots__ = ("venue", "instrument", "tick", "corrupt", "_b", "_a")

    def __init__(self, venue: str, instrument: str, tick: float) -> None:
        if not (0.0 < tick < _INF):
            raise ValueError(f"tick must be > 0, got {tick!r}")
        self.venue = venue
        self.instrument = instrument
        self.tick = tick
        self.corrupt = False
        self._b = _Side(-1)
        self._a = _Side(1)
        self.clear()

    # -- writes -------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.corrupt = False
        self._b.layout((), {})
        self._a.layout((), {})

    def load(self, bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> None:
        """Replace the whole book (a snapshot); zero sizes are left out.

        Raises:
            ValueError | DecodeError: a price that is not a number > 0, or an absurd price span.
        """
        self.corrupt = False
        while True:
            tick = self.tick
            sides = []
            for levels in (bids, asks):
                by_tick: dict[int, str] = {}
                for lv in levels:
                    if not _is_zero(lv.sz):
                        by_tick[self._tick_of(lv.px)] = lv.px + ":" + lv.sz
                sides.append(by_tick)
            if self.tick == tick:  # no price forced a finer grid half-way through
                break
        self._b.layout(sides[0], sides[0])
        self._a.layout(sides[1], sides[1])

    def apply(self, bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> None:
        """Apply absolute level changes (size "0" deletes; deleting an unknown level is a no-op).

        Raises:
            ValueError | DecodeError: a price that is not a number > 0; the book may be half-applied.
        """
        for _ in range(8):  # each re-layout makes room for one more price: a batch needs few; re-runs are idempotent
            try:
                self._apply_side(self._b, bids)
                self._apply_side(self._a, asks)
                return
            except _Regrid:
                continue
            except IndexError:  # an empty size string ("" has no first character)
                raise DecodeError(VENUE, f"{self.instrument} book level", "expected a size, got ''") from None
        raise DecodeError(VENUE, f"{self.instrument} book", "the price grid kept moving under one update")

    def _apply_side(self, side: _Side, levels: Sequence[TextLevel]) -> None:
        # Hot path (bench/decode.py): one dict read per level (the slot of the price string), then one
        # list write; ``z[0] == "0"`` (not a slice) screens sizes before the rare float parse of a zero.
        texts = side.texts
        index = side.index
        best = side.best
        for lv in levels:
            p = lv.px
            z = lv.sz
            try:
                i = index[p]
            except KeyError:
                i = self._slot(side, p, grow=not (z == "0" or (z[0] == "0" and not float(z))))
                if i < 0:  # a delete off the grid's range: not in the book, nothing to delete
                    continue
            if z == "0" or (z[0] == "0" and not float(z)):
                texts[i] = None
            else:
                texts[i] = f"{p}:{z}"
                if i < best:
                    best = i
        if best < len(texts) and texts[best] is None:
            best = _first_occupied(texts, best)
        side.best = best

    def _tick_of(self, px: str) -> int:
        x = float(px)
        if not (0.0 < x < _INF):
            raise DecodeError(VENUE, f"{self.instrument} book level", f"expected a price > 0, got {px!r}")
        tick = self.tick
        t = round(x / tick)
        if abs(t * tick - x) > tick * 1e-6:
            self._refine(x)
            return self._tick_of(px)
        return t

    def _refine(self, x: float) -> None:
        """A price off the grid: make the tick 10x finer until it fits, and re-lay both sides out."""
        old = self.tick
        tick = old
        while True:
            tick /= 10
            t = round(x / tick)
            if abs(t * tick - x) <= tick * 1e-6 or tick < 1e-12:
                break
        if tick < 1e-12:
            raise DecodeError(VENUE, f"{self.instrument} book level", f"price {x!r} fits no tick grid")
        scale = round(old / tick)
        self.tick = tick
        for side in (self._b, self._a):
            levels = {t * scale: text for t, text in side.levels_by_tick().items()}
            side.layout(levels, levels)

    def _slot(self, side: _Side, px: str, grow: bool) -> int:
        """The slot of price string ``px`` (cached).

        Outside the grid's range: with ``grow`` the side is re-laid out to include it and _Regrid is
        raised; without, -1 (a delete of a level the book cannot hold).
        """
        tick = self.tick
        t = self._tick_of(px)
        if self.tick != tick:  # the grid became finer: every slot moved
            raise _Regrid
        i = side.sign * t + side.origin
        if 0 <= i < len(side.texts):
            side.index[px] = i
            return i
        if not grow:
            return -1
        levels = side.levels_by_tick()
        side.layout([*levels, t], levels)
        raise _Regrid

    # -- reads --------------------------------------------------------------------------------------
    def best(self) -> tuple[float, float, float, float] | None:
        """``(bid_px, bid_sz, ask_px, ask_sz)``, or None while either side is empty.

        Each side's best level is parsed once per distinct string (the same string object in the best
        slot means the same level: frames that leave the touch alone cost no float parse).

        Raises:
            DecodeError: a best level's size (or price) is not a positive number; ``corrupt`` is set.
        """
        b = self._b
        a = self._a
        if b.best >= len(b.texts) or a.best >= len(a.texts):
            return None
        text = b.texts[b.best]
        if text is not b.top_text:
            b.top = _parse(text, self)  # type: ignore[arg-type]
            b.top_text = text
        bp, bs = b.top
        text = a.texts[a.best]
        if text is not a.top_text:
            a.top = _parse(text, self)  # type: ignore[arg-type]
            a.top_text = text
        ap, as_ = a.top
        return bp, bs, ap, as_

    def best_bid(self) -> Level | None:
        b = self._b
        return _parse(b.texts[b.best], self) if b.best < len(b.texts) else None  # type: ignore[arg-type]

    def best_ask(self) -> Level | None:
        a = self._a
        return _parse(a.texts[a.best], self) if a.best < len(a.texts) else None  # type: ignore[arg-type]

    def top_text(self, depth: int = CHECKSUM_DEPTH) -> tuple[list[str], list[str]]:
        """The best ``depth`` levels of each side as OKX's ``"px:sz"`` strings, best first."""
        return self._top(self._b, depth), self._top(self._a, depth)

    @staticmethod
    def _top(side: _Side, n: int) -> list[str]:
        texts = side.texts
        start = side.best
        width = _WINDOW if n <= _WINDOW - 8 else 2 * n
        while True:
            out: list[str] = list(filter(None, texts[start : start + width]))
            if len(out) >= n or start + width >= len(texts):
                return out[:n]
            width *= 4

    def checksum(self) -> int:
        """OKX's signed CRC32 of the current top 25 levels of both sides (the hot path: inlined)."""
        b = self._b
        a = self._a
        tb = list(filter(None, b.texts[b.best : b.best + _WINDOW]))
        ta = list(filter(None, a.texts[a.best : a.best + _WINDOW]))
        n = CHECKSUM_DEPTH
        if len(tb) < n or len(ta) < n:  # a sparse or short side: the general path
            return crc32_signed(checksum_string(self._top(b, n), self._top(a, n)))
        parts = [""] * (2 * n)
        parts[::2] = tb[:n]
        parts[1::2] = ta[:n]
        crc = zlib.crc32(":".join(parts).encode())
        return crc - 0x1_0000_0000 if crc >= 0x8000_0000 else crc

    def top_bids(self, n: int) -> list[Level]:
        """The best ``n`` bids, highest first (parsed from OKX's strings)."""
        return [_parse(x, self) for x in self._top(self._b, n)] if n > 0 else []

    def top_asks(self, n: int) -> list[Level]:
        """The best ``n`` asks, lowest first."""
        return [_parse(x, self) for x in self._top(self._a, n)] if n > 0 else []

    def as_sorted(self) -> tuple[list[Level], list[Level]]:
        """The whole book (bids high to low, asks low to high)."""
        return (
            [_parse(x, self) for x in self._b.texts if x is not None],
            [_parse(x, self) for x in self._a.texts if x is not None],
        )

    def bid_size(self, px: float) -> float:
        return self._size(self._b, px)

    def ask_size(self, px: float) -> float:
        return self._size(self._a, px)

    def _size(self, side: _Side, px: float) -> float:
        t = round(px / self.tick)
        i = side.sign * t + side.origin
        if 0 <= i < len(side.texts) and abs(t * self.tick - px) <= self.tick * 1e-6:
            text = side.texts[i]
            if text is not None:
                return _parse(text, self)[1]
        return 0.0

    @property
    def depth(self) -> tuple[int, int]:
        b = self._b.texts
        a = self._a.texts
        return len(b) - b.count(None), len(a) - a.count(None)

    def is_crossed(self) -> bool:
        best = self.best()
        return best is not None and best[0] >= best[2]

    def check_not_crossed(self) -> None:
        best = self.best()
        if best is not None and best[0] >= best[2]:
            raise CrossedBook(self.venue, self.instrument, best[0], best[2])

    def __repr__(self) -> str:
        b = self._b
        a = self._a
        bid = b.texts[b.best] if b.best < len(b.texts) else None
        ask = a.texts[a.best] if a.best < len(a.texts) else None
        return f"OkxBook({self.venue} {self.instrument}, tick={self.tick:g}, bid={bid!r}, ask={ask!r})"
