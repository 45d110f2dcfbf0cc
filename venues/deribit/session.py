"""DeribitSession: what a Deribit API v2 connection must remember, sans-IO (see venues/session.py).

Rules (docs.deribit.com; /work/shared/PROTOCOLS.md section 4 and its "Order of operations on one connection";
venues/deribit/PROTOCOL.md for the dated changes):
- ``start``: Deribit has no hedge mode (one net position per instrument), so ``position_mode`` stays
  ONE_WAY and nothing is fetched; with credentials one AccountConfig is published so the status view
  shows the mode.
- One WebSocket (stream ``main``) carries market and private data, as on Deribit. With credentials it is a
  private stream (the actor reconciles orders after every reconnect).
- On each fresh connection, in this order: ``public/auth`` (client_signature, when credentials are given),
  ``public/set_heartbeat`` (>= 10 s; the codec answers every ``test_request`` with a ``public/test``
  SendFrame, sent as it comes), then one ``public/subscribe`` for every channel that needs no login: books
  at 100ms, trades, chart.trades. Nothing that needs the login is pipelined behind the auth request.
- Login: ``LoggedIn`` (the codec's reading of the auth answer) sends ``private/enable_cancel_on_disconnect``
  (when configured), then ``private/subscribe`` to user.orders + user.trades (or user.changes) and one
  user.portfolio per settlement currency, then the raw books (``book.{instrument}.raw`` needs an
  authorised connection). ``LoginFailed`` subscribes no private channel; raw books fall back to 100ms so
  market data still flows (the actor logs and signals the failure).
- The access token lives 900 s: every ``refresh_s`` (300 s) while logged in, ``public/auth`` with the
  refresh token renews it (timer ``refresh_auth``). Its answer is a ``LoggedIn`` on a connection already
  logged in: nothing to do. A refused refresh replaces the connection, which logs in afresh.
- Books: every book subscription gets a snapshot, so nothing is fetched over REST; a gap (the codec's
  ``NeedResubscribe``) is answered with the codec's unsubscribe + subscribe frames for that book.
  ``StreamExpired`` (error 10028: Deribit ends the session) replaces the connection.
- A refused subscribe (``SubscribeFailed`` for a request this session sent on this connection) is sent
  again after 1, 2, 4 ... 30 s (timer ``subscribe_retry``; private channels only while logged in): a failed
  subscribe is retried, not only logged.
- With credentials, ``instrument.state.{kind}.{currency}`` of each (kind, settlement currency) of the
  instruments is subscribed with their public channels: the codec keeps each book's state (only ``open``
  takes orders since Deribit's book lifecycle of 2026-01-13) and the adapter refuses orders on the others.
- ``subscribe`` of new instruments while the connection is up sends their channels (raw books only once
  logged in; the user.portfolio of a new settlement currency too); while it is down they are kept for the
  next connection. A dropped connection resets the books to SYNCING and forgets the login.
- Dead-man's switch (``dead_mans_switch_s`` > 0, with credentials): a ``SwitchKeeper`` (refresh None: the
  connection holds it) with the parts ``heartbeat`` (the ``public/set_heartbeat`` answer; the interval is
  half the window, at least 10 s, so a hung process is cut within about the window) and ``cod`` (the answer "ok" to
  ``private/enable_cancel_on_disconnect`` with scope connection, sent after the login). Both are lost when
  the connection goes (FAILING until the next connection's answers); a definite refusal is REFUSED; a
  refused login leaves it FAILING. Cancel-on-disconnect covers only orders created via that connection, so
  while the switch is on the adapter sends orders on it (``order_stream``): placements only while ARMED,
  cancels while the connection is logged in (over HTTP otherwise).
- ``order_ids``: venue order ids learnt per client order id (label) from the REST answers, for this
  session's actor, so a cancel by client id can use ``private/cancel`` (which answers the order) instead of
  ``private/cancel_by_label`` (which answers a count). Bounded: the oldest are forgotten first.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Sequence

import msgspec

from messages import (
    AccountConfig,
    BookState,
    ClientOrderId,
    InstrumentId,
    InstrumentKind,
    Message,
    OrderUpdate,
    PositionMode,
    Venue,
    VenueOrderId,
)
from venues import Credentials
from venues.deribit import codes, frames
from venues.deribit.codec import DeribitCodec, SettingAnswered
from venues.deribit.frames import Interval
from venues.errors import SwitchNotArmed
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
from venues.session import Out, Reconnect, Send, SetTimer, StreamSpec, Tops, live_tops
from venues.switch import SwitchKeeper, is_refusal
from venues.symbols import InstrumentRegistry

__all__ = ["DeribitSession", "SessionOptions", "Login", "OrderIds", "MAIN", "REFRESH_AUTH", "SUBSCRIBE_RETRY",
           "HEARTBEAT_PART", "COD_PART", "SWITCH_RETRY"]

MAIN = "main"
REFRESH_AUTH = "refresh_auth"
SUBSCRIBE_RETRY = "subscribe_retry"
SWITCH_RETRY = "switch_retry"
_MAX_IDS = 10_000
_MAX_UNANSWERED = 4096  # subscribes remembered until answered (the codec forgets its pending ones likewise)
_RETRY_CAP_S = 30.0
HEARTBEAT_PART = "heartbeat"
"""The switch's part confirmed by the ``public/set_heartbeat`` answer."""
COD_PART = "cod"
"""The switch's part confirmed by the ``private/enable_cancel_on_disconnect`` answer."""


