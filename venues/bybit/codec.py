"""BybitCodec: WebSocket frames in, bus messages and codec events out; one L2 book per instrument.

Book rules (docs/v5/websocket/public/orderbook.mdx; PROTOCOLS.md section 2):
- Topic ``orderbook.{depth}.{symbol}``; one depth per instrument. A ``snapshot`` replaces the book (the
  first one makes it LIVE, any later one overwrites it); ``delta`` levels are absolute, size 0 deletes.
- ``u == 1`` means the service restarted: that message overwrites the book like a snapshot.
- Bybit documents no previous-id and no checksum. Its docs say the update id is "generally
  continuous" (一般情況下該id是連續的, orderbook page of the v3/v5 docs): with ``contiguous_u=True``
  (what the exchange actor uses) a delta whose ``u`` is not ``previous u + 1`` is a gap; by default only a
  non-increasing ``u`` is. A false gap costs one resubscribe. Crossed or locked after an update is a resync too. Either
  way the book goes RESYNCING (``venues.book.next_book_state``) and feed returns ``BookIntegrity`` +
  ``NeedResubscribe``: Bybit sends a fresh snapshot on subscribe. Deltas are not applied until then.
- A delta before any snapshot (SYNCING) or while RESYNCING is dropped (``Dropped``), never applied.
- After each applied update while LIVE: a ``Quote`` from the book's O(1) best bid/ask, plus the
  ``BookDelta`` (``BookSnapshot`` for snapshots) when built with ``emit_deltas=True``.

Private rules (docs/v5/websocket/private/*.mdx; PROTOCOLS.md "Private topics, pagination, position mode"):
- Rows are matched to instruments of this codec's category by their own ``category`` (or the topic's
  suffix, ``order.linear``). A row of another category (a unified account's spot or option row, which the
  all-in-one topics carry) is recognised, counted in ``ignored`` by channel and category, and left out:
  never a ``Dropped`` frame, which on a private stream would ask for a reconcile.
- A push on ``dcp.*`` (disconnection protection; Bybit documents the subscription and no push content) is
  recognised and counted in ``ignored`` under its topic, never a ``Dropped`` frame.
- Each position row also yields ``modes.PositionIdxSeen`` (its symbol's ``positionIdx``, so its position
  mode) for the session.
- Op replies: ``success: true`` acks become ``Subscribed`` / ``LoggedIn`` / ``Pong``; an error reply
  (``success: false``, docs/v5/ws/connect, e.g. ``{"success":false,"ret_msg":"...","op":"subscribe"}``)
  becomes ``LoginFailed`` for ``auth`` and ``SubscribeFailed`` otherwise (the text names any other op; an
  echoed ``req_id``, string or number, is kept as ``request_id`` so the session knows which request
  failed), never a dropped frame.

Other rules:
- ``feed`` never raises on venue input: malformed frames, unknown topics, symbols or statuses become
  ``Dropped`` events that the shell counts. The frame is decoded once: a typed decoder for book frames
  (the hot path, picked by a cheap byte check), otherwise an envelope with the ``data`` kept raw.
- Nothing here does I/O or reads a clock; ``ts_recv`` (ns) is passed in.
"""

from __future__ import annotations

import enum
from collections import Counter

import msgspec

from messages.base import BookState, InstrumentId, Message, Venue
from messages.control import BookIntegrity
from messages.instruments import Instrument
from messages.market import BookDelta, BookSnapshot, Quote
from venues.book import BookInput, L2Book, next_book_state, quote_of
from venues.bybit import codes, frames, parse, wire
from venues.bybit.modes import PositionIdxSeen
from venues.errors import (
    CrossbookError,
    CrossedBook,
    DecodeError,
    InstrumentError,
    UnknownStatus,
)
from venues.events import (
    CodecEvent,
    Dropped,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    Pong,
    Subscribed,
    SubscribeFailed,
)
from venues.symbols import InstrumentRegistry

