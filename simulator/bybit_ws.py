"""Bybit v5 WebSockets of the twin: ``/v5/public/linear`` (market topics) and ``/v5/private`` (account topics).

Invariants:
- Requests are JSON ``{"op": subscribe|unsubscribe|ping|auth, "args": [...], "req_id": ...}``; replies use the
  linear public shape (``success``/``ret_msg``/``conn_id``/``req_id``/``op``) or, on the private socket, the
  private shapes (pong is ``{"op": "pong", "args": [ms]}``).
- An ``orderbook`` or ``tickers`` subscription is acknowledged first, then its snapshot is sent; all frames
  of a connection leave in order through one bounded, latency-delayed line drained by the connection's writer
  task (wsconn.py; owned by the handler's anyio task group). A full line drops the connection; the market
  never blocks.
- Private topics need a successful ``auth`` first; topics ``order``/``execution``/``position`` (the
  all-in-one names) or ``order.linear``/``execution.linear``/``position.linear`` (categorised), and
  ``wallet``. An all-in-one and a categorised topic cannot be in one subscribe request (docs/v5/websocket/
  private/*.mdx); the twin has linear instruments only, so both carry the same rows.
- ``dcp.future`` / ``dcp.spot`` / ``dcp.option`` (private, after auth) make a connection count for Bybit's
  disconnection protection (bybit_dcp.py): when the last connection holding one closes (however: client
  close, DROP_WS, idle timeout) or unsubscribes it, that product's countdown starts; a new subscription
  stops it, after firing it if it is already overdue. The deprecated ``dcp`` topic is not served.
- ``twin.refuse_subscribes = n`` / ``twin.refuse_logins = n`` (test knobs) refuse the next ``n`` well-formed
  subscribe requests / valid logins.
- Every refused request is answered ``{"success": false, "ret_msg": ..., "op": ...}`` (plus ``conn_id``, and
  ``req_id`` when sent), never dropped.
- ``ip_allowed=False``: a valid ``auth`` is refused with 10010's text (``success: false``). UNKNOWN_FIELD adds its
  field to the ``data`` of every public push (snapshots included); UNKNOWN_EVENT pushes one frame of an undocumented
  topic on every public connection (``Hub.push_unknown_event``).
- A connection that sends nothing for ``idle_timeout_s`` is closed. STALL: nothing is sent and no ping is
  answered. DROP_WS aborts the TCP transport with no close frame.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import wsconn
from simulator.bybit_auth import UNMATCHED_IP, verify_ws_auth
from simulator.bybit_config import BybitTwinLike
from simulator.bybit_dcp import TOPICS as DCP_TOPICS
from simulator.faults import FaultKind

__all__ = ["Hub", "PRIVATE_TOPICS", "ALL_IN_ONE"]

_encode = msgspec.json.Encoder().encode
ALL_IN_ONE = frozenset({"order", "execution", "position"})
PRIVATE_TOPICS = ALL_IN_ONE | {f"{t}.linear" for t in ALL_IN_ONE} | {"wallet"} | set(DCP_TOPICS)
_PUBLIC = re.compile(r"^(orderbook\.(1|50|200|1000)|publicTrade|tickers|kline\.(1|3|5|15|30|60|120|240|360|720|D|W))\.([A-Z0-9]+)$")


@dataclass(eq=False)
class _Conn(wsconn.Conn):
    private: bool
    conn_id: str
    topics: set[str] = field(default_factory=set)
    authed: bool = False


class Hub(wsconn.Hub[BybitTwinLike, str, _Conn]):
    """All WebSocket connections of one Bybit twin and the topic -> connections index."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v5/public/linear", self._public), web.get("/v5/private", self._private)]

    # -- publishing ---------------------------------------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Send one message to every subscriber of a public topic."""
        conns = self._index.get(topic)
        if not conns:
            return
        frame = _encode(self.twin.drifted(payload))
        for conn in list(conns):
            wsconn.enqueue(conn, frame)

    def publish_private(self, topic: str, data: list[dict[str, Any]], ts: int) -> None:
        """Push ``data`` on a private topic to authenticated subscribers (``topic`` or ``topic.linear``)."""
        for conn in list(self.conns):
            if not (conn.private and conn.authed):
                continue
            for name in (topic, f"{topic}.linear"):
                if name in conn.topics:
                    msg = {"id": f"{uuid.uuid4().hex[:12]}-{ts}", "topic": name, "creationTime": ts, "data": data}
                    wsconn.enqueue(conn, _encode(msg))

    # -- disconnection protection ---------------------------------------------------------------------------
    def dcp_holders(self) -> dict[str, int]:
        """Live private connections holding each ``dcp.*`` topic."""
        return {t: sum(1 for c in self._index.get(t, ()) if c.private) for t in DCP_TOPICS}

    def _dcp_released(self, topics: set[str], now: int) -> None:
        """``topics`` left a connection: a DCP product whose topic no live connection holds starts its countdown."""
        for t in topics & DCP_TOPICS.keys():
            if not self._index.get(t):
                self.twin.dcp.lost(DCP_TOPICS[t], now)

    # -- faults -------------------------------------------------------------------------------------------
    def push_unknown_event(self) -> None:
        """UNKNOWN_EVENT: one push of an undocumented topic on every public connection, then the fault is used
        up; with no public connection yet, the next one to subscribe gets it."""
        public = [c for c in self.conns if not c.private]
        if not public:
            return
        frame = _encode(self.twin.unknown_event())
        for conn in public:
            wsconn.enqueue(conn, frame)
        self.twin.faults.consume(FaultKind.UNKNOWN_EVENT)

    def mark_malformed(self) -> None:
        self.twin.faults.consume(FaultKind.MALFORMED_FRAME)
        super().mark_malformed()

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def _public(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=False)

    async def _private(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=True)

    async def _serve(self, request: web.Request, *, private: bool) -> web.StreamResponse:
        twin = self.twin
        ws = await wsconn.accept(request)
        out, inbox = wsconn.lines(twin.latency, twin.config.send_queue)
        conn = _Conn(request, ws, out, inbox, private, str(uuid.uuid4()))
        wsconn.admit(conn, self.conns, twin.faults)
        try:
            await wsconn.serve(conn, self.conns, twin.faults, lambda: self._reader(conn))
        finally:
            self._unindex(conn, conn.topics)
            self._dcp_released(conn.topics, twin.now_ms())
        return ws

    async def _reader(self, conn: _Conn) -> None:
        ws, twin = conn.ws, self.twin
        while True:
            try:
                with anyio.fail_after(twin.config.idle_timeout_s):
                    msg = await conn.inbox.get()
            except TimeoutError:
                await ws.close(code=1000, message=b"idle timeout")
                return
            except anyio.EndOfStream:
                return
            if msg.type is WSMsgType.ERROR:  # a close ends the inbox instead (wsconn.read)
                return
            stalled = twin.faults.active(FaultKind.STALL) is not None
            if msg.type is WSMsgType.PING and not stalled:
                await ws.pong(msg.data)
            elif msg.type is WSMsgType.TEXT and not stalled:
                for reply in self._handle(conn, msg.data):
                    wsconn.enqueue(conn, _encode(reply))

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
            if cred is not None and not self.twin.config.ip_allowed:  # the key is bound to other IPs
                cred, why = None, UNMATCHED_IP
            if cred is not None and self.twin.refuse_logins > 0:  # the test knob: the venue refuses it
                self.twin.refuse_logins -= 1
                cred, why = None, "error:system busy, please retry later"
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
        if conn.private and ALL_IN_ONE & set(args) and any(a.endswith(".linear") for a in args):
            return [self._ack(conn, op, req_id, False,
                              "error:All-In-One topic and Categorised topic cannot be in the same request")]
        if op == "subscribe" and self.twin.refuse_subscribes > 0:  # the test knob: the venue refuses it
            self.twin.refuse_subscribes -= 1
            return [self._ack(conn, op, req_id, False, "error:system busy, please retry later")]
        if op == "unsubscribe":
            for t in args:
                conn.topics.discard(t)
                self._index.get(t, set()).discard(conn)
            self._dcp_released(set(args), now)
            return [self._ack(conn, op, req_id, True)]
        dup = [a for a in args if a in conn.topics]
        if dup:
            return [self._ack(conn, op, req_id, False, f"error:already subscribed,topic:{dup[0]}")]
        if DCP_TOPICS.keys() & set(args):
            self.twin.dcp_tick(now)  # a countdown already past its window has fired: coming back is too late
        replies = [self._ack(conn, op, req_id, True)]
        for t in args:
            conn.topics.add(t)
            self._index.setdefault(t, set()).add(conn)
            if t in DCP_TOPICS:
                self.twin.dcp.held(DCP_TOPICS[t])
            replies += self._initial(t, now)
        if not conn.private and self.twin.faults.active(FaultKind.UNKNOWN_EVENT) is not None:
            replies.append(self.twin.unknown_event())  # the fault came before any public connection
            self.twin.faults.consume(FaultKind.UNKNOWN_EVENT)
        return replies

    def _initial(self, topic: str, now: int) -> list[dict[str, Any]]:
        """The snapshot a new subscriber of ``topic`` receives right after the ack."""
        twin = self.twin
        head, _, symbol = topic.rpartition(".")
        if head.startswith("orderbook."):
            return [twin.drifted(twin.snapshot_message(symbol, twin.view(symbol, int(head.split(".")[1])), now))]
        if head == "tickers":
            return [twin.drifted(twin.ticker_snapshot(symbol, now))]
        return []
