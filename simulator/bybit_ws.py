"""Bybit v5 WebSockets of the twin: ``/v5/public/linear`` (market topics) and ``/v5/private`` (account topics).

Invariants:
- Requests are JSON ``{"op": subscribe|unsubscribe|ping|auth, "args": [...], "req_id": ...}``; replies use the
  linear public shape (``success``/``ret_msg``/``conn_id``/``req_id``/``op``) or, on the private socket, the
  private shapes (pong is ``{"op": "pong", "args": [ms]}``).
- An ``orderbook`` or ``tickers`` subscription is acknowledged first, then its snapshot is sent; all frames
  of a connection leave in order through one bounded queue drained by the connection's writer task (owned by
  the handler's anyio task group). A full queue drops the connection; the market never blocks.
- Private topics need a successful ``auth`` first; topics ``order``/``execution``/``position`` (also with a
  ``.linear`` suffix) and ``wallet``.
- A connection that sends nothing for ``idle_timeout_s`` is closed. STALL: nothing is sent and no ping is
  answered. DROP_WS aborts the TCP transport with no close frame.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import wsconn
from simulator.bybit_auth import verify_ws_auth
from simulator.faults import FaultKind

if TYPE_CHECKING:
    from simulator.bybit import BybitTwin

__all__ = ["Hub", "PRIVATE_TOPICS"]

_encode = msgspec.json.Encoder().encode
PRIVATE_TOPICS = frozenset({"order", "order.linear", "execution", "execution.linear", "position", "position.linear", "wallet"})
_PUBLIC = re.compile(r"^(orderbook\.(1|50|200|500|1000)|publicTrade|tickers|kline\.(1|3|5|15|30|60|120|240|360|720|D|W))\.([A-Z0-9]+)$")


@dataclass(eq=False)
class _Conn:
    request: web.Request
    ws: web.WebSocketResponse
    private: bool
    conn_id: str
    send: Any
    recv: Any
    topics: set[str] = field(default_factory=set)
    authed: bool = False
    malformed: bool = False


class Hub:
    """All WebSocket connections of one Bybit twin and the topic -> connections index."""

    def __init__(self, twin: BybitTwin) -> None:
        self.twin = twin
        self.conns: set[_Conn] = set()
        self._index: dict[str, set[_Conn]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v5/public/linear", self._public), web.get("/v5/private", self._private)]

    # -- publishing ---------------------------------------------------------------------------------------
    def has(self, topic: str) -> bool:
        return bool(self._index.get(topic))

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Send one message to every subscriber of a public topic."""
        conns = self._index.get(topic)
        if not conns:
            return
        frame = _encode(payload)
        for conn in list(conns):
            self._enqueue(conn, frame)

    def publish_private(self, topic: str, data: list[dict[str, Any]], ts: int) -> None:
        """Push ``data`` on a private topic to authenticated subscribers (``topic`` or ``topic.linear``)."""
        for conn in list(self.conns):
            if not (conn.private and conn.authed):
                continue
            for name in (topic, f"{topic}.linear"):
                if name in conn.topics:
                    msg = {"id": f"{uuid.uuid4().hex[:12]}-{ts}", "topic": name, "creationTime": ts, "data": data}
                    self._enqueue(conn, _encode(msg))

    def _enqueue(self, conn: _Conn, frame: bytes) -> None:
        wsconn.enqueue(conn, frame)

    # -- faults -------------------------------------------------------------------------------------------
    def _abort(self, conn: _Conn) -> None:
        wsconn.abort(conn)

    def drop_all(self) -> None:
        """Abort every connection's TCP transport (no close frame)."""
        wsconn.abort_all(self.conns)

    def mark_malformed(self) -> None:
        self.twin.faults.consume(FaultKind.MALFORMED_FRAME)
        for conn in self.conns:
            conn.malformed = True

    async def close_all(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def _public(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=False)

    async def _private(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=True)

    async def _serve(self, request: web.Request, *, private: bool) -> web.StreamResponse:
        twin = self.twin
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        send, recv = anyio.create_memory_object_stream[bytes](twin.config.send_queue)
        conn = _Conn(request, ws, private, str(uuid.uuid4()), send, recv)
        self.conns.add(conn)
        if twin.faults.active(FaultKind.DROP_WS) is not None:
            self._abort(conn)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer, conn)
                await self._reader(conn)
                tg.cancel_scope.cancel()
        finally:
            self.conns.discard(conn)
            for t in conn.topics:
                self._index.get(t, set()).discard(conn)
            send.close()
            recv.close()
        return ws

    async def _writer(self, conn: _Conn) -> None:
        faults = self.twin.faults
        async with conn.recv:
            async for frame in conn.recv:
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

    async def _reader(self, conn: _Conn) -> None:
        ws, twin = conn.ws, self.twin
        while not ws.closed:
            try:
                msg = await ws.receive(timeout=twin.config.idle_timeout_s)
            except TimeoutError:
                await ws.close(code=1000, message=b"idle timeout")
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return
            stalled = twin.faults.active(FaultKind.STALL) is not None
            if msg.type is WSMsgType.PING and not stalled:
                await ws.pong(msg.data)
            elif msg.type is WSMsgType.TEXT and not stalled:
                for reply in self._handle(conn, msg.data):
                    self._enqueue(conn, _encode(reply))

    # -- requests -----------------------------------------------------------------------------------------
    def _ack(self, conn: _Conn, op: str, req_id: str | None, ok: bool, ret_msg: str = "") -> dict[str, Any]:
        if conn.private:
            out: dict[str, Any] = {"success": ok, "ret_msg": ret_msg, "op": op, "conn_id": conn.conn_id}
            return out | ({"req_id": req_id} if req_id is not None else {})
        return {"success": ok, "ret_msg": ret_msg, "conn_id": conn.conn_id, "req_id": req_id or "", "op": op}

    def _handle(self, conn: _Conn, text: str) -> list[dict[str, Any]]:
        try:
            req = json.loads(text)
        except json.JSONDecodeError:
            req = None
        if not isinstance(req, dict):
            return [self._ack(conn, "", None, False, "error:request not supported")]
        op, args = req.get("op"), req.get("args", [])
        req_id = req.get("req_id")
        req_id = str(req_id) if req_id is not None else None
        now = self.twin.now_ms()
        if op == "ping":
            if conn.private:
                out: dict[str, Any] = {"req_id": req_id} if req_id is not None else {}
                return [out | {"op": "pong", "args": [str(now)], "conn_id": conn.conn_id}]
            return [self._ack(conn, "ping", req_id, True, "pong")]
        if op == "auth":
            if not conn.private:
                return [self._ack(conn, "auth", req_id, False, "error:auth not supported on public stream")]
            cred, why = verify_ws_auth(self.twin.keys, args, now)
            conn.authed = conn.authed or cred is not None
            return [self._ack(conn, "auth", req_id, cred is not None, why)]
        if op in ("subscribe", "unsubscribe"):
            return self._subscription(conn, op, args, req_id, now)
        return [self._ack(conn, str(op), req_id, False, f"error:invalid op {op!r}")]

    def _valid(self, conn: _Conn, topic: str) -> bool:
        if conn.private:
            return topic in PRIVATE_TOPICS
        m = _PUBLIC.match(topic)
        return m is not None and m.group(4) in self.twin.specs

    def _subscription(self, conn: _Conn, op: str, args: object, req_id: str | None, now: int) -> list[dict[str, Any]]:
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return [self._ack(conn, op, req_id, False, "error:args must be a non-empty list of topics")]
        if conn.private and not conn.authed:
            return [self._ack(conn, op, req_id, False, "Request not authorized")]
        bad = [a for a in args if not self._valid(conn, a)]
        if bad:
            return [self._ack(conn, op, req_id, False, f"error:handler not found,topic:{bad[0]}")]
        if op == "unsubscribe":
            for t in args:
                conn.topics.discard(t)
                self._index.get(t, set()).discard(conn)
            return [self._ack(conn, op, req_id, True)]
        dup = [a for a in args if a in conn.topics]
        if dup:
            return [self._ack(conn, op, req_id, False, f"error:already subscribed,topic:{dup[0]}")]
        replies = [self._ack(conn, op, req_id, True)]
        for t in args:
            conn.topics.add(t)
            self._index.setdefault(t, set()).add(conn)
            replies += self._initial(t, now)
        return replies

    def _initial(self, topic: str, now: int) -> list[dict[str, Any]]:
        """The snapshot a new subscriber of ``topic`` receives right after the ack."""
        twin = self.twin
        head, _, symbol = topic.rpartition(".")
        if head.startswith("orderbook."):
            return [twin.snapshot_message(symbol, twin.view(symbol, int(head.split(".")[1])), now)]
        if head == "tickers":
            return [twin.ticker_snapshot(symbol, now)]
        return []