class _Channels(msgspec.Struct):
    channels: list[str]


class _SubscribeRequest(msgspec.Struct):
    """Our own (un)subscribe frame, read back for its request id and channels."""

    id: int
    method: str
    params: _Channels


_SUBSCRIBE_REQUEST = msgspec.json.Decoder(_SubscribeRequest)


class Login(enum.Enum):
    """Where the current connection stands with ``public/auth``."""

    NONE = "none"  # no credentials, or no connection
    PENDING = "pending"  # auth sent, no answer yet
    LOGGED_IN = "logged_in"
    FAILED = "failed"


class SessionOptions(msgspec.Struct, frozen=True):
    """What the daemon configures for a Deribit connection (``refresh_s`` well inside the access token's
    900 s). ``dead_mans_switch_s`` > 0 turns the dead-man's switch on (cancel-on-disconnect, the heartbeat at
    that interval, orders over the socket); the adapter validates it."""

    url: str
    stale_after_s: float = 1.0
    heartbeat_s: int = 10
    book_interval: Interval = Interval.MS100
    trades: bool = True
    positions_stream: bool = False
    cancel_on_disconnect: bool = False
    resolutions: tuple[str, ...] = ()
    control_rate_per_s: float = 5.0
    refresh_s: float = 300.0
    dead_mans_switch_s: float = 0.0


class OrderIds:
    """Client order id (Deribit label) -> venue order id, the most recent ``limit`` of them."""

    __slots__ = ("_ids", "limit")

    def __init__(self, limit: int = _MAX_IDS) -> None:
        self._ids: OrderedDict[ClientOrderId, VenueOrderId] = OrderedDict()
        self.limit = limit

    def __len__(self) -> int:
        return len(self._ids)

    def learn(self, upd: OrderUpdate) -> OrderUpdate:
        """Remember the update's ids (when it carries both); returns ``upd``."""
        cid, vid = upd.client_order_id, upd.venue_order_id
        if cid is not None and vid is not None:
            self._ids[cid] = vid
            self._ids.move_to_end(cid)
            if len(self._ids) > self.limit:
                self._ids.popitem(last=False)
        return upd

    def venue_id(self, cid: ClientOrderId | None, vid: VenueOrderId | None) -> VenueOrderId | None:
        """``vid`` when given, else the one learnt for ``cid`` (None when neither is known)."""
        return vid if vid is not None else self._ids.get(cid) if cid is not None else None

    def clear(self) -> None:
        self._ids.clear()


