"""Binance USD-M WebSocket streams: routing, (un)subscribe, raw vs combined framing, pings, user data.

Invariants:
- Paths: ``/public/ws[/<stream>]`` and ``/public/stream?streams=`` carry book streams (``@depth*``,
  ``@bookTicker``); ``/market/...`` the other public streams; ``/private/ws?listenKey=`` and
  ``/private/ws/<key>`` user data; legacy ``/ws/<stream|key>`` and ``/stream?streams=`` accept everything.
- Raw connections get bare payloads; combined ones get ``{"stream": name, "data": payload}``.
- Each connection has a bounded send queue drained by its own writer task (anyio task group owned by the
  aiohttp handler); a full queue closes the connection (a slow consumer is dropped, never blocks the market).
- Every diff-depth speed (``@depth``, ``@100ms``, ``@250ms``, ``@500ms``) receives every event of the twin's
  step rate, so ``pu == previous u`` holds on each of them.
- Over ``max_incoming_per_s`` incoming frames in a second closes the connection (1008), as Binance does.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import binance_format as fmt
from simulator import wsconn
from simulator.book import BookMirror
from simulator.faults import FaultKind

if TYPE_CHECKING:
    from simulator.binance import BinanceTwin

__all__ = ["StreamHub", "stream_kind"]

_PUBLIC = re.compile(r"^[a-z0-9]+@(depth(5|10|20)?(@(0|100|250|500)ms)?|bookticker)$")
_MARKET = re.compile(r"^[a-z0-9]+@(aggtrade|trade|kline_(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w)|markprice(@1s)?|ticker|miniticker)$")
_DEPTH_SPEEDS = ("", "@0ms", "@100ms", "@250ms", "@500ms")
_encode = msgspec.json.Encoder().encode


def stream_kind(name: str) -> str | None:
    """``"public"`` for book streams, ``"market"`` for other public streams, None if not a market stream."""
    low = name.lower()
    if _PUBLIC.match(low):
        return "public"
    if _MARKET.match(low):
        return "market"
    return None


def _canonical(name: str) -> str:
    """Stream names are case-insensitive; the twin keys them in Binance's camelCase spelling."""
    sym, _, rest = name.partition("@")
    rest_low = rest.lower()
    for key in ("bookTicker", "aggTrade", "markPrice", "miniTicker"):
        if rest_low.startswith(key.lower()):
            rest = key + rest[len(key):]
    return f"{sym.lower()}@{rest}" if rest else name


@dataclass(eq=False)
class _Conn:
    request: web.Request
    ws: web.WebSocketResponse
    kind: str  # public | market | private | legacy
    combined: bool
    send: Any
    recv: Any
    streams: list[str] = field(default_factory=list)
    user_key: str | None = None
    malformed: bool = False
    last_pong: float = field(default_factory=time.monotonic)
    incoming: deque[float] = field(default_factory=deque)


