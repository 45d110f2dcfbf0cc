"""An L2 order book kept in sequence, and the book-sync state machine.

Invariants:
- Nothing in this module does I/O or reads a clock.
- Sizes are absolute; a size of 0 deletes the level; deleting an unknown level is a no-op (venues do it).
- Best bid/ask reads are O(1) amortised: each side is a dict price -> size plus a heap of prices with
  lazy deletion (stale heap entries are discarded when they reach the top; the heap is rebuilt when it
  grows past twice the live levels). No read scans or sorts the book.
- Top-N reads walk the heap best-first (O(N log N) plus the stale entries met on the way): snapshots and
  depth views read them every 100 ms, so they do not scan the book either.
- Venue sequencing rules live in each venue's codec; this module gives them the book and the state table.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable

from messages.base import BookState
from venues.errors import CrossedBook, LocalError

__all__ = ["L2Book", "BookInput", "BOOK_SYNC_TABLE", "next_book_state", "IllegalTransition"]

Level = tuple[float, float]


class L2Book:
    """Price-level book for one instrument on one venue."""

    __slots__ = ("venue", "instrument", "_bids", "_asks", "_bid_heap", "_ask_heap")

    def __init__(self, venue: str, instrument: str) -> None:
        self.venue = venue
        self.instrument = instrument
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_heap: list[float] = []  # negated prices: heap[0] is -best_bid
        self._ask_heap: list[float] = []

    # -- writes -------------------------------------------------------------------------------------
    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_heap.clear()
        self._ask_heap.clear()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot). Zero sizes in a snapshot are ignored."""
        self._bids = {px: sz for px, sz in bids if sz > 0.0}
        self._asks = {px: sz for px, sz in asks if sz > 0.0}
        self._bid_heap = [-px for px in self._bids]
        self._ask_heap = list(self._asks)
        heapq.heapify(self._bid_heap)
        heapq.heapify(self._ask_heap)

    def set_bid(self, px: float, sz: float) -> None:
        bids = self._bids
        if sz > 0.0:
            if px not in bids:
                heapq.heappush(self._bid_heap, -px)
                if len(self._bid_heap) > 2 * len(bids) + 64:
                    self._bid_heap = [-p for p in bids]
                    self._bid_heap.append(-px)
                    heapq.heapify(self._bid_heap)
            bids[px] = sz
        else:
            bids.pop(px, None)

    def set_ask(self, px: float, sz: float) -> None:
        asks = self._asks
        if sz > 0.0:
            if px not in asks:
                heapq.heappush(self._ask_heap, px)
                if len(self._ask_heap) > 2 * len(asks) + 64:
                    self._ask_heap = list(asks)
                    self._ask_heap.append(px)
                    heapq.heapify(self._ask_heap)
            asks[px] = sz
        else:
            asks.pop(px, None)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply absolute level changes to both sides (the per-level work inlined: this is the hot path)."""
        book = self._bids
        heap = self._bid_heap
        push = heapq.heappush
        for px, sz in bids:
            if sz > 0.0:
                if px not in book:
                    push(heap, -px)
                book[px] = sz
            else:
                book.pop(px, None)
        if len(heap) > 2 * len(book) + 64:
            self._bid_heap = [-p for p in book]
            heapq.heapify(self._bid_heap)
        book = self._asks
        heap = self._ask_heap
        for px, sz in asks:
            if sz > 0.0:
                if px not in book:
                    push(heap, px)
                book[px] = sz
            else:
                book.pop(px, None)
        if len(heap) > 2 * len(book) + 64:
            self._ask_heap = list(book)
            heapq.heapify(self._ask_heap)

    # -- reads --------------------------------------------------------------------------------------
    def best_bid(self) -> Level | None:
        heap = self._bid_heap
        bids = self._bids
        while heap:
            px = -heap[0]
            sz = bids.get(px)
            if sz is not None:
                return px, sz
            heapq.heappop(heap)
        return None

    def best_ask(self) -> Level | None:
        heap = self._ask_heap
        asks = self._asks
        while heap:
            px = heap[0]
            sz = asks.get(px)
            if sz is not None:
                return px, sz
            heapq.heappop(heap)
        return None

    def top_bids(self, n: int) -> list[Level]:
        """The best ``n`` bids, highest first (a walk down the heap: O(n log n) plus stale entries)."""
        bids = self._bids
        return [(-k, bids[-k]) for k in _heap_top(self._bid_heap, bids, n, -1.0)]

    def top_asks(self, n: int) -> list[Level]:
        """The best ``n`` asks, lowest first."""
        asks = self._asks
        return [(k, asks[k]) for k in _heap_top(self._ask_heap, asks, n, 1.0)]

    def bid_size(self, px: float) -> float:
        return self._bids.get(px, 0.0)

    def ask_size(self, px: float) -> float:
        return self._asks.get(px, 0.0)

    @property
    def depth(self) -> tuple[int, int]:
        return len(self._bids), len(self._asks)

    def is_crossed(self) -> bool:
        """True when best bid >= best ask (a locked book counts as crossed for integrity)."""
        bb = self.best_bid()
        ba = self.best_ask()
        return bb is not None and ba is not None and bb[0] >= ba[0]

    def check_not_crossed(self) -> None:
        """Raise CrossedBook if the book is crossed or locked."""
        bb = self.best_bid()
        ba = self.best_ask()
        if bb is not None and ba is not None and bb[0] >= ba[0]:
            raise CrossedBook(self.venue, self.instrument, bb[0], ba[0])

    def as_sorted(self) -> tuple[list[Level], list[Level]]:
        """The whole book sorted (bids high to low, asks low to high); for tests and snapshots."""
        bids = sorted(self._bids.items(), key=lambda lv: -lv[0])
        asks = sorted(self._asks.items())
        return bids, asks

    def __repr__(self) -> str:
        return f"L2Book({self.venue} {self.instrument}, bid={self.best_bid()}, ask={self.best_ask()})"


def _heap_top(heap: list[float], live: dict[float, float], n: int, sign: float) -> list[float]:
    """The ``n`` smallest distinct live keys of a lazy-deletion heap (key = sign * price), in order.

    Best-first walk of the heap's tree with a frontier heap: a key is popped only after every smaller one,
    stale keys (price no longer in ``live``) and duplicates (deleted then re-added) are skipped. Every live
    price has at least one entry in the heap, so this equals sorting the live prices, without the scan.
    """
    out: list[float] = []
    size = len(heap)
    if n <= 0 or not size:
        return out
    seen: set[float] = set()
    pop = heapq.heappop
    push = heapq.heappush
    frontier = [(heap[0], 0)]
    while frontier:
        key, i = pop(frontier)
        if key not in seen and sign * key in live:
            seen.add(key)
            out.append(key)
            if len(out) == n:
                break
        j = 2 * i + 1
        if j < size:
            push(frontier, (heap[j], j))
            j += 1
            if j < size:
                push(frontier, (heap[j], j))
    return out


class BookInput(enum.StrEnum):
    SNAPSHOT = "snapshot"  # a full book arrived (REST snapshot or a venue snapshot message)
    DELTA = "delta"  # an in-sequence update was applied (or buffered while syncing)
    GAP = "gap"  # a sequence id was missing or out of order
    CHECKSUM_FAIL = "checksum_fail"
    CROSSED = "crossed"
    DISCONNECT = "disconnect"  # the stream went away; everything must start again


class IllegalTransition(LocalError):
    def __init__(self, machine: str, state: enum.Enum, event: enum.Enum) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(f"{machine}: input {event.value!r} is illegal in state {state.value!r}")


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
    try:
        return BOOK_SYNC_TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition("book sync", state, event) from None
