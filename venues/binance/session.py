"""BinanceSession: what a Binance USD-M connection set must remember, sans-IO (see venues/session.py).

Rules (Binance USD-M docs; /work/shared/PROTOCOLS.md section 1; venues/binance/PROTOCOL.md):
- Start (with credentials): GET /fapi/v1/positionSide/dual before any stream opens; the mode is kept in
  ``position_mode`` (place_order reads it through the actor's context) and published as an AccountConfig.
  The venue pushes no event when the mode changes (ACCOUNT_CONFIG_UPDATE carries leverage and the
  Multi-Assets mode only) and refuses a change while positions or orders are open, so the first sign of a
  change is an order refused with -4061 ("position side does not match user's setting"): the adapter
  reports it (``position_side_refused``), the session's mode watch (a timer every ``mode_check_s``, 1 s,
  armed at start) reads the mode again, and a new AccountConfig is published when it changed.
- Streams by category (frames.ROUTES): ``public`` carries the books (one depth SUBSCRIBE per book),
  ``market`` the trades and klines when wanted (in chunks of 50 names), ``private`` the user data with
  credentials. Every subscription goes out on the connection of its stream's category, never elsewhere:
  the venue would accept it there and deliver nothing. Routed production URLs are ``<base>/ws`` and
  ``<base>/ws?listenKey=<key>``; the testnet's legacy ones ``<base>/ws`` and ``<base>/ws/<key>``.
- listenKey: every private connect starts with ``POST /fapi/v1/listenKey`` (it answers the live key while
  one exists, a new one otherwise), so ``url("private")`` asks for that fetch when the key in hand was
  already used by a connection. While the private stream is up, ``PUT`` keeps the key alive every
  ``keepalive_s`` (30 min; keys live 60); a refused keep-alive (-1125, the key is gone) replaces the
  private connection, which creates a new key. ``listenKeyExpired`` (StreamExpired from the codec) does
  the same.
- Balances: ACCOUNT_UPDATE carries no free margin (``cw`` is the cross wallet balance), so a BalancesChanged
  notice schedules one GET /fapi/v3/balance ``balance_refresh_s`` later (a burst of fills costs one read,
  5 weight), whose Balances (``availableBalance`` as available) are published.
- Books: the codec asks for a REST depth snapshot (NeedSnapshot) to start or resync a book; the fetch is
  serial (one resync queue per venue) and its answer goes back to the codec, which aligns it with the
  buffered stream (``U <= lastUpdateId + 1 <= u``, then ``pu`` chains).
- Liveness: the public stream carries depth continuously (data timer ``stale_after_s``); the private one
  is quiet when idle, so a protocol heartbeat watches it instead. The server pings every 3 minutes.
- Dead-man's switch (``dead_mans_switch_s`` > 0, with credentials; venues/switch.py): one part per traded
  symbol, each a ``POST /fapi/v1/countdownCancelAll`` with ``countdownTime`` = the window in ms. ``start``
  sends one per subscribed symbol, every ``switch:refresh`` timer (a third of the window: the venue wants
  it "called repeatedly as heartbeats") sends them all again, and a symbol subscribed later starts a full
  round at once (which also restarts the timer). A part is confirmed only by an answer echoing our symbol
  and countdownTime; any other echo refuses the switch (the venue holds a countdown we did not ask for). A
  refused switch sends nothing more. ``switch_covers(symbol)``: an order may go to that symbol (no switch,
  or its countdown confirmed).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from messages import AccountConfig, InstrumentId, Message, PositionMode, SwitchState, Venue
from venues import Credentials
from venues.binance import frames, rest
from venues.binance.codec import BalancesChanged, BinanceCodec
from venues.errors import VenueReject
from venues.events import CodecEvent, NeedSnapshot, SendFrame, StreamExpired
from venues.http import Response
from venues.session import Fetch, Out, Reconnect, Send, SetTimer, StreamSpec, Tops, live_tops
from venues.switch import REFRESH, SwitchKeeper
from venues.symbols import InstrumentRegistry

__all__ = ["BinanceSession", "SessionOptions"]

_SUBSCRIBE_CHUNK = 50  # stream names per SUBSCRIBE frame
_LISTEN_KEY = "listen_key"
_KEEPALIVE = "listen_key_keepalive"
_POSITION_MODE = "position_mode"
_MODE_WATCH = "position_mode_watch"
_BALANCES = "balances"
_SNAPSHOT = "snapshot "
_NS = 1_000_000  # ns per ms
_HEARTBEATS_PER_WINDOW = 3  # countdownCancelAll is sent again every third of the window


class SessionOptions(msgspec.Struct, frozen=True):
    """What the daemon configures for a Binance connection set."""

    ws: dict[str, str]
    ws_routing: str = "routed"
    depth_speed_ms: int = 100
    stale_after_s: float = 1.0
    snapshot_limit: int = 1000
    trades: bool = True
    klines: tuple[str, ...] = ()
    keepalive_s: float = 30 * 60.0
    balance_refresh_s: float = 1.0
    mode_check_s: float = 1.0
    dead_mans_switch_s: float = 0.0  # countdownCancelAll window (0: off); the adapter checks its range


class BinanceSession:
    def __init__(self, codec: BinanceCodec, registry: InstrumentRegistry, options: SessionOptions,
                 credentials: Credentials | None) -> None:
        self.position_mode = PositionMode.ONE_WAY
        self.switch: SwitchKeeper | None = None  # the dead-man's switch, when configured
        self.codec = codec
        self.registry = registry
        self.options = options
        self.credentials = credentials
        self.feed = self._feed
        self.instruments: list[InstrumentId] = []
        self.up: set[str] = set()
        self.listen_key: str | None = None
        self._key_used = True  # the key in hand served a connection already: fetch again before the next
        self._recheck: str | None = None  # why the position mode must be read again (set by the adapter)
        self._balances_due = False  # a balance read is scheduled
        self._mode_read = False  # the position mode was read once (and published)
        self._switch_started = False  # the first countdown round went out (later symbols start their own)
        window = options.dead_mans_switch_s
        if window > 0 and credentials is not None:  # without credentials: market data only, nothing to cancel
            self.switch = SwitchKeeper(Venue.BINANCE, window, window / _HEARTBEATS_PER_WINDOW)

    def _feed(self, stream: str, frame: bytes | str, ts_recv: int) -> list[Message | CodecEvent]:
        return self.codec.feed(frame, ts_recv)

    def position_side_refused(self, text: str) -> None:
        """The venue answered -4061 to an order: the account's mode may have changed since it was read; the
        mode watch reads it again."""
        self._recheck = f"an order's position side was refused: {text}"

    # -- connections -------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Out]:
        if self.credentials is None:
            return []
        self._switch_started = True
        return [*self._countdowns(now_ms),  # urgent: they fly beside the position-mode read
                Fetch(key=_POSITION_MODE, spec=rest.position_mode(self.credentials, now_ms)),
                SetTimer(key=_MODE_WATCH, after_s=self.options.mode_check_s)]

    # -- dead-man's switch -------------------------------------------------------------------------
    def _countdowns(self, now_ms: int) -> list[Out]:
        """One round: a countdownCancelAll per traded symbol (urgent fetches), then the next round's timer."""
        sw = self.switch
        if sw is None or self.credentials is None or sw.state is SwitchState.REFUSED:
            return []
        creds, window_ms = self.credentials, round(sw.window_s * 1000)
        symbols = [self.registry.get(Venue.BINANCE, inst).venue_symbol for inst in self.instruments]
        return sw.round((sym, rest.countdown_cancel_all(sym, window_ms, creds, now_ms)) for sym in symbols)

    def _countdown_set(self, symbol: str, response: Response, now_ms: int) -> list[Out]:
        """A countdownCancelAll answer: the part holds only if the venue echoes our symbol and window.

        Raises:
            VenueReject, DecodeError: an error answer or an unreadable one (the actor hands it to ``failed``).
        """
        sw = self.switch
        assert sw is not None
        echoed, countdown_ms = rest.parse_countdown(response)
        window_ms = round(sw.window_s * 1000)
        if echoed != symbol or countdown_ms != window_ms:
            return sw.refuse(f"{symbol}: countdownCancelAll asked countdownTime={window_ms} for {symbol}, the "
                             f"venue answered countdownTime={countdown_ms} for {echoed!r}", now_ms)
        detail = (f"countdownCancelAll {window_ms} ms on {', '.join(sorted(sw.ok | {symbol}))}, "
                  f"sent again every {sw.refresh_s or 0:.1f} s")
        return sw.confirmed(symbol, now_ms, detail)

    def switch_covers(self, symbol: str) -> bool:
        """Whether an order may go to ``symbol`` as far as the switch goes: none configured, or the symbol's
        countdown confirmed (a symbol never subscribed has none: nothing would cancel its orders)."""
        return self.switch is None or symbol in self.switch.ok

    def _stream_names(self, symbol: str) -> list[str]:
        """Every stream of one instrument, books included."""
        o = self.options
        names = [frames.depth_stream(symbol, o.depth_speed_ms)]
        if o.trades:
            names.append(frames.agg_trade_stream(symbol))
        names.extend(frames.kline_stream(symbol, interval) for interval in o.klines)
        return names

    def streams(self) -> list[StreamSpec]:
        o = self.options
        routes = {frames.route_for(name) for name in self._stream_names("btcusdt")}
        out = [StreamSpec(name=route.value, stale_after_s=o.stale_after_s if route == frames.Route.PUBLIC else None,
                          control_rate_per_s=4.0)
               for route in (frames.Route.PUBLIC, frames.Route.MARKET) if route in routes]
        if self.credentials is not None:
            out.append(StreamSpec(name=frames.Route.PRIVATE.value, private=True, protocol_heartbeat_s=30.0))
        return out

    def url(self, stream: str, now_ms: int) -> str | Fetch:
        base = self.options.ws[stream]
        if stream != frames.Route.PRIVATE:
            return f"{base}/ws"
        if self.credentials is None:
            msg = "the private stream needs credentials"
            raise ValueError(msg)
        if self.listen_key is None or self._key_used:
            return Fetch(key=_LISTEN_KEY, spec=rest.create_listen_key(self.credentials))
        self._key_used = True
        if self.options.ws_routing == "legacy":
            return f"{base}/ws/{self.listen_key}"
        return f"{base}/ws?listenKey={self.listen_key}"

    def connected(self, stream: str, now_ms: int) -> list[Out]:
        self.up.add(stream)
        if stream == frames.Route.PRIVATE:
            return [SetTimer(key=_KEEPALIVE, after_s=self.options.keepalive_s)]
        return self._subscriptions(stream, self.instruments)

    def disconnected(self, stream: str, now_ms: int) -> list[Out]:
        self.up.discard(stream)
        return list(self.codec.reset(now_ms * _NS)) if stream == frames.Route.PUBLIC else []

    def subscribe(self, instruments: Sequence[InstrumentId], now_ms: int) -> list[Out]:
        new = [i for i in instruments if i not in self.instruments]
        self.instruments.extend(new)
        out: list[Out] = [f for stream in (frames.Route.PUBLIC, frames.Route.MARKET) if stream in self.up
                          for f in self._subscriptions(stream, new)]
        if new and self._switch_started:  # a full round: the new symbols' countdowns, the timer restarted
            out.extend(self._countdowns(now_ms))
        return out

    def _subscriptions(self, stream: str, instruments: Sequence[InstrumentId]) -> list[Out]:
        """The SUBSCRIBE frames for the streams of ``instruments`` whose category is ``stream``."""
        speed = self.options.depth_speed_ms
        out: list[Out] = []
        names: list[str] = []
        for inst in instruments:
            symbol = self.registry.get(Venue.BINANCE, inst).venue_symbol
            for name in self._stream_names(symbol):
                if frames.route_for(name) != stream:
                    continue
                if name == frames.depth_stream(symbol, speed):  # a book: the codec tracks it from here
                    out.append(Send(stream=stream, frame=self.codec.subscribe_book(inst, speed)))
                else:
                    names.append(name)
        out.extend(Send(stream=stream, frame=self.codec.subscribe(names[i : i + _SUBSCRIBE_CHUNK]))
                   for i in range(0, len(names), _SUBSCRIBE_CHUNK))
        return out

    def ping_frame(self, stream: str, ts_ns: int) -> bytes | None:
        return None  # the server pings; aiohttp answers

    # -- what comes back ---------------------------------------------------------------------------
    def on_event(self, event: CodecEvent, stream: str, now_ms: int) -> list[Out]:
        match event:
            case NeedSnapshot(instrument=inst):
                spec = self.codec.depth_request(inst, self.options.snapshot_limit)
                return [Fetch(key=_SNAPSHOT + inst, spec=spec, resync=True)]
            case StreamExpired(reason=reason):
                return [Reconnect(stream=stream, reason=reason)]
            case SendFrame(frame=frame):
                return [Send(stream=stream, frame=frame)]
            case BalancesChanged() if self.credentials is not None and not self._balances_due:
                self._balances_due = True
                return [SetTimer(key=_BALANCES, after_s=self.options.balance_refresh_s)]
        return []

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]:
        if self.switch is not None and SwitchKeeper.owns(key):
            return self._countdown_set(SwitchKeeper.part(key), response, now_ms)
        if key == _LISTEN_KEY:
            self.listen_key = rest.parse_listen_key(response)
            self._key_used = False
        elif key == _POSITION_MODE:
            return self._position_mode_read(rest.parse_position_mode(response), now_ms)
        elif key == _BALANCES:
            return list(rest.parse_balances(response, now_ms * _NS))
        elif key.startswith(_SNAPSHOT):
            inst = InstrumentId(key[len(_SNAPSHOT):])
            return list(self.codec.apply_snapshot(inst, response, now_ms * _NS))
        return []

    def _position_mode_read(self, mode: PositionMode, now_ms: int) -> list[Out]:
        """Keep the mode read; publish it the first time and whenever it changed."""
        if self._mode_read and mode is self.position_mode:
            return []
        self._mode_read = True
        self.position_mode = mode
        detail = f"dualSidePosition={'true' if mode is PositionMode.HEDGE else 'false'}"
        return [AccountConfig(venue=Venue.BINANCE, position_mode=mode, ts=now_ms * _NS, detail=detail)]

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]:
        if self.switch is not None and SwitchKeeper.owns(key):
            return self.switch.failed(SwitchKeeper.part(key), error, now_ms)  # refused (final) or failing
        if key == _KEEPALIVE and isinstance(error, VenueReject):
            # -1125: the key is gone; the private stream reconnects and creates a new one.
            return [Reconnect(stream=frames.Route.PRIVATE, reason=f"listenKey keep-alive refused: {error.code}")]
        if key.startswith(_SNAPSHOT):
            return [NeedSnapshot(instrument=InstrumentId(key[len(_SNAPSHOT):]), reason="snapshot retry")]
        return []  # a balance or position-mode read: the next ACCOUNT_UPDATE / -4061 asks again

    def timer(self, key: str, now_ms: int) -> list[Out]:
        if self.credentials is None:
            return []
        if key == REFRESH:
            return self._countdowns(now_ms)
        if key == _BALANCES:
            self._balances_due = False
            return [Fetch(key=_BALANCES, spec=rest.balances(self.credentials, now_ms))]
        if key == _MODE_WATCH:
            out: list[Out] = [SetTimer(key=_MODE_WATCH, after_s=self.options.mode_check_s)]
            if self._recheck is not None:
                self._recheck = None
                out.insert(0, Fetch(key=_POSITION_MODE, spec=rest.position_mode(self.credentials, now_ms)))
            return out
        if key != _KEEPALIVE or frames.Route.PRIVATE not in self.up or self.listen_key is None:
            return []
        return [Fetch(key=_KEEPALIVE, spec=rest.keepalive_listen_key(self.credentials)),
                SetTimer(key=_KEEPALIVE, after_s=self.options.keepalive_s)]

    # -- books -------------------------------------------------------------------------------------
    def top_of_books(self, depth: int) -> Tops:
        return live_tops(self.codec, self.instruments, depth)
