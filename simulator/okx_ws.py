"""OKX v5 WebSockets: /ws/v5/public, /ws/v5/business, /ws/v5/private; subscribe, login, ping, idle close.

Invariants:
- Paths carry disjoint channel sets: public = books, books5, bbo-tbt, trades, tickers; business =
  candle<bar>; private = orders, positions, account (after ``op: login``). A channel on the wrong path or an
  unknown instId is refused with ``event: error`` 60018; a private channel before login with 60011.
- A ``books`` subscription is acked, then gets one ``action: snapshot`` (prevSeqId -1; left out when
  ``OkxConfig.book_snapshot`` is off, as OKX announced) and afterwards every ``update`` the twin publishes,
  in order, through the same per-connection queue (so nothing interleaves).
- The literal text ``ping`` is answered with the literal text ``pong``. A connection with no traffic either
  way for ``idle_timeout_s`` is closed (4004), except while a STALL fault holds it open and silent.
- Drift faults: UNKNOWN_FIELD adds its field to every object row of every market-data push (the books
  snapshot included; candle rows are arrays and stay as they are); UNKNOWN_EVENT pushes one frame of an
  undocumented channel on every public and business connection open at that moment.
- ``OkxConfig.ip_allowed`` False: a login with good credentials is answered with the 50110 error (this host is
  not on the key's IP whitelist). Private ``positions`` / ``account`` pushes carry ``eventType: event_update``.
- Each connection has a bounded, latency-delayed send line drained by its own writer task and an inbox fed
  by a pump task (wsconn.py; anyio task group owned by the aiohttp handler); a full send line aborts the
  connection (a slow consumer never blocks the market).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from simulator import okx_format as fmt
from simulator import wsconn
from simulator.faults import FaultKind
from simulator.okx_auth import OkxError, ip_not_allowed, verify_login
from simulator.okx_config import OkxTwinLike

__all__ = ["OkxStreams", "PUBLIC_CHANNELS", "PRIVATE_CHANNELS"]

PUBLIC_CHANNELS = frozenset({"books", "books5", "bbo-tbt", "trades", "tickers"})
BUSINESS_CHANNELS = frozenset(f"candle{bar}" for bar in fmt.BARS)
PRIVATE_CHANNELS = frozenset({"orders", "positions", "account"})
_PATH_CHANNELS = {"public": PUBLIC_CHANNELS, "business": BUSINESS_CHANNELS, "private": PRIVATE_CHANNELS}
_encode = msgspec.json.Encoder().encode
Data = list[dict[str, Any]] | list[list[str]]


@dataclass(eq=False)
class _Conn(wsconn.Conn):
    path: str
    conn_id: str
    subs: set[tuple[str, str]] = field(default_factory=set)
    private: list[dict[str, str]] = field(default_factory=list)
    logged_in: bool = False
    last_in: float = field(default_factory=time.monotonic)
    last_out: float = field(default_factory=time.monotonic)


def _sent(conn: _Conn) -> None:
    conn.last_out = time.monotonic()


class OkxStreams(wsconn.Hub[OkxTwinLike, tuple[str, str], _Conn]):
    """All WebSocket connections of one OKX twin and the (channel, instId) -> connections index."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/ws/v5/{p}", self._make(p)) for p in _PATH_CHANNELS]

    # -- publishing ---------------------------------------------------------------------------------------
    def publish(self, channel: str, inst_id: str, data: Data | Callable[[], Data], action: str | None = None) -> None:
        """Push ``data`` (or the factory's result, built only if someone listens) to (channel, instId)."""
        conns = self._index.get((channel, inst_id))
        if not conns:
            return
        msg: dict[str, Any] = {"arg": {"channel": channel, "instId": inst_id}}
        if action is not None:
            msg["action"] = action
        msg["data"] = self.twin.drift_rows(data() if callable(data) else data)
        frame = _encode(msg).decode()
        for conn in list(conns):
            wsconn.enqueue(conn, frame)

    def publish_private(self, channel: str, inst_id: str, data: Data | None) -> None:
        """Push to logged-in private subscribers of ``channel`` whose filter matches ``inst_id``.

        ``data`` None means "build the channel's current rows" (positions / account).
        """
        from simulator.okx_account import balance_data, position_rows

        for conn in list(self.conns):
            for arg in conn.private:
                if arg["channel"] != channel or not conn.logged_in:
                    continue
                if arg.get("instId") and arg["instId"] != inst_id:
                    continue
                push: dict[str, Any] = {"arg": arg | {"uid": self.twin.config.uid}}
                if channel == "account":
                    spec = self.twin.specs[inst_id]
                    ccy = arg.get("ccy")
                    if ccy and ccy != spec.settle_asset:
                        continue
                    push["eventType"] = "event_update"
                    rows: Data = [_account_row(self.twin, balance_data(self.twin, {ccy} if ccy else None))]
                elif channel == "positions":
                    push["eventType"] = "event_update"
                    rows = position_rows(self.twin, {arg["instId"]} if arg.get("instId") else None, include={inst_id})
                else:
                    rows = data or []
                wsconn.enqueue(conn, _encode(push | {"data": rows}).decode())

    # -- faults -------------------------------------------------------------------------------------------
    def push_unknown_channel(self, channel: str, now_ms: int, conns: Iterable[_Conn] | None = None) -> int:
        """UNKNOWN_EVENT: one push of a channel OKX does not document, shaped like its pushes (``arg`` naming
        the channel and an instrument, one ``data`` row), on every public and business connection (or on
        ``conns``); returns how many connections got it."""
        inst = next(iter(self.twin.specs))
        frame = _encode({"arg": {"channel": channel, "instId": inst}, "data": [{"instId": inst, "ts": str(now_ms)}]})
        pushed = 0
        for conn in list(self.conns if conns is None else conns):
            if conn.path != "private":
                wsconn.enqueue(conn, frame.decode())
                pushed += 1
        return pushed

    # -- connection lifecycle -----------------------------------------------------------------------------
    def _make(self, path: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, path)

        return handler

    async def _serve(self, request: web.Request, path: str) -> web.StreamResponse:
        twin = self.twin
        ws = await wsconn.accept(request)
        out, inbox = wsconn.lines(twin.latency, twin.config.send_queue)
        conn = _Conn(request, ws, out, inbox, path, f"{twin.rng.getrandbits(32):08x}")
        wsconn.admit(conn, self.conns, twin.faults)
        unknown = twin.faults.active(FaultKind.UNKNOWN_EVENT)  # armed while no public connection was open
        if unknown is not None and self.push_unknown_channel(str(unknown.params.get("event", "x_new_event")),
                                                             twin.now_ms(), [conn]) and unknown.until is None:
            twin.faults.consume(FaultKind.UNKNOWN_EVENT)
        try:
            await wsconn.serve(conn, self.conns, twin.faults, lambda: self._reader(conn),
                               keeper=lambda: self._watchdog(conn), sent=lambda: _sent(conn))
        finally:
            self._unindex(conn, conn.subs)
        return ws

    async def _watchdog(self, conn: _Conn) -> None:
        idle = self.twin.config.idle_timeout_s
        while not conn.ws.closed:
            await anyio.sleep(min(1.0, idle / 4))
            now = time.monotonic()
            if self.twin.faults.active(FaultKind.STALL) is not None:
                conn.last_in = now  # held open and silent: the idle clock does not run
                continue
            if now - max(conn.last_in, conn.last_out) > idle:
                await conn.ws.close(code=4004, message=b"No data received in 30s.")
                return

    async def _reader(self, conn: _Conn) -> None:
        faults = self.twin.faults
        async for msg in conn.inbox:
            conn.last_in = time.monotonic()
            if faults.active(FaultKind.STALL) is not None:
                continue  # stalled: requests and pings go unanswered
            if msg.type is WSMsgType.PING:
                await conn.ws.pong(msg.data)
                continue
            if msg.type is not WSMsgType.TEXT:
                continue
            if msg.data == "ping":
                wsconn.enqueue(conn, "pong")
                continue
            for reply in self._handle(conn, msg.data):
                wsconn.enqueue(conn, _encode(reply).decode())

    # -- requests -----------------------------------------------------------------------------------------
    def _error(self, conn: _Conn, code: str, msg: str, req_id: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(req_id)} if req_id is not None else {}
        return out | {"event": "error", "code": code, "msg": msg, "connId": conn.conn_id}

    def _handle(self, conn: _Conn, text: str) -> list[dict[str, Any]]:
        try:
            req = json.loads(text)
        except json.JSONDecodeError:
            return [self._error(conn, "60012", f"Invalid request: {text}")]
        if not isinstance(req, dict) or not isinstance(req.get("args"), list):
            return [self._error(conn, "60012", f"Invalid request: {text}", req.get("id") if isinstance(req, dict) else None)]
        op, req_id, args = req.get("op"), req.get("id"), req["args"]
        if op == "login":
            return [self._login(conn, args, req_id)]
        if op not in ("subscribe", "unsubscribe"):
            return [self._error(conn, "60012", f"Invalid request: {text}", req_id)]
        out: list[dict[str, Any]] = []
        for arg in args:
            out += self._subscribe(conn, arg, req_id, op == "subscribe")
        return out

    def _login(self, conn: _Conn, args: list[Any], req_id: Any) -> dict[str, Any]:
        twin = self.twin
        try:
            if len(args) != 1 or not isinstance(args[0], dict):
                raise OkxError("60009", "Login failed.")
            verify_login(twin.keys, args[0], twin.now_ms(), int(twin.config.timestamp_window_s * 1000))
            if not twin.config.ip_allowed:
                raise ip_not_allowed(conn.request.remote)
        except OkxError as exc:
            return self._error(conn, exc.code, exc.msg, req_id)
        conn.logged_in = True
        out: dict[str, Any] = {"id": str(req_id)} if req_id is not None else {}
        return out | {"event": "login", "code": "0", "msg": "", "connId": conn.conn_id}

    def _subscribe(self, conn: _Conn, arg: Any, req_id: Any, sub: bool) -> list[dict[str, Any]]:
        twin = self.twin
        if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
            return [self._error(conn, "60012", f"Invalid request: {json.dumps(arg)}", req_id)]
        arg = {str(k): str(v) for k, v in arg.items()}
        channel, inst = arg["channel"], arg.get("instId", "")
        wrong = (f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the correct URL, "
                 "channel and parameters referring to API document.")
        if channel not in _PATH_CHANNELS[conn.path]:
            return [self._error(conn, "60018", wrong, req_id)]
        ack: dict[str, Any] = ({"id": str(req_id)} if req_id is not None else {}) | {
            "event": "subscribe" if sub else "unsubscribe", "arg": arg, "connId": conn.conn_id}
        if conn.path == "private":
            if not conn.logged_in:
                return [self._error(conn, "60011", "Please log in", req_id)]
            if channel != "account" and arg.get("instType", "") not in ("SWAP", "ANY"):
                return [self._error(conn, "60018", wrong, req_id)]
            if inst and inst not in twin.specs:
                return [self._error(conn, "60018", wrong, req_id)]
            conn.private = [a for a in conn.private if a != arg] + ([arg] if sub else [])
            return [ack]
        if inst not in twin.specs:
            return [self._error(conn, "60018", wrong, req_id)]
        key = (channel, inst)
        if not sub:
            conn.subs.discard(key)
            self._index.get(key, set()).discard(conn)
            return [ack]
        conn.subs.add(key)
        self._index.setdefault(key, set()).add(conn)
        out = [ack]
        if channel == "books" and twin.config.book_snapshot:
            d = twin.depth[inst]
            bids, asks = fmt.levels(d.mirror.bids(400)), fmt.levels(d.mirror.asks(400))
            row = twin.book_update(inst, d.mirror.update_id, -1, bids, asks, twin.now_ms())
            out.append({"arg": {"channel": channel, "instId": inst}, "action": "snapshot",
                        "data": twin.drift_rows([row])})
        return out


def _account_row(twin: OkxTwinLike, row: dict[str, Any]) -> dict[str, Any]:
    """The ``account`` channel's row from the balance row: its detail rows name the spot hedging maximum
    ``maxSpotInUseAmt`` (GET balance: ``maxSpotInUse``) and add ``coinUsdPrice`` (OKX v5 docs, Account channel)."""
    details = []
    for d in row["details"]:
        d = {("maxSpotInUseAmt" if k == "maxSpotInUse" else k): v for k, v in d.items()}
        d["coinUsdPrice"] = fmt.num(twin.usd_price(d["ccy"]))
        details.append(d)
    return row | {"details": details}
