"""OkxCodec: OKX v5 WebSocket frames -> typed messages and codec events, with books kept in sequence.

Rules for this module (sans-IO: no sockets, no clock, no tasks):
- ``feed`` never raises on venue input: malformed or unknown frames become a ``Dropped`` event carrying
  the typed error's text; the shell counts them.
- Books channels (books, books-l2-tbt, books50-l2-tbt) are kept by ``books.OkxBooks``: seqId / prevSeqId
  continuity and the crossed-book check only (the deprecated checksum is never read), the WS snapshot when
  OKX sends one, OKX's REST bootstrap (``NeedSnapshot`` -> ``apply_snapshot``) when it does not and after
  every gap or crossed book. A book is never silently wrong: it is emptied until it is in sequence again.
- After each applied book message while LIVE: a ``Quote`` from the O(1) best bid/ask, plus the
  ``BookDelta`` (or ``BookSnapshot`` for a snapshot) when built with ``emit_deltas=True``.
- Position mode: OKX pushes no account-config change, but every SWAP/FUTURES row of the ``orders`` and
  ``positions`` channels names its ``posSide``: ``net`` only exists in net_mode, ``long`` / ``short`` only
  in long_short_mode. A row that contradicts ``position_mode`` (set by the session from GET
  /api/v5/account/config) yields an ``AccountConfig`` with the mode it shows, once per change.
"""

from __future__ import annotations

import msgspec

