"""OKX order books kept in sequence: OKX's WS snapshot when it comes, its REST bootstrap otherwise.

Rules (OKX v5 docs, WS order book channel; API changelog "Delist initial snapshot and checksum field in
order book channels", last updated 2026-02-12, with its "How to manage a local order book correctly";
notice "Order Book Channels Checksum Field Deprecation", 2026-05-21):
1. Integrity is ``seqId`` / ``prevSeqId`` continuity plus our crossed-book check, nothing else. The
   ``checksum`` is deprecated (always 0 since 2026-06-23 in production, 2026-06-02 in demo trading) and is
   never read, whatever it holds (wire.BookData does not even declare it).
2. An ``action:"snapshot"`` push (``prevSeqId`` -1) loads the book and makes it LIVE: OKX still sends one
   on subscribe (ccxt 4.5.90, November 2026, still builds its book from it), and we use it when it comes.
3. An update for a book that is not LIVE is buffered (bounded), and the first one asks for a REST snapshot
   (``NeedSnapshot``). So a book whose stream starts without a snapshot (OKX announced removing it: demo
   "early May 2026", production "early August 2026") goes live through GET /api/v5/market/books.
4. ``apply_snapshot`` loads that answer (its ``seqId`` S): buffered updates with ``seqId <= S`` are
   dropped; the first remaining one must satisfy ``prevSeqId <= S < seqId``; one with ``prevSeqId > S``
   means the snapshot is older than the stream we hold: fetch again (``NeedSnapshot``). With nothing left
   buffered, the next pushed update must bridge the same way (older ones are dropped as stale).
5. Every later update must have ``prevSeqId`` equal to the previous ``seqId``. That one rule also covers
   OKX's keep-alive (no levels, ``prevSeqId == seqId``) and the reset after maintenance (``seqId`` lower
   than ``prevSeqId``). Pre-2023 frames carry no seqId: nothing chains them.
6. A gap or a crossed book: RESYNCING (book-sync table), the book is cleared, ``BookIntegrity`` +
   ``NeedSnapshot``; the update that showed the gap stays buffered as the first the snapshot must bridge.
   Never a resubscribe: each would cost 2 of the 480 subscribe/login ops per connection-hour.
7. A REST answer nobody waits for (the book went LIVE from a WS snapshot meanwhile) is ignored.
While LIVE every applied update yields a Quote (best bid/ask read in O(1)) and, with ``emit_deltas``, a
BookDelta first. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from messages.base import BookState, InstrumentId, Message, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot, Quote
from venues.book import NEAR_LEVELS, BookInput, L2Book, next_book_state, quote_of
from venues.errors import BookIntegrityError, CrossedBook, DecodeError, SequenceGap
from venues.events import SUPERSEDED, CodecEvent, NeedSnapshot
from venues.okx.codes import VENUE
from venues.okx.wire import BookData, BookLevel

__all__ = ["OkxBook", "OkxBooks", "BUFFER_LIMIT"]

Output = Message | CodecEvent
BUFFER_LIMIT = 2000  # updates kept per book while waiting for a snapshot (oldest dropped first)
_OKX = Venue.OKX
_MS = 1_000_000
_INF = float("inf")
_LIVE = BookState.LIVE
_NEAR_MAX = 4 * NEAR_LEVELS  # as in venues.book: the near band is trimmed past this many levels


class OkxBook(L2Book):
    """``L2Book`` fed with OKX's decoded levels as they come (``BookLevel.px`` / ``.sz``).

    ``apply_levels`` is ``L2Book.apply``'s loop reading the two attributes instead of unpacking a pair: a
    conversion pass to pairs first would cost as much as the book update itself (bench/decode.py). It keeps
    L2Book's band invariants (venues/book.py docstring) with L2Book's own fields and helpers, exactly as
    ``apply`` and ``apply_tagged`` do; a change to L2Book's layout must follow here (test_books.py replays
    OKX streams against the truth, including a Hypothesis one).
    """

    __slots__ = ()

    def apply_levels(
        self, bids: Sequence[BookLevel], asks: Sequence[BookLevel]
    ) -> tuple[float, float, float, float] | None:
        """Apply absolute level changes (size 0 deletes; deleting an unknown level is a no-op).

        Returns:
            ``best()`` after the changes.
        """
        near = self._bn
        far = self._bf
        t = self._bt
        best = self._bb
        for lv in bids:
            px = lv.px
            sz = lv.sz
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
        for lv in asks:
            px = lv.px
            sz = lv.sz
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


def _pairs(levels: Iterable[BookLevel]) -> tuple[tuple[float, float], ...]:
    return tuple((lv.px, lv.sz) for lv in levels)


class _Sync:
    """One book's sync state: the book, its state, the last applied seqId, the pre-snapshot buffer."""

    __slots__ = ("instrument", "book", "state", "seq", "bridge", "buffer", "requested")

    def __init__(self, instrument: InstrumentId) -> None:
        self.instrument = instrument
        self.book = OkxBook(VENUE, instrument)
        self.state = BookState.SYNCING
        self.seq: int | None = None  # seqId of the last applied push
        self.bridge: int | None = None  # a REST snapshot's seqId until the first update after it arrives
        self.buffer: deque[BookData] = deque(maxlen=BUFFER_LIMIT)
        self.requested = False  # a NeedSnapshot is outstanding


