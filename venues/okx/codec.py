"""OkxCodec: OKX v5 WebSocket frames -> typed messages and codec events, with books kept in sequence.

Rules for this module (sans-IO: no sockets, no clock, no tasks):
- ``feed`` never raises on venue input: malformed or unknown frames become a ``Dropped`` event carrying
  the typed error's text; the shell counts them.
- Books channels (books, books-l2-tbt, books50-l2-tbt): ``action:"snapshot"`` (prevSeqId -1) loads the
  book, then every ``update`` must have ``prevSeqId == previous seqId``. That single rule also covers
  OKX's two documented exceptions: a keep-alive update (no levels, ``prevSeqId == seqId``) and a
  sequence reset after maintenance (``seqId < prevSeqId``); both still chain on prevSeqId.
  Pre-2023 frames have no seqId: the checksum alone guards them.
- The CRC32 checksum is verified after applying EVERY message, over the original price/size strings.
- A gap, a bad checksum or a crossed book moves the book to RESYNCING (book-sync table), clears it and
  returns ``BookIntegrity`` + ``NeedResubscribe``; updates are not applied until a new snapshot arrives,
  so a book is never silently wrong.
- After each applied book message while LIVE: a ``Quote`` from the O(1) best bid/ask, plus the
  ``BookDelta`` (or ``BookSnapshot`` for a snapshot) when built with ``emit_deltas=True``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from messages.base import BookState, InstrumentId, Message, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot, Quote
from venues.book import BookInput, next_book_state, quote_of
from venues.errors import (
    BookIntegrityError,
    ChecksumMismatch,
    CrossedBook,
    DecodeError,
    InstrumentError,
    RemoteError,
    SequenceGap,
    UnknownStatus,
)
from venues.events import (
    CodecEvent,
    Dropped,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    Pong,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.okx import parse, wire
from venues.okx.book import OkxBook
from venues.okx.checksum import CHECKSUM_DEPTH
from venues.okx.codes import LOGIN_ERROR_CODES, VENUE
from venues.okx.frames import INCREMENTAL_BOOKS, PONG
from venues.symbols import InstrumentRegistry

__all__ = ["OkxCodec", "Output"]

Output = Message | CodecEvent
_OKX = Venue.OKX
_MS = parse.MS
_INF = float("inf")
_LIVE = BookState.LIVE
# Real OKX pushes are compact JSON starting like this: the hot path decodes them in one typed pass.
_BOOKS_PREFIX = b'{"arg":{"channel":"books",'


class _Sync:
    """Everything the codec keeps for one incremental book."""

    __slots__ = ("instrument", "symbol", "book", "state", "seq")

    def __init__(self, instrument: InstrumentId, symbol: str, tick: float) -> None:
        self.instrument = instrument
        self.symbol = symbol
        self.book = OkxBook(VENUE, instrument, tick)
        self.state = BookState.SYNCING
        self.seq: int | None = None


def _float_levels(levels: list[wire.BookLevel], symbol: str) -> tuple[tuple[float, float], ...]:
    """A books push's levels as (price, size) floats, for BookDelta (only built with emit_deltas)."""
    out = []
    for lv in levels:
        px = float(lv.px)
        sz = float(lv.sz)
        if not (0.0 < px < _INF and 0.0 <= sz < _INF):
            detail = f"expected price > 0 and size >= 0, got [{lv.px!r}, {lv.sz!r}]"
            raise DecodeError(VENUE, f"{symbol} book level", detail)
        out.append((px, sz))
    return tuple(out)


