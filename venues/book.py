"""An L2 order book kept in sequence, and the book-sync state machine.

Invariants:
- Nothing in this module does I/O or reads a clock.
- Sizes are absolute; a size of 0 deletes the level; deleting an unknown level is a no-op (venues do it).
- Each side is split in two dicts at a threshold price: the *near* band (the levels at or better than the
  threshold, normally ``NEAR_LEVELS`` to ``4 * NEAR_LEVELS`` of them) and the *far* rest. The best price
  is tracked incrementally; when the best level itself is deleted, the next best is ``max``/``min`` of
  the near band only (a few dozen floats, in C). When the near band empties it is refilled with the best
  ``NEAR_LEVELS`` of the far dict; when it grows past ``4 * NEAR_LEVELS`` its worst levels move to the far
  dict. Each level change costs one dict write and two float compares; no read scans or sorts the book.
- Top-N reads sort the near band (at most ``4 * NEAR_LEVELS`` levels); a deeper read first refills the
  near band to N levels, so repeated depth reads stay cheap.
- Venue sequencing rules live in each venue's codec; this module gives them the book and the state table.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable

from messages.base import BookState, InstrumentId, Venue
from messages.market import Quote
from venues.errors import CrossedBook
from venues.machine import step

__all__ = ["L2Book", "BookInput", "BOOK_SYNC_TABLE", "NEAR_LEVELS", "next_book_state", "quote_of"]

Level = tuple[float, float]
NEAR_LEVELS = 32  # target size of each side's near band (measured best of 16/32/64 on 10+10-level frames)
_NEAR_MAX = 4 * NEAR_LEVELS
_INF = float("inf")


def _split_high(levels: dict[float, float], k: int) -> tuple[dict[float, float], dict[float, float], float]:
    """(near, far, threshold) for bids: near holds the ``k`` highest prices (all of them when few)."""
    if len(levels) <= k:
        return levels, {}, -_INF
    t = heapq.nlargest(k, levels)[-1]
    return {p: s for p, s in levels.items() if p >= t}, {p: s for p, s in levels.items() if p < t}, t


def _split_low(levels: dict[float, float], k: int) -> tuple[dict[float, float], dict[float, float], float]:
    """(near, far, threshold) for asks: near holds the ``k`` lowest prices (all of them when few)."""
    if len(levels) <= k:
        return levels, {}, _INF
    t = heapq.nsmallest(k, levels)[-1]
    return {p: s for p, s in levels.items() if p <= t}, {p: s for p, s in levels.items() if p > t}, t


def quote_of(
    venue: Venue, instrument: InstrumentId, best: tuple[float, float, float, float], ts_event: int, ts_recv: int
) -> Quote:
    """The Quote of a book's ``best()`` (every codec's one way of building it)."""
    return Quote(
        venue=venue,
        instrument=instrument,
        bid_px=best[0],
        bid_sz=best[1],
        ask_px=best[2],
        ask_sz=best[3],
        ts_event=ts_event,
        ts_recv=ts_recv,
    )


class L2Book:
    """Price-level book for one instrument on one venue.

    Bids: ``_bn`` (prices >= ``_bt``) and ``_bf`` (prices < ``_bt``), best ``_bb`` (-inf when empty).
    Asks: ``_an`` (prices <= ``_at``) and ``_af`` (prices > ``_at``), best ``_ba`` (+inf when empty).
    ``_bb == max(_bn)`` whenever ``_bn`` is non-empty, and ``_bn`` is empty only if ``_bf`` is too.
    """

    __slots__ = ("venue", "instrument", "_bn", "_bf", "_bt", "_bb", "_an", "_af", "_at", "_ba")

    def __init__(self, venue: str, instrument: str) -> None:
        self.venue = venue
        self.instrument = instrument
        self.clear()

    # -- writes -------------------------------------------------------------------------------------
    def clear(self) -> None:
        self._bn: dict[float, float] = {}
        self._bf: dict[float, float] = {}
        self._bt = -_INF
        self._bb = -_INF
        self._an: dict[float, float] = {}
        self._af: dict[float, float] = {}
        self._at = _INF
        self._ba = _INF

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot). Zero sizes in a snapshot are ignored."""
        self._set_bids({px: sz for px, sz in bids if sz > 0.0}, NEAR_LEVELS)
        self._set_asks({px: sz for px, sz in asks if sz > 0.0}, NEAR_LEVELS)

    def _set_bids(self, levels: dict[float, float], k: int) -> None:
        self._bn, self._bf, self._bt = _split_high(levels, k)
        self._bb = max(self._bn) if self._bn else -_INF

    def _set_asks(self, levels: dict[float, float], k: int) -> None:
        self._an, self._af, self._at = _split_low(levels, k)
        self._ba = min(self._an) if self._an else _INF

    def set_bid(self, px: float, sz: float) -> None:
        self.apply(((px, sz),), ())

    def set_ask(self, px: float, sz: float) -> None:
        self.apply((), ((px, sz),))

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> tuple[float, float, float, float] | None:
        """Apply absolute level changes to both sides (the per-level work inlined: this is the hot path).

        Returns:
            ``best()`` after the changes (saves the caller a second call per frame).
        """
        near = self._bn
        far = self._bf
        t = self._bt
        best = self._bb
        for px, sz in bids:
            if sz > 0.0:
                if px >= t:
                    near[px] = sz
                    if px > best:
                        best = px
                else:
                    far[px] = sz
            elif px >= t:
                if near.pop(px, None) is not None and px == best:
                    best = max(near) if near else -_INF
            else:
                far.pop(px, None)
        self._bb = best
        if not near:
            if far:
                self._set_bids(far, NEAR_LEVELS)
        elif len(near) > _NEAR_MAX:
            self._shrink_bids()
        near = self._an
        far = self._af
        t = self._at
        best = self._ba
        for px, sz in asks:
            if sz > 0.0:
                if px <= t:
                    near[px] = sz
                    if px < best:
                        best = px
                else:
                    far[px] = sz
            elif px <= t:
                if near.pop(px, None) is not None and px == best:
                    best = min(near) if near else _INF
            else:
                far.pop(px, None)
        self._ba = best
        if not near:
            if far:
                self._set_asks(far, NEAR_LEVELS)
        elif len(near) > _NEAR_MAX:
            self._shrink_asks()
        bb = self._bb
        ba = self._ba
        if bb == -_INF or ba == _INF:
            return None
        return bb, self._bn[bb], ba, self._an[ba]

    def apply_tagged(
        self, bids: Iterable[tuple[str, float, float]], asks: Iterable[tuple[str, float, float]],
        keep: dict[str, float],
    ) -> tuple[float, float, float, float] | None:
        """``apply`` for levels that carry an action tag, as Deribit's ``[action, price, amount]``.

        ``keep[tag]`` is 1.0 for tags that set the level to ``amount`` and 0.0 for tags that delete it
        whatever the amount says. Same loop as ``apply``, inlined again: a conversion pass to (price, size)
        pairs first would cost as much as the book update itself.

        Returns:
            ``best()`` after the changes.

        Raises:
            KeyError: a tag missing from ``keep``; the book may then be half-applied and must be reset.
        """
        near = self._bn
        far = self._bf
        t = self._bt
        best = self._bb
        for tag, px, sz in bids:
            if sz * keep[tag] > 0.0:
                if px >= t:
                    near[px] = sz
                    if px > best:
                        best = px
                else:
                    far[px] = sz
            elif px >= t:
                if near.pop(px, None) is not None and px == best:
                    best = max(near) if near else -_INF
            else:
                far.pop(px, None)
        self._bb = best
        if not near:
            if far:
                self._set_bids(far, NEAR_LEVELS)
        elif len(near) > _NEAR_MAX:
            self._shrink_bids()
        near = self._an
        far = self._af
        t = self._at
        best = self._ba
        for tag, px, sz in asks:
            if sz * keep[tag] > 0.0:
                if px <= t:
                    near[px] = sz
                    if px < best:
                        best = px
                else:
                    far[px] = sz
            elif px <= t:
                if near.pop(px, None) is not None and px == best:
                    best = min(near) if near else _INF
            else:
                far.pop(px, None)
        self._ba = best
        if not near:
            if far:
                self._set_asks(far, NEAR_LEVELS)
        elif len(near) > _NEAR_MAX:
            self._shrink_asks()
        bb = self._bb
        ba = self._ba
        if bb == -_INF or ba == _INF:
            return None
        return bb, self._bn[bb], ba, self._an[ba]

    def _shrink_bids(self) -> None:
        """Move all but the best NEAR_LEVELS bids of the near band to the far dict (threshold rises)."""
        near, moved, t = _split_high(self._bn, NEAR_LEVELS)
        self._bf.update(moved)
        self._bn = near
        self._bt = t

    def _shrink_asks(self) -> None:
        near, moved, t = _split_low(self._an, NEAR_LEVELS)
        self._af.update(moved)
        self._an = near
        self._at = t

    # -- reads --------------------------------------------------------------------------------------
    def best_bid(self) -> Level | None:
        bb = self._bb
        if bb == -_INF:
            return None
        return bb, self._bn[bb]

    def best_ask(self) -> Level | None:
        ba = self._ba
        if ba == _INF:
            return None
        return ba, self._an[ba]

    def best(self) -> tuple[float, float, float, float] | None:
        """``(bid_px, bid_sz, ask_px, ask_sz)``, or None while either side is empty (one call per Quote)."""
        bb = self._bb
        ba = self._ba
        if bb == -_INF or ba == _INF:
            return None
        return bb, self._bn[bb], ba, self._an[ba]

    def top_bids(self, n: int) -> list[Level]:
        """The best ``n`` bids, highest first (sorts the near band, refilled to ``n`` levels if shorter)."""
        if n <= 0:
            return []
        if n > len(self._bn) and self._bf:
            self._set_bids(self._bn | self._bf, max(n, NEAR_LEVELS))
        return sorted(self._bn.items(), reverse=True)[:n]

    def top_asks(self, n: int) -> list[Level]:
        """The best ``n`` asks, lowest first."""
        if n <= 0:
            return []
        if n > len(self._an) and self._af:
            self._set_asks(self._an | self._af, max(n, NEAR_LEVELS))
        return sorted(self._an.items())[:n]

    def bid_size(self, px: float) -> float:
        sz = self._bn.get(px)
        return sz if sz is not None else self._bf.get(px, 0.0)

    def ask_size(self, px: float) -> float:
        sz = self._an.get(px)
        return sz if sz is not None else self._af.get(px, 0.0)

    @property
    def depth(self) -> tuple[int, int]:
        return len(self._bn) + len(self._bf), len(self._an) + len(self._af)

    def is_crossed(self) -> bool:
        """True when best bid >= best ask (a locked book counts as crossed for integrity)."""
        return self._bb != -_INF and self._ba != _INF and self._bb >= self._ba

    def check_not_crossed(self) -> None:
        """Raise CrossedBook if the book is crossed or locked."""
        if self.is_crossed():
            raise CrossedBook(self.venue, self.instrument, self._bb, self._ba)

    def as_sorted(self) -> tuple[list[Level], list[Level]]:
        """The whole book sorted (bids high to low, asks low to high); for tests and snapshots."""
        bids = sorted((self._bn | self._bf).items(), reverse=True)
        asks = sorted((self._an | self._af).items())
        return bids, asks

    def __repr__(self) -> str:
        return f"L2Book({self.venue} {self.instrument}, bid={self.best_bid()}, ask={self.best_ask()})"


