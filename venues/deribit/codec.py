"""DeribitCodec: WebSocket frames in, typed messages and shell events out (sans-IO).

Invariants:
- ``feed`` never raises on venue input: malformed or unknown frames come back as a ``Dropped`` event.
- One L2Book per instrument, kept with Deribit's rule: a ``snapshot`` notification loads the book; each
  ``change`` must carry ``prev_change_id`` equal to the previous ``change_id``. A gap, an unknown level
  action or a crossed book sends the book to RESYNCING (venues/book.py table), returns BookIntegrity and
  NeedResubscribe, and no change is applied until the next snapshot: a book is never silently wrong.
- Grouped books (book.{instrument}.{group}.{depth}.{interval}) are full snapshots every time.
- After each applied update while LIVE: a Quote (best bid/ask, O(1)) when both sides are non-empty, and
  with ``emit_deltas=True`` the BookDelta (BookSnapshot for snapshots).
- Requests carry integer ids allocated here; a pending map id -> method matches the responses. Ids the
  adapter reserves (``reserve_id``) for requests the shell sends for it (orders over the socket,
  ``RequestSpec.stream``) come from the same counter, so they never collide with ours; their answers come
  back whole as ``Answered`` (plus StreamExpired for a 10028), for the request's own parser.
- The answers to ``public/set_heartbeat`` and ``private/enable_cancel_on_disconnect`` come back as
  ``SettingAnswered`` (ok, or the error's code and text): the dead-man's switch is confirmed by them.
- A heartbeat ``test_request`` is answered at once with a ``public/test`` SendFrame.
- One decode per notification: the channel is peeked from the bytes, then the whole frame is decoded
  with that channel's typed decoder (non-compact frames fall back to an envelope decode).
- ``instrument_states`` (venue symbol -> book state) holds what ``get_instruments`` listed
  (``note_states``) and every ``instrument.state.{kind}.{currency}`` notification since: Deribit's book
  lifecycle of 2026-01-13 (open, locked, settlement, delivered, inactive, halted, archivized), where only
  ``open`` takes new orders.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from messages.base import BookState, InstrumentId, Message, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot
from venues import Credentials
from venues.book import BookInput, L2Book, next_book_state, quote_of
from venues.deribit import codes, frames, parse, wire
from venues.errors import ConfigError, DecodeError, InstrumentError, RateLimited, RemoteError, SequenceGap
from venues.events import (
    Answered,
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
from venues.symbols import InstrumentRegistry

__all__ = ["DeribitCodec", "Output", "SettingAnswered"]

Output = Message | CodecEvent
_VENUE = Venue.DERIBIT
_CHANNEL_KEY = b'"channel":"'
_MAX_PENDING = 4096
_MAX_ROUTES = 10_000


class SettingAnswered(CodecEvent, frozen=True):
    """The answer to a connection setting the session sent (``method``: ``public/set_heartbeat`` or
    ``private/enable_cancel_on_disconnect``): ``ok``, or Deribit's error ``code`` and ``text``."""

    method: str
    ok: bool
    code: int = 0
    text: str = ""


_SETTINGS = (frames.Method.SET_HEARTBEAT, frames.Method.ENABLE_COD)


class _Kind(enum.Enum):
    BOOK = enum.auto()
    GROUPED_BOOK = enum.auto()
    TRADES = enum.auto()
    TOP_OF_BOOK = enum.auto()
    CHART = enum.auto()
    USER_ORDERS = enum.auto()
    USER_TRADES = enum.auto()
    USER_CHANGES = enum.auto()
    USER_PORTFOLIO = enum.auto()
    INSTRUMENT_STATE = enum.auto()
    IGNORED = enum.auto()  # documented channels we do not turn into messages (price index, platform state)


_KEEP_AMOUNT = {"new": 1.0, "change": 1.0, "delete": 0.0}  # book level action -> keep (1) or delete (0)


