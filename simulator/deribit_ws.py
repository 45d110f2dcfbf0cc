"""Deribit v2 JSON-RPC over WebSocket (``/ws/api/v2``): subscriptions, heartbeats, notifications, faults.

Invariants:
- Every request is answered on its own connection with the same envelope as HTTP (``dispatch`` is shared);
  notifications are ``{"jsonrpc":"2.0","method":"subscription","params":{"channel","data"}}``.
- ``book.{instrument}.{interval}``: the subscribe reply is followed by a ``snapshot`` of the published book
  (``change_id`` = its last change), then ``change`` notifications whose ``prev_change_id`` chains; reply and
  snapshot are queued in one synchronous step, so no change can slip between them.
- ``*.raw`` market channels need an authorised connection (13778) when the twin is configured so; ``user.*``
  channels need one always (private/subscribe -> 13009; public/subscribe silently skips them).
- ``public/set_heartbeat``: a ``test_request`` every interval; a connection that has not sent ``public/test``
  before the next one is closed. Running out of credits (10028) terminates the session after the reply; a
  BAN fault terminates every session at once (10028 frame, then close) and answers every request 10028.
- Each connection has a bounded send queue drained by its own writer task (an anyio task group owned by the
  aiohttp handler); a full queue aborts the connection. STALL: nothing is sent, nothing is answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import deribit_format as fmt
from simulator import wsconn
from simulator.book import Side
from simulator.deribit_auth import DeribitError, rpc_error
from simulator.deribit_market import Call, p_int, quote_json, ticker_json
from simulator.deribit_rest import dispatch
from simulator.faults import FaultKind

if TYPE_CHECKING:
    from simulator.deribit import DeribitTwin

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
)]
_PRIVATE = [re.compile(p) for p in (
    rf"^user\.(orders|trades|changes)\.(?P<i>[A-Z0-9_-]+)\.{_IV}$", rf"^user\.(orders|trades|changes)\.{_KC}\.{_IV}$",
    r"^user\.portfolio\.(btc|eth|usdc|BTC|ETH|USDC)$",
)]


@dataclass(eq=False)
class _Conn:
    request: web.Request
    ws: web.WebSocketResponse
    send: Any
    recv: Any
    channels: set[str] = field(default_factory=set)
    token: str | None = None
    cancel_on_disconnect: bool = False
    malformed: bool = False
    heartbeat_s: float | None = None
    awaiting_test: bool = False
    hb_changed: anyio.Event = field(default_factory=anyio.Event)


class DeribitHub:
    """All WebSocket connections of one Deribit twin and the channel -> connections index."""

    def __init__(self, twin: DeribitTwin) -> None:
        self.twin = twin
        self.conns: set[_Conn] = set()
        self._index: dict[str, set[_Conn]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/api/v2", self._serve), web.get("/ws/api/v2/", self._serve)]

    # -- publishing ---------------------------------------------------------------------------------------
    def has(self, channel: str) -> bool:
        return bool(self._index.get(channel))

    def publish(self, channel: str, data: Callable[[], Any] | Any) -> None:
        """Notify ``channel``'s subscribers (``data`` may be a factory, built only if someone listens)."""
        conns = self._index.get(channel)
        if not conns:
            return
        payload = data() if callable(data) else data
        frame = _encode({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": payload}})
        for conn in list(conns):
            self._enqueue(conn, frame)

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
        if bbo != d.last_quote:
            d.last_quote = bbo
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

    def _enqueue(self, conn: _Conn, frame: bytes) -> None:
        wsconn.enqueue(conn, frame)

    # -- faults -------------------------------------------------------------------------------------------
    def _abort(self, conn: _Conn) -> None:
        wsconn.abort(conn)

    def drop_all(self) -> None:
        """Abort every connection's TCP transport (no close frame)."""
        wsconn.abort_all(self.conns)
        fault = self.twin.faults.active(FaultKind.DROP_WS)
        if fault is not None and fault.until is None:
            self.twin.faults.consume(FaultKind.DROP_WS)  # one-shot: new connections are fine again

    def terminate_all(self, error: DeribitError) -> None:
        """End every session the way Deribit does on 10028: an error frame, then a close (after queued frames)."""
        now_us = self.twin.now_us()
        for conn in list(self.conns):
            self._enqueue(conn, _encode(self.twin.envelope(None, error=error, us_in=now_us)))
            self._enqueue(conn, b"")

    def mark_malformed(self) -> None:
        for conn in self.conns:
            conn.malformed = True

    async def close_all(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()

    # -- connection lifecycle -----------------------------------------------------------------------------
    async def _serve(self, request: web.Request) -> web.StreamResponse:
        twin = self.twin
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        send, recv = anyio.create_memory_object_stream[bytes](twin.config.send_queue)
        conn = _Conn(request, ws, send, recv)
        self.conns.add(conn)
        if twin.faults.active(FaultKind.DROP_WS) is not None:
            self._abort(conn)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, conn)
                tg.start_soon(self._heartbeat, conn)
                await self._reader(conn)
                tg.cancel_scope.cancel()
        finally:
            self.conns.discard(conn)
            for channel in list(conn.channels):
                self._index.get(channel, set()).discard(conn)
            send.close()
            recv.close()
            if conn.cancel_on_disconnect:
                now = twin.now_ms()
                for o in twin.engine.open_orders():
                    twin.engine.cancel(o.symbol, now, o.order_id)
                twin.flush_user_events(now)
        return ws

    async def _writer(self, conn: _Conn) -> None:
        faults = self.twin.faults
        async with conn.recv:
            async for frame in conn.recv:
                if frame == b"":
                    await conn.ws.close(code=1000, message=b"")
                    return
                if faults.active(FaultKind.STALL) is not None:
                    continue
                delay = faults.param(FaultKind.LATENCY, "ms", 200)
                if delay > 0:
                    await anyio.sleep(delay / 1000)
                if conn.malformed:
                    conn.malformed = False
                    frame = frame[: max(1, len(frame) // 2)] + b"\x00}"  # truncated: not valid JSON
                try:
                    await conn.ws.send_str(frame.decode("utf-8", "replace"))
                except (ConnectionResetError, RuntimeError):
                    return

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
            self._enqueue(conn, _encode({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}))

    async def _reader(self, conn: _Conn) -> None:
        ws, faults = conn.ws, self.twin.faults
        async for msg in ws:
            stalled = faults.active(FaultKind.STALL) is not None
            if msg.type is WSMsgType.PING:
                if not stalled:
                    await ws.pong(msg.data)
            elif msg.type is WSMsgType.TEXT and not stalled:
                frames, terminate = self._handle(conn, msg.data)
                for frame in frames:
                    self._enqueue(conn, _encode(frame))
                if terminate:
                    self._enqueue(conn, b"")

    # -- requests -----------------------------------------------------------------------------------------
    def _handle(self, conn: _Conn, text: str) -> tuple[list[dict[str, Any]], bool]:
        """Reply frames for one request, and whether the session must end after them."""
        twin = self.twin
        us_in = twin.now_us()
        req_id: Any = None
        try:
            try:
                req = json.loads(text)
            except json.JSONDecodeError:
                raise DeribitError(-32700) from None
            if not isinstance(req, dict):
                raise DeribitError(-32600)
            req_id = req.get("id")
            params = req.get("params", {})
            if not isinstance(params, dict):
                raise DeribitError(-32602)
            if faults_error := self._fault_error():
                raise faults_error
            call = Call(str(req.get("method", "")), params, "ws", conn=conn)
            result = self._ws_method(conn, call)
        except DeribitError as exc:
            return [twin.envelope(req_id, error=exc, us_in=us_in)], exc.code == 10028
        return [twin.envelope(req_id, result=result, us_in=us_in), *call.extra_frames], call.method == "private/logout"

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
        return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