class BookInput(enum.StrEnum):
    SNAPSHOT = "snapshot"  # a full book arrived (REST snapshot or a venue snapshot message)
    DELTA = "delta"  # an in-sequence update was applied (or buffered while syncing)
    GAP = "gap"  # a sequence id was missing or out of order
    CHECKSUM_FAIL = "checksum_fail"
    CROSSED = "crossed"
    DISCONNECT = "disconnect"  # the stream went away; everything must start again


_S = BookState
_I = BookInput
BOOK_SYNC_TABLE: dict[tuple[BookState, BookInput], BookState] = {
    (_S.SYNCING, _I.SNAPSHOT): _S.LIVE,
    (_S.SYNCING, _I.DELTA): _S.SYNCING,
    (_S.SYNCING, _I.GAP): _S.RESYNCING,
    (_S.SYNCING, _I.CHECKSUM_FAIL): _S.RESYNCING,
    (_S.SYNCING, _I.CROSSED): _S.RESYNCING,
    (_S.SYNCING, _I.DISCONNECT): _S.SYNCING,
    (_S.LIVE, _I.SNAPSHOT): _S.LIVE,
    (_S.LIVE, _I.DELTA): _S.LIVE,
    (_S.LIVE, _I.GAP): _S.RESYNCING,
    (_S.LIVE, _I.CHECKSUM_FAIL): _S.RESYNCING,
    (_S.LIVE, _I.CROSSED): _S.RESYNCING,
    (_S.LIVE, _I.DISCONNECT): _S.SYNCING,
    (_S.RESYNCING, _I.SNAPSHOT): _S.LIVE,
    (_S.RESYNCING, _I.DELTA): _S.RESYNCING,
    (_S.RESYNCING, _I.GAP): _S.RESYNCING,
    (_S.RESYNCING, _I.CHECKSUM_FAIL): _S.RESYNCING,
    (_S.RESYNCING, _I.CROSSED): _S.RESYNCING,
    (_S.RESYNCING, _I.DISCONNECT): _S.SYNCING,
}


def next_book_state(state: BookState, event: BookInput) -> BookState:
    """The book-sync machine: the state after ``event`` in ``state``.

    Raises:
        IllegalTransition: the pair is not in the table.
    """
    return step(BOOK_SYNC_TABLE, "book sync", state, event)
