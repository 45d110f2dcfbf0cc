"""Helpers for the twin tests: the wire-fixture loader, JSON shapes, an independent signed Binance client,
``python -m simulator`` in a subprocess."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from simulator.runner import RunningTwin

REPO = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """CROSSBOOK_WIRE_FIXTURES, default ../shared/fixtures/wire relative to the repo root."""
    return Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", REPO.parent / "shared" / "fixtures" / "wire"))


def load_fixture(rel: str) -> Any:
    """Load a wire fixture (JSON, or JSONL as a list), skipping the test when fixtures are absent."""
    path = fixtures_dir() / rel
    if not path.exists():
        pytest.skip(f"wire fixture {path} not found (set CROSSBOOK_WIRE_FIXTURES to shared/fixtures/wire)")
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def json_shape(value: Any) -> Any:
    """Keys and JSON types (str/number/bool/null/list/object) of a payload, recursively (lists: first item)."""
    if isinstance(value, dict):
        return {k: json_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


class SignedClient:
    """A minimal independent Binance USD-M signer (HMAC over query+body as documented)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str, secret: str) -> None:
        self.session, self.base, self.key, self.secret = session, base, key, secret

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                      signed: bool = True, in_body: bool = False) -> tuple[int, Any, dict[str, str]]:
        q = dict(params or {})
        if signed:
            q["timestamp"] = time.time_ns() // 1_000_000
            payload = urlencode(q)
            q_str = payload + "&signature=" + hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        else:
            q_str = urlencode(q)
        headers = {"X-MBX-APIKEY": self.key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            resp = await self.session.request(method, self.base + path, data=q_str, headers=headers)
        else:
            resp = await self.session.request(method, self.base + path + ("?" + q_str if q_str else ""), headers=headers)
        async with resp:
            return resp.status, await resp.json(), dict(resp.headers)


@contextmanager
def simulator_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """Run ``python -m simulator *args``; yield the process and its first stdout line (the JSON of the twins).

    The block should end the process itself (SIGTERM, then check the exit code); whatever still runs at the
    end is killed.
    """
    proc = subprocess.Popen([sys.executable, "-m", "simulator", *args], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc, json.loads(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def stop(proc: subprocess.Popen[str]) -> int:
    """SIGTERM ``proc`` and return its exit code."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


async def far_bid(session: aiohttp.ClientSession, rt: RunningTwin, symbol: str) -> str:
    """A whole-number buy price 10% under the twin's best bid (read from its admin book): an order that rests."""
    async with session.get(f"{rt.rest}/__admin/book?symbol={symbol}&depth=1") as r:
        book = await r.json()
    return str(int(Decimal(book["bids"][0][0]) * Decimal("0.9")))