def _pair(data_type: Any) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    frame = msgspec.json.Decoder(wire.Notification[data_type], strict=False)
    return frame, msgspec.json.Decoder(data_type, strict=False)


_DECODERS: dict[_Kind, tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]] = {
    _Kind.BOOK: _pair(wire.BookChange),
    _Kind.GROUPED_BOOK: _pair(wire.GroupedBook),
    _Kind.TRADES: _pair(list[wire.PublicTrade]),
    _Kind.TOP_OF_BOOK: _pair(wire.TopOfBook),
    _Kind.CHART: _pair(wire.Candle),
    _Kind.USER_ORDERS: _pair(wire.Order | list[wire.Order]),
    _Kind.USER_TRADES: _pair(list[wire.UserTrade]),
    _Kind.USER_CHANGES: _pair(wire.Changes),
    _Kind.USER_PORTFOLIO: _pair(wire.Portfolio),
    _Kind.INSTRUMENT_STATE: _pair(wire.InstrumentState),
}
_IGNORED_PREFIXES = (
    "deribit_price_index", "deribit_price_ranking", "deribit_volatility_index", "estimated_expiration_price",
    "platform_state", "incremental_ticker", "perpetual", "instrument", "markprice", "announcements",
    "block_rfq", "block_trade_confirmations", "user.access_log", "user.lock", "user.mmp_trigger",
)  # fmt: skip
_CHANNEL_LIST = msgspec.json.Decoder(list[str])
_AUTH_RESULT = msgspec.json.Decoder(wire.AuthResult)


class _Route(msgspec.Struct):
    kind: _Kind
    channel: str
    symbol: str = ""
    resolution: str = ""
    frame_decoder: Any = None  # decodes the whole notification frame (hot path)
    data_decoder: Any = None  # decodes params.data alone (envelope fallback)

    def __post_init__(self) -> None:
        pair = _DECODERS.get(self.kind)
        if pair is not None:
            self.frame_decoder, self.data_decoder = pair


def _route(channel: str) -> _Route | None:
    parts = channel.split(".")
    head = parts[0]
    if head == "book" and len(parts) in (3, 5):
        kind = _Kind.BOOK if len(parts) == 3 else _Kind.GROUPED_BOOK
        return _Route(kind, channel, parts[1])
    if head in ("ticker", "quote") and len(parts) in (2, 3):
        return _Route(_Kind.TOP_OF_BOOK, channel, parts[1])
    if head == "trades" and len(parts) >= 3:
        return _Route(_Kind.TRADES, channel)
    if head == "chart" and len(parts) == 4 and parts[1] == "trades":
        try:
            parse.resolution_ms(parts[3])
        except DecodeError:
            return None
        return _Route(_Kind.CHART, channel, parts[2], parts[3])
    if head == "user" and len(parts) >= 3:
        user_kind = {
            "orders": _Kind.USER_ORDERS,
            "trades": _Kind.USER_TRADES,
            "changes": _Kind.USER_CHANGES,
            "portfolio": _Kind.USER_PORTFOLIO,
        }.get(parts[1])
        if user_kind is not None:
            return _Route(user_kind, channel)
    if head == "instrument" and len(parts) == 4 and parts[1] == "state":
        return _Route(_Kind.INSTRUMENT_STATE, channel)
    if channel.startswith(_IGNORED_PREFIXES):
        return _Route(_Kind.IGNORED, channel)
    return None


class _Book:
    """One instrument's book and its sync state (kept by the codec, read through its methods)."""

    __slots__ = ("book", "state", "change_id", "instrument", "channel")

    def __init__(self, instrument: InstrumentId, symbol: str, channel: str) -> None:
        self.book = L2Book(_VENUE.value, symbol)
        self.state = BookState.SYNCING
        self.change_id = -1
        self.instrument = instrument
        self.channel = channel


class _Pending(msgspec.Struct):
    method: frames.Method
    channels: tuple[str, ...] = ()
    ts_sent: int = 0


