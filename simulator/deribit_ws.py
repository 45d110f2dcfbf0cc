"""Deribit v2 JSON-RPC over WebSocket (``/ws/api/v2``): subscriptions, heartbeats, notifications, faults.

Invariants:
- Every request is answered on its own connection with the same envelope as HTTP (``dispatch`` is shared);
  notifications are ``{"jsonrpc":"2.0","method":"subscription","params":{"channel","data"}}``.
- ``book.{instrument}.{interval}``: the subscribe reply is followed by a ``snapshot`` of the published book
  (``change_id`` = its last change), then ``change`` notifications whose ``prev_change_id`` chains; reply and
  snapshot are queued in one synchronous step, so no change can slip between them.
- ``instrument.state.{kind}.{currency}`` (kind future, option, spot, future_combo or option_combo; there is
  no ``any`` kind; currency may be ``any``) notifies ``DeribitTwinLike.set_book_state`` changes.
- ``*.raw`` market channels need an authorised connection (13778) when the twin is configured so; ``user.*``
  channels need one always (private/subscribe -> 13009; public/subscribe silently skips them).
- ``public/set_heartbeat``: a ``test_request`` every interval; a connection that has not sent ``public/test``
  before the next one is closed (and its cancel-on-disconnect fires).
- Cancel-on-disconnect (docs.deribit.com private/enable_cancel_on_disconnect): when a connection with it
  enabled ends (client close, TCP reset, heartbeat failure, a fault), the open orders created via that
  connection, and only those, are cancelled (``cancel_reason`` ``cancel_on_disconnect``); ``private/logout``
  turns it off first, so a graceful logout cancels nothing. A new connection starts with it on when it was
  enabled with scope ``account``. Running out of credits (10028) terminates the session after the reply; a
  BAN fault terminates every session at once (10028 frame, then close) and answers every request 10028.
- Each connection has a bounded, latency-delayed send line drained by its own writer task and an inbox fed
  by a pump task (wsconn.py; an anyio task group owned by the aiohttp handler); a full send line aborts the
  connection. STALL: nothing is sent, nothing is answered.
- Drift faults (deribit_drift.py): UNKNOWN_FIELD adds a key to market-data notifications' ``data`` (and, in
  ``DeribitTwinLike.envelope``, to every result); UNKNOWN_EVENT queues one notification of an undocumented
  channel on every open connection (or on the next one to open).
- ``private/buy`` / ``private/sell`` are counted as received placements; after one is handled an
  EXECUTE_THEN_5XX fault replaces its reply by the server error (11094 for status 500, else 13028) and an
  EXECUTE_THEN_DROP fault drops the connection (TCP reset, after the frames queued before) without a reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import deribit_format as fmt
from simulator import wsconn
from simulator.book import Side
from simulator.deribit_auth import DeribitError, rpc_error, rpc_params, rpc_request
from simulator.deribit_config import DeribitTwinLike
from simulator.deribit_drift import is_market_channel, unknown_event, with_unknown_field
from simulator.deribit_market import Call, p_int, quote_json, ticker_json
from simulator.deribit_rest import dispatch, received_placement
from simulator.faults import FaultKind
from simulator.order_entry import lost_answer

__all__ = ["DeribitHub"]

_encode = msgspec.json.Encoder().encode
_IV = r"(raw|100ms|agg2)"
_RES = r"(1|3|5|10|15|30|60|120|180|360|720|1D)"
_KC = r"(future|any)\.(BTC|ETH|USDC|any)"
_PUBLIC = [re.compile(p) for p in (
    rf"^book\.(?P<i>[A-Z0-9_-]+)\.{_IV}$", r"^book\.(?P<i>[A-Z0-9_-]+)\.(none|\d+)\.(1|10|20)\.(100ms|agg2)$",
    rf"^trades\.(?P<i>[A-Z0-9_-]+)\.{_IV}$", rf"^trades\.{_KC}\.{_IV}$", rf"^ticker\.(?P<i>[A-Z0-9_-]+)\.{_IV}$",
    r"^quote\.(?P<i>[A-Z0-9_-]+)$", rf"^chart\.trades\.(?P<i>[A-Z0-9_-]+)\.{_RES}$",
    r"^deribit_price_index\.(?P<x>[a-z]+_[a-z]+)$",
    r"^instrument\.state\.(future|option|spot|future_combo|option_combo)\.(BTC|ETH|USDC|USDT|EURR|any)$",
)]
_PRIVATE = [re.compile(p) for p in (
    rf"^user\.(orders|trades|changes)\.(?P<i>[A-Z0-9_-]+)\.{_IV}$", rf"^user\.(orders|trades|changes)\.{_KC}\.{_IV}$",
    r"^user\.portfolio\.(btc|eth|usdc|BTC|ETH|USDC)$",
)]


@dataclass(eq=False)
class _Conn(wsconn.Conn):
    cid: int  # the connection's id in the twin (orders record the one they were created via)
    channels: set[str] = field(default_factory=set)
    token: str | None = None
    cancel_on_disconnect: bool = False
    heartbeat_s: float | None = None
    awaiting_test: bool = False
    hb_changed: anyio.Event = field(default_factory=anyio.Event)


class DeribitHub(wsconn.Hub[DeribitTwinLike, str, _Conn]):
    """All WebSocket connections of one Deribit twin and the channel -> connections index."""

    def __init__(self, twin: DeribitTwinLike) -> None:
        super().__init__(twin)
        self._next_cid = 1

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/api/v2", self._serve), web.get("/ws/api/v2/", self._serve)]

    # -- publishing ---------------------------------------------------------------------------------------
    def publish(self, channel: str, data: Callable[[], Any] | Any) -> None:
        """Notify ``channel``'s subscribers (``data`` may be a factory, built only if someone listens)."""
        conns = self._index.get(channel)
        if not conns:
            return
        payload = data() if callable(data) else data
        if is_market_channel(channel):
            payload = with_unknown_field(self.twin.faults, payload)
        frame = _encode({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": payload}})
        for conn in list(conns):
            wsconn.enqueue(conn, frame)

    def publish_private(self, prefix: str, inst: fmt.DeribitInstrument, interval: str, data: Any, *, only_raw: bool) -> None:
        """``user.orders|trades|changes`` by instrument and by kind/currency; ``interval`` ``raw`` (object per
        event), ``100ms`` (list per flush, also agg2) or ``any`` (every interval)."""
        intervals = {"raw": ("raw",), "100ms": ("100ms", "agg2"), "any": ("raw", "100ms", "agg2")}[interval]
        for iv in intervals:
            for target in (inst.name, f"future.{inst.currency}", f"any.{inst.currency}", "future.any", "any.any"):
                self.publish(f"{prefix}.{target}.{iv}", data)

    def publish_grouped(self, name: str, now: int) -> None:
        """Full snapshots on ``book.{instrument}.{group}.{depth}.{interval}`` channels."""
        prefix = f"book.{name}."
        mirror = self.twin.depth[name].mirror
        for channel in [c for c in self._index if c.startswith(prefix) and c.count(".") == 4 and self._index[c]]:
            _, _, group_raw, depth_raw, _ = channel.split(".")
            group = None if group_raw == "none" else Decimal(group_raw)
            depth = int(depth_raw)
            self.publish(channel, {
                "timestamp": now, "instrument_name": name, "change_id": mirror.update_id,
                "bids": fmt.grouped_levels(mirror.bids(), group, Side.BUY, depth),
                "asks": fmt.grouped_levels(mirror.asks(), group, Side.SELL, depth)})

    def publish_market_slow(self, name: str, now: int) -> None:
        """``ticker.*`` every step and ``quote.*`` when the best bid/ask changed."""
        ticker: dict[str, Any] | None = None
        for iv in ("raw", "100ms", "agg2"):
            channel = f"ticker.{name}.{iv}"
            if self.has(channel):
                ticker = ticker or ticker_json(self.twin, name, now)
                self.publish(channel, ticker)
        d = self.twin.depth[name]
        bbo = (tuple(d.mirror.bids(1)), tuple(d.mirror.asks(1)))
        if bbo != d.last_top:
            d.last_top = bbo
            self.publish(f"quote.{name}", lambda: quote_json(self.twin, name, now))

    def publish_chart(self, name: str, now: int) -> None:
        """``chart.trades.{instrument}.{resolution}``: the current candle of each subscribed resolution."""
        for res, agg in self.twin.klines[name].items():
            k = agg.current
            channel = f"chart.trades.{name}.{res}"
            if k is not None and self.has(channel):
                self.publish(channel, {
                    "volume": round(float(k.volume), 8), "tick": k.open_time, "open": fmt.num(k.open),
                    "low": fmt.num(k.low), "high": fmt.num(k.high), "cost": round(float(k.quote_volume), 2),
                    "close": fmt.num(k.close)})

    # -- faults -------------------------------------------------------------------------------------------
    def drop_all(self) -> None:
        """Abort every connection's TCP transport (no close frame)."""
        super().drop_all()
        fault = self.twin.faults.active(FaultKind.DROP_WS)
        if fault is not None and fault.until is None:
            self.twin.faults.consume(FaultKind.DROP_WS)  # one-shot: new connections are fine again

    def terminate_all(self, error: DeribitError) -> None:
        """End every session the way Deribit does on 10028: an error frame, then a close (after queued frames)."""
        now_us = self.twin.now_us()
        for conn in list(self.conns):
            wsconn.enqueue(conn, _encode(self.twin.envelope(None, error=error, us_in=now_us)))
            wsconn.end_after(conn)

    def push_unknown_event(self) -> None:
        """UNKNOWN_EVENT: one notification of an undocumented channel on every open connection (deribit_drift.py);
        used up once it reached at least one connection."""
        self._unknown_event(self.conns)

    def _unknown_event(self, conns: set[_Conn]) -> None:
        faults = self.twin.faults
        fault = faults.active(FaultKind.UNKNOWN_EVENT)
        if fault is None or not conns:
            return
        frame = _encode(unknown_event(fault, self.twin.now_ms()))
        for conn in list(conns):
            wsconn.enqueue(conn, frame)
        if fault.until is None:
            faults.consume(FaultKind.UNKNOWN_EVENT)

    # -- connection lifecycle -----------------------------------------------------------------------------
    async def _serve(self, request: web.Request) -> web.StreamResponse:
        twin = self.twin
        ws = await wsconn.accept(request)
        out, inbox = wsconn.lines(twin.latency, twin.config.send_queue)
        conn = _Conn(request, ws, out, inbox, self._next_cid, cancel_on_disconnect=twin.cod_account)
        self._next_cid += 1
        wsconn.admit(conn, self.conns, twin.faults)
        self._unknown_event({conn})  # armed while no connection was open (or for a duration)
        try:
            await wsconn.serve(conn, self.conns, twin.faults, lambda: self._reader(conn),
                               keeper=lambda: self._heartbeat(conn))
        finally:
            self._unindex(conn, conn.channels)
            if conn.cancel_on_disconnect:  # not after private/logout, which turned it off
                self._cancel_on_disconnect(conn)
        return ws

    def _cancel_on_disconnect(self, conn: _Conn) -> None:
        """Cancel the open orders created via ``conn`` (only those: Deribit leaves other connections' orders)."""
        twin = self.twin
        now = twin.now_ms()
        for o in twin.engine.open_orders():
            if twin.created_via.get(o.order_id) == conn.cid:
                twin.cancel_reasons[o.order_id] = "cancel_on_disconnect"
                twin.engine.cancel(o.symbol, now, o.order_id)
        twin.flush_user_events(now)

    async def _heartbeat(self, conn: _Conn) -> None:
        faults = self.twin.faults
        while not conn.ws.closed:
            interval = conn.heartbeat_s
            if interval is None:
                await conn.hb_changed.wait()
                conn.hb_changed = anyio.Event()
                continue
            with anyio.move_on_after(interval):
                await conn.hb_changed.wait()
            if conn.hb_changed.is_set():  # interval changed or disabled: start over
                conn.hb_changed = anyio.Event()
                continue
            if faults.active(FaultKind.STALL) is not None:
                continue
            if conn.awaiting_test:
                await conn.ws.close(code=1000, message=b"heartbeat test_request not answered")
                return
            conn.awaiting_test = True
            wsconn.enqueue(conn, _encode({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}))

    async def _reader(self, conn: _Conn) -> None:
        ws, faults = conn.ws, self.twin.faults
        async for msg in conn.inbox:
            stalled = faults.active(FaultKind.STALL) is not None
            if msg.type is WSMsgType.PING:
                if not stalled:
                    await ws.pong(msg.data)
            elif msg.type is WSMsgType.TEXT and not stalled:
                frames, end = self._handle(conn, msg.data)
                for frame in frames:
                    wsconn.enqueue(conn, _encode(frame))
                if end is not None:
                    wsconn.enqueue(conn, end)

    # -- requests -----------------------------------------------------------------------------------------
    def _handle(self, conn: _Conn, text: str) -> tuple[list[dict[str, Any]], wsconn.End | None]:
        """Reply frames for one request, and how the session ends after them (None: it goes on)."""
        twin = self.twin
        us_in = twin.now_us()
        req_id: Any = None
        placement = False
        try:
            req = rpc_request(text)
            req_id = req.get("id")
            params = rpc_params(req)
            if faults_error := self._fault_error():
                raise faults_error
            call = Call(str(req.get("method", "")), params, "ws", conn=conn)
            placement = received_placement(twin, call)
            result = self._ws_method(conn, call)
            frames = [twin.envelope(req_id, result=result, us_in=us_in), *call.extra_frames]
            end = wsconn.End() if call.method == "private/logout" else None
        except DeribitError as exc:
            frames, end = [twin.envelope(req_id, error=exc, us_in=us_in)], wsconn.End() if exc.code == 10028 else None
        lost = lost_answer(twin.faults) if placement else None
        if lost is None:
            return frames, end
        if lost.drop:
            return [], wsconn.End(abort=True)
        return [twin.envelope(req_id, error=twin.server_error(lost.status), us_in=us_in)], end

    def _fault_error(self) -> DeribitError | None:
        faults = self.twin.faults
        if faults.active(FaultKind.RATE_LIMIT) is not None or faults.active(FaultKind.BAN) is not None:
            return DeribitError(10028)
        if faults.active(FaultKind.HTTP_5XX) is not None:
            return DeribitError(13028)
        return None

    def _authorised(self, conn: _Conn) -> bool:
        return conn.token is not None and self.twin.tokens.resolve(conn.token, self.twin.now_ms()) is not None

    def _ws_method(self, conn: _Conn, call: Call) -> Any:
        method, p = call.method, call.params
        if method in ("public/subscribe", "private/subscribe", "public/unsubscribe", "private/unsubscribe"):
            self.twin.limiter.charge(method, self.twin.monotonic())
            channels = p.get("channels")
            if not isinstance(channels, list) or not all(isinstance(ch, str) for ch in channels):
                raise rpc_error(-32602, "must be an array of strings", "channels")
            if method.endswith("unsubscribe"):
                return self._unsubscribe(conn, channels)
            return self._subscribe(conn, call, channels, private=method == "private/subscribe")
        if method in ("public/unsubscribe_all", "private/unsubscribe_all"):
            self._unsubscribe(conn, list(conn.channels))
            return "ok"
        if method == "public/set_heartbeat":
            interval = p_int(p, "interval")
            if interval < self.twin.config.min_heartbeat_interval:
                raise rpc_error(-32602, f"must be >= {self.twin.config.min_heartbeat_interval}", "interval")
            conn.heartbeat_s = interval * self.twin.config.heartbeat_unit_s
            conn.awaiting_test = False
            conn.hb_changed.set()
            return "ok"
        if method == "public/disable_heartbeat":
            conn.heartbeat_s = None
            conn.hb_changed.set()
            return "ok"
        if method == "public/test":
            conn.awaiting_test = False
        if method == "private/logout":
            if not self._authorised(conn):
                raise DeribitError(13009)
            conn.cancel_on_disconnect = False
            return "ok"
        return dispatch(self.twin, call)

    def _subscribe(self, conn: _Conn, call: Call, channels: list[str], private: bool) -> list[str]:
        twin, authorised = self.twin, self._authorised(conn)
        if private and not authorised:
            raise DeribitError(13009)
        done: list[str] = []
        for channel in channels:
            match = next((m for rx in _PUBLIC if (m := rx.match(channel))), None)
            is_private = match is None
            if is_private:
                match = next((m for rx in _PRIVATE if (m := rx.match(channel))), None)
                if match is None or not authorised:
                    continue
            assert match is not None
            inst = match.groupdict().get("i")
            if inst is not None and inst not in twin.instruments:
                continue
            if not is_private and channel.endswith(".raw") and twin.config.raw_requires_auth and not authorised:
                raise DeribitError(13778)
            if channel not in conn.channels:
                conn.channels.add(channel)
                self._index.setdefault(channel, set()).add(conn)
                if channel.startswith("book.") and channel.count(".") == 2 and inst is not None:
                    call.extra_frames.append(self._snapshot(channel, inst))
            done.append(channel)
        return done

    def _unsubscribe(self, conn: _Conn, channels: list[str]) -> list[str]:
        done = []
        for channel in channels:
            if channel in conn.channels:
                conn.channels.discard(channel)
                self._index.get(channel, set()).discard(conn)
                done.append(channel)
        return done

    def _snapshot(self, channel: str, name: str) -> dict[str, Any]:
        mirror = self.twin.depth[name].mirror
        data = {"type": "snapshot", "timestamp": self.twin.now_ms(), "instrument_name": name,
                "change_id": mirror.update_id,
                "bids": [["new", fmt.num(p), fmt.num(s)] for p, s in mirror.bids()],
                "asks": [["new", fmt.num(p), fmt.num(s)] for p, s in mirror.asks()]}
        data = with_unknown_field(self.twin.faults, data)
        return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