class DeribitSession:
    """Args:
        codec: The adapter's codec (shared: it keeps the books and the auth tokens).
        registry: Instruments, for venue symbols and settlement currencies.
        credentials: None for market data only (no auth, no private channels, 100ms books).
        nonce: A fresh random string per call (the auth signature's nonce).
    """

    def __init__(self, codec: DeribitCodec, registry: InstrumentRegistry, options: SessionOptions,
                 credentials: Credentials | None, nonce: Callable[[], str]) -> None:
        self.position_mode = PositionMode.ONE_WAY
        self.switch: SwitchKeeper | None = None  # the dead-man's switch, when configured
        if options.dead_mans_switch_s > 0 and credentials is not None:
            self.switch = SwitchKeeper(Venue.DERIBIT, options.dead_mans_switch_s, refresh_s=None)
            self.switch.require((HEARTBEAT_PART, COD_PART))
        self.codec = codec
        self.registry = registry
        self.options = options
        self.credentials = credentials
        self.nonce = nonce
        self.feed = self._feed
        self.instruments: list[InstrumentId] = []
        self.order_ids = OrderIds()
        self.subscribes_refused = 0  # SubscribeFailed answers (each is retried)
        # -- this connection (reset on connect and disconnect)
        self.up = False
        self.login = Login.NONE
        self._portfolios: set[str] = set()  # settlement currencies whose user.portfolio was subscribed
        self._state_channels: set[str] = set()  # instrument.state channels subscribed on this connection
        self._unanswered: dict[str, tuple[str, ...]] = {}  # subscribe request id -> its channels
        self._retry: list[str] = []  # channels refused, sent again when SUBSCRIBE_RETRY fires
        self._failures = 0  # subscribes refused since the last one accepted
        self._settings_failed: set[str] = set()  # switch parts whose setting failed transiently: sent again
        self._settings_failures = 0

    def _feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        return self.codec.feed(frame if type(frame) is bytes else frame.encode(), ts_recv)  # type: ignore[union-attr]

    # -- connections -------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Out]:
        if self.credentials is None:
            return []
        out: list[Out] = [AccountConfig(venue=Venue.DERIBIT, position_mode=self.position_mode,
                                        ts=now_ms * 1_000_000,
                                        detail="deribit has no hedge mode: one net position per instrument")]
        if self.switch is not None:
            out.append(self.switch.status(now_ms))  # ARMING: configured, not confirmed yet
        return out

    @property
    def _heartbeat_s(self) -> int:
        """The ``public/set_heartbeat`` interval: half the switch's window (whole seconds, at least Deribit's
        minimum of 10), else the configured one. Deribit closes a connection whose ``test_request`` went
        unanswered at the next one, so a hung process is cut within two intervals: the window."""
        window = self.options.dead_mans_switch_s
        return max(10, int(window / 2)) if self.switch is not None else self.options.heartbeat_s

    def order_stream(self, placement: bool) -> str | None:
        """Where an order request goes while the dead-man's switch is on: the socket's stream (cancel-on-
        disconnect covers only orders created via that connection).

        Returns:
            ``MAIN`` when the switch is on and the connection takes the request now (a placement: the switch
            is ARMED; a cancel: the connection is logged in), None when it goes over HTTP (switch off; a
            cancel while the connection is not logged in).

        Raises:
            SwitchNotArmed: a placement while the switch is on and not armed (nothing may leave).
        """
        switch = self.switch
        if switch is None:
            return None
        if placement:
            if not switch.armed or self.login is not Login.LOGGED_IN:
                msg = f"deribit: dead-man's switch {switch.state.value} ({switch.detail}); order not sent"
                raise SwitchNotArmed(msg)
            return MAIN
        return MAIN if self.up and self.login is Login.LOGGED_IN else None

    def streams(self) -> list[StreamSpec]:
        o = self.options
        return [StreamSpec(name=MAIN, private=self.credentials is not None, stale_after_s=o.stale_after_s,
                           control_rate_per_s=o.control_rate_per_s)]

    def url(self, stream: str, now_ms: int) -> str:
        return self.options.url

    def _forget_connection(self, up: bool) -> None:
        self.up = up
        self.login = Login.NONE
        self._portfolios.clear()
        self._state_channels.clear()
        self._unanswered.clear()
        self._retry.clear()
        self._failures = 0
        self._settings_failed.clear()
        self._settings_failures = 0

    def connected(self, stream: str, now_ms: int) -> list[Out]:
        self._forget_connection(up=True)
        out: list[Out] = []
        if self.credentials is not None:
            self.login = Login.PENDING
            out.append(Send(stream=MAIN, frame=self.codec.auth(self.credentials, now_ms, self.nonce())))
        out.append(Send(stream=MAIN, frame=self.codec.set_heartbeat(self._heartbeat_s)))
        return out + self._public(self.instruments, books=not self._raw_waits_for_login())

    def disconnected(self, stream: str, now_ms: int) -> list[Out]:
        self._forget_connection(up=False)
        out: list[Out] = list(self.codec.reset(now_ms * 1_000_000))
        if self.switch is not None:  # the connection held it: gone until the next one's answers
            reason = "the connection went (its cancel-on-disconnect cancels the orders created via it)"
            out += self.switch.lost(COD_PART, reason, now_ms)
            out += self.switch.lost(HEARTBEAT_PART, reason, now_ms)
        return out

    def subscribe(self, instruments: Sequence[InstrumentId], now_ms: int) -> list[Out]:
        new = [i for i in dict.fromkeys(instruments) if i not in self.instruments]
        self.instruments.extend(new)
        if not self.up or not new:
            return []
        out = self._public(new, books=not self._raw_waits_for_login())
        if self.login is Login.LOGGED_IN:
            out += self._private(new, with_user=False)
        return out

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return None  # keep-alive is the venue's heartbeat (test_request -> public/test, from the codec)

    # -- channels ----------------------------------------------------------------------------------
    def _raw_waits_for_login(self) -> bool:
        """Raw books need an authorised connection: they wait while the auth answer is outstanding."""
        return self.options.book_interval is Interval.RAW and self.login is Login.PENDING

    def _book_interval(self) -> Interval:
        interval = self.options.book_interval
        return interval if interval is not Interval.RAW or self.login is Login.LOGGED_IN else Interval.MS100

    def _send_subscribe(self, channels: list[str]) -> list[Out]:
        """A subscribe frame for ``channels`` (none when empty), remembered until it is answered."""
        if not channels:
            return []
        return [self._track(self.codec.subscribe(channels))]

    def _track(self, frame: bytes) -> Send:
        request = _SUBSCRIBE_REQUEST.decode(frame)
        if request.method in (frames.Method.PUBLIC_SUBSCRIBE, frames.Method.PRIVATE_SUBSCRIBE):
            if len(self._unanswered) >= _MAX_UNANSWERED:  # never answered: forget the oldest
                del self._unanswered[next(iter(self._unanswered))]
            self._unanswered[str(request.id)] = tuple(request.params.channels)
        return Send(stream=MAIN, frame=frame)

    def _public(self, instruments: Sequence[InstrumentId], *, books: bool = True, others: bool = True) -> list[Out]:
        """One ``public/subscribe`` for these instruments' books (``books``) and trades and candles (``others``)."""
        o = self.options
        interval = self._book_interval()
        channels: list[str] = []
        for inst in instruments:
            symbol = self.registry.get(Venue.DERIBIT, inst).venue_symbol
            if books:
                channels.append(frames.book_channel(symbol, interval))
            if others:
                if o.trades:
                    channels.append(frames.trades_channel(symbol, Interval.MS100))
                channels.extend(frames.chart_channel(symbol, res) for res in o.resolutions)
        if others and self.credentials is not None:
            channels += self._instrument_states(instruments)
        return self._send_subscribe(channels)

    def _instrument_states(self, instruments: Sequence[InstrumentId]) -> list[str]:
        """The ``instrument.state`` channels of these instruments this connection does not have yet."""
        wanted: list[str] = []
        for inst in instruments:
            i = self.registry.get(Venue.DERIBIT, inst)
            kind = "future" if i.kind in (InstrumentKind.PERPETUAL, InstrumentKind.FUTURE) else i.kind.value
            channel = frames.instrument_state_channel(kind, i.settle)
            if channel not in self._state_channels:
                self._state_channels.add(channel)
                wanted.append(channel)
        return wanted

    def _private(self, instruments: Sequence[InstrumentId], *, with_user: bool) -> list[Out]:
        """One ``private/subscribe``: orders and fills (``with_user``) and the user.portfolio of every
        settlement currency of ``instruments`` this connection does not have yet."""
        channels: list[str] = []
        if with_user:
            if self.options.positions_stream:
                channels.append(frames.user_changes_kind_channel("any", "any"))
            else:
                channels += [frames.user_orders_kind_channel("any", "any"),
                             frames.user_trades_kind_channel("any", "any")]
        settle = sorted({self.registry.get(Venue.DERIBIT, i).settle for i in instruments} - self._portfolios)
        self._portfolios.update(settle)
        channels += [frames.user_portfolio_channel(c) for c in settle]
        return self._send_subscribe(channels)

    # -- what comes back ---------------------------------------------------------------------------
    def on_event(self, event: CodecEvent, stream: str, now_ms: int) -> list[Out]:
        match event:
            case SendFrame(frame=frame):
                return [Send(stream=MAIN, frame=frame)]
            case NeedResubscribe(instrument=inst):
                if not self.up:
                    return []  # the next connection subscribes every book afresh
                unsub, sub = (self._track(f) for f in self.codec.resubscribe_frames(inst))
                # Keyed per book: the actor's resync queue holds one resubscribe per book while it waits; the
                # first frame counts as a book resync.
                return [msgspec.structs.replace(unsub, key=f"unsubscribe {inst}", resync=True),
                        msgspec.structs.replace(sub, key=f"subscribe {inst}")]
            case StreamExpired(reason=reason):
                return [Reconnect(stream=MAIN, reason=reason)]
            case SettingAnswered():
                return self._setting_answered(event, now_ms)
            case LoggedIn():
                return self._logged_in()
            case LoginFailed(code=code, text=text):
                return self._login_failed(code, text, now_ms)
            case Subscribed(request_id=rid):
                if self._unanswered.pop(rid, None) is not None:
                    self._failures = 0
            case SubscribeFailed(request_id=rid):
                return self._subscribe_failed(rid)
        return []

    def _logged_in(self) -> list[Out]:
        if self.login is not Login.PENDING:
            return []  # a refresh answered (or a stray answer): this connection is already set up
        raw_waiting = self._raw_waits_for_login()
        self.login = Login.LOGGED_IN
        out: list[Out] = []
        if self.options.cancel_on_disconnect or self.switch is not None:
            out.append(Send(stream=MAIN, frame=self.codec.enable_cancel_on_disconnect("connection")))
        out += self._private(self.instruments, with_user=True)
        if raw_waiting:
            out += self._public(self.instruments, others=False)
        out.append(SetTimer(key=REFRESH_AUTH, after_s=self.options.refresh_s))
        return out

    def _login_failed(self, code: str, text: str, now_ms: int) -> list[Out]:
        if self.login is Login.LOGGED_IN:  # the refresh was refused: log in afresh on a new connection
            return [Reconnect(stream=MAIN, reason=f"deribit session refresh refused: {code} {text}"[:200])]
        if self.login is not Login.PENDING:
            return []
        raw_waiting = self._raw_waits_for_login()
        self.login = Login.FAILED
        out: list[Out] = []
        if self.switch is not None:  # no login, no cancel-on-disconnect on this connection (not a refusal of it)
            out += self.switch.lost(COD_PART, f"login failed: {code} {text}", now_ms)
        if raw_waiting:
            out += self._public(self.instruments, others=False)  # raw -> 100ms books
        return out

    def _setting_answered(self, answer: SettingAnswered, now_ms: int) -> list[Out]:
        """The heartbeat's or cancel-on-disconnect's answer on this connection: the switch's part holds, or not."""
        switch = self.switch
        if switch is None or not self.up:
            return []
        part = COD_PART if answer.method == frames.Method.ENABLE_COD else HEARTBEAT_PART
        if answer.ok:
            self._settings_failures = 0
            detail = f"cancel-on-disconnect on this connection, heartbeat {self._heartbeat_s} s"
            return switch.confirmed(part, now_ms, detail)
        error = codes.make_error(answer.code, answer.text) if answer.code else None
        if error is not None and is_refusal(error):  # a parameter, a permission: final for this session
            return switch.failed(part, error, now_ms)
        # Transient (rate limit, maintenance) or an answer that is not "ok": sent again after 1, 2, 4 ... 30 s.
        out = switch.lost(part, f"{part}: {error if error is not None else answer.text}", now_ms)
        self._settings_failed.add(part)
        self._settings_failures += 1
        return [*out, SetTimer(key=SWITCH_RETRY, after_s=min(_RETRY_CAP_S, 2.0 ** (self._settings_failures - 1)))]

    def _subscribe_failed(self, rid: str) -> list[Out]:
        self.subscribes_refused += 1
        channels = self._unanswered.pop(rid, None)
        if channels is None or not self.up:
            return []
        self._retry.extend(channels)
        self._failures += 1
        return [SetTimer(key=SUBSCRIBE_RETRY, after_s=min(_RETRY_CAP_S, 2.0 ** (self._failures - 1)))]

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]:
        return []  # Deribit's session fetches nothing

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]:
        return []

    def timer(self, key: str, now_ms: int) -> list[Out]:
        if not self.up:
            return []  # the next connection subscribes and logs in afresh, and sets its timers
        if key == REFRESH_AUTH:
            if self.login is not Login.LOGGED_IN or self.codec.access_token is None:
                return []
            return [Send(stream=MAIN, frame=self.codec.refresh_auth()),
                    SetTimer(key=REFRESH_AUTH, after_s=self.options.refresh_s)]
        if key == SWITCH_RETRY:
            parts, self._settings_failed = self._settings_failed, set()
            out: list[Out] = []
            if HEARTBEAT_PART in parts:
                out.append(Send(stream=MAIN, frame=self.codec.set_heartbeat(self._heartbeat_s)))
            if COD_PART in parts and self.login is Login.LOGGED_IN:
                out.append(Send(stream=MAIN, frame=self.codec.enable_cancel_on_disconnect("connection")))
            return out
        if key == SUBSCRIBE_RETRY:
            channels, self._retry = list(dict.fromkeys(self._retry)), []
            public = [c for c in channels if not c.startswith("user.")]
            private = [c for c in channels if c.startswith("user.")] if self.login is Login.LOGGED_IN else []
            return self._send_subscribe(public) + self._send_subscribe(private)
        return []

    # -- books -------------------------------------------------------------------------------------
    def book_live(self, instrument: InstrumentId) -> bool:
        return self.codec.book_state(instrument) is BookState.LIVE

    def top_of_books(self, depth: int) -> Tops:
        return live_tops(self.codec, self.instruments, depth)
