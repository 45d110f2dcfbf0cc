"""Helpers (not tests) for the Deribit twin tests: an independent minimal Deribit v2 JSON-RPC client.

Written from the Deribit docs (signature rules in shared/PROTOCOLS.md section 4), not from any code under
``simulator/`` or ``venues/``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp

_ids = itertools.count(1)


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_header(key: str, secret: str, method: str, uri: str, body: str = "", ts: int | None = None,
                  nonce: str = "abcd1234") -> str:
    """``deri-hmac-sha256`` Authorization header for ``METHOD uri`` (uri includes the query)."""
    ts = ts if ts is not None else time.time_ns() // 1_000_000
    sig = hmac_hex(secret, f"{ts}\n{nonce}\n{method}\n{uri}\n{body}\n")
    return f"deri-hmac-sha256 id={key},ts={ts},sig={sig},nonce={nonce}"


async def http_get(session: aiohttp.ClientSession, base: str, method: str, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    query = ("?" + urlencode(params)) if params else ""
    async with session.get(f"{base}/api/v2/{method}{query}", headers=headers or {}) as r:
        return r.status, await r.json()


async def signed_get(session: aiohttp.ClientSession, base: str, key: str, secret: str, method: str,
                     params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    uri = f"/api/v2/{method}" + (("?" + urlencode(params)) if params else "")
    async with session.get(base + uri, headers={"Authorization": signed_header(key, secret, "GET", uri)}) as r:
        return r.status, await r.json()


class WsRpc:
    """JSON-RPC over one WebSocket: ``call`` waits for its reply; notifications are kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.notes: list[dict[str, Any]] = []

    async def call(self, method: str, params: dict[str, Any] | None = None, wait_s: float = 5.0) -> dict[str, Any]:
        req_id = next(_ids)
        await self.ws.send_str(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or {}}))
        for _ in range(100_000):
            msg = json.loads((await self.ws.receive(timeout=wait_s)).data)
            if msg.get("id") == req_id:
                return msg  # type: ignore[no-any-return]
            self.notes.append(msg)
        raise AssertionError(f"no reply to {method}")

    async def next_note(self, wait_s: float = 5.0) -> dict[str, Any]:
        if self.notes:
            return self.notes.pop(0)
        return json.loads((await self.ws.receive(timeout=wait_s)).data)  # type: ignore[no-any-return]

    async def auth(self, key: str, secret: str) -> dict[str, Any]:
        return await self.call("public/auth", {"grant_type": "client_credentials", "client_id": key, "client_secret": secret})


class BookFollower:
    """The documented procedure: take the snapshot, apply changes while prev_change_id == last change_id."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.change_id: int | None = None
        self.changes_applied = 0

    def feed(self, data: dict[str, Any]) -> None:
        if data["type"] == "snapshot":
            self.bids, self.asks = {}, {}
        elif data["prev_change_id"] != self.change_id:
            msg = f"expected prev_change_id {self.change_id}, got {data['prev_change_id']} at {data['change_id']}"
            raise AssertionError(msg)
        else:
            self.changes_applied += 1
        for rows, side in ((data["bids"], self.bids), (data["asks"], self.asks)):
            for action, price, amount in rows:
                p = Decimal(str(price))
                if action == "delete":
                    side.pop(p, None)
                else:
                    assert (action == "new") == (p not in side) or data["type"] == "snapshot", (action, price)
                    side[p] = Decimal(str(amount))
        self.change_id = data["change_id"]

    def top(self, depth: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return (sorted(self.bids.items(), reverse=True)[:depth], sorted(self.asks.items())[:depth])