class DeribitCodec:
    """Sans-IO Deribit v2 codec: ``feed`` frames, build request frames, keep books.

    Args:
        registry: instruments, to map venue symbols to unified ids (names not registered get the id
            derived by parse.unified_id).
        emit_deltas: also return BookDelta / BookSnapshot after each applied book update.
    """

    def __init__(self, registry: InstrumentRegistry | None = None, *, emit_deltas: bool = False) -> None:
        self.symbols = parse.SymbolMap(registry)
        self.emit_deltas = emit_deltas
        self._books: dict[str, _Book] = {}  # by venue symbol
        self._by_id: dict[InstrumentId, _Book] = {}
        self._routes: dict[bytes, _Route] = {}
        self._pending: dict[int, _Pending] = {}
        self._reserved: dict[int, None] = {}  # ids reserved for requests the shell sends (oldest first)
        self._next_id = 1
        self._tokens: wire.AuthResult | None = None
        self.instrument_states: dict[str, str] = {}  # venue symbol -> book state (open, locked, ...)

    def __repr__(self) -> str:
        return f"DeribitCodec(books={len(self._books)}, pending={len(self._pending)}, authorised={self._tokens is not None})"

    # -- requests -----------------------------------------------------------------------------------
    def _allocate(self, pending: _Pending) -> int:
        rid = self._next_id
        self._next_id += 1
        if len(self._pending) >= _MAX_PENDING:  # never answered: forget the oldest
            del self._pending[next(iter(self._pending))]
        self._pending[rid] = pending
        return rid

    def reserve_id(self) -> int:
        """A request id for a request the shell sends on the socket for the adapter (``RequestSpec.stream``):
        its answer comes back whole as ``Answered``. Bounded: the oldest unanswered are forgotten first."""
        rid = self._next_id
        self._next_id += 1
        if len(self._reserved) >= _MAX_PENDING:
            del self._reserved[next(iter(self._reserved))]
        self._reserved[rid] = None
        return rid

    def subscribe(self, channels: list[str]) -> bytes:
        """A subscribe frame (private/subscribe when any channel is user.*). Book channels start SYNCING."""
        private = any(c.startswith("user.") for c in channels)
        method = frames.Method.PRIVATE_SUBSCRIBE if private else frames.Method.PUBLIC_SUBSCRIBE
        for channel in channels:
            route = _route(channel)
            if route is not None and route.kind in (_Kind.BOOK, _Kind.GROUPED_BOOK):
                self._slot(route.symbol, channel)
        return frames.subscribe_frame(self._allocate(_Pending(method, tuple(channels))), channels, private)

    def unsubscribe(self, channels: list[str]) -> bytes:
        private = any(c.startswith("user.") for c in channels)
        method = frames.Method.PRIVATE_UNSUBSCRIBE if private else frames.Method.PUBLIC_UNSUBSCRIBE
        return frames.unsubscribe_frame(self._allocate(_Pending(method, tuple(channels))), channels, private)

    def resubscribe_frames(self, instrument: InstrumentId) -> list[bytes]:
        """Unsubscribe + subscribe frames for a book's channel: Deribit answers with a fresh snapshot.

        Raises:
            InstrumentError: no book is kept for ``instrument``.
        """
        channel = self._get(instrument).channel
        return [self.unsubscribe([channel]), self.subscribe([channel])]

    def auth(self, credentials: Credentials, now_ms: int, nonce: str) -> bytes:
        """``public/auth`` (client_signature) frame; the answer becomes LoggedIn or LoginFailed."""
        rid = self._allocate(_Pending(frames.Method.AUTH))
        return frames.auth_frame(rid, credentials, now_ms, nonce)

    def refresh_auth(self) -> bytes:
        """Renew the session with the refresh token of the last successful auth.

        Raises:
            ConfigError: no session yet.
        """
        if self._tokens is None:
            msg = "deribit refresh_auth: expected a session from a successful public/auth, got none"
            raise ConfigError(msg)
        return frames.refresh_frame(self._allocate(_Pending(frames.Method.AUTH)), self._tokens.refresh_token)

    @property
    def access_token(self) -> str | None:
        """The session's bearer token (for REST ``with_bearer_token``); None before auth."""
        return self._tokens.access_token if self._tokens is not None else None

    def set_heartbeat(self, interval_s: int) -> bytes:
        return frames.set_heartbeat_frame(self._allocate(_Pending(frames.Method.SET_HEARTBEAT)), interval_s)

    def ping(self, ts_sent: int = 0) -> bytes:
        """A ``public/test`` frame; its answer comes back as Pong(ts_sent)."""
        return frames.test_frame(self._allocate(_Pending(frames.Method.TEST, ts_sent=ts_sent)))

    def hello(self, client_name: str, client_version: str) -> bytes:
        return frames.hello_frame(self._allocate(_Pending(frames.Method.HELLO)), client_name, client_version)

    def enable_cancel_on_disconnect(self, scope: str = "connection") -> bytes:
        return frames.cancel_on_disconnect_frame(self._allocate(_Pending(frames.Method.ENABLE_COD)), scope)

    # -- instrument states ----------------------------------------------------------------------------
    def note_states(self, states: dict[str, str]) -> None:
        """Book states as ``get_instruments`` listed them (rest.parse_instrument_states)."""
        self.instrument_states.update(states)

    def book_open(self, symbol: str) -> tuple[bool, str]:
        """Whether ``symbol``'s book takes new orders, and its state (``open`` when never listed: the venue
        decides)."""
        state = self.instrument_states.get(symbol, parse.OPEN_STATE)
        return state == parse.OPEN_STATE, state

    # -- books --------------------------------------------------------------------------------------
    def _slot(self, symbol: str, channel: str = "") -> _Book:
        slot = self._books.get(symbol)
        if slot is None:
            iid = self.symbols(symbol)
            slot = _Book(iid, symbol, channel or frames.book_channel(symbol))
            self._books[symbol] = slot
            self._by_id[iid] = slot
        elif channel:
            slot.channel = channel
        return slot

    def _get(self, instrument: InstrumentId) -> _Book:
        slot = self._by_id.get(instrument)
        if slot is None:
            msg = f"deribit codec keeps no book for {instrument}; subscribe to its book channel first"
            raise InstrumentError(msg)
        return slot

    def book(self, instrument: InstrumentId) -> L2Book:
        """The live book object (read it only while book_state is LIVE). Raises InstrumentError."""
        return self._get(instrument).book

    def book_state(self, instrument: InstrumentId) -> BookState:
        slot = self._by_id.get(instrument)
        return slot.state if slot is not None else BookState.SYNCING

    def reset(self, ts_recv: int = 0) -> list[Output]:
        """After a reconnect: every book back to SYNCING (emptied), pending requests forgotten.

        Returns:
            One BookIntegrity(SYNCING) per book that was not already SYNCING.
        """
        out: list[Output] = []
        for slot in self._books.values():
            before = slot.state
            slot.state = next_book_state(before, BookInput.DISCONNECT)
            slot.book.clear()
            slot.change_id = -1
            if before is not slot.state:
                out.append(BookIntegrity(
                    venue=_VENUE, instrument=slot.instrument, state=slot.state, reason="disconnected", ts=ts_recv,
                ))  # fmt: skip
        self._pending.clear()
        self._reserved.clear()
        return out

    def _awaiting_snapshot(self, channels: tuple[str, ...], ts_recv: int) -> list[Output]:
        """BookIntegrity for each confirmed book channel whose snapshot has not arrived yet (SYNCING)."""
        out: list[Output] = []
        for channel in channels:
            route = _route(channel)
            slot = self._books.get(route.symbol) if route is not None and route.kind is _Kind.BOOK else None
            if slot is not None and slot.state is not BookState.LIVE:
                reason = f"subscribed to {channel}; waiting for its snapshot"
                out.append(BookIntegrity(venue=_VENUE, instrument=slot.instrument, state=slot.state, reason=reason, ts=ts_recv))
        return out

    def _resync(self, slot: _Book, event: BookInput, reason: str, ts_recv: int) -> list[Output]:
        slot.state = next_book_state(slot.state, event)
        slot.book.clear()
        slot.change_id = -1
        iid = slot.instrument
        integrity = BookIntegrity(venue=_VENUE, instrument=iid, state=slot.state, reason=reason, ts=ts_recv)
        return [integrity, NeedResubscribe(instrument=iid, reason=reason)]

    def _after_load(self, slot: _Book, change_id: int, ts_ms: int, ts_recv: int) -> list[Output]:
        book = slot.book
        best = book.best()
        if best is not None and best[0] >= best[2]:
            reason = f"snapshot change_id {change_id} is crossed: best bid {best[0]} >= best ask {best[2]}"
            return self._resync(slot, BookInput.CROSSED, reason, ts_recv)
        before = slot.state
        slot.state = next_book_state(before, BookInput.SNAPSHOT)
        slot.change_id = change_id
        out: list[Output] = []
        if before is not slot.state:
            reason = f"snapshot change_id {change_id}"
            out.append(
                BookIntegrity(
                    venue=_VENUE, instrument=slot.instrument, state=slot.state, reason=reason, ts=ts_recv
                )
            )
        if self.emit_deltas:
            bids, asks = book.as_sorted()
            out.append(BookSnapshot(
                venue=_VENUE, instrument=slot.instrument, bids=tuple(bids), asks=tuple(asks),
                sequence=change_id, ts_event=ts_ms * parse.MS, ts_recv=ts_recv,
            ))  # fmt: skip
        if best is not None:
            out.append(quote_of(_VENUE, slot.instrument, best, ts_ms * parse.MS, ts_recv))
        return out

    def _on_book(self, route: _Route, data: wire.BookChange, ts_recv: int) -> list[Output]:
        slot = self._books.get(data.instrument_name) or self._slot(data.instrument_name, route.channel)
        book = slot.book
        if data.type == "snapshot":
            book.load(
                [(px, amount) for action, px, amount in data.bids if action != "delete"],
                [(px, amount) for action, px, amount in data.asks if action != "delete"],
            )
            return self._after_load(slot, data.change_id, data.timestamp, ts_recv)
        if data.type != "change":
            raise DecodeError(
                codes.VENUE, "book notification", f"expected type 'snapshot' or 'change', got {data.type!r}"
            )
        if slot.state is not BookState.LIVE:
            slot.state = next_book_state(slot.state, BookInput.DELTA)  # discarded until a snapshot
            return []
        if data.prev_change_id != slot.change_id:
            gap = SequenceGap(
                codes.VENUE, data.instrument_name, slot.change_id, data.prev_change_id, "prev_change_id"
            )
            return self._resync(slot, BookInput.GAP, str(gap), ts_recv)
        try:
            best = book.apply_tagged(data.bids, data.asks, _KEEP_AMOUNT)
        except KeyError as exc:  # an unknown action: the book may be half-applied, start again
            reason = f"change_id {data.change_id}: expected level action new/change/delete, got {exc.args[0]!r}"
            return self._resync(slot, BookInput.GAP, reason, ts_recv)
        if best is not None and best[0] >= best[2]:
            reason = f"change_id {data.change_id} crossed the book: best bid {best[0]} >= best ask {best[2]}"
            return self._resync(slot, BookInput.CROSSED, reason, ts_recv)
        prev = slot.change_id
        slot.change_id = data.change_id
        out: list[Output] = []
        if best is not None:
            out.append(quote_of(_VENUE, slot.instrument, best, data.timestamp * parse.MS, ts_recv))
        if self.emit_deltas:
            out.append(BookDelta(
                venue=_VENUE, instrument=slot.instrument,
                bids=tuple((px, amount * _KEEP_AMOUNT[a]) for a, px, amount in data.bids),
                asks=tuple((px, amount * _KEEP_AMOUNT[a]) for a, px, amount in data.asks),
                sequence=data.change_id, prev_sequence=prev, ts_event=data.timestamp * parse.MS, ts_recv=ts_recv,
            ))  # fmt: skip
        return out

    def _on_grouped(self, route: _Route, data: wire.GroupedBook, ts_recv: int) -> list[Output]:
        slot = self._slot(data.instrument_name, route.channel)
        slot.book.load(
            [(lv.price, lv.amount) for lv in data.bids], [(lv.price, lv.amount) for lv in data.asks]
        )
        return self._after_load(slot, data.change_id, data.timestamp, ts_recv)

    # -- feed ---------------------------------------------------------------------------------------
    def feed(self, frame: bytes, ts_recv: int) -> list[Output]:
        """Decode one frame into messages and events; venue garbage becomes a Dropped event.

        Args:
            frame: the WebSocket text frame as bytes.
            ts_recv: our receive time, ns.

        Returns:
            Messages (Quote, Trade, BookDelta, OrderUpdate, ...) and events (SendFrame, Subscribed, ...).
        """
        try:
            return self._feed(frame, ts_recv)
        except msgspec.DecodeError as exc:
            err = DecodeError(codes.VENUE, "frame", str(exc), frame)
            return [Dropped(reason="malformed frame", error=str(err))]
        except (RemoteError, UnicodeDecodeError, ValueError, ArithmeticError) as exc:
            return [Dropped(reason=type(exc).__name__, error=str(exc))]

    def _feed(self, frame: bytes, ts_recv: int) -> list[Output]:
        start = frame.find(_CHANNEL_KEY)
        if start >= 0:
            start += len(_CHANNEL_KEY)
            end = frame.find(b'"', start)
            key = frame[start:end]
            route = self._routes.get(key)
            if route is None and end > 0:
                route = _route(key.decode())
                if route is not None:
                    if len(self._routes) >= _MAX_ROUTES:
                        self._routes.clear()
                    self._routes[key] = route
            if route is not None:
                if route.kind is _Kind.IGNORED:
                    return []
                params = route.frame_decoder.decode(frame).params
                if params.channel == route.channel:
                    if route.kind is _Kind.BOOK:
                        return self._on_book(route, params.data, ts_recv)
                    return self._dispatch(route, params.data, ts_recv)
        return self._feed_envelope(frame, ts_recv)

    def _dispatch(self, route: _Route, data: Any, ts_recv: int) -> list[Output]:
        kind = route.kind
        sym = self.symbols
        if kind is _Kind.BOOK:
            return self._on_book(route, data, ts_recv)
        if kind is _Kind.GROUPED_BOOK:
            return self._on_grouped(route, data, ts_recv)
        if kind is _Kind.TOP_OF_BOOK:
            q = parse.quote(data, sym(data.instrument_name), ts_recv)
            return [q] if q is not None else []
        if kind is _Kind.TRADES:
            return [parse.trade(t, sym(t.instrument_name), ts_recv) for t in data]
        if kind is _Kind.CHART:
            return [parse.kline(data, sym(route.symbol), route.resolution, ts_recv)]
        if kind is _Kind.USER_ORDERS:
            orders = data if isinstance(data, list) else [data]
            return [parse.order_update(o, sym(o.instrument_name), ts_recv) for o in orders]
        if kind is _Kind.USER_TRADES:
            return [parse.fill(t, sym(t.instrument_name), ts_recv) for t in data]
        if kind is _Kind.USER_CHANGES:
            out: list[Output] = [parse.order_update(o, sym(o.instrument_name), ts_recv) for o in data.orders]
            out += [parse.fill(t, sym(t.instrument_name), ts_recv) for t in data.trades]
            out += [parse.position(p, sym(p.instrument_name), ts_recv) for p in data.positions]
            return out
        if kind is _Kind.USER_PORTFOLIO:
            return [parse.balance(data, ts_recv)]
        if kind is _Kind.INSTRUMENT_STATE:
            self.instrument_states[data.instrument_name] = data.state
        return []

    def _feed_envelope(self, frame: bytes, ts_recv: int) -> list[Output]:
        env = wire.ENVELOPE.decode(frame)
        params = env.params
        if env.method == "subscription" and params is not None:
            route = _route(params.channel)
            if route is None:
                return [
                    Dropped(
                        reason="unknown channel", error=f"deribit channel {params.channel!r} is not handled"
                    )
                ]
            if route.kind is _Kind.IGNORED:
                return []
            return self._dispatch(route, route.data_decoder.decode(params.data), ts_recv)
        if env.method == "heartbeat" and params is not None:
            if params.type == "test_request":
                return [SendFrame(frame=self.ping(ts_recv))]
            return []
        if isinstance(env.id, int) and env.method == "":
            if env.id in self._reserved:
                return self._on_answer(env, frame)
            return self._on_response(env, ts_recv)
        return [
            Dropped(
                reason="unrecognised frame", error=f"deribit frame with method {env.method!r}, id {env.id!r}"
            )
        ]

    def _on_answer(self, env: wire.Envelope, frame: bytes) -> list[Output]:
        """The answer to a request the shell sent for the adapter: handed over whole, by its id."""
        assert isinstance(env.id, int)
        del self._reserved[env.id]
        out: list[Output] = [Answered(request_id=str(env.id), body=frame)]
        if env.error is not None:
            err = codes.make_error(env.error.code, env.error.message)
            if isinstance(err, RateLimited):  # 10028: Deribit terminates the session
                out.append(StreamExpired(reason=str(err)))
        return out

    def _on_response(self, env: wire.Envelope, ts_recv: int) -> list[Output]:
        rid = env.id
        pending = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if pending is None:
            return [
                Dropped(reason="unmatched response", error=f"deribit response to unknown request id {rid!r}")
            ]
        method = pending.method
        subscribe = method in (frames.Method.PUBLIC_SUBSCRIBE, frames.Method.PRIVATE_SUBSCRIBE)
        if env.error is not None:
            err = codes.make_error(env.error.code, env.error.message)
            if method is frames.Method.AUTH:
                return [LoginFailed(code=err.code, text=err.text)]
            if subscribe:
                return [SubscribeFailed(code=err.code, text=err.text, request_id=str(rid))]
            out: list[Output] = [Dropped(reason=f"{method} failed", error=str(err))]
            if method in _SETTINGS:
                out.append(SettingAnswered(method=method.value, ok=False, code=env.error.code, text=err.text))
            if isinstance(err, RateLimited):  # 10028: Deribit terminates the session
                out.append(StreamExpired(reason=str(err)))
            return out
        if subscribe:
            channels = tuple(_CHANNEL_LIST.decode(env.result))
            return [*self._awaiting_snapshot(channels, ts_recv), Subscribed(channels=channels, request_id=str(rid))]
        if method is frames.Method.AUTH:
            self._tokens = _AUTH_RESULT.decode(env.result)
            return [LoggedIn()]
        if method is frames.Method.TEST:
            return [Pong(ts_sent=pending.ts_sent)]
        if method in _SETTINGS:
            result = bytes(env.result)
            if result == b'"ok"':
                return [SettingAnswered(method=method.value, ok=True)]
            text = f"expected the result \"ok\", got {result[:100].decode('utf-8', 'replace')}"
            return [SettingAnswered(method=method.value, ok=False, text=text)]
        if method in (frames.Method.PUBLIC_UNSUBSCRIBE, frames.Method.PRIVATE_UNSUBSCRIBE):
            for channel in pending.channels:
                route = _route(channel)
                slot = self._books.get(route.symbol) if route is not None else None
                if slot is not None:  # no more updates will come: the book is no longer trustworthy
                    slot.state = next_book_state(slot.state, BookInput.DISCONNECT)
                    slot.book.clear()
                    slot.change_id = -1
        return []