class OkxCodec:
    """Sans-IO OKX v5 WebSocket codec.

    Args:
        registry: instruments, to map OKX instIds to unified ids (unknown instIds are dropped).
        emit_deltas: also return BookDelta / BookSnapshot for every applied book message.
        verify_checksum: check OKX's CRC32 on every book message (turn off only in benchmarks).
    """

    def __init__(
        self, registry: InstrumentRegistry, *, emit_deltas: bool = False, verify_checksum: bool = True
    ) -> None:
        self._registry = registry
        self._emit_deltas = emit_deltas
        self._verify = verify_checksum
        self._books: dict[str, _Sync] = {}  # by OKX instId
        self._ids: dict[str, InstrumentId] = {}  # instId -> unified id cache

    # -- public API --------------------------------------------------------------------------------
    def feed(self, frame: bytes, ts_recv: int) -> list[Output]:
        """Decode one WebSocket frame.

        Args:
            frame: the frame's bytes (text frames encoded as UTF-8).
            ts_recv: our receive time, int ns.

        Returns:
            Bus messages (Quote, Trade, BookDelta, Kline, OrderUpdate, Fill, Balance, Position,
            BookIntegrity) mixed with codec events (Pong, Subscribed, LoggedIn, NeedResubscribe,
            Dropped, ...). Never raises on venue input.
        """
        try:
            if frame.startswith(_BOOKS_PREFIX):
                push = wire.BOOK_PUSH_DECODER.decode(frame)
                return self._on_books(push.arg, push.action, push.data, ts_recv)
            if frame == PONG:
                return [Pong()]
            if frame == b"ping":
                return [SendFrame(frame=PONG)]
            env = wire.ENVELOPE_DECODER.decode(frame)
            if env.event:
                return self._on_event(env)
            if env.arg is None:
                raise DecodeError(VENUE, "frame", "expected an 'event' or an 'arg' with 'data'", frame)
            return self._on_push(env, ts_recv)
        except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
            # msgspec raises UnicodeDecodeError (not a MsgspecError) for invalid UTF-8 inside a string.
            return [Dropped(reason="malformed", error=str(DecodeError(VENUE, "frame", str(exc), frame)))]
        except UnknownStatus as exc:
            return [Dropped(reason="unknown_status", error=str(exc))]
        except RemoteError as exc:
            return [Dropped(reason="malformed", error=str(exc))]
        except InstrumentError as exc:
            return [Dropped(reason="unknown_instrument", error=str(exc))]

    def book(self, instrument: InstrumentId) -> OkxBook:
        """The book kept for ``instrument`` (created in SYNCING if not yet seen; L2Book's read API).

        Raises:
            InstrumentError: ``instrument`` is not an OKX instrument of the registry.
        """
        return self._sync_by_id(instrument).book

    def book_state(self, instrument: InstrumentId) -> BookState:
        """The sync state of ``instrument``'s book (SYNCING until its first snapshot)."""
        return self._sync_by_id(instrument).state

    def top_levels_text(
        self, instrument: InstrumentId, depth: int = CHECKSUM_DEPTH
    ) -> tuple[list[str], list[str]]:
        """The top ``depth`` levels as OKX's original ``"px:sz"`` strings (diagnostics, tests)."""
        return self._sync_by_id(instrument).book.top_text(depth)

    def reset(self, ts: int = 0) -> list[Message]:
        """After a reconnect: every book goes back to SYNCING, emptied, waiting for its snapshot.

        Args:
            ts: time of the reset, int ns (stamped on the BookIntegrity messages).

        Returns:
            A BookIntegrity message for each book whose state changed.
        """
        out: list[Message] = []
        for sync in self._books.values():
            new = next_book_state(sync.state, BookInput.DISCONNECT)
            sync.book.clear()
            sync.seq = None
            if new is not sync.state:
                sync.state = new
                out.append(
                    BookIntegrity(
                        venue=_OKX, instrument=sync.instrument, state=new, reason="disconnected", ts=ts
                    )
                )
        return out

    # -- lookups -----------------------------------------------------------------------------------
    def _instrument_id(self, symbol: str) -> InstrumentId:
        inst = self._ids.get(symbol)
        if inst is None:
            inst = self._registry.by_symbol(_OKX, symbol).id
            self._ids[symbol] = inst
        return inst

    def _sync(self, symbol: str) -> _Sync:
        sync = self._books.get(symbol)
        if sync is None:
            inst = self._registry.by_symbol(_OKX, symbol)
            self._ids[symbol] = inst.id
            sync = _Sync(inst.id, symbol, float(inst.tick_size))
            self._books[symbol] = sync
        return sync

    def _sync_by_id(self, instrument: InstrumentId) -> _Sync:
        return self._sync(self._registry.get(_OKX, instrument).venue_symbol)

    # -- events ------------------------------------------------------------------------------------
    def _on_event(self, env: wire.Envelope) -> list[Output]:
        event = env.event
        if event == "subscribe":
            if env.arg is None:
                raise DecodeError(VENUE, "subscribe ack", "expected an 'arg'")
            arg = env.arg
            if arg.channel in INCREMENTAL_BOOKS and arg.instId:
                self._sync(arg.instId)  # the book exists from now on, SYNCING until its snapshot
            name = f"{arg.channel}:{arg.instId or arg.instType}"
            return [Subscribed(channels=(name,), request_id=env.id)]
        if event == "unsubscribe":
            return []
        if event == "login":
            if env.code in ("", "0"):
                return [LoggedIn()]
            return [LoginFailed(code=env.code, text=env.msg)]
        if event == "error":
            if env.code in LOGIN_ERROR_CODES:
                return [LoginFailed(code=env.code, text=env.msg)]
            return [SubscribeFailed(code=env.code, text=env.msg, request_id=env.id)]
        if event == "notice":
            return [StreamExpired(reason=f"okx notice {env.code}: {env.msg}")]
        if event in ("channel-conn-count", "channel-conn-count-error"):
            if event.endswith("error"):
                return [SubscribeFailed(code=env.code, text=env.msg, request_id=env.id)]
            return []
        raise DecodeError(VENUE, "event", f"expected subscribe/unsubscribe/login/error/notice, got {event!r}")

    # -- data pushes -------------------------------------------------------------------------------
    def _on_push(self, env: wire.Envelope, ts_recv: int) -> list[Output]:
        arg = env.arg
        assert arg is not None  # checked by feed
        channel = arg.channel
        if channel in INCREMENTAL_BOOKS:
            return self._on_books(arg, env.action, wire.BOOK_DATA_DECODER.decode(env.data), ts_recv)
        if channel == "bbo-tbt" or channel == "books5":
            inst = self._instrument_id(arg.instId)
            out: list[Output] = []
            for item in wire.BBO_DATA_DECODER.decode(env.data):
                quote = parse.quote_from_bbo(inst, item, ts_recv)
                if quote is not None:
                    out.append(quote)
                if self._emit_deltas:
                    out.append(parse.snapshot_from_bbo(inst, item, ts_recv))
            return out
        if channel == "trades" or channel == "trades-all":
            return [
                parse.trade(self._instrument_id(t.instId), t, ts_recv)
                for t in wire.TRADE_DATA_DECODER.decode(env.data)
            ]
        if channel == "tickers":
            out = []
            for t in wire.TICKER_DATA_DECODER.decode(env.data):
                quote = parse.quote_from_ticker(self._instrument_id(t.instId), t, ts_recv)
                if quote is not None:
                    out.append(quote)
            return out
        if channel.startswith("candle"):
            inst = self._instrument_id(arg.instId)
            bar = channel[6:]
            return [parse.kline(inst, bar, row, ts_recv) for row in wire.CANDLE_DATA_DECODER.decode(env.data)]
        if channel == "orders":
            out = []
            for o in wire.ORDER_DATA_DECODER.decode(env.data):
                inst = self._instrument_id(o.instId)
                out.append(parse.order_update(inst, o, ts_recv))
                fill = parse.fill(inst, o, ts_recv)
                if fill is not None:
                    out.append(fill)
            return out
        if channel == "positions":
            return [
                parse.position(self._instrument_id(p.instId), p, ts_recv)
                for p in wire.POSITION_DATA_DECODER.decode(env.data)
            ]
        if channel == "account":
            out = []
            for acct in wire.ACCOUNT_DATA_DECODER.decode(env.data):
                out.extend(parse.balances(acct, ts_recv))
            return out
        raise DecodeError(VENUE, "push", f"no parser for channel {channel!r}")

    # -- books -------------------------------------------------------------------------------------
    def _on_books(self, arg: wire.Arg, action: str, data: list[wire.BookData], ts_recv: int) -> list[Output]:
        sync = self._sync(arg.instId)
        out: list[Output] = []
        for item in data:
            try:
                if action == "update":
                    self._update(sync, item, ts_recv, out)
                    continue
                if action == "snapshot":
                    self._snapshot(sync, item, ts_recv, out)
                    continue
            except (ValueError, DecodeError) as exc:
                # A bad level may leave the book half-applied: it cannot be trusted any more.
                detail = f"malformed {action} level ({exc})"
                out.append(Dropped(reason="malformed", error=f"cannot decode okx books push: {detail}"))
                self._fail(
                    sync, BookIntegrityError(VENUE, sync.instrument, detail), BookInput.GAP, ts_recv, out
                )
                continue
            detail = f"expected action 'snapshot' or 'update' for {arg.channel} {arg.instId}, got {action!r}"
            raise DecodeError(VENUE, "books push", detail)
        return out

    def _snapshot(self, sync: _Sync, item: wire.BookData, ts_recv: int, out: list[Output]) -> None:
        book = sync.book
        book.load(item.bids, item.asks)
        sync.seq = item.seqId
        if not self._checksum_ok(sync, item, ts_recv, out):
            return
        quote = self._quote(sync, item.ts, ts_recv, out)
        if quote is False:
            return
        new = next_book_state(sync.state, BookInput.SNAPSHOT)
        if new is not sync.state:
            sync.state = new
            out.append(
                BookIntegrity(
                    venue=_OKX, instrument=sync.instrument, state=new, reason="snapshot", ts=ts_recv
                )
            )
        if quote is not None:
            out.append(quote)
        if self._emit_deltas:
            all_b, all_a = book.as_sorted()
            out.append(
                BookSnapshot(
                    venue=_OKX,
                    instrument=sync.instrument,
                    bids=tuple(all_b),
                    asks=tuple(all_a),
                    sequence=item.seqId if item.seqId is not None else -1,
                    ts_event=item.ts * _MS,
                    ts_recv=ts_recv,
                )
            )

    def _update(self, sync: _Sync, item: wire.BookData, ts_recv: int, out: list[Output]) -> None:
        if sync.state is not _LIVE:
            # Not applied: the book waits for a snapshot (after subscribe or resubscribe).
            sync.state = next_book_state(sync.state, BookInput.DELTA)
            out.append(
                Dropped(reason="book_not_live", error=f"okx {sync.instrument} update while {sync.state}")
            )
            return
        seq = item.seqId
        if seq is not None and sync.seq is not None and item.prevSeqId != sync.seq:
            got = item.prevSeqId if item.prevSeqId is not None else -1
            gap = SequenceGap(VENUE, sync.instrument, sync.seq, got, "prevSeqId")
            self._fail(sync, gap, BookInput.GAP, ts_recv, out)
            return
        book = sync.book
        if book.corrupt:  # a depth read found a level that does not parse
            bad = BookIntegrityError(VENUE, sync.instrument, "a book level's size is not a number")
            self._fail(sync, bad, BookInput.GAP, ts_recv, out)
            return
        book.apply(item.bids, item.asks)
        if seq is not None:
            sync.seq = seq
        if not self._checksum_ok(sync, item, ts_recv, out):
            return
        quote = self._quote(sync, item.ts, ts_recv, out)
        if quote is False:
            return
        # (LIVE, DELTA) -> LIVE in BOOK_SYNC_TABLE: no table lookup on the hot path.
        if quote is not None:
            out.append(quote)
        if self._emit_deltas:
            out.append(
                BookDelta(
                    venue=_OKX,
                    instrument=sync.instrument,
                    bids=_float_levels(item.bids, sync.symbol),
                    asks=_float_levels(item.asks, sync.symbol),
                    sequence=seq if seq is not None else -1,
                    prev_sequence=item.prevSeqId if item.prevSeqId is not None else -1,
                    ts_event=item.ts * _MS,
                    ts_recv=ts_recv,
                )
            )

    def _checksum_ok(self, sync: _Sync, item: wire.BookData, ts_recv: int, out: list[Output]) -> bool:
        """Verify OKX's CRC32 (when sent and checking is on); on a mismatch fail the book."""
        if self._verify and item.checksum is not None:
            computed = sync.book.checksum()
            if computed != item.checksum:
                exc = ChecksumMismatch(VENUE, sync.instrument, item.checksum, computed)
                self._fail(sync, exc, BookInput.CHECKSUM_FAIL, ts_recv, out)
                return False
        return True

    def _quote(
        self, sync: _Sync, ts_ms: int, ts_recv: int, out: list[Output]
    ) -> Quote | None | Literal[False]:
        """Best bid/ask as a Quote (None if a side is empty); False after failing a crossed book.

        Raises:
            DecodeError: a best level's size is not a positive number (the caller fails the book).
        """
        best = sync.book.best()
        if best is None:
            return None
        if best[0] >= best[2]:
            self._fail(
                sync, CrossedBook(VENUE, sync.instrument, best[0], best[2]), BookInput.CROSSED, ts_recv, out
            )
            return False
        return quote_of(_OKX, sync.instrument, best, ts_ms * _MS, ts_recv)

    def _fail(
        self, sync: _Sync, exc: BookIntegrityError, event: BookInput, ts_recv: int, out: list[Output]
    ) -> None:
        sync.state = next_book_state(sync.state, event)
        sync.book.clear()
        sync.seq = None
        reason = str(exc)
        out.append(
            BookIntegrity(venue=_OKX, instrument=sync.instrument, state=sync.state, reason=reason, ts=ts_recv)
        )
        out.append(NeedResubscribe(instrument=sync.instrument, reason=reason))
