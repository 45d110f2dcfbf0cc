"""BinanceCodec: Binance USD-M WebSocket frames -> messages and codec events; book snapshots.

Rules:
- ``feed`` decodes each frame once (typed msgspec decoders built at import) and never raises on venue
  input: malformed frames come back as Dropped events, counted by the shell.
- Depth events go to books.DepthBooks (buffering, snapshot alignment, ``pu`` continuity, crossed-book
  guard); bookTicker, trades and klines map straight to messages.
- User data: every event type of the USD-M docs (user-data-streams pages, read 2026-12) is decoded as its
  own type. ORDER_TRADE_UPDATE becomes OrderUpdate (+ Fill); ALGO_UPDATE (conditional orders live in the
  Algo Service since 2025-12) an OrderUpdate keyed by its client algo id ``caid``, which the order router
  matches to its own orders; ACCOUNT_UPDATE its Positions and a BalancesChanged notice (its ``cw`` is the
  cross wallet balance, not free margin: the session reads ``availableBalance`` over REST instead);
  listenKeyExpired a StreamExpired. TRADE_LITE (a copy of the fill ORDER_TRADE_UPDATE brings), MARGIN_CALL,
  ACCOUNT_CONFIG_UPDATE, STRATEGY_UPDATE, GRID_UPDATE, CONDITIONAL_ORDER_TRIGGER_REJECT, markPriceUpdate and
  an ALGO_UPDATE without a client id are counted in ``ignored`` by name.
- Only a frame that fails to decode as its own known type is malformed (Dropped, which on the private
  stream makes the actor ask for a reconcile). An event type the docs do not list is not corrupt: it is
  counted in ``unknown_events`` by name and nothing else happens.
- Answers to our SUBSCRIBE / LIST_SUBSCRIPTIONS requests become Subscribed / Pong, errors SubscribeFailed.
- Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import typing
from collections import Counter
from collections.abc import Sequence

import msgspec

from messages.base import BookState, InstrumentId, Message, Venue
from messages.market import BookSnapshot
from venues.binance import codes, frames, parse, rest
from venues.binance.books import DepthBooks
from venues.binance.wire import (
    CONTROL_DECODER,
    ENVELOPE_DECODER,
    EVENT_DECODER,
    EVENT_NAME_DECODER,
    IGNORED_EVENTS,
    AccountUpdate,
    AggTrade,
    AlgoUpdate,
    BookTicker,
    DepthUpdate,
    KlineEvent,
    ListenKeyExpired,
    OrderTradeUpdate,
    StreamEvent,
    TradeEvent,
)
from venues.book import L2Book
from venues.errors import (
    DecodeError,
    InstrumentError,
    RemoteError,
    UnknownStatus,
)
from venues.events import (
    CodecEvent,
    Dropped,
    Pong,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

__all__ = ["BinanceCodec", "Output", "BalancesChanged"]

Output = Message | CodecEvent
_V = Venue.BINANCE
_MS = parse.MS
_LIVE = BookState.LIVE
_MAX_PENDING_REQUESTS = 1024
_KNOWN_EVENTS = frozenset(cls.__struct_config__.tag for cls in typing.get_args(StreamEvent))


class BalancesChanged(CodecEvent, frozen=True):
    """An ACCOUNT_UPDATE moved these assets' wallet balances. It carries no free margin (``cw`` is the cross
    wallet balance), so the session reads GET /fapi/v3/balance for ``availableBalance``."""

    assets: tuple[str, ...]


def _malformed(exc: msgspec.MsgspecError) -> Dropped:
    # msgspec says what it expected and where ("at `$.data.b[0][0]`"); the payload is not echoed because
    # user-data frames may carry the listenKey.
    return Dropped(reason="malformed", error=str(DecodeError(codes.VENUE, "ws frame", str(exc))))


class BinanceCodec:
    """Sans-IO codec for Binance USD-M futures.

    Args:
        registry: Instruments; maps venue symbols to unified ids (unknown symbols get a derived id).
        emit_deltas: Also return BookSnapshot / BookDelta messages for applied book updates.
        buffer_limit: Depth events kept per book while waiting for a snapshot (oldest dropped first; a
            snapshot that no longer overlaps is then detected as a gap).
    """

    def __init__(
        self, registry: InstrumentRegistry, *, emit_deltas: bool = False, buffer_limit: int = 2000
    ) -> None:
        self._registry = registry
        self._emit_deltas = emit_deltas
        self._ids: dict[str, InstrumentId] = {}
        self._books = DepthBooks(
            self.instrument_id, self._symbol, emit_deltas=emit_deltas, buffer_limit=buffer_limit
        )
        self._pending: dict[int | str, tuple[str, tuple[str, ...], int]] = {}
        self._next_request_id = 1
        self.ignored: Counter[str] = Counter()
        """Events decoded and deliberately not used, by event type (metrics read it; never a drop)."""
        self.unknown_events: Counter[str] = Counter()
        """Events of a type the docs did not list when this was written, by type: a new venue feature to read
        about, not a corrupt frame."""

    def __repr__(self) -> str:
        states = {str(i): str(state) for i, state in self._books.states().items()}
        return f"BinanceCodec(books={states}, emit_deltas={self._emit_deltas})"

    # -- symbols ----------------------------------------------------------------------------------------
    def instrument_id(self, symbol: str) -> InstrumentId:
        """Unified id for a venue symbol: the registry's, else one derived from the symbol.

        Raises:
            DecodeError: the symbol is not in the registry and no id can be derived from it.
        """
        iid = self._ids.get(symbol)
        if iid is None:
            try:
                iid = self._ids[symbol] = self._registry.by_symbol(_V, symbol).id
            except InstrumentError:
                return parse.instrument_id_for(symbol)
        return iid

    def _symbol(self, instrument: InstrumentId) -> str:
        return self._registry.get(_V, instrument).venue_symbol

    # -- frames -----------------------------------------------------------------------------------------
    def _request(self, method: str, streams: Sequence[str], ts_sent: int) -> int:
        rid = self._next_request_id
        self._next_request_id += 1
        if len(self._pending) >= _MAX_PENDING_REQUESTS:
            del self._pending[next(iter(self._pending))]  # the venue never answered the oldest
        self._pending[rid] = (method, tuple(streams), ts_sent)
        return rid

    def subscribe(self, streams: Sequence[str]) -> bytes:
        """SUBSCRIBE frame; its ack becomes ``Subscribed(channels=streams)``."""
        return frames.subscribe(streams, self._request("SUBSCRIBE", streams, 0))

    def unsubscribe(self, streams: Sequence[str]) -> bytes:
        """UNSUBSCRIBE frame; its ack is consumed silently."""
        return frames.unsubscribe(streams, self._request("UNSUBSCRIBE", streams, 0))

    def ping(self, ts_sent: int) -> bytes:
        """An application-level ping (LIST_SUBSCRIPTIONS); its answer becomes ``Pong(ts_sent)``."""
        return frames.list_subscriptions(self._request("LIST_SUBSCRIPTIONS", (), ts_sent))

    def subscribe_book(self, instrument: InstrumentId, speed_ms: int = 100) -> bytes:
        """Start tracking ``instrument``'s book (SYNCING) and return the SUBSCRIBE frame for its depth stream.

        Raises:
            InstrumentError: ``instrument`` is not in the registry.
        """
        self._books.track(instrument)
        return self.subscribe([frames.depth_stream(self._symbol(instrument), speed_ms)])

    # -- feed -------------------------------------------------------------------------------------------
    def feed(self, frame: bytes | str, ts_recv: int) -> list[Output]:
        """Decode one WebSocket frame.

        Args:
            frame: The frame's bytes (a ``str`` text frame is accepted and encoded).
            ts_recv: Local receive time, ns.

        Returns:
            Messages (Quote, Trade, Kline, BookDelta, BookIntegrity, OrderUpdate, Fill, Position) and codec
            events (NeedSnapshot, Subscribed, SubscribeFailed, Pong, StreamExpired, BalancesChanged, Dropped).
            Never raises on venue input.
        """
        if frame.__class__ is not bytes:
            frame = frame.encode() if isinstance(frame, str) else bytes(frame)
        try:
            # Combined streams as Binance writes them first (the hot path: one C call), then any spacing.
            q = 1 if frame.startswith(b'{"stream"') else frame.find(b'"', 0, 32)
            if frame.startswith(b'stream"', q + 1):
                ev: StreamEvent = ENVELOPE_DECODER.decode(frame).data
            elif frame.startswith(b'e"', q + 1):
                ev = EVENT_DECODER.decode(frame)
            else:
                return self._on_other(frame, ts_recv)
            if ev.__class__ is DepthUpdate:
                return self._books.on_depth(ev, ts_recv)
            return self._on_event(ev, ts_recv)
        except msgspec.ValidationError as exc:
            name = self._unknown_event(frame)
            if name is not None:
                self.unknown_events[name] += 1
                return []
            return [_malformed(exc)]
        except msgspec.MsgspecError as exc:
            return [_malformed(exc)]
        except UnknownStatus as exc:
            return [Dropped(reason="unknown_status", error=str(exc))]
        except RemoteError as exc:
            return [Dropped(reason="invalid", error=str(exc))]
        except (UnicodeDecodeError, ArithmeticError) as exc:  # invalid UTF-8 in a string; absurd Decimals
            return [
                Dropped(
                    reason="malformed",
                    error=str(DecodeError(codes.VENUE, "ws frame", f"{type(exc).__name__}: {exc}")),
                )
            ]

    @staticmethod
    def _unknown_event(frame: bytes) -> str | None:
        """The event type of a frame that failed validation when the docs do not list that type, else None."""
        try:
            probe = EVENT_NAME_DECODER.decode(frame)
        except msgspec.MsgspecError:
            return None
        name = probe.data.e if probe.data is not None else probe.e
        return name if name is not None and name not in _KNOWN_EVENTS else None

    def _on_other(self, frame: bytes, ts_recv: int) -> list[Output]:
        ctl = CONTROL_DECODER.decode(frame)
        if ctl.e is not None:  # an event whose first key is not "e"
            return self._on_event(EVENT_DECODER.decode(frame), ts_recv)
        if ctl.stream is not None:
            return self._on_event(ENVELOPE_DECODER.decode(frame).data, ts_recv)
        pending = self._pending.pop(ctl.id, None) if ctl.id is not None else None
        rid = "" if ctl.id is None else str(ctl.id)
        error = ctl.error
        if error is None and ctl.code is not None:
            return [SubscribeFailed(code=str(ctl.code), text=ctl.msg, request_id=rid)]
        if error is not None:
            return [SubscribeFailed(code=str(error.code), text=error.msg, request_id=rid)]
        if ctl.id is None:
            detail = 'expected a stream event, a {"stream","data"} envelope or an answer with an "id"'
            raise DecodeError(codes.VENUE, "ws frame", detail, frame)
        if pending is None:
            channels = tuple(ctl.result) if isinstance(ctl.result, list) else ()
            return [Subscribed(channels=channels, request_id=rid)]
        method, streams, ts_sent = pending
        if method == "LIST_SUBSCRIPTIONS":
            return [Pong(ts_sent=ts_sent)]
        if method == "SUBSCRIBE":
            return [Subscribed(channels=streams, request_id=rid)]
        return []

    def _on_event(self, ev: StreamEvent, ts_recv: int) -> list[Output]:
        if isinstance(ev, DepthUpdate):
            return self._on_depth(ev, ts_recv)
        if isinstance(ev, BookTicker):
            return [parse.quote_from_book_ticker(ev, self.instrument_id(ev.s), ts_recv)]
        if isinstance(ev, AggTrade):
            return [parse.trade_from_agg_trade(ev, self.instrument_id(ev.s), ts_recv)]
        if isinstance(ev, TradeEvent):
            return [parse.trade_from_trade(ev, self.instrument_id(ev.s), ts_recv)]
        if isinstance(ev, KlineEvent):
            return [parse.kline_from_event(ev, self.instrument_id(ev.s), ts_recv)]
        if isinstance(ev, OrderTradeUpdate):
            iid = self.instrument_id(ev.o.s)
            out: list[Output] = [parse.order_update_from_event(ev.o, iid, ts_recv)]
            fill = parse.fill_from_event(ev.o, iid, ts_recv)
            if fill is not None:
                out.append(fill)
            return out
        if isinstance(ev, AccountUpdate):
            return self._on_account(ev, ts_recv)
        if isinstance(ev, AlgoUpdate):
            if not ev.o.caid:  # not one crossbook could have placed: nothing to match it to
                self.ignored["ALGO_UPDATE"] += 1
                return []
            return [parse.order_update_from_algo(ev.o, self.instrument_id(ev.o.s), ev.E * _MS, ts_recv)]
        if isinstance(ev, ListenKeyExpired):
            return [
                StreamExpired(
                    reason="binance listenKeyExpired: create a listenKey and reconnect the user stream"
                )
            ]
        self.ignored[IGNORED_EVENTS[type(ev)]] += 1
        return []

    def _on_account(self, ev: AccountUpdate, ts_recv: int) -> list[Output]:
        ts_event = ev.E * _MS
        out: list[Output] = [
            parse.position_from_account(p, self.instrument_id(p.s), ts_event, ts_recv) for p in ev.a.P
        ]
        if ev.a.B:
            out.append(BalancesChanged(assets=tuple(b.a for b in ev.a.B)))
        return out

    # -- books ------------------------------------------------------------------------------------------
    def _on_depth(self, ev: DepthUpdate, ts_recv: int) -> list[Output]:
        return self._books.on_depth(ev, ts_recv)

    def apply_snapshot(
        self, instrument: InstrumentId, snapshot: BookSnapshot | Response | bytes, ts_recv: int
    ) -> list[Output]:
        """Start (or restart) ``instrument``'s book from a GET /fapi/v1/depth snapshot.

        Buffered events older than ``lastUpdateId`` are dropped, the rest replayed under the sync rules.

        Args:
            instrument: Unified id of the book.
            snapshot: The parsed snapshot (``sequence`` = lastUpdateId), the REST response, or its body.
            ts_recv: Local receive time, ns.

        Returns:
            BookIntegrity (LIVE, or RESYNCING + NeedSnapshot when the snapshot does not overlap the buffered
            stream or the replay finds a gap), the BookSnapshot and BookDeltas with ``emit_deltas``, and a
            Quote of the resulting book when LIVE.

        Raises:
            VenueReject: ``snapshot`` is an error response.
            DecodeError: ``snapshot`` is not a depth snapshot.
            InstrumentError: no book for ``instrument`` and it is not in the registry.
        """
        if not isinstance(snapshot, BookSnapshot):
            snapshot = rest.parse_depth(snapshot, instrument, ts_recv)
        return self._books.apply_snapshot(instrument, snapshot, ts_recv)

    def book(self, instrument: InstrumentId) -> L2Book:
        """The local book of ``instrument`` (empty until LIVE; cleared on resync).

        Raises:
            InstrumentError: no book for ``instrument`` and it is not in the registry.
        """
        return self._books.book(instrument)

    def book_state(self, instrument: InstrumentId) -> BookState:
        """SYNCING, LIVE or RESYNCING; SYNCING for a book never seen."""
        return self._books.book_state(instrument)

    @property
    def stale_events(self) -> int:
        """Depth events older than their snapshot, dropped by the sync procedure (expected, not faults)."""
        return self._books.stale_events

    def reset(self, ts_recv: int = 0) -> list[Output]:
        """After a reconnect: every book back to SYNCING (cleared, buffers emptied), pending requests forgotten.

        Returns:
            One BookIntegrity(SYNCING) per tracked book.
        """
        self._pending.clear()
        return self._books.reset(ts_recv)

    # -- REST: the snapshot request (order entry and account requests: venues.binance.rest) -------------
    def depth_request(self, instrument: InstrumentId, limit: int = 1000) -> RequestSpec:
        """GET /fapi/v1/depth for ``instrument`` (answer a NeedSnapshot with it, then apply_snapshot)."""
        return rest.depth(self._symbol(instrument), limit)
