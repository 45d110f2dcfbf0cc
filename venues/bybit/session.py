"""BybitSession: what a Bybit v5 (linear) connection set must remember, sans-IO (see venues/session.py).

Rules (Bybit v5 docs: websocket/connect, public/orderbook, private/*, position/*; /work/shared/PROTOCOLS.md
section 2; venues/bybit/PROTOCOL.md for the dated changes):
- Streams: ``public`` (``/v5/public/linear``) carries, per instrument, ``orderbook.{depth}.{symbol}``,
  ``publicTrade.{symbol}`` unless ``trades=False`` and ``kline.{interval}.{symbol}`` per configured interval
  (Bybit's names: 1, 5, 60, D, ...), at most 10 topics per subscribe frame, in that order. Its liveness is
  data (``stale_after_s``). With credentials, ``private`` (``/v5/private``): on every connect ``auth``
  (expiring ``auth_expires_ms`` after ``now_ms``), then one subscribe of the categorised topics
  ``order.linear``, ``execution.linear``, ``position.linear`` and ``wallet`` (``frames.private_topics``;
  the all-in-one ``order`` etc. would also carry a unified account's spot and option rows); both go out at
  once, auth first (Bybit handles a connection's ops in order). The private topics cover every symbol, so
  a new instrument is subscribed on ``public`` only, and only while it is up: a (re)connect subscribes
  every instrument anyway.
- Requests and their replies: every subscribe and auth frame carries a ``req_id`` of its own; a reply is
  matched to its request by that id, or, when the venue echoes none (private acks), to the oldest request
  still unanswered on that stream (Bybit answers a connection's ops in order). A failed subscribe
  (``SubscribeFailed``) is sent again on the same connection after a backoff (``SetTimer``:
  ``retry_base_s`` doubling per failure of that request, at most ``retry_cap_s``). A failed auth
  (``LoginFailed``, or an error reply to the auth's ``req_id``) forgets the private subscribe sent behind
  it (the venue refuses it too) and sends auth + subscribe again after the same backoff, counted per
  connection; a successful auth resets it. A connection that goes away takes its unanswered requests with
  it: the next connect subscribes afresh.
- Position modes (``modes.py``): at ``start`` (credentials only) the positions of each configured settle
  coin (USDT, USDC) are read, page by page following ``nextPageCursor``; by settle coin the venue lists
  open positions only, so each instrument then subscribed whose symbol's mode is still unknown is read by
  symbol (the venue answers for a flat symbol too: one row in one-way mode, two in hedge mode). Each row's
  ``positionIdx`` gives its symbol's mode (``PositionModes``, shared with the adapter that builds the
  orders). The same reads are made again after every private reconnect (a switch made while away pushes
  nothing) and at the next silence check after the venue refused an order for its ``positionIdx``
  (``PositionModes.recheck``, set by the adapter). A ``position.linear`` push names its symbol's
  ``positionIdx`` too (``PositionIdxSeen``). A failed read is asked again (the actor's resync queue paces
  it). ``position_mode`` is the account's summary (HEDGE when any symbol is hedged); an ``AccountConfig``
  (mode and the symbols per mode) is published when no read is in flight and the summary changed, at once
  when a push changes it. The first one waits for the reads of the instruments subscribed after the start
  (the actor subscribes its configured instruments right after ``start``), so it names their modes.
- Keep-alive: both streams send ``{"op":"ping"}`` every ``ping_interval_s`` (``ping_frame``; the send time
  rides in ``req_id`` so the pong gives a round trip). The private stream is quiet when idle, so its
  liveness is the venue's answer to those pings: the ``private_silence`` timer, every ``silence_check_s``
  while the private session is on, replaces the connection when no frame at all (pong, ack or data) came
  for ``private_stale_after_s``, once per silence. Frames are stamped by the transport's clock and timers
  by the caller's (the venue-corrected one), so the check only asks whether the last-frame stamp moved
  and measures silence on the timer's clock alone: no clock offset or skew can cause or hide a reconnect.
- Books: the venue sends a snapshot on subscribe, so the session never fetches a book. A gap or a
  crossed book (the codec's ``NeedResubscribe``) is answered with unsubscribe + subscribe of that book's
  topic on ``public``; while ``public`` is down nothing is sent (the reconnect resubscribes every book).
  Both frames are keyed per book, so the actor's resync queue holds one resubscribe per book at a time,
  and the first counts as a book resync.
- Orders: Bybit's create and cancel answers carry ids only. ``KnownOrders`` keeps the last state of recent
  orders, learnt from the private ``order`` topic (in ``feed``) and from the adapter's answer parsers, so
  that a cancel answer can be reported as a full ``OrderUpdate`` (side, quantity, price, filled quantity
  come from there). It is the adapter's, shared with each session it makes (like the codec and its
  books), and outlives reconnects.
- Dead-man's switch (``dcp.py``): with ``dcp_window_s`` and credentials, ``switch`` is the ``SwitchKeeper`` of
  Bybit's disconnection protection. ``start`` publishes it ARMING and sets the window (an urgent fetch),
  whose answer is followed by the account's DCP setting; each private connection subscribes ``dcp.future``
  in a subscribe of its own right behind the other private topics (after a failed login too), followed by
  a ping (Bybit resets DCP's clock on a reconnect that "resumes the heartbeat ping"); its ack confirms the
  stream part; the private stream going down loses it. Keys ``switch:*`` (fetches and
  timers) are the switch's. Without credentials there is no switch.
- Other codec events: ``StreamExpired`` replaces that stream; ``SendFrame`` sends the frame on it;
  ``LoggedIn`` is remembered (``logged_in``).
- Nothing here does I/O or reads a clock: time comes in as ``now_ms`` (timers, connects) or ``ts_recv``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from messages import (
    AccountConfig,
    BookState,
    ClientOrderId,
    InstrumentId,
    Message,
    OrderUpdate,
    PositionMode,
    Venue,
    VenueOrderId,
)
from venues import Credentials
from venues.bybit import frames, rest
from venues.bybit.codec import BybitCodec
from venues.bybit.dcp import TOPIC as DCP_TOPIC
from venues.bybit.dcp import DcpSwitch
from venues.bybit.modes import ONE_WAY_ONLY_SETTLE, PositionIdxSeen, PositionModes, mode_of_idx
from venues.events import (
    CodecEvent,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import Response
from venues.session import Fetch, Out, Reconnect, Send, SetTimer, StreamSpec, Tops, live_tops
from venues.switch import SwitchKeeper
from venues.symbols import InstrumentRegistry

__all__ = ["BybitSession", "KnownOrders", "SessionOptions", "PRIVATE_SILENCE", "RELOGIN", "RESUBSCRIBE"]

PRIVATE_SILENCE = "private_silence"
"""The timer key of the private stream's silence check."""
RELOGIN = "relogin"
"""The timer key of the private stream's auth retry after a failed login."""
RESUBSCRIBE = "resubscribe"
"""Timer keys ``resubscribe <stream> <req_id>``: a failed subscribe sent again."""
_PUBLIC = "public"
_PRIVATE = "private"
_SUBSCRIBE_CHUNK = 10  # topics per subscribe frame
_MODES = "modes"  # fetch keys "modes <coin>[ <cursor>]": a settle coin's positions, page by page
_MODE = "mode"  # fetch keys "mode <symbol>": one symbol's positions (flat ones included)