from messages.account import AccountConfig, PositionMode
from messages.base import BookState, InstrumentId, Message, Venue
from messages.market import BookSnapshot
from venues.errors import DecodeError, InstrumentError, RemoteError, UnknownStatus
from venues.events import (
    CodecEvent,
    Dropped,
    LoggedIn,
    LoginFailed,
    Pong,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import Response
from venues.okx import parse, rest, wire
from venues.okx.books import OkxBook, OkxBooks
from venues.okx.codes import LOGIN_ERROR_CODES, VENUE
from venues.okx.frames import INCREMENTAL_BOOKS, PONG
from venues.symbols import InstrumentRegistry

__all__ = ["OkxCodec", "Output"]

Output = Message | CodecEvent
_OKX = Venue.OKX
_DERIVATIVES = frozenset({"SWAP", "FUTURES"})
_POS_SIDE_MODE = {"net": PositionMode.ONE_WAY, "long": PositionMode.HEDGE, "short": PositionMode.HEDGE}
# Real OKX pushes are compact JSON starting like this: the hot path decodes them in one typed pass.
_BOOKS_PREFIX = b'{"arg":{"channel":"books",'


class OkxCodec:
    """Sans-IO OKX v5 WebSocket codec.

    Args:
        registry: instruments, to map OKX instIds to unified ids (unknown instIds are dropped).
        emit_deltas: also return BookDelta / BookSnapshot for every applied book message.

    Attributes:
        position_mode: the account's position mode as last known (the session sets it from the account
            config; a push that shows another one changes it and yields an AccountConfig).
    """

    def __init__(self, registry: InstrumentRegistry, *, emit_deltas: bool = False) -> None:
        self._registry = registry
        self._ids: dict[str, InstrumentId] = {}  # instId -> unified id cache
        self._emit_deltas = emit_deltas
        self._books = OkxBooks(self._instrument_id, emit_deltas=emit_deltas)
        self._on_books = self._books.on_push
        self.position_mode = PositionMode.ONE_WAY

    # -- public API --------------------------------------------------------------------------------
    def feed(self, frame: bytes, ts_recv: int) -> list[Output]:
        """Decode one WebSocket frame.

        Args:
            frame: the frame's bytes (text frames encoded as UTF-8).
            ts_recv: our receive time, int ns.

        Returns:
            Bus messages (Quote, Trade, BookDelta, Kline, OrderUpdate, Fill, Balance, Position,
            BookIntegrity, AccountConfig) mixed with codec events (Pong, Subscribed, LoggedIn,
            NeedSnapshot, Dropped, ...). Never raises on venue input.
        """
        try:
            if frame.startswith(_BOOKS_PREFIX):
                push = wire.BOOK_PUSH_DECODER.decode(frame)
                return self._on_books(push.arg.instId, push.action, push.data, ts_recv)
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

    def apply_snapshot(self, instrument: InstrumentId, snapshot: BookSnapshot | Response, ts_recv: int) -> list[Output]:
        """Start (or restart) ``instrument``'s book from a GET /api/v5/market/books answer (books.py rule 4).

        Args:
            instrument: unified id of the book (the one a NeedSnapshot named).
            snapshot: the parsed answer (``sequence`` = seqId) or the REST response itself.
            ts_recv: local receive time, ns.

        Returns:
            See ``OkxBooks.apply_snapshot``: BookIntegrity(LIVE) + Quote, NeedSnapshot (too old), or nothing
            (no snapshot was awaited).

        Raises:
            VenueReject: ``snapshot`` is an error response.
            DecodeError: not an order book, or one without seqId.
            InstrumentError: ``instrument`` is not a registered OKX instrument.
        """
        if not isinstance(snapshot, BookSnapshot):
            snapshot = rest.parse_order_book(snapshot, instrument, ts_recv)
        return self._books.apply_snapshot(instrument, snapshot, self._symbol, ts_recv)

    def book(self, instrument: InstrumentId) -> OkxBook:
        """The book kept for ``instrument`` (SYNCING and empty until its snapshot; L2Book's read API).

        Raises:
            InstrumentError: ``instrument`` is not an OKX instrument of the registry.
        """
        return self._books.book(instrument, self._symbol)

    def book_state(self, instrument: InstrumentId) -> BookState:
        """The sync state of ``instrument``'s book (SYNCING until it is first LIVE)."""
        return self._books.book_state(instrument)

    @property
    def stale_events(self) -> int:
        """Updates older than their REST snapshot, dropped by the bootstrap (expected, not faults)."""
        return self._books.stale_events

    def reset(self, ts: int = 0) -> list[Message]:
        """After a reconnect: every book goes back to SYNCING, emptied, waiting for its snapshot.

        Args:
            ts: time of the reset, int ns (stamped on the BookIntegrity messages).

        Returns:
            A BookIntegrity message for each book whose state changed.
        """
        return self._books.reset(ts)

    # -- lookups -----------------------------------------------------------------------------------
    def _instrument_id(self, symbol: str) -> InstrumentId:
        inst = self._ids.get(symbol)
        if inst is None:
            inst = self._registry.by_symbol(_OKX, symbol).id
            self._ids[symbol] = inst
        return inst

    def _symbol(self, instrument: InstrumentId) -> str:
        return self._registry.get(_OKX, instrument).venue_symbol

    def _seen_pos_side(self, inst_type: str, pos_side: str, what: str, ts_recv: int, out: list[Output]) -> None:
        """An AccountConfig when a derivatives row's posSide shows another position mode than the known one."""
        mode = _POS_SIDE_MODE.get(pos_side) if inst_type in _DERIVATIVES else None
        if mode is not None and mode is not self.position_mode:
            self.position_mode = mode
            name = "long_short_mode" if mode is PositionMode.HEDGE else "net_mode"
            detail = f"{what} with posSide {pos_side!r}: the account is in {name}"
            out.append(AccountConfig(venue=_OKX, position_mode=mode, ts=ts_recv, detail=detail))

    # -- events ------------------------------------------------------------------------------------
    def _on_event(self, env: wire.Envelope) -> list[Output]:
        event = env.event
        if event == "subscribe":
            if env.arg is None:
                raise DecodeError(VENUE, "subscribe ack", "expected an 'arg'")
            arg = env.arg
            if arg.channel in INCREMENTAL_BOOKS and arg.instId:
                self._books.track(arg.instId)  # the book exists from now on, SYNCING until its snapshot
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
            return self._on_books(arg.instId, env.action, wire.BOOK_DATA_DECODER.decode(env.data), ts_recv)
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
                self._seen_pos_side(o.instType, o.posSide, f"orders push {o.instId} {o.ordId}", ts_recv, out)
                out.append(parse.order_update(inst, o, ts_recv))
                fill = parse.fill(inst, o, ts_recv)
                if fill is not None:
                    out.append(fill)
            return out
        if channel == "positions":
            out = []
            for p in wire.POSITION_DATA_DECODER.decode(env.data):
                self._seen_pos_side(p.instType, p.posSide, f"positions push {p.instId}", ts_recv, out)
                out.append(parse.position(self._instrument_id(p.instId), p, ts_recv))
            return out
        if channel == "account":
            out = []
            for acct in wire.ACCOUNT_DATA_DECODER.decode(env.data):
                out.extend(parse.balances(acct, ts_recv))
            return out
        return [Dropped(reason="unknown channel", error=f"okx channel {channel!r} is not handled")]
