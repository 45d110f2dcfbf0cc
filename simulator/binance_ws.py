"""Binance USD-M WebSocket streams: routing, (un)subscribe, raw vs combined framing, pings, user data.

Invariants:
- Paths (Binance notice of 2026-03-06, legacy paths retired 2026-04-23): ``/public/ws[/<stream>]`` and
  ``/public/stream?streams=`` deliver the book streams (``@depth*``, ``@bookTicker``) and raw trades
  (``@trade``: the notice's table leaves it out; it is delivered on ``/public``, ccxt/ccxt#28396 and
  BYTEX-TRADE/bytex#7); ``/market/...`` every other public stream; ``/private/ws?listenKey=<key>[&events=A/B]``,
  ``/private/ws/<key>`` and ``/private/stream?listenKey=`` user data (``events`` keeps only those event
  types). The unrouted ``/ws/<stream>`` and ``/stream?streams=`` deliver ``/public`` streams only, unless
  ``BinanceConfig.legacy_all_streams`` (the testnet's behaviour: everything, user data included).
- A stream on the wrong category is accepted (in the URL or by SUBSCRIBE, acked ``{"result": null}``,
  listed by LIST_SUBSCRIPTIONS) and never delivered, with no error: the venue's silent failure. Only a
  name that is no stream at all is an error.
- Raw connections get bare payloads; combined ones get ``{"stream": name, "data": payload}``.
- Each connection has a bounded, latency-delayed send line drained by its own writer task and an inbox fed
  by a pump task (wsconn.py; anyio task group owned by the aiohttp handler); a full send line closes the
  connection (a slow consumer is dropped, never blocks the market).
- Every diff-depth speed (``@depth``, ``@100ms``, ``@250ms``, ``@500ms``) receives every event of the twin's
  step rate, so ``pu == previous u`` holds on each of them.
- Over ``max_incoming_per_s`` incoming frames in a second closes the connection (1008), as Binance does.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import binance_format as fmt
from simulator import wsconn
from simulator.binance_config import BinanceTwinLike
from simulator.book import BookMirror
from simulator.faults import FaultKind

__all__ = ["StreamHub", "stream_kind"]

_PUBLIC = re.compile(r"^[a-z0-9]+@(depth(5|10|20)?(@(0|100|250|500)ms)?|bookticker|trade)$")
_MARKET = re.compile(r"^[a-z0-9]+@(aggtrade|kline_(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w)|markprice(@1s)?|ticker|miniticker)$")
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
class _Conn(wsconn.Conn):
    kind: str  # public | market | private | legacy
    combined: bool
    streams: list[str] = field(default_factory=list)
    user_key: str | None = None
    events: frozenset[str] | None = None  # private ``events=`` selection (None: every event type)
    last_pong: float = field(default_factory=time.monotonic)
    incoming: deque[float] = field(default_factory=deque)


class StreamHub(wsconn.Hub[BinanceTwinLike, str, _Conn]):
    """All WebSocket connections of one Binance twin and the stream -> connections index."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/public/ws", self._make("public", False)), web.get("/public/ws/{streams}", self._make("public", False)),
            web.get("/public/stream", self._make("public", True)),
            web.get("/market/ws", self._make("market", False)), web.get("/market/ws/{streams}", self._make("market", False)),
            web.get("/market/stream", self._make("market", True)),
            web.get("/private/ws", self._make("private", False)), web.get("/private/ws/{streams}", self._make("private", False)),
            web.get("/private/stream", self._make("private", True)),
            web.get("/ws", self._make("legacy", False)), web.get("/ws/{streams}", self._make("legacy", False)),
            web.get("/stream", self._make("legacy", True)),
        ]

    # -- publishing ---------------------------------------------------------------------------------------
    def publish(self, stream: str, payload: Callable[[], dict[str, Any]] | dict[str, Any]) -> None:
        """Send ``payload`` (or the result of the factory, built only if someone listens) on ``stream``."""
        conns = self._index.get(stream)
        if not conns:
            return
        data = payload() if callable(payload) else payload
        drift = self.twin.faults.active(FaultKind.UNKNOWN_FIELD)
        if drift is not None:  # the venue added a field without notice: in the event object
            data = {**data, str(drift.params.get("field", "x_new_field")): drift.params.get("value", 1)}
        raw: bytes | None = None
        wrapped: bytes | None = None
        for conn in list(conns):
            if conn.combined:
                wrapped = wrapped or _encode({"stream": stream, "data": data})
                wsconn.enqueue(conn, wrapped)
            else:
                raw = raw or _encode(data)
                wsconn.enqueue(conn, raw)

    def publish_depth(self, symbol: str, event: dict[str, Any], mirror: BookMirror, now: int) -> None:
        low = symbol.lower()
        for speed in _DEPTH_SPEEDS:
            self.publish(f"{low}@depth{speed}", event)
        spec = self.twin.specs[symbol]
        for n in (5, 10, 20):
            for speed in _DEPTH_SPEEDS:
                name = f"{low}@depth{n}{speed}"
                if self.has(name):
                    self.publish(name, {**event, "b": fmt.levels(spec, mirror.bids(n)), "a": fmt.levels(spec, mirror.asks(n))})

    def publish_slow(self, symbol: str, now: int) -> None:
        """Once-a-second streams: markPrice, ticker, miniTicker."""
        from simulator import binance_rest  # payload builders shared with REST

        low = symbol.lower()
        for name in (f"{low}@markPrice", f"{low}@markPrice@1s"):
            self.publish(name, lambda: binance_rest.mark_price_event(self.twin, symbol, now))
        self.publish(f"{low}@ticker", lambda: binance_rest.ticker_event(self.twin, symbol, now))
        self.publish(f"{low}@miniTicker", lambda: binance_rest.mini_ticker_event(self.twin, symbol, now))

    def push_unknown_event(self, event: str, now: int, conns: Iterable[_Conn] | None = None) -> int:
        """UNKNOWN_EVENT: one frame of an event type the docs do not list, shaped like the other market pushes
        (``e``, ``E``, ``s``), on every public / market / legacy connection (wrapped on combined ones), or on
        ``conns``; returns how many connections got it."""
        symbol = next(iter(self.twin.specs), "BTCUSDT")
        data = {"e": event, "E": now, "s": symbol}
        pushed = 0
        for conn in list(self.conns if conns is None else conns):
            if conn.kind == "private":
                continue
            if conn.combined:
                wsconn.enqueue(conn, _encode({"stream": f"{symbol.lower()}@{event}", "data": data}))
            else:
                wsconn.enqueue(conn, _encode(data))
            pushed += 1
        return pushed

    def publish_user(self, payload: dict[str, Any]) -> None:
        """User-data event to every private connection whose listen key is still valid and whose ``events``
        selection (if any) names its type."""
        for conn in list(self.conns):
            if conn.events is not None and payload.get("e") not in conn.events:
                continue
            if conn.user_key is not None and self.twin.listen_key_valid(conn.user_key):
                frame = _encode({"stream": conn.user_key, "data": payload}) if conn.combined else _encode(payload)
                wsconn.enqueue(conn, frame)

    def expire_user(self, key: str, payload: dict[str, Any]) -> None:
        """Send ``listenKeyExpired`` to the key's connections, then close them."""
        for conn in list(self.conns):
            if conn.user_key == key:
                wsconn.enqueue(conn, _encode({"stream": key, "data": payload}) if conn.combined else _encode(payload))
                wsconn.end_after(conn, 1000, b"listenKey expired")

    # -- connection lifecycle -----------------------------------------------------------------------------
    def _make(self, kind: str, combined: bool) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, kind, combined)

        return handler

    def _initial_streams(self, request: web.Request, kind: str, combined: bool) -> tuple[list[str], str | None]:
        names: list[str] = []
        key: str | None = request.query.get("listenKey") if kind == "private" else None
        path_part = request.match_info.get("streams", "")
        raw = request.query.get("streams", "") if combined and kind != "private" else path_part
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
        if (key is not None and not twin.listen_key_valid(key)) or (kind == "legacy" and not twin.config.legacy_all_streams):
            # Legacy /ws/<name>: Binance ignores a path segment that is neither a stream nor a live key
            # (clients such as ccxt.pro open /ws/<id> and SUBSCRIBE afterwards); since 2026-04-23 an unrouted
            # connection gets /public data only, so no user data.
            key = None
        selected = request.query.get("events") if kind == "private" else None
        events = frozenset(filter(None, selected.split("/"))) if selected else None
        ws = await wsconn.accept(request)
        out, inbox = wsconn.lines(twin.latency, twin.config.send_queue)
        conn = _Conn(request, ws, out, inbox, kind, combined, user_key=key, events=events)
        for n in names:
            self._subscribe(conn, n)
        wsconn.admit(conn, self.conns, twin.faults)
        unknown = twin.faults.active(FaultKind.UNKNOWN_EVENT)  # armed while no public connection was open
        if unknown is not None and self.push_unknown_event(str(unknown.params.get("event", "x_new_event")),
                                                           twin.now_ms(), [conn]):
            twin.faults.consume(FaultKind.UNKNOWN_EVENT)
        try:
            await wsconn.serve(conn, self.conns, twin.faults, lambda: self._reader(conn), keeper=lambda: self._pinger(conn))
        finally:
            self._unindex(conn, conn.streams)
        return ws

    def _delivers(self, kind: str, name: str) -> bool:
        """Whether a connection on path ``kind`` receives stream ``name`` (a known stream either way)."""
        sk = stream_kind(name)
        if kind == "legacy":
            return self.twin.config.legacy_all_streams or sk == "public"
        return kind == sk

    def _subscribe(self, conn: _Conn, name: str) -> None:
        """Accept ``name``; deliver it only on its own category (elsewhere the venue is silent)."""
        if name not in conn.streams:
            conn.streams.append(name)
            if self._delivers(conn.kind, name):
                self._index.setdefault(name, set()).add(conn)

    def _unsubscribe(self, conn: _Conn, name: str) -> None:
        if name in conn.streams:
            conn.streams.remove(name)
            self._index.get(name, set()).discard(conn)

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
        async for msg in conn.inbox:
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
                    wsconn.enqueue(conn, _encode(reply))

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
            bad = [n for n in names if stream_kind(n) is None]
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