class StreamHub:
    """All WebSocket connections of one Binance twin and the stream -> connections index."""

    def __init__(self, twin: BinanceTwin) -> None:
        self.twin = twin
        self.conns: set[_Conn] = set()
        self._index: dict[str, set[_Conn]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/public/ws", self._make("public", False)), web.get("/public/ws/{streams}", self._make("public", False)),
            web.get("/public/stream", self._make("public", True)),
            web.get("/market/ws", self._make("market", False)), web.get("/market/ws/{streams}", self._make("market", False)),
            web.get("/market/stream", self._make("market", True)),
            web.get("/private/ws", self._make("private", False)), web.get("/private/ws/{streams}", self._make("private", False)),
            web.get("/ws", self._make("legacy", False)), web.get("/ws/{streams}", self._make("legacy", False)),
            web.get("/stream", self._make("legacy", True)),
        ]

    # -- publishing ---------------------------------------------------------------------------------------
    def has_subscribers(self, stream: str) -> bool:
        return bool(self._index.get(stream))

    def publish(self, stream: str, payload: Callable[[], dict[str, Any]] | dict[str, Any]) -> None:
        """Send ``payload`` (or the result of the factory, built only if someone listens) on ``stream``."""
        conns = self._index.get(stream)
        if not conns:
            return
        data = payload() if callable(payload) else payload
        raw: bytes | None = None
        wrapped: bytes | None = None
        for conn in list(conns):
            if conn.combined:
                wrapped = wrapped or _encode({"stream": stream, "data": data})
                self._enqueue(conn, wrapped)
            else:
                raw = raw or _encode(data)
                self._enqueue(conn, raw)

    def publish_depth(self, symbol: str, event: dict[str, Any], mirror: BookMirror, now: int) -> None:
        low = symbol.lower()
        for speed in _DEPTH_SPEEDS:
            self.publish(f"{low}@depth{speed}", event)
        spec = self.twin.specs[symbol]
        for n in (5, 10, 20):
            for speed in _DEPTH_SPEEDS:
                name = f"{low}@depth{n}{speed}"
                if self.has_subscribers(name):
                    self.publish(name, {**event, "b": fmt.levels(spec, mirror.bids(n)), "a": fmt.levels(spec, mirror.asks(n))})

    def publish_slow(self, symbol: str, now: int) -> None:
        """Once-a-second streams: markPrice, ticker, miniTicker."""
        from simulator import binance_rest  # payload builders shared with REST

        low = symbol.lower()
        for name in (f"{low}@markPrice", f"{low}@markPrice@1s"):
            self.publish(name, lambda: binance_rest.mark_price_event(self.twin, symbol, now))
        self.publish(f"{low}@ticker", lambda: binance_rest.ticker_event(self.twin, symbol, now))
        self.publish(f"{low}@miniTicker", lambda: binance_rest.mini_ticker_event(self.twin, symbol, now))

    def publish_user(self, payload: dict[str, Any]) -> None:
        """User-data event to every private connection whose listen key is still valid."""
        for conn in list(self.conns):
            if conn.user_key is not None and self.twin.listen_key_valid(conn.user_key):
                frame = _encode({"stream": conn.user_key, "data": payload}) if conn.combined else _encode(payload)
                self._enqueue(conn, frame)

    def expire_user(self, key: str, payload: dict[str, Any]) -> None:
        """Send ``listenKeyExpired`` to the key's connections, then close them."""
        for conn in list(self.conns):
            if conn.user_key == key:
                self._enqueue(conn, _encode({"stream": key, "data": payload}) if conn.combined else _encode(payload))
                self._enqueue(conn, b"")  # sentinel: writer closes after flushing

    def _enqueue(self, conn: _Conn, frame: bytes) -> None:
        wsconn.enqueue(conn, frame)

    # -- faults -------------------------------------------------------------------------------------------
    def _abort(self, conn: _Conn) -> None:
        wsconn.abort(conn)

    def drop_all(self) -> None:
        """Abort every connection's TCP transport (no close frame)."""
        wsconn.abort_all(self.conns)

    def mark_malformed(self) -> None:
        for conn in self.conns:
            conn.malformed = True

    async def close_all(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()

    # -- connection lifecycle -----------------------------------------------------------------------------
    def _make(self, kind: str, combined: bool) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, kind, combined)

        return handler

    def _initial_streams(self, request: web.Request, kind: str, combined: bool) -> tuple[list[str], str | None]:
        names: list[str] = []
        key: str | None = request.query.get("listenKey") if kind == "private" else None
        path_part = request.match_info.get("streams", "")
        raw = request.query.get("streams", "") if combined else path_part
        for name in filter(None, raw.split("/")):
            if stream_kind(name) is not None:
                names.append(_canonical(name))
            elif kind in ("private", "legacy") and key is None:
                key = name
            # else: an id segment such as ccxt.pro's /public/ws/<n>; ignored, streams come by SUBSCRIBE
        return names, key

    async def _serve(self, request: web.Request, kind: str, combined: bool) -> web.StreamResponse:
        twin = self.twin
        names, key = self._initial_streams(request, kind, combined)
        if kind == "private" and (key is None or not twin.listen_key_valid(key)):
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)
        if key is not None and not twin.listen_key_valid(key):
            # Legacy /ws/<name>: Binance ignores a path segment that is neither a stream nor a live key
            # (clients such as ccxt.pro open /ws/<id> and SUBSCRIBE afterwards).
            key = None
        bad = [n for n in names if not self._allowed(kind, n)]
        if bad:
            return web.json_response({"code": -1121, "msg": f"Invalid stream {bad[0]!r} for /{kind}."}, status=400)
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        send, recv = anyio.create_memory_object_stream[bytes](twin.config.send_queue)
        conn = _Conn(request, ws, kind, combined, send, recv, user_key=key)
        self.conns.add(conn)
        for n in names:
            self._subscribe(conn, n)
        if twin.faults.active(FaultKind.DROP_WS) is not None:
            self._abort(conn)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, conn)
                tg.start_soon(self._pinger, conn)
                await self._reader(conn)
                tg.cancel_scope.cancel()
        finally:
            self.conns.discard(conn)
            for n in list(conn.streams):
                self._index.get(n, set()).discard(conn)
            send.close()
            recv.close()
        return ws

    def _allowed(self, kind: str, name: str) -> bool:
        sk = stream_kind(name)
        return sk is not None and (kind == "legacy" or kind == sk)

    def _subscribe(self, conn: _Conn, name: str) -> None:
        if name not in conn.streams:
            conn.streams.append(name)
            self._index.setdefault(name, set()).add(conn)

    def _unsubscribe(self, conn: _Conn, name: str) -> None:
        if name in conn.streams:
            conn.streams.remove(name)
            self._index.get(name, set()).discard(conn)

    async def _writer(self, conn: _Conn) -> None:
        faults = self.twin.faults
        async with conn.recv:
            async for frame in conn.recv:
                if frame == b"":
                    await conn.ws.close(code=1000, message=b"listenKey expired")
                    return
                if faults.active(FaultKind.STALL) is not None:
                    continue  # stalled: nothing is sent
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

    async def _pinger(self, conn: _Conn) -> None:
        cfg, faults = self.twin.config, self.twin.faults
        while not conn.ws.closed:
            await anyio.sleep(cfg.ping_interval_s)
            if faults.active(FaultKind.STALL) is not None:
                continue
            if time.monotonic() - conn.last_pong > cfg.pong_timeout_s:
                await conn.ws.close(code=1008, message=b"pong timeout")
                return
            try:
                await conn.ws.ping(b"")
            except (ConnectionResetError, RuntimeError):
                return

    async def _reader(self, conn: _Conn) -> None:
        ws, cfg, faults = conn.ws, self.twin.config, self.twin.faults
        async for msg in ws:
            now = time.monotonic()
            conn.incoming.append(now)
            while conn.incoming and now - conn.incoming[0] > 1.0:
                conn.incoming.popleft()
            if len(conn.incoming) > cfg.max_incoming_per_s:
                await ws.close(code=1008, message=b"Too many requests")
                return
            stalled = faults.active(FaultKind.STALL) is not None
            if msg.type is WSMsgType.PING:
                if not stalled:
                    await ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                conn.last_pong = now
            elif msg.type is WSMsgType.TEXT and not stalled:
                reply = self._handle_request(conn, msg.data)
                if reply is not None:
                    self._enqueue(conn, _encode(reply))

    def _handle_request(self, conn: _Conn, text: str) -> dict[str, Any] | None:
        try:
            req = json.loads(text)
        except json.JSONDecodeError as exc:
            return {"error": {"code": 3, "msg": f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"}, "id": None}
        if not isinstance(req, dict):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}
        req_id = req.get("id")
        if req_id is not None and (not isinstance(req_id, int) or isinstance(req_id, bool) or req_id < 0):
            return {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None}
        method = req.get("method")
        params = req.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.streams), "id": req_id}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {"error": {"code": 2, "msg": "Invalid request: params must be an array of strings"}, "id": req_id}
            names = [_canonical(p) for p in params]
            bad = [n for n in names if not self._allowed(conn.kind, n)]
            if method == "SUBSCRIBE" and bad:
                return {"error": {"code": 2, "msg": f"Invalid request: invalid stream name {bad[0]}"}, "id": req_id}
            if method == "SUBSCRIBE" and len(set(conn.streams) | set(names)) > self.twin.config.max_streams:
                return {"error": {"code": 2, "msg": f"Invalid request: too many streams (max {self.twin.config.max_streams})"}, "id": req_id}
            for n in names:
                (self._subscribe if method == "SUBSCRIBE" else self._unsubscribe)(conn, n)
            return {"result": None, "id": req_id}
        msg = (f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
               "`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 28")
        return {"error": {"code": 2, "msg": msg}, "id": req_id}