class SessionOptions(msgspec.Struct, frozen=True):
    """What the daemon configures for a Bybit connection set.

    ``ws``: stream name -> URL (``public``, ``private``); ``klines``: kline intervals in Bybit's own names
    ("1", "60", "D"); ``settle_coins``: the linear settle coins whose positions are read; ``retry_base_s`` /
    ``retry_cap_s``: the backoff of a failed subscribe or auth (and of a failed DCP step); ``dcp_window_s``:
    the disconnection-protection window in whole seconds (0: no switch; ``dcp.check_window``),
    ``dcp_recheck_s`` / ``dcp_rechecks``: how often and how many times the account's DCP setting is read
    again while it shows another window.
    """

    ws: dict[str, str]
    depth: int = 50
    stale_after_s: float = 1.0
    ping_interval_s: float = 20.0
    private_stale_after_s: float = 45.0
    auth_expires_ms: int = 10_000
    trades: bool = True
    klines: tuple[str, ...] = ()
    category: str = "linear"
    settle_coins: tuple[str, ...] = rest.SETTLE_COINS
    retry_base_s: float = 1.0
    retry_cap_s: float = 30.0
    dcp_window_s: int = 0
    dcp_recheck_s: float = 10.0
    dcp_rechecks: int = 6

    @property
    def silence_check_s(self) -> float:
        return min(5.0, self.ping_interval_s)

    def retry_after_s(self, failures: int) -> float:
        """Backoff before the ``failures``-th retry (1 = the first): base doubling, capped."""
        return float(min(self.retry_cap_s, self.retry_base_s * 2 ** min(failures - 1, 30)))


