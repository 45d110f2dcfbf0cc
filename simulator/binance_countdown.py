"""Binance USD-M "Auto-Cancel All Open Orders" (``POST /fapi/v1/countdownCancelAll``) on the twin.

Built from the venue's page (developers.binance.com, USD-M Trade "Auto-Cancel All Open Orders (TRADE)"):

- One countdown per symbol. A call sets ``deadline = now + countdownTime`` (twin clock, ms) and replaces the
  countdown running for that symbol ("called repeatedly as heartbeats"); ``countdownTime=0`` stops it. The
  answer echoes ``{"symbol": ..., "countdownTime": "<ms>"}`` (a string).
- The venue "will check all countdowns approximately every 10 milliseconds": a checker runs every
  ``CHECK_S`` while any countdown exists; a countdown whose deadline passed cancels every open order of its
  symbol through the twin's engine (so the user data stream carries ORDER_TRADE_UPDATE CANCELED, as for any
  cancel) and is then gone until set again. Other symbols are untouched.
- The checker is a loop timer (``call_later``), armed by the first countdown and re-armed by each check
  while countdowns remain, never a task: the twin's lifetime is its aiohttp app's, which has no task group of
  its own (start_twins, ``python -m simulator`` and tests set it up and clean it up), so nothing can be left
  running; ``close`` (on the app's cleanup) drops a pending timer.
- ``refusal`` (tests, ``POST /__admin/countdowns``) makes the endpoint answer that error instead, after the
  signature check, as the venue would for a key or an account that may not use it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["CHECK_S", "Countdown", "Countdowns", "Fired"]

CHECK_S = 0.010
"""How often the checker looks at the deadlines while any countdown runs (the venue's ~10 ms)."""


@dataclass(frozen=True, slots=True)
class Countdown:
    """One symbol's running countdown (twin clock, ms)."""

    countdown_ms: int
    set_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Fired:
    """A countdown that ran out: when (twin clock) and the client ids of the orders it cancelled."""

    symbol: str
    at_ms: int
    cancelled: tuple[str, ...]


class Countdowns:
    """The countdowns of the twin's one account.

    Args:
        clock_ms: the twin's clock (ms).
        cancel_all: cancels every open order of a symbol at a time and pushes the user data; returns the
            client ids cancelled.
    """

    def __init__(self, clock_ms: Callable[[], int], cancel_all: Callable[[str, int], list[str]]) -> None:
        self._clock_ms = clock_ms
        self._cancel_all = cancel_all
        self.running: dict[str, Countdown] = {}
        self.sets: Counter[str] = Counter()  # accepted calls per symbol (countdownTime 0 included)
        self.fired: list[Fired] = []
        self.refusal: tuple[int, str, int] | None = None  # (code, msg, HTTP status) answered instead
        self._timer: asyncio.TimerHandle | None = None

    def set(self, symbol: str, countdown_ms: int) -> dict[str, str]:
        """A countdownCancelAll call: start, replace or (0) stop ``symbol``'s countdown; the venue's answer."""
        now = self._clock_ms()
        self.sets[symbol] += 1
        if countdown_ms == 0:
            self.running.pop(symbol, None)
        else:
            self.running[symbol] = Countdown(countdown_ms, now, now + countdown_ms)
            self._arm()
        return {"symbol": symbol, "countdownTime": str(countdown_ms)}

    def check(self, now_ms: int | None = None) -> list[Fired]:
        """Fire every countdown whose deadline passed: cancel its symbol's open orders, forget it."""
        now = self._clock_ms() if now_ms is None else now_ms
        out = []
        for symbol in [s for s, c in self.running.items() if c.deadline_ms <= now]:
            del self.running[symbol]  # first: a failing cancel must not fire it again every 10 ms
            fired = Fired(symbol, now, tuple(self._cancel_all(symbol, now)))
            self.fired.append(fired)
            out.append(fired)
        return out

    def close(self) -> None:
        """Drop the pending check (the app is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the checker ------------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(CHECK_S, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            self.check()
        finally:
            if self.running:
                self._arm()

    # -- admin ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "countdowns": {s: {"countdown_ms": c.countdown_ms, "set_ms": c.set_ms, "deadline_ms": c.deadline_ms}
                           for s, c in self.running.items()},
            "sets": dict(self.sets),
            "fired": [{"symbol": f.symbol, "at_ms": f.at_ms, "cancelled": list(f.cancelled)} for f in self.fired],
            "refusal": None if self.refusal is None else dict(zip(("code", "msg", "status"), self.refusal, strict=True)),
        }

    def routes(self) -> list[web.RouteDef]:
        """``GET /__admin/countdowns`` (state), ``POST /__admin/countdowns`` ``{"refuse": {"code", "msg",
        "status"} | null}`` (set or clear the refusal)."""

        async def get(_: web.Request) -> web.Response:
            return web.json_response(self.to_json())

        async def post(request: web.Request) -> web.Response:
            body = await request.json()
            refuse = body.get("refuse") if isinstance(body, dict) else None
            if refuse is None:
                self.refusal = None
            elif isinstance(refuse, dict) and isinstance(refuse.get("code"), int) and isinstance(refuse.get("msg"), str):
                self.refusal = (refuse["code"], refuse["msg"], int(refuse.get("status", 400)))
            else:
                msg = f'expected {{"refuse": {{"code": <int>, "msg": <str>, "status": <int>}} or null}}, got {body!r}'
                return web.json_response({"error": msg}, status=400)
            return web.json_response(self.to_json())

        return [web.get("/__admin/countdowns", get), web.post("/__admin/countdowns", post)]