__all__ = ["BybitCodec", "DropReason"]

Output = list[Message | CodecEvent]
_MS = parse.MS
_BYBIT = Venue.BYBIT
_LIVE = BookState.LIVE


class DropReason(enum.StrEnum):
    """``Dropped.reason`` values this codec emits."""

    DECODE_ERROR = "decode_error"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_STATUS = "unknown_status"
    DELTA_BEFORE_SNAPSHOT = "delta_before_snapshot"
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    OTHER_DEPTH = "other_depth"
    UNSUPPORTED_OP = "unsupported_op"


class _BookSlot:
    __slots__ = ("topic", "instrument", "book", "state", "last_u")

    def __init__(self, topic: str, instrument: InstrumentId) -> None:
        self.topic = topic
        self.instrument = instrument
        self.book = L2Book(_BYBIT.value, instrument)
        self.state = BookState.SYNCING
        self.last_u = 0


class BybitCodec:
    """Sans-IO codec for Bybit v5 public (one category, linear by default) and private streams."""

    def __init__(
        self,
        registry: InstrumentRegistry,
        *,
        emit_deltas: bool = False,
        depth: int = 50,
        category: str = "linear",
        contiguous_u: bool = False,
    ) -> None:
        """
        Args:
            registry: instruments, to map venue symbols to unified ids.
            emit_deltas: also return BookDelta/BookSnapshot after each applied book update.
            depth: book depth used by ``track_book`` (1, 50, 200 or 1000).
            category: the category of the public stream and of the private rows that are ours (a private row
                of another category is counted in ``ignored`` and left out).
            contiguous_u: treat any ``u`` other than ``previous u + 1`` as a gap (else only ``u <= previous``).
        """
        frames.orderbook_topic("X", depth)  # validates the depth
        self._registry = registry
        self._emit_deltas = emit_deltas
        self._depth = depth
        self._category = category
        self._contiguous = contiguous_u
        self._by_topic: dict[str, _BookSlot] = {}
        self._by_instrument: dict[InstrumentId, _BookSlot] = {}
        self._symbols: dict[tuple[str, str], Instrument] = {}
        self._tickers: dict[str, list[float | None]] = {}  # symbol -> [bid_px, bid_sz, ask_px, ask_sz]
        self.ignored: Counter[str] = Counter()  # "<channel>.<category>" -> private rows of other categories
        self._handlers = {
            "orderbook": self._on_book_env,
            "publicTrade": self._on_trades,
            "tickers": self._on_ticker,
            "kline": self._on_kline,
            "order": self._on_orders,
            "execution": self._on_executions,
            "position": self._on_positions,
            "wallet": self._on_wallet,
            "dcp": self._on_dcp,
        }

    # -- books ---------------------------------------------------------------------------------------
    def track_book(self, instrument: InstrumentId, depth: int | None = None) -> str:
        """Start keeping a book for ``instrument``; returns the topic to subscribe to.

        Raises:
            InstrumentError: the instrument is not in the registry.
            ConfigError: an invalid depth.
        """
        inst = self._registry.get(_BYBIT, instrument)
        topic = frames.orderbook_topic(inst.venue_symbol, depth or self._depth)
        slot = self._by_instrument.get(instrument)
        if slot is None or slot.topic != topic:
            if slot is not None:
                del self._by_topic[slot.topic]
            slot = _BookSlot(topic, instrument)
            self._by_instrument[instrument] = slot
            self._by_topic[topic] = slot
        return topic

    def book(self, instrument: InstrumentId) -> L2Book:
        """The live book object for ``instrument`` (check ``book_state`` before trusting it).

        Raises:
            InstrumentError: no book is kept for it.
        """
        return self._slot(instrument).book

    def book_state(self, instrument: InstrumentId) -> BookState:
        """SYNCING, LIVE or RESYNCING (SYNCING for an instrument without a book yet)."""
        slot = self._by_instrument.get(instrument)
        return slot.state if slot else BookState.SYNCING

    def book_topic(self, instrument: InstrumentId) -> str:
        """The topic of the book kept for ``instrument`` (what a resubscribe names).

        Raises:
            InstrumentError: no book is kept for it.
        """
        return self._slot(instrument).topic

    def reset(self, ts_recv: int = 0) -> list[Message]:
        """After a reconnect: every book back to SYNCING (emptied), ticker state forgotten.

        Returns:
            A ``BookIntegrity`` for each book that was not already SYNCING.
        """
        out: list[Message] = []
        for slot in self._by_topic.values():
            before = slot.state
            slot.state = next_book_state(before, BookInput.DISCONNECT)
            slot.book.clear()
            slot.last_u = 0
            if before is not slot.state:
                out.append(
                    BookIntegrity(
                        venue=_BYBIT,
                        instrument=slot.instrument,
                        state=slot.state,
                        reason="reconnect",
                        ts=ts_recv,
                    )
                )
        self._tickers.clear()
        return out

    def _slot(self, instrument: InstrumentId) -> _BookSlot:
        slot = self._by_instrument.get(instrument)
        if slot is None:
            msg = f"no bybit book kept for {instrument}; call track_book first"
            raise InstrumentError(msg)
        return slot

    # -- feed ----------------------------------------------------------------------------------------
    def feed(self, frame: bytes | str, ts_recv: int) -> Output:
        """Decode one WebSocket frame.

        Args:
            frame: the frame as received (bytes; a text frame's str is encoded as UTF-8).
            ts_recv: local receive time, ns.

        Returns:
            Bus messages (Quote, Trade, Kline, BookDelta, BookSnapshot, BookIntegrity, OrderUpdate, Fill,
            Position, Balance) and codec events (NeedResubscribe, Subscribed, SubscribeFailed, LoggedIn,
            LoginFailed, Pong, Dropped). Never raises on venue input.
        """
        try:
            if isinstance(frame, str):
                frame = frame.encode()
            # Hot path: book pushes start with their topic; one typed decode, no envelope.
            if frame.find(b"orderbook.", 0, 40) >= 0:
                try:
                    msg = wire.BOOK_FRAME.decode(frame)
                except msgspec.MsgspecError:
                    pass  # the envelope path below decodes it again and reports the error precisely
                else:
                    if msg.topic.startswith("orderbook."):
                        return self._on_book(msg, ts_recv)
            return self._dispatch(frame, ts_recv)
        except msgspec.MsgspecError as exc:
            return [
                Dropped(
                    reason=DropReason.DECODE_ERROR,
                    error=str(DecodeError(codes.VENUE, "frame", str(exc), frame)),
                )
            ]
        except (ValueError, ArithmeticError) as exc:
            return [Dropped(reason=DropReason.DECODE_ERROR, error=f"cannot decode bybit frame: {exc}")]
        except CrossbookError as exc:
            return [_drop(exc)]

    def _dispatch(self, frame: bytes, ts_recv: int) -> Output:
        env = wire.ENVELOPE.decode(frame)
        if env.topic:
            head, _, rest_ = env.topic.partition(".")
            handler = self._handlers.get(head)
            if handler is None:
                known = ", ".join(self._handlers)
                return [
                    Dropped(
                        reason=DropReason.UNKNOWN_TOPIC,
                        error=f"expected a bybit topic starting with one of {known}, got {env.topic!r}",
                    )
                ]
            return handler(env, rest_, ts_recv)
        if env.op or env.type == "COMMAND_RESP" or env.success is not None:
            return self._on_op(env)
        raise DecodeError(codes.VENUE, "frame", "expected a 'topic' or an 'op' field, got neither", frame)

    # -- public topics -------------------------------------------------------------------------------
    def _instrument(self, symbol: str, category: str) -> Instrument:
        key = (symbol, category)
        inst = self._symbols.get(key)
        if inst is None:
            inst = self._registry.by_symbol(_BYBIT, symbol)
            if parse.category_of(inst) != category:
                msg = f"bybit symbol {symbol!r} is registered as {parse.category_of(inst)} {inst.id}, but the frame is {category}"
                raise InstrumentError(msg)
            self._symbols[key] = inst
        return inst

    def _on_book_env(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        msg = wire.BookFrame(
            topic=env.topic, type=env.type, ts=env.ts, data=wire.BOOK_DATA.decode(env.data), cts=env.cts
        )
        return self._on_book(msg, ts_recv)

    def _new_slot(self, topic: str, symbol: str) -> _BookSlot | Dropped:
        inst = self._instrument(symbol, self._category)
        other = self._by_instrument.get(inst.id)
        if other is not None:
            return Dropped(
                reason=DropReason.OTHER_DEPTH,
                error=f"bybit {inst.id} book follows {other.topic}, got a frame of {topic}",
            )
        slot = _BookSlot(topic, inst.id)
        self._by_topic[topic] = slot
        self._by_instrument[inst.id] = slot
        return slot

    def _on_book(self, msg: wire.BookFrame, ts_recv: int) -> Output:
        slot = self._by_topic.get(msg.topic)
        if slot is None:
            made = self._new_slot(msg.topic, msg.data.s)
            if isinstance(made, Dropped):
                return [made]
            slot = made
        data = msg.data
        if msg.type == "snapshot" or data.u == 1:
            return self._on_snapshot(slot, msg, ts_recv)
        if msg.type != "delta":
            raise DecodeError(
                codes.VENUE, msg.topic, f"expected type 'snapshot' or 'delta', got {msg.type!r}"
            )
        if slot.state is not _LIVE:
            why = (
                DropReason.DELTA_BEFORE_SNAPSHOT
                if slot.state is BookState.SYNCING
                else DropReason.AWAITING_SNAPSHOT
            )
            slot.state = next_book_state(slot.state, BookInput.DELTA)
            return [
                Dropped(
                    reason=why,
                    error=f"bybit {slot.instrument} {msg.topic} delta u={data.u} while {slot.state.value}",
                )
            ]
        prev_u = slot.last_u
        if data.u <= prev_u or (self._contiguous and data.u != prev_u + 1):
            if self._contiguous and data.u > prev_u:
                gap = data.u - prev_u - 1
                reason = (f"expected u {prev_u + 1} after {prev_u} for bybit {slot.instrument} {msg.topic}, "
                          f"got {data.u} (gap of {gap}); resyncing")
            else:
                reason = f"expected u > {prev_u} for bybit {slot.instrument} {msg.topic}, got {data.u}; resyncing"
            return self._integrity_fail(slot, BookInput.GAP, reason, ts_recv)
        best = slot.book.apply(data.b, data.a)
        slot.last_u = data.u
        out: Output = []
        if self._emit_deltas:
            out.append(
                BookDelta(
                    venue=_BYBIT,
                    instrument=slot.instrument,
                    bids=tuple(data.b),
                    asks=tuple(data.a),
                    sequence=data.u,
                    prev_sequence=prev_u,
                    ts_event=msg.ts * _MS,
                    ts_recv=ts_recv,
                )  # fmt: skip
            )
        return self._quote(slot, best, msg.ts, ts_recv, out)

    def _on_snapshot(self, slot: _BookSlot, msg: wire.BookFrame, ts_recv: int) -> Output:
        data = msg.data
        slot.book.load(data.b, data.a)
        slot.last_u = data.u
        before = slot.state
        slot.state = next_book_state(before, BookInput.SNAPSHOT)
        out: Output = []
        if before is not slot.state:
            reason = f"snapshot u={data.u} on {msg.topic}" + (" (service restart)" if data.u == 1 else "")
            out.append(
                BookIntegrity(
                    venue=_BYBIT, instrument=slot.instrument, state=slot.state, reason=reason, ts=ts_recv
                )
            )
        if self._emit_deltas:
            out.append(
                BookSnapshot(
                    venue=_BYBIT,
                    instrument=slot.instrument,
                    bids=tuple(lv for lv in data.b if lv[1] > 0.0),
                    asks=tuple(lv for lv in data.a if lv[1] > 0.0),
                    sequence=data.u,
                    ts_event=msg.ts * _MS,
                    ts_recv=ts_recv,
                )  # fmt: skip
            )
        return self._quote(slot, slot.book.best(), msg.ts, ts_recv, out)

    def _quote(
        self, slot: _BookSlot, best: tuple[float, float, float, float] | None, ts_ms: int, ts_recv: int, out: Output
    ) -> Output:
        """``out`` plus the Quote of ``best`` (nothing while a side is empty); a crossed book fails instead."""
        if best is None:
            return out
        if best[0] >= best[2]:
            crossed = CrossedBook(codes.VENUE, slot.instrument, best[0], best[2])
            return self._integrity_fail(slot, BookInput.CROSSED, str(crossed), ts_recv)
        out.append(quote_of(_BYBIT, slot.instrument, best, ts_ms * _MS, ts_recv))
        return out

    def _integrity_fail(self, slot: _BookSlot, event: BookInput, reason: str, ts_recv: int) -> Output:
        slot.state = next_book_state(slot.state, event)
        return [
            BookIntegrity(
                venue=_BYBIT, instrument=slot.instrument, state=slot.state, reason=reason, ts=ts_recv
            ),
            NeedResubscribe(instrument=slot.instrument, reason=reason),
        ]

    def _on_trades(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        inst = self._instrument(rest_, self._category)
        return [parse.trade(item, inst.id, ts_recv) for item in wire.TRADES.decode(env.data)]

    def _on_kline(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        _interval, _, symbol = rest_.partition(".")
        inst = self._instrument(symbol, self._category)
        return [parse.kline(item, inst.id, ts_recv) for item in wire.KLINES.decode(env.data)]

    def _on_ticker(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        data = wire.TICKER.decode(env.data)
        inst = self._instrument(data.symbol, self._category)
        state = self._tickers.get(data.symbol)
        if state is None or env.type == "snapshot":
            state = self._tickers[data.symbol] = [None, None, None, None]
        # A linear delta carries only changed fields: merge them into the last known values.
        for i, raw in enumerate((data.bid1Price, data.bid1Size, data.ask1Price, data.ask1Size)):
            if raw is not None:
                state[i] = float(raw) if raw else None
        bid_px, bid_sz, ask_px, ask_sz = state
        if bid_px is None or bid_sz is None or ask_px is None or ask_sz is None:
            return []
        return [
            Quote(
                venue=_BYBIT,
                instrument=inst.id,
                bid_px=bid_px,
                bid_sz=bid_sz,
                ask_px=ask_px,
                ask_sz=ask_sz,
                ts_event=env.ts * _MS,
                ts_recv=ts_recv,
            )  # fmt: skip
        ]

    # -- private topics ------------------------------------------------------------------------------
    def _ours(self, channel: str, category: str) -> bool:
        """True for a row of this codec's category (or one that names none); a row of another category
        (a unified account's spot, option or inverse row) is counted in ``ignored`` and left out."""
        if category and category != self._category:
            self.ignored[f"{channel}.{category}"] += 1
            return False
        return True

    def _on_orders(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        out: Output = []
        for item in wire.ORDERS.decode(env.data):
            category = item.category or rest_
            if not self._ours("order", category):
                continue
            try:
                inst = self._instrument(item.symbol, category or self._category)
                out.append(parse.order_update(item, inst.id, ts_recv))
            except CrossbookError as exc:  # one bad row must not hide the others
                out.append(_drop(exc))
        return out

    def _on_executions(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        out: Output = []
        for item in wire.EXECUTIONS.decode(env.data):
            if not self._ours("execution", item.category):
                continue
            try:
                f = parse.fill(item, self._instrument(item.symbol, item.category), ts_recv)
            except CrossbookError as exc:
                out.append(_drop(exc))
            else:
                if f is not None:
                    out.append(f)
        return out

    def _on_positions(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        out: Output = []
        for item in wire.POSITIONS.decode(env.data):
            category = item.category or rest_
            if not self._ours("position", category):
                continue
            try:
                inst = self._instrument(item.symbol, category or self._category)
                out.append(parse.position(item, inst.id, ts_recv))
            except CrossbookError as exc:
                out.append(_drop(exc))
            else:
                out.append(PositionIdxSeen(symbol=item.symbol, position_idx=item.positionIdx))
        return out

    def _on_wallet(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        return list(parse.balances(wire.WALLETS.decode(env.data), env.creationTime * _MS, ts_recv))

    def _on_dcp(self, env: wire.WsEnvelope, rest_: str, ts_recv: int) -> Output:
        self.ignored[env.topic] += 1
        return []

    # -- op acks -------------------------------------------------------------------------------------
    def _on_op(self, env: wire.WsEnvelope) -> Output:
        req_id = _req_id(env.req_id)
        if env.type == "COMMAND_RESP":  # option/spread sockets list topics instead of an op
            data = wire.COMMAND_RESP.decode(env.data)
            out: Output = []
            if data.successTopics:
                out.append(Subscribed(channels=tuple(data.successTopics), request_id=req_id))
            if data.failTopics or env.success is False:
                out.append(
                    SubscribeFailed(
                        code="", text=f"failed topics: {', '.join(data.failTopics)}", request_id=req_id
                    )
                )
            return out
        op = env.op
        if env.success is None and env.retCode is not None:  # order-entry socket /v5/trade: retCode/retMsg
            if op == "auth":
                return (
                    [LoggedIn()]
                    if env.retCode == 0
                    else [LoginFailed(code=str(env.retCode), text=env.retMsg)]
                )
            if op == "pong":
                return [Pong(ts_sent=_req_ts(env.reqId))]
            return [
                Dropped(
                    reason=DropReason.UNSUPPORTED_OP,
                    error=f"bybit order-entry op {op!r} is not handled by this codec",
                )
            ]
        if op == "pong" or (op == "ping" and env.success is not False):
            return [Pong(ts_sent=_req_ts(req_id))]
        if env.success is False:  # an error reply to something we sent
            if op == "auth":
                return [LoginFailed(code="", text=env.ret_msg)]
            text = env.ret_msg if op == "subscribe" else f"{op or 'request'}: {env.ret_msg}"
            return [SubscribeFailed(code="", text=text, request_id=req_id)]
        if op == "subscribe":
            return [Subscribed(channels=(), request_id=req_id)]
        if op == "unsubscribe":
            return []
        if op == "auth":
            return [LoggedIn()]
        return [
            Dropped(
                reason=DropReason.UNSUPPORTED_OP,
                error=f"expected op subscribe, unsubscribe, auth, ping or pong, got {op!r}",
            )
        ]


def _req_id(raw: str | int | None) -> str:
    """The echoed ``req_id`` as a string (ours are strings; absent or null when none was sent)."""
    return "" if raw is None else str(raw)


def _req_ts(req_id: str) -> int:
    # frames.ping puts the send time in req_id; any other req_id is not a time.
    return int(req_id) if req_id.isascii() and req_id.isdigit() else 0


def _drop(exc: CrossbookError) -> Dropped:
    if isinstance(exc, UnknownStatus):
        reason = DropReason.UNKNOWN_STATUS
    elif isinstance(exc, InstrumentError):
        reason = DropReason.UNKNOWN_SYMBOL
    else:
        reason = DropReason.DECODE_ERROR
    return Dropped(reason=reason, error=str(exc))