class OkxBooks:
    """Every incremental OKX book (books, books-l2-tbt, books50-l2-tbt) of one connection set.

    Args:
        resolve: OKX instId -> unified id (raises InstrumentError for an unknown one).
        emit_deltas: also return BookSnapshot / BookDelta messages for what is applied.
    """

    def __init__(self, resolve: Callable[[str], InstrumentId], *, emit_deltas: bool = False) -> None:
        self._resolve = resolve
        self._emit_deltas = emit_deltas
        self._by_symbol: dict[str, _Sync] = {}
        self._by_id: dict[InstrumentId, _Sync] = {}
        self.stale_events = 0  # updates older than their REST snapshot, dropped by the procedure (not faults)

    # -- lookups -----------------------------------------------------------------------------------
    def track(self, symbol: str) -> _Sync:
        """The sync of ``symbol``'s book, created SYNCING on first sight.

        Raises:
            InstrumentError: ``symbol`` is not a registered OKX instrument.
        """
        sync = self._by_symbol.get(symbol)
        if sync is None:
            inst = self._resolve(symbol)
            sync = self._by_id.get(inst) or _Sync(inst)
            self._by_symbol[symbol] = sync
            self._by_id[inst] = sync
        return sync

    def _by_instrument(self, instrument: InstrumentId, symbol_of: Callable[[InstrumentId], str]) -> _Sync:
        sync = self._by_id.get(instrument)
        return sync if sync is not None else self.track(symbol_of(instrument))

    def book(self, instrument: InstrumentId, symbol_of: Callable[[InstrumentId], str]) -> OkxBook:
        return self._by_instrument(instrument, symbol_of).book

    def book_state(self, instrument: InstrumentId) -> BookState:
        """SYNCING, LIVE or RESYNCING; SYNCING for a book never seen."""
        sync = self._by_id.get(instrument)
        return sync.state if sync is not None else BookState.SYNCING

    # -- pushes ------------------------------------------------------------------------------------
    def on_push(self, symbol: str, action: str, data: list[BookData], ts_recv: int) -> list[Output]:
        """Apply, buffer or reject one books push (see the module rules).

        Raises:
            InstrumentError: ``symbol`` is not a registered OKX instrument.
            DecodeError: ``action`` is neither "snapshot" nor "update".
        """
        sync = self._by_symbol.get(symbol)
        if sync is None:
            sync = self.track(symbol)
        elif (
            action == "update"
            and len(data) == 1
            and sync.state is _LIVE
            and sync.bridge is None
            and not self._emit_deltas
            and data[0].prevSeqId == sync.seq
        ):
            # The hot path (bench/decode.py): an in-sequence update of a LIVE book, inlined.
            item = data[0]
            best = sync.book.apply_levels(item.bids, item.asks)
            sync.seq = item.seqId
            if best is None:
                return []
            if best[0] < best[2]:
                return [
                    Quote(
                        venue=_OKX,
                        instrument=sync.instrument,
                        bid_px=best[0],
                        bid_sz=best[1],
                        ask_px=best[2],
                        ask_sz=best[3],
                        ts_event=item.ts * _MS,
                        ts_recv=ts_recv,
                    )
                ]
            return self._fail(sync, CrossedBook(VENUE, sync.instrument, best[0], best[2]), BookInput.CROSSED, ts_recv)
        out: list[Output] = []
        for item in data:
            if action == "update":
                out += self._update(sync, item, ts_recv) if sync.state is _LIVE else self._buffer(sync, item)
            elif action == "snapshot":
                out += self._ws_snapshot(sync, item, ts_recv)
            else:
                detail = f"expected action 'snapshot' or 'update' for books {symbol}, got {action!r}"
                raise DecodeError(VENUE, "books push", detail)
        return out

    def _buffer(self, sync: _Sync, item: BookData) -> list[Output]:
        sync.buffer.append(item)
        sync.state = next_book_state(sync.state, BookInput.DELTA)
        if sync.requested:
            return []
        sync.requested = True
        reason = f"okx {sync.instrument} books update without a snapshot; fetching GET /api/v5/market/books"
        return [NeedSnapshot(instrument=sync.instrument, reason=reason)]

    def _ws_snapshot(self, sync: _Sync, item: BookData, ts_recv: int) -> list[Output]:
        sync.book.load(_pairs(item.bids), _pairs(item.asks))
        sync.seq = item.seqId
        sync.bridge = None
        sync.buffer.clear()
        sync.requested = False  # a REST answer still on its way is now stale (rule 7)
        return self._loaded(sync, "snapshot", item.seqId, item.ts, ts_recv)

    def _loaded(
        self, sync: _Sync, reason: str, seq: int | None, ts_ms: int, ts_recv: int, quote: bool = True
    ) -> list[Output]:
        """After a load: LIVE (a BookIntegrity when that is news), the BookSnapshot, then the Quote."""
        out: list[Output] = []
        new = next_book_state(sync.state, BookInput.SNAPSHOT)
        if new is not sync.state:
            sync.state = new
            out.append(BookIntegrity(venue=_OKX, instrument=sync.instrument, state=new, reason=reason, ts=ts_recv))
        if self._emit_deltas:
            all_b, all_a = sync.book.as_sorted()
            out.append(
                BookSnapshot(
                    venue=_OKX,
                    instrument=sync.instrument,
                    bids=tuple(all_b),
                    asks=tuple(all_a),
                    sequence=seq if seq is not None else -1,
                    ts_event=ts_ms * _MS,
                    ts_recv=ts_recv,
                )
            )
        if quote:
            out += self._quote(sync, ts_ms, ts_recv)
        return out

    def _update(self, sync: _Sync, item: BookData, ts_recv: int, quote: bool = True) -> list[Output]:
        """One update of a LIVE book: the bridge after a REST snapshot, else the prevSeqId chain."""
        seq = item.seqId
        prev = item.prevSeqId
        bridge = sync.bridge
        if bridge is not None:
            if seq is not None and seq <= bridge:
                self.stale_events += 1
                return [SUPERSEDED]
            if seq is None or prev is None or prev > bridge:
                gap = SequenceGap(VENUE, sync.instrument, bridge, prev if prev is not None else -1,
                                  "prevSeqId <= snapshot seqId")  # fmt: skip
                return self._fail(sync, gap, BookInput.GAP, ts_recv, item)
            sync.bridge = None
        elif prev != sync.seq:
            expected = sync.seq if sync.seq is not None else -1
            gap = SequenceGap(VENUE, sync.instrument, expected, prev if prev is not None else -1, "prevSeqId")
            return self._fail(sync, gap, BookInput.GAP, ts_recv, item)
        best = sync.book.apply_levels(item.bids, item.asks)
        sync.seq = seq
        if best is not None and best[0] >= best[2]:
            return self._fail(sync, CrossedBook(VENUE, sync.instrument, best[0], best[2]), BookInput.CROSSED, ts_recv)
        out: list[Output] = []
        if self._emit_deltas:
            out.append(
                BookDelta(
                    venue=_OKX,
                    instrument=sync.instrument,
                    bids=_pairs(item.bids),
                    asks=_pairs(item.asks),
                    sequence=seq if seq is not None else -1,
                    prev_sequence=prev if prev is not None else -1,
                    ts_event=item.ts * _MS,
                    ts_recv=ts_recv,
                )
            )
        if quote and best is not None:
            out.append(quote_of(_OKX, sync.instrument, best, item.ts * _MS, ts_recv))
        return out

    def _quote(self, sync: _Sync, ts_ms: int, ts_recv: int) -> list[Output]:
        best = sync.book.best()
        if best is None:
            return []
        if best[0] >= best[2]:
            return self._fail(sync, CrossedBook(VENUE, sync.instrument, best[0], best[2]), BookInput.CROSSED, ts_recv)
        return [quote_of(_OKX, sync.instrument, best, ts_ms * _MS, ts_recv)]

    def _fail(
        self, sync: _Sync, error: BookIntegrityError, cause: BookInput, ts_recv: int, first: BookData | None = None
    ) -> list[Output]:
        """Rule 6: RESYNCING, cleared, the REST bootstrap asked for; ``first`` opens the new buffer."""
        sync.state = next_book_state(sync.state, cause)
        sync.book.clear()
        sync.seq = sync.bridge = None
        sync.buffer.clear()
        if first is not None:
            sync.buffer.append(first)
        sync.requested = True
        reason = str(error)
        return [
            BookIntegrity(venue=_OKX, instrument=sync.instrument, state=sync.state, reason=reason, ts=ts_recv),
            NeedSnapshot(instrument=sync.instrument, reason=reason),
        ]

    # -- the REST bootstrap ------------------------------------------------------------------------
    def apply_snapshot(
        self, instrument: InstrumentId, snapshot: BookSnapshot, symbol_of: Callable[[InstrumentId], str], ts_recv: int
    ) -> list[Output]:
        """Start (or restart) ``instrument``'s book from a GET /api/v5/market/books answer (rule 4).

        Args:
            instrument: unified id of the book.
            snapshot: the parsed answer; ``sequence`` is its seqId.
            symbol_of: unified id -> OKX instId (for a book not seen yet).
            ts_recv: local receive time, ns.

        Returns:
            Nothing when no snapshot was awaited (rule 7); NeedSnapshot when it is older than the buffered
            stream; else BookIntegrity(LIVE), the BookSnapshot and replayed BookDeltas with ``emit_deltas``,
            and the Quote of the book (or the failure of the replay: BookIntegrity + NeedSnapshot).

        Raises:
            DecodeError: the answer carries no seqId (it cannot be aligned with the stream).
            InstrumentError: ``instrument`` is not a registered OKX instrument.
        """
        sync = self._by_instrument(instrument, symbol_of)
        if not sync.requested:
            return []
        last = snapshot.sequence
        if last < 0:
            detail = "expected a seqId in the GET /api/v5/market/books answer (OKX's REST bootstrap aligns on it), got none"
            raise DecodeError(VENUE, f"{instrument} order book", detail)
        pending = [ev for ev in sync.buffer if ev.seqId is None or ev.seqId > last]
        self.stale_events += len(sync.buffer) - len(pending)
        first_prev = pending[0].prevSeqId if pending else None
        if first_prev is not None and first_prev > last:
            sync.buffer = deque(pending, maxlen=BUFFER_LIMIT)
            reason = (f"okx {instrument} REST snapshot seqId {last} is older than the buffered stream "
                      f"(prevSeqId {first_prev}); fetching again")  # fmt: skip
            return [NeedSnapshot(instrument=instrument, reason=reason)]
        sync.buffer.clear()
        sync.requested = False
        sync.book.load(snapshot.bids, snapshot.asks)
        sync.seq = sync.bridge = last
        reason = f"REST snapshot seqId {last}, {len(pending)} buffered updates replayed"
        out = self._loaded(sync, reason, last, snapshot.ts_event // _MS, ts_recv, quote=False)
        for ev in pending:
            if sync.state is not _LIVE:
                sync.buffer.append(ev)
            else:
                out += self._update(sync, ev, ts_recv, quote=False)
        if sync.state is _LIVE:
            out += self._quote(sync, snapshot.ts_event // _MS, ts_recv)
        return out

    def reset(self, ts: int = 0) -> list[Message]:
        """After a reconnect: every book back to SYNCING, emptied, its buffer and pending fetch forgotten.

        Returns:
            A BookIntegrity message for each book whose state changed.
        """
        out: list[Message] = []
        for sync in self._by_id.values():
            new = next_book_state(sync.state, BookInput.DISCONNECT)
            sync.book.clear()
            sync.seq = sync.bridge = None
            sync.buffer.clear()
            sync.requested = False
            if new is not sync.state:
                sync.state = new
                out.append(BookIntegrity(venue=_OKX, instrument=sync.instrument, state=new, reason="disconnected", ts=ts))
        return out
