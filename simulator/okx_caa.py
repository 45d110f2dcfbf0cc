"""OKX v5 Cancel All After on the twin: ``POST /api/v5/trade/cancel-all-after``, its timers and their expiry.

Invariants (OKX v5 docs, Order Book Trading > Trade > "POST / Cancel All After", as of 2026-12):
- ``timeOut`` (string, required): "0" switches the timer off, else whole seconds from 10 to 120. Missing or
  empty: 50014 "Parameter timeOut can not be empty."; anything else: 51000 "Parameter timeOut error" (both
  HTTP 400, the error catalog's status for them).
- ``tag`` (optional; up to 16 letters and digits, else 51000 "Parameter tag error"): none sets the
  account-level timer, which cancels every pending order; a tag sets that tag's timer, which cancels only the
  pending orders placed with that ``tag``. At most ``MAX_TAG_TIMERS`` live tag-level timers (51071).
- Each call replaces its timer's deadline with now + timeOut on the twin clock (server time) and answers
  ``[{"triggerTime": "<ms>" ("0": off), "tag": "<tag>", "ts": "<ms>"}]``. Signed like every private
  endpoint; 1 request per second per (API key, tag) (okx_auth: ``trade/cancel-all-after``), 50011 beyond.
- Expiry: while any timer is set, a check runs on the event loop every ``CHECK_S`` (a loop timer held here
  and cancelled by ``close``, not a task: the check itself never waits). When a deadline has passed, the
  twin cancels every pending order of its scope through the engine; the private ``orders`` channel pushes
  each as ``canceled`` with ``cancelSource`` "20" (order details also carry ``cancelSourceReason`` "Cancel
  all after triggered"); then that timer is off until set again.
- Admin: ``GET /__admin/cancel_all_after`` -> ``{"timers": {"<tag>": deadline ms}, "fired": [...],
  "check_failures": n}``; ``POST /__admin/cancel_all_after`` ``{"tag": "", "in_ms": 0}`` moves a set timer's
  deadline to now + ``in_ms`` (a test expires it without waiting; 404 when that timer is not set).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aiohttp import web

from simulator.okx_auth import OkxError

__all__ = ["CancelAllAfter", "Fired", "cancel_all_after", "admin_routes", "TimerOwner", "CHECK_S", "MAX_TAG_TIMERS",
           "TIME_OUT_RANGE_S"]

log = logging.getLogger("simulator.okx")

CHECK_S = 0.02
"""How often the deadlines are checked while a timer is set (seconds of loop time)."""
MAX_TAG_TIMERS = 20
TIME_OUT_RANGE_S = (10, 120)
_TAG = re.compile(r"^[A-Za-z0-9]{1,16}$")


@dataclass(frozen=True, slots=True)
class Fired:
    """A timer that ran out: its tag, deadline, when the check fired it, and the orders it cancelled."""

    tag: str
    deadline_ms: int
    fired_ms: int
    order_ids: tuple[int, ...]


class CancelAllAfter:
    """The account's Cancel All After timers (tag -> deadline on the twin clock).

    Args:
        now_ms: The twin's server time.
        cancel: ``cancel(tag, now_ms)`` cancels the pending orders of that scope ("" for all), pushes them and
            returns their order ids.
        check_s: The check's period while a timer is set.
    """

    def __init__(self, now_ms: Callable[[], int], cancel: Callable[[str, int], list[int]],
                 check_s: float = CHECK_S) -> None:
        self._now = now_ms
        self._cancel = cancel
        self._check_s = check_s
        self.deadlines: dict[str, int] = {}
        self.fired: deque[Fired] = deque(maxlen=100)
        self.check_failures = 0
        self._handle: asyncio.TimerHandle | None = None

    def set(self, seconds: int, tag: str) -> tuple[int, int]:
        """Set (or with 0 switch off) a timer; returns (triggerTime, ts) as OKX answers them.

        Raises:
            OkxError: 51071 for one tag-level timer more than ``MAX_TAG_TIMERS``.
        """
        now = self._now()
        if seconds == 0:
            self.deadlines.pop(tag, None)
            return 0, now
        if tag and tag not in self.deadlines and sum(1 for t in self.deadlines if t) >= MAX_TAG_TIMERS:
            raise OkxError("51071", "You've reached the maximum limit for tag level cancel all after timers.")
        self.deadlines[tag] = now + seconds * 1000
        self._watch()
        return self.deadlines[tag], now

    def expire_in(self, tag: str, in_ms: int) -> int:
        """Move a set timer's deadline to now + ``in_ms`` (admin); returns it.

        Raises:
            KeyError: that timer is not set.
        """
        if tag not in self.deadlines:
            raise KeyError(tag)
        self.deadlines[tag] = self._now() + in_ms
        self._watch()
        return self.deadlines[tag]

    def check(self) -> list[Fired]:
        """Fire every timer whose deadline has passed (the account-level one first)."""
        now = self._now()
        out = []
        for tag in sorted(t for t, d in self.deadlines.items() if d <= now):
            deadline = self.deadlines.pop(tag)
            out.append(Fired(tag, deadline, now, tuple(self._cancel(tag, now))))
        self.fired.extend(out)
        return out

    def close(self) -> None:
        """Stop checking (the twin is shutting down)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def to_json(self) -> dict[str, Any]:
        return {"timers": dict(self.deadlines), "fired": [asdict(f) for f in self.fired],
                "check_failures": self.check_failures}

    def _watch(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self._check_s, self._tick)

    def _tick(self) -> None:
        self._handle = None
        try:
            self.check()
        except Exception:  # counted and shown on the admin view; the next check tries again
            self.check_failures += 1
            log.exception("okx twin: cancel-all-after check failed")
        if self.deadlines:
            self._watch()


class TimerOwner(Protocol):
    """What holds the account's timers (the OKX twin)."""

    caa: CancelAllAfter


def cancel_all_after(twin: TimerOwner, p: Any) -> Any:
    """``POST /api/v5/trade/cancel-all-after`` (signature and rate limit already checked by the view)."""
    if not isinstance(p, dict):
        p = {}
    raw = p.get("timeOut")
    if raw is None or raw == "":
        raise OkxError("50014", "Parameter timeOut can not be empty.", 400)
    text = str(raw)
    seconds = int(text) if text.isascii() and text.isdigit() else -1
    lo, hi = TIME_OUT_RANGE_S
    if seconds != 0 and not lo <= seconds <= hi:
        raise OkxError("51000", "Parameter timeOut error", 400)
    tag = str(p.get("tag") or "")
    if tag and not _TAG.match(tag):
        raise OkxError("51000", "Parameter tag error", 400)
    trigger, ts = twin.caa.set(seconds, tag)
    return [{"triggerTime": str(trigger), "tag": tag, "ts": str(ts)}]


def admin_routes(twin: TimerOwner) -> list[web.RouteDef]:
    """The admin view of the timers and the way to run one out now (module docstring)."""

    async def get_view(_: web.Request) -> web.Response:
        return web.json_response(twin.caa.to_json())

    async def post_expire(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
            tag, in_ms = str(body.get("tag", "")), int(body.get("in_ms", 0))
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            return web.json_response({"error": f"expected {{\"tag\": str, \"in_ms\": int}}, got: {exc}"}, status=400)
        try:
            deadline = twin.caa.expire_in(tag, in_ms)
        except KeyError:
            return web.json_response({"error": f"no cancel-all-after timer set for tag {tag!r}"}, status=404)
        return web.json_response({"tag": tag, "deadline_ms": deadline})

    return [web.get("/__admin/cancel_all_after", get_view), web.post("/__admin/cancel_all_after", post_expire)]