@dataclass(slots=True)
class _Request:
    """A subscribe sent on a connection and not answered yet."""

    req_id: str
    frame: bytes
    failures: int = 0


class KnownOrders:
    """The last state of recent orders, by client order id and by venue order id (oldest forgotten first)."""

    __slots__ = ("_by_id", "_capacity")

    def __init__(self, capacity: int = 4096) -> None:
        self._by_id: OrderedDict[str, OrderUpdate] = OrderedDict()
        self._capacity = capacity

    def remember(self, upd: OrderUpdate) -> None:
        """Keep ``upd`` as the last state of its order (under each id it carries)."""
        by_id = self._by_id
        for key in (upd.client_order_id, upd.venue_order_id):
            if key:
                by_id[key] = upd
                by_id.move_to_end(key)
        while len(by_id) > self._capacity:
            by_id.popitem(last=False)

    def lookup(self, client_order_id: ClientOrderId | None, venue_order_id: VenueOrderId | None) -> OrderUpdate | None:
        """The last state known under the client order id, else under the venue order id, else None."""
        by_id = self._by_id
        return (by_id.get(client_order_id) if client_order_id else None) or (
            by_id.get(venue_order_id) if venue_order_id else None)

    def __len__(self) -> int:
        return len(self._by_id)


class BybitSession:
    def __init__(self, codec: BybitCodec, registry: InstrumentRegistry, options: SessionOptions,
                 credentials: Credentials | None, orders: KnownOrders, modes: PositionModes) -> None:
        self.position_mode = PositionMode.ONE_WAY
        self.dcp: DcpSwitch | None = None
        if options.dcp_window_s and credentials is not None:
            self.dcp = DcpSwitch(credentials, options.dcp_window_s, options.retry_after_s,
                                 recheck_s=options.dcp_recheck_s, rechecks=options.dcp_rechecks)
        self.switch: SwitchKeeper | None = self.dcp.keeper if self.dcp else None  # the dead-man's switch
        self.codec = codec
        self.registry = registry
        self.options = options
        self.credentials = credentials
        self.orders = orders
        self.modes = modes
        self.feed = self._feed
        self.instruments: list[InstrumentId] = []
        self.up: set[str] = set()
        self.private_session = False  # auth + private subscriptions sent on the current private connection
        self.logged_in = False  # the venue acknowledged that auth
        self.last_private_ns = 0  # ts_recv of the last private frame of any kind (the transport's clock)
        self._stamp_at_check = 0  # last_private_ns as the previous silence check saw it
        self._quiet_since_ms = 0  # (timer clock) since when the silence check has seen no private frame
        self._seq = 0  # req_id counter
        self._pending: dict[str, OrderedDict[str, _Request]] = {}  # stream -> unanswered subscribes, oldest first
        self._auth_req = ""  # req_id of the auth on the current private connection
        self._login_failures = 0  # failed auths in a row on the current private connection
        self._private_connects = 0
        self._reading: set[str] = set()  # position-mode fetches in flight
        self._published: tuple[PositionMode, str] | None = None  # last AccountConfig (mode, detail)
        self._subscribed = False  # subscribe() was called: the first AccountConfig may go out

    # -- hot path ----------------------------------------------------------------------------------
    def _feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        out = self.codec.feed(frame, ts_recv)
        if stream == _PRIVATE:
            self.last_private_ns = ts_recv
            for o in out:
                if type(o) is OrderUpdate:
                    self.orders.remember(o)
        return out

    # -- connections -------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Out]:
        """With credentials: read each settle coin's positions (the position modes of their symbols); with the
        dead-man's switch, publish it ARMING and set its window."""
        out: list[Out] = self.dcp.start(now_ms) if self.dcp is not None else []
        return out + self._read_modes([], now_ms)

    def streams(self) -> list[StreamSpec]:
        o = self.options
        out = [StreamSpec(name=_PUBLIC, stale_after_s=o.stale_after_s, ping_interval_s=o.ping_interval_s,
                          control_rate_per_s=10.0)]
        if self.credentials is not None:
            out.append(StreamSpec(name=_PRIVATE, private=True, ping_interval_s=o.ping_interval_s,
                                  control_rate_per_s=10.0))
        return out

    def url(self, stream: str, now_ms: int) -> str:
        return self.options.ws[stream]

    def connected(self, stream: str, now_ms: int) -> list[Out]:
        self.up.add(stream)
        self._pending[stream] = OrderedDict()
        if stream == _PUBLIC:
            return self._subscriptions(self.instruments)
        if stream != _PRIVATE or self.credentials is None:
            return []
        self.private_session = True
        self.logged_in = False
        self._login_failures = 0
        self._stamp_at_check = self.last_private_ns
        self._quiet_since_ms = now_ms
        self._private_connects += 1
        out: list[Out] = [*self._login(now_ms), SetTimer(key=PRIVATE_SILENCE, after_s=self.options.silence_check_s)]
        if self._private_connects > 1:  # a mode switched while we were away pushes nothing: read them again
            out += self._read_modes([self._symbol(i) for i in self.instruments], now_ms)
        return out

    def disconnected(self, stream: str, now_ms: int) -> list[Out]:
        self.up.discard(stream)
        self._pending.pop(stream, None)
        if stream == _PUBLIC:
            return list(self.codec.reset(now_ms * 1_000_000))
        if stream == _PRIVATE:
            self.private_session = False
            self.logged_in = False
            if self.dcp is not None:
                return self.dcp.stream_down(now_ms)
        return []

    def subscribe(self, instruments: Sequence[InstrumentId], now_ms: int) -> list[Out]:
        new = [i for i in dict.fromkeys(instruments) if i not in self.instruments]
        self.instruments.extend(new)
        self._subscribed = True
        out = self._subscriptions(new) if _PUBLIC in self.up else []
        unknown = [self._symbol(i) for i in new if self.modes.get(self._symbol(i)) is None]
        out += self._read_symbol_modes(unknown, now_ms)
        return out if self._reading else out + self._config(now_ms)

    def _symbol(self, instrument: InstrumentId) -> str:
        return self.registry.get(Venue.BYBIT, instrument).venue_symbol

    def _subscriptions(self, instruments: Sequence[InstrumentId]) -> list[Out]:
        o = self.options
        topics: list[str] = []
        for inst in instruments:
            topics.append(self.codec.track_book(inst, o.depth))
            symbol = self._symbol(inst)
            if o.trades:
                topics.append(frames.trade_topic(symbol))
            topics.extend(frames.kline_topic(symbol, interval) for interval in o.klines)
        return [self._subscribe(_PUBLIC, topics[i : i + _SUBSCRIBE_CHUNK])
                for i in range(0, len(topics), _SUBSCRIBE_CHUNK)]

    def _next_id(self, what: str) -> str:
        self._seq += 1
        return f"{what}-{self._seq}"

    def _subscribe(self, stream: str, topics: Sequence[str], key: str = "", req_id: str = "") -> Send:
        """A subscribe frame with a req_id of its own (``req_id``, or a new one), remembered until the venue
        answers it."""
        req_id = req_id or self._next_id("sub")
        req = _Request(req_id, frames.subscribe(topics, req_id))
        self._pending.setdefault(stream, OrderedDict())[req.req_id] = req
        return Send(stream=stream, frame=req.frame, key=key)

    def _login(self, now_ms: int) -> list[Out]:
        assert self.credentials is not None
        self._auth_req = self._next_id("auth")
        auth = frames.auth(self.credentials, now_ms + self.options.auth_expires_ms, self._auth_req)
        out: list[Out] = [Send(stream=_PRIVATE, frame=auth),
                          self._subscribe(_PRIVATE, frames.private_topics(self.options.category))]
        if self.dcp is not None:  # its own request: a refusal of it never takes the order topics down with it
            self.dcp.req_id = self._next_id("sub")
            out.append(self._subscribe(_PRIVATE, [DCP_TOPIC], req_id=self.dcp.req_id))
            # Bybit resets DCP's clock when a connection comes back "and resumes the heartbeat ping": the first
            # ping goes now, not a ping interval later (no send time in it: no round trip is measured).
            out.append(Send(stream=_PRIVATE, frame=frames.ping()))
        return out

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return frames.ping(str(ts_ns))

    # -- what comes back ---------------------------------------------------------------------------
    def on_event(self, event: CodecEvent, stream: str, now_ms: int) -> list[Out]:
        match event:
            case NeedResubscribe(instrument=inst):
                if _PUBLIC not in self.up:
                    return []  # the reconnect subscribes every book afresh
                topic = self.codec.book_topic(inst)
                unsub = frames.unsubscribe([topic], self._next_id("unsub"))
                return [Send(stream=_PUBLIC, frame=unsub, key=f"unsubscribe {inst}", resync=True),
                        self._subscribe(_PUBLIC, [topic], key=f"subscribe {inst}")]
            case StreamExpired(reason=reason):
                return [Reconnect(stream=stream, reason=reason)]
            case SendFrame(frame=frame):
                return [Send(stream=stream, frame=frame)]
            case LoggedIn():
                if stream == _PRIVATE:
                    self.logged_in = True
                    self._login_failures = 0
            case LoginFailed():
                if stream == _PRIVATE:
                    return self._login_failed()
            case Subscribed(request_id=req_id):
                req = self._unanswered(stream, req_id)
                if req is not None:
                    del self._pending[stream][req.req_id]
                    if self.dcp is not None and stream == _PRIVATE and req.req_id == self.dcp.req_id:
                        return self.dcp.subscribed(now_ms)
            case SubscribeFailed(request_id=req_id, text=text):
                if stream == _PRIVATE and req_id and req_id == self._auth_req:
                    return self._login_failed()  # an error reply to the auth that names no op
                return self._subscribe_failed(stream, req_id, text, now_ms)
            case PositionIdxSeen(symbol=symbol, position_idx=idx):
                if self.modes.set(symbol, mode_of_idx(idx)) and not self._reading:
                    return self._config(now_ms)
        return []

    def _unanswered(self, stream: str, req_id: str) -> _Request | None:
        """The unanswered request a reply names by ``req_id``, or the oldest one when it names none."""
        pending = self._pending.get(stream)
        if not pending:
            return None
        if req_id:
            return pending.get(req_id)
        return next(iter(pending.values()))

    def _subscribe_failed(self, stream: str, req_id: str, text: str, now_ms: int) -> list[Out]:
        req = self._unanswered(stream, req_id)
        if req is None:
            return []  # not ours (a failed ping), or forgotten with its login or its connection
        req.failures += 1  # it stays unanswered until a retry succeeds
        after = self.options.retry_after_s(req.failures)
        out: list[Out] = [SetTimer(key=f"{RESUBSCRIBE} {stream} {req.req_id}", after_s=after)]
        if self.dcp is not None and stream == _PRIVATE and req.req_id == self.dcp.req_id:
            out += self.dcp.subscribe_failed(text, after, now_ms)
        return out

    def _login_failed(self) -> list[Out]:
        self.logged_in = False
        self._pending[_PRIVATE] = OrderedDict()  # the subscribe behind the auth fails too: sent again with it
        self._login_failures += 1
        return [SetTimer(key=RELOGIN, after_s=self.options.retry_after_s(self._login_failures))]

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]:
        if self.dcp is not None and SwitchKeeper.owns(key):
            return self.dcp.response(key, response, now_ms)
        kind, _, rest_ = key.partition(" ")
        if kind not in (_MODES, _MODE):
            return []
        self._reading.discard(key)
        found, cursor = rest.parse_position_modes(response, now_ms * 1_000_000)
        for symbol, mode in found.items():
            self.modes.set(symbol, mode)
        out: list[Out] = []
        if kind == _MODES and cursor:
            coin = rest_.split(" ", 1)[0]
            out.append(self._mode_fetch(f"{_MODES} {coin} {cursor}", now_ms))
        if not self._reading and self._subscribed:
            out += self._config(now_ms)
        return out

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]:
        if self.dcp is not None and SwitchKeeper.owns(key):
            return self.dcp.failed(key, error, now_ms)
        kind = key.partition(" ")[0]
        if kind not in (_MODES, _MODE):
            return []
        return [self._mode_fetch(key, now_ms)]  # asked again; the resync queue's backoff paces it

    def timer(self, key: str, now_ms: int) -> list[Out]:
        if self.dcp is not None and SwitchKeeper.owns(key):
            return self.dcp.timer(key, now_ms)
        if key == PRIVATE_SILENCE:
            return self._silence_check(now_ms)
        if key == RELOGIN:
            return self._login(now_ms) if _PRIVATE in self.up and not self.logged_in else []
        kind, _, rest_ = key.partition(" ")
        if kind == RESUBSCRIBE:
            stream, _, req_id = rest_.partition(" ")
            pending = self._pending.get(stream)
            req = pending.get(req_id) if pending is not None and stream in self.up else None
            if req is not None:
                return [Send(stream=stream, frame=req.frame, key=f"{RESUBSCRIBE} {req_id}")]
        return []

    def _silence_check(self, now_ms: int) -> list[Out]:
        if not self.private_session:
            return []  # the next private connect starts the check again
        o = self.options
        out: list[Out] = [SetTimer(key=PRIVATE_SILENCE, after_s=o.silence_check_s)]
        if self.modes.recheck:  # the venue refused an order for its positionIdx: the modes we hold are stale
            self.modes.recheck = False
            out += self._read_modes([self._symbol(i) for i in self.instruments], now_ms)
        elif not self._reading and self._subscribed:
            out += self._config(now_ms)  # a REST answer (GetPositions) may have shown another mode
        if self.last_private_ns != self._stamp_at_check:  # a frame came since the previous check
            self._stamp_at_check = self.last_private_ns
            self._quiet_since_ms = now_ms
            return out
        idle_s = (now_ms - self._quiet_since_ms) / 1000.0
        if idle_s > o.private_stale_after_s:
            self._quiet_since_ms = now_ms  # one reconnect per silence
            reason = f"no pong or data on private for {idle_s:.1f} s (limit {o.private_stale_after_s} s)"
            out.append(Reconnect(stream=_PRIVATE, reason=reason))
        return out

    # -- position modes ----------------------------------------------------------------------------
    def _read_modes(self, symbols: Sequence[str], now_ms: int) -> list[Out]:
        """Each settle coin's open positions, then ``symbols`` one by one (credentials only)."""
        if self.credentials is None:
            return []
        out: list[Out] = [self._mode_fetch(f"{_MODES} {coin}", now_ms) for coin in self.options.settle_coins]
        return out + self._read_symbol_modes(symbols, now_ms)

    def _read_symbol_modes(self, symbols: Sequence[str], now_ms: int) -> list[Out]:
        """A read of each symbol's positions; a symbol settled in a one-way-only coin (USDC) needs none."""
        if self.credentials is None:
            return []
        out: list[Out] = []
        for symbol in dict.fromkeys(symbols):
            if self.registry.by_symbol(Venue.BYBIT, symbol).settle in ONE_WAY_ONLY_SETTLE:
                self.modes.set(symbol, PositionMode.ONE_WAY)
            else:
                out.append(self._mode_fetch(f"{_MODE} {symbol}", now_ms))
        return out

    def _mode_fetch(self, key: str, now_ms: int) -> Fetch:
        assert self.credentials is not None
        kind, _, rest_ = key.partition(" ")
        o = self.options
        if kind == _MODE:
            spec = rest.positions(self.credentials, now_ms, symbol=rest_, category=o.category)
        else:
            coin, _, cursor = rest_.partition(" ")
            spec = rest.positions(self.credentials, now_ms, settle_coin=coin, category=o.category,
                                  limit=rest.POSITIONS_PAGE, cursor=cursor)
        self._reading.add(key)
        return Fetch(key=key, spec=spec)

    def _config(self, now_ms: int) -> list[Out]:
        """An ``AccountConfig`` when the account's summary changed since the last one (always the first);
        nothing without credentials (nothing was read)."""
        if self.credentials is None:
            return []
        summary = (self.modes.account_mode(), self.modes.detail())
        if summary == self._published:
            return []
        self._published = summary
        self.position_mode = summary[0]
        return [AccountConfig(venue=Venue.BYBIT, position_mode=summary[0], ts=now_ms * 1_000_000,
                              detail=summary[1])]

    # -- books -------------------------------------------------------------------------------------
    def book_live(self, instrument: InstrumentId) -> bool:
        return self.codec.book_state(instrument) is BookState.LIVE

    def top_of_books(self, depth: int) -> Tops:
        return live_tops(self.codec, self.instruments, depth)

