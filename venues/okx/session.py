"""OkxSession: what an OKX v5 connection set must remember, sans-IO (see venues/session.py).

Rules (OKX docs, /work/shared/PROTOCOLS.md section 3):
- Streams: ``public`` (``/ws/v5/public``) carries ``books`` (+ ``trades``) for every instrument, batched
  50 args per subscribe frame (each frame is one of 480 ops / connection / hour); its liveness is data
  (``stale_after_s``). ``private`` (``/ws/v5/private``, only with credentials) sends ``op:login`` on
  connect (timestamp in epoch SECONDS from the ``now_ms`` it is given, which the actor offset-corrects) and
  nothing else: orders / positions / account are subscribed when the login ack (``LoggedIn``) arrives,
  because OKX refuses private subscriptions sent before the login is confirmed. The private stream is
  quiet when idle, so its liveness is the keep-alive and a protocol heartbeat, not a data timer. With
  klines, ``business`` (``/ws/v5/business``) carries ``candle<bar>`` per instrument (OKX serves candles
  only there); candles only move with trades, so it too is kept by the keep-alive, not a data timer.
- One login per connection: ``login_sent`` and the acked ``private_channels`` belong to the current private
  connection and are forgotten when it goes away; a new instrument (``subscribe``) never logs in again.
- Keep-alive: the literal text ``ping`` every ``ping_interval_s`` (< 30 s, the server's idle limit) on
  every stream, answered by ``pong``; a server ``ping`` is answered with ``pong`` (``SendFrame``). OKX has
  no listenKey or token to extend: the one timer is the account-config refresh below.
- Books (books.py has the rules): the codec uses OKX's WS snapshot when one comes; when none comes (OKX
  announced removing it, changelog of 2026-02-12) and after every gap or crossed book it asks for OKX's
  REST bootstrap (``NeedSnapshot``), answered here by ``Fetch`` GET /api/v5/market/books?sz=
  ``snapshot_depth`` keyed per book (the actor's resync queue takes one per book while it waits there and
  counts it as a book resync), whose answer goes back to the codec (``apply_snapshot``); a failed fetch
  asks again after the queue's backoff. Never a resubscribe: each would cost 2 of the 480 ops per
  connection-hour.
- Position mode (OKX v5 docs, GET /api/v5/account/config ``posMode``: ``net_mode`` / ``long_short_mode``):
  with credentials ``start`` reads it before any stream opens, sets ``position_mode`` (the request builders
  put ``posSide`` on orders by it) and publishes ``AccountConfig``; it is read again every
  ``config_refresh_s``, on every private reconnect and at the first event after a placement was refused for
  its posSide (``position_side_refused``, from the adapter); a private orders/positions row whose
  ``posSide`` shows the other mode changes it at once (the codec's ``AccountConfig``). Every change is
  published.
- A venue ``notice`` (``StreamExpired``: service upgrade) replaces that connection.
- Placements: the private ``orders`` pushes often overtake the REST answer. ``feed`` remembers the latest
  state of each client order id seen on the private stream (the last ``RECENT_ORDERS``), and
  ``recent_order`` gives it to the adapter's ``parse_place``, so the bus never sees an order step back from
  FILLED to SUBMITTED. Only private frames pay for that.
- Dead-man's switch (OKX v5 "POST / Cancel All After"; venues/switch.py keeps the state): with
  ``dead_mans_switch_s`` > 0 and credentials, ``start`` and every refresh round (``switch_refresh_s``,
  default a third of the window, the keeper's ``switch:refresh`` timer beside the config timer) send
  ``timeOut`` = the window as an urgent ``Fetch`` (beside the resync queue). An answer with a non-zero
  ``triggerTime`` confirms it (ARMED); ``triggerTime`` 0 (OKX says the timer is off) refuses it; a
  definite OKX error refuses it (REFUSED, its code in the detail, no more rounds), a transient one (rate
  limit, 5xx, clock) leaves it FAILING until a later round confirms it. A round that finds the last
  confirmation older than window - 1.5 x refresh (a round went unanswered) calls it lost first: OKX's
  timer may run out and, once fired, stays off until set again, so no order leaves (FAILING) until a
  round confirms it. The switch is never switched off here: when we stop, OKX cancels what we left.
- Hot path: ``feed`` is the codec's feed plus a str -> bytes encode (aiohttp gives text frames as str)
  and, on the private stream only, the order-state memo.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import msgspec

from messages import (
    AccountConfig,
    BookState,
    ClientOrderId,
    InstrumentId,
    Message,
    OrderUpdate,
    PositionMode,
    SwitchState,
    Venue,
)
from venues import Credentials
from venues.events import CodecEvent, LoggedIn, NeedSnapshot, SendFrame, StreamExpired, Subscribed
from venues.http import Response
from venues.okx import frames, rest
from venues.okx.codec import OkxCodec
from venues.okx.frames import Channel, SubscriptionArg
from venues.session import Fetch, Out, Reconnect, Send, SetTimer, StreamSpec, Tops, live_tops
from venues.switch import REFRESH, SwitchKeeper
from venues.symbols import InstrumentRegistry

__all__ = ["OkxSession", "SessionOptions", "RECENT_ORDERS", "SUBSCRIBE_BATCH"]

SUBSCRIBE_BATCH = 50  # args per subscribe frame (each frame is one of 480 ops / connection / hour)
RECENT_ORDERS = 4096  # private-stream order states remembered for parse_place
_LIVE = BookState.LIVE
_CONFIG = "account config"
_SNAPSHOT = "snapshot "
_CAA = "cancel-all-after"  # the switch's one part: OKX's account-level timer
_POS_MODE_NAMES = {PositionMode.ONE_WAY: "net_mode", PositionMode.HEDGE: "long_short_mode"}


class SessionOptions(msgspec.Struct, frozen=True):
    """What the daemon configures for an OKX connection set.

    ``ws``: stream name (public, private, business) -> URL; ``bars``: OKX candle bars ("1m", "1H", "1Dutc")
    subscribed per instrument on ``business``; ``inst_type``: the instType of the private orders / positions
    subscriptions; ``snapshot_depth``: levels a side of a REST bootstrap (400: the ``books`` channel's
    depth); ``config_refresh_s``: how often the account config is read again (0: only at start and after a
    refused posSide); ``demo``: OKX demo trading (REST requests carry ``x-simulated-trading: 1``);
    ``dead_mans_switch_s``: OKX's Cancel All After ``timeOut`` (0: off; else whole seconds, 10..120, checked by
    the adapter); ``switch_refresh_s``: how often it is sent again (0: a third of the window).
    """

    ws: dict[str, str]
    stale_after_s: float = 1.0
    ping_interval_s: float = 20.0
    private_heartbeat_s: float = 20.0
    trades: bool = True
    bars: tuple[str, ...] = ()
    inst_type: str = "SWAP"
    snapshot_depth: int = 400
    config_refresh_s: float = 60.0
    demo: bool = False
    dead_mans_switch_s: float = 0.0
    switch_refresh_s: float = 0.0


class OkxSession:
    """One actor incarnation's OKX connections: login, subscriptions, book bootstraps, the account's position
    mode, the order-state memo.

    Args:
        codec: the adapter's codec (it keeps the books; shared with ``book_state_live``).
        registry: instruments, for venue symbols.
        credentials: None: no private stream.
    """

    def __init__(self, codec: OkxCodec, registry: InstrumentRegistry, options: SessionOptions,
                 credentials: Credentials | None) -> None:
        self.position_mode = PositionMode.ONE_WAY
        self.switch: SwitchKeeper | None = None  # the dead-man's switch, when configured (and we can trade)
        window = options.dead_mans_switch_s
        if window > 0 and credentials is not None:
            self.switch = SwitchKeeper(Venue.OKX, window, options.switch_refresh_s or window / 3)
        self.codec = codec
        self.registry = registry
        self.options = options
        self.credentials = credentials
        self.feed = self._feed
        self._codec_feed = codec.feed
        self.instruments: list[InstrumentId] = []
        self.up: set[str] = set()
        self.login_sent = False  # on the current private connection
        self.private_channels: set[str] = set()  # acked on the current private connection
        self._recent: OrderedDict[ClientOrderId, OrderUpdate] = OrderedDict()
        self._config_read = False  # the account config was read once (the first AccountConfig goes out always)
        self._config_stale = False  # a placement was refused for its posSide: read the config again

    # -- hot path ----------------------------------------------------------------------------------
    def _feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        out = self._codec_feed(frame.encode() if isinstance(frame, str) else frame, ts_recv)
        if stream == "private" and out:
            self._remember(out)
        return out

    def _remember(self, out: list[Message | CodecEvent]) -> None:
        recent = self._recent
        for o in out:
            if type(o) is OrderUpdate and o.client_order_id is not None:
                recent[o.client_order_id] = o
                recent.move_to_end(o.client_order_id)
                if len(recent) > RECENT_ORDERS:
                    recent.popitem(last=False)
            elif type(o) is AccountConfig:
                self.position_mode = o.position_mode  # a push showed the other mode (the codec's notice)

    def recent_order(self, client_order_id: ClientOrderId) -> OrderUpdate | None:
        """The latest state of that order the private stream delivered (None: not seen, or forgotten)."""
        return self._recent.get(client_order_id)

    # -- the account -------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Out]:
        """With credentials: arm the dead-man's switch when configured (an urgent fetch: it runs while the
        config is read), read the account config (position mode) before any stream opens, and again every
        ``config_refresh_s``."""
        if self.credentials is None:
            return []
        out: list[Out] = self._switch_round(now_ms)
        out.append(self._config_fetch(now_ms))
        if self.options.config_refresh_s > 0:
            out.append(SetTimer(key=_CONFIG, after_s=self.options.config_refresh_s))
        return out

    def position_side_refused(self) -> None:
        """OKX refused a placement for its posSide (51000): the account's mode may have changed; the config
        is read again at the next event (the adapter calls this; it cannot ask for a fetch itself)."""
        self._config_stale = True

    def _config_fetch(self, now_ms: int) -> Fetch:
        assert self.credentials is not None
        return Fetch(key=_CONFIG, spec=rest.account_config(self.credentials, now_ms, demo=self.options.demo))

    def _config_read_ok(self, mode: PositionMode, now_ms: int) -> list[Out]:
        """The config's position mode: set it; an AccountConfig the first time and on every change."""
        first = not self._config_read
        self._config_read = True
        self._config_stale = False
        self.codec.position_mode = mode
        if mode is self.position_mode and not first:
            return []
        self.position_mode = mode
        detail = f"GET /api/v5/account/config: posMode {_POS_MODE_NAMES[mode]}"
        return [AccountConfig(venue=Venue.OKX, position_mode=mode, ts=now_ms * 1_000_000, detail=detail)]

    # -- the dead-man's switch (Cancel All After) ----------------------------------------------------
    def _switch_round(self, now_ms: int) -> list[Out]:
        """One arming / refresh round: Cancel All After with ``timeOut`` = the window, and the next round's
        timer. First, a last confirmation older than window - 1.5 x refresh is lost: OKX's timer may run
        out (and then stay off) before another answer could confirm it, so orders wait (FAILING)."""
        sw = self.switch
        if sw is None or self.credentials is None:
            return []
        out: list[Out] = []
        assert sw.refresh_s is not None
        age = (now_ms - sw.refreshed_ms) / 1000
        if sw.refreshed_ms and age > sw.window_s - 1.5 * sw.refresh_s:
            out += sw.lost(_CAA, f"{_CAA}: last confirmed {age:.1f} s ago; OKX's timer ({sw.window_s:.0f} s) may "
                                 f"run out before another confirmation", now_ms)
        spec = rest.cancel_all_after(self.credentials, now_ms, int(sw.window_s), demo=self.options.demo)
        return out + sw.round([(_CAA, spec)])

    def _switch_answer(self, part: str, response: Response, now_ms: int) -> list[Out]:
        """OKX's answer: a non-zero ``triggerTime`` confirms the switch; 0 (the timer is off) refuses it.

        Raises:
            VenueReject, DecodeError: the answer is an error or unreadable (the actor calls ``failed``).
        """
        assert self.switch is not None
        ack = rest.parse_cancel_all_after(response)
        window = int(self.switch.window_s)
        if ack.trigger_ms == 0:
            return self.switch.refuse(f"{part}: OKX answered triggerTime 0 (Cancel All After disabled) to timeOut "
                                      f"{window}", now_ms)
        detail = (f"{part}: timeOut {window} s, OKX cancels every pending order at triggerTime {ack.trigger_ms} "
                  f"unless refreshed")
        return self.switch.confirmed(part, now_ms, detail)

    # -- connections -------------------------------------------------------------------------------
    def streams(self) -> list[StreamSpec]:
        o = self.options
        out = [StreamSpec(name="public", stale_after_s=o.stale_after_s, ping_interval_s=o.ping_interval_s,
                          control_rate_per_s=4.0)]
        if self.credentials is not None:
            out.append(StreamSpec(name="private", private=True, ping_interval_s=o.ping_interval_s,
                                  protocol_heartbeat_s=o.private_heartbeat_s, control_rate_per_s=4.0))
        if o.bars:
            out.append(StreamSpec(name="business", ping_interval_s=o.ping_interval_s, control_rate_per_s=4.0))
        return out

    def url(self, stream: str, now_ms: int) -> str:
        return self.options.ws[stream]

    def connected(self, stream: str, now_ms: int) -> list[Out]:
        """Public / business: their subscriptions; private: the login only (subscriptions follow its ack), and
        after a reconnect the account config again (the mode may have changed while we were away)."""
        self.up.add(stream)
        if stream == "private":
            if self.login_sent or self.credentials is None:
                return []
            self.login_sent = True
            login = Send(stream=stream, frame=frames.login(self.credentials, now_ms // 1000))
            return [login, self._config_fetch(now_ms)] if self._config_read else [login]
        return self._subscriptions(stream, self.instruments)

    def disconnected(self, stream: str, now_ms: int) -> list[Out]:
        """The connection's state goes with it: public books back to SYNCING, private login and acks."""
        self.up.discard(stream)
        if stream == "public":
            return list(self.codec.reset(now_ms * 1_000_000))
        if stream == "private":
            self.login_sent = False
            self.private_channels.clear()
        return []

    def subscribe(self, instruments: Sequence[InstrumentId], now_ms: int) -> list[Out]:
        """Track more instruments; subscribe them now on the market-data streams that are up."""
        new = [i for i in dict.fromkeys(instruments) if i not in self.instruments]
        self.instruments.extend(new)
        return [s for stream in ("public", "business") if stream in self.up for s in self._subscriptions(stream, new)]

    def _subscriptions(self, stream: str, instruments: Sequence[InstrumentId]) -> list[Out]:
        args: list[SubscriptionArg] = []
        if stream == "public":
            for inst in instruments:
                symbol = self._symbol(inst)
                args.append(SubscriptionArg(channel=Channel.BOOKS, instId=symbol))
                if self.options.trades:
                    args.append(SubscriptionArg(channel=Channel.TRADES, instId=symbol))
        elif stream == "business":
            args = [SubscriptionArg(channel=frames.candle_channel(bar), instId=self._symbol(inst))
                    for inst in instruments for bar in self.options.bars]
        return [Send(stream=stream, frame=frames.subscribe(args[i : i + SUBSCRIBE_BATCH]))
                for i in range(0, len(args), SUBSCRIBE_BATCH)]

    def _private_args(self) -> list[SubscriptionArg]:
        inst_type = self.options.inst_type
        return [
            SubscriptionArg(channel=Channel.ORDERS, instType=inst_type),
            SubscriptionArg(channel=Channel.POSITIONS, instType=inst_type),
            SubscriptionArg(channel=Channel.ACCOUNT),
        ]

    def _symbol(self, instrument: InstrumentId) -> str:
        return self.registry.get(Venue.OKX, instrument).venue_symbol

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return frames.PING

    # -- what comes back ---------------------------------------------------------------------------
    def on_event(self, event: CodecEvent, stream: str, now_ms: int) -> list[Out]:
        out: list[Out] = []
        if self._config_stale and self.credentials is not None:
            self._config_stale = False
            out.append(self._config_fetch(now_ms))
        match event:
            case NeedSnapshot(instrument=inst):
                spec = rest.order_book(self._symbol(inst), self.options.snapshot_depth, demo=self.options.demo)
                out.append(Fetch(key=_SNAPSHOT + inst, spec=spec, resync=True))
            case LoggedIn() if stream == "private":
                out.append(Send(stream=stream, frame=frames.subscribe(self._private_args())))
            case Subscribed(channels=channels) if stream == "private":
                self.private_channels.update(channels)
            case SendFrame(frame=frame):
                out.append(Send(stream=stream, frame=frame))
            case StreamExpired(reason=reason):
                out.append(Reconnect(stream=stream, reason=reason))
        return out

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]:
        """A book's REST snapshot goes to the codec; the account config sets the position mode.

        Raises:
            VenueReject, DecodeError: the answer is an error or cannot be read (the actor's resync queue
                counts the failure, backs off and calls ``failed``).
        """
        if key.startswith(_SNAPSHOT):
            return list(self.codec.apply_snapshot(InstrumentId(key[len(_SNAPSHOT):]), response, now_ms * 1_000_000))
        if key == _CONFIG:
            return self._config_read_ok(rest.parse_account_config(response), now_ms)
        if self.switch is not None and SwitchKeeper.owns(key):
            return self._switch_answer(SwitchKeeper.part(key), response, now_ms)
        return []

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]:
        """A failed snapshot is asked for again (after the resync queue's backoff); a failed config read
        waits for the next refresh (at start the actor fails, clearly); a failed switch call goes to the
        keeper (a definite refusal: REFUSED; anything else: FAILING until a round confirms it)."""
        if key.startswith(_SNAPSHOT):
            return [NeedSnapshot(instrument=InstrumentId(key[len(_SNAPSHOT):]), reason=f"snapshot retry: {error}")]
        if self.switch is not None and SwitchKeeper.owns(key):
            return self.switch.failed(SwitchKeeper.part(key), error, now_ms)
        return []

    def timer(self, key: str, now_ms: int) -> list[Out]:
        """The periodic account-config read and the switch's refresh round (none once OKX refused it)."""
        if self.credentials is None:
            return []
        if key == _CONFIG:
            return [self._config_fetch(now_ms), SetTimer(key=_CONFIG, after_s=self.options.config_refresh_s)]
        if key == REFRESH and self.switch is not None and self.switch.state is not SwitchState.REFUSED:
            return self._switch_round(now_ms)
        return []

    # -- books -------------------------------------------------------------------------------------
    def book_live(self, instrument: InstrumentId) -> bool:
        return self.codec.book_state(instrument) is _LIVE

    def top_of_books(self, depth: int) -> Tops:
        return live_tops(self.codec, self.instruments, depth)
