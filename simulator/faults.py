"""Scriptable fault injection for one twin.

Invariants:
- A fault is active from ``inject`` until its deadline (``duration_s``) or until ``clear``; faults without
  a duration stay until cleared, except the one-shot actions (``ONE_SHOT``), which stay armed until the
  twin consumes them once with ``consume`` (or, if given a duration, keep firing until it ends); a one-shot
  fault injected with the param ``count=N`` is consumed N times before it clears.
- The controller only records intent; each twin decides what a fault means on its wire (e.g. Binance's
  429 body) and checks ``active``/``consume`` at the points it documents. Listeners are told synchronously
  on every inject so "drop all WebSockets" happens at once.
- Time comes from the injected monotonic ``clock``; no globals.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FaultKind", "Fault", "FaultController", "ONE_SHOT"]


class FaultKind(enum.StrEnum):
    """What can go wrong. Values are the names the admin endpoint accepts."""

    DROP_WS = "drop_ws"  # close every WebSocket abruptly (no close frame); with a duration, keep dropping new ones
    STALL = "stall"  # keep connections open but send nothing, answer no pings
    LATENCY = "latency"  # delay every REST response and WS frame by params["ms"]
    HTTP_5XX = "http_5xx"  # answer REST with params.get("status", 503)
    RATE_LIMIT = "rate_limit"  # answer REST with the venue's rate-limit error
    SKIP_SEQUENCE = "skip_sequence"  # the next depth event skips a sequence id (a gap)
    CORRUPT_CHECKSUM = "corrupt_checksum"  # the next book checksum is wrong (OKX)
    MALFORMED_FRAME = "malformed_frame"  # the next frame on every WS is not valid JSON
    REFUSE_CONNECTIONS = "refuse_connections"  # new HTTP/WS connections are aborted
    EXPIRE_LISTEN_KEY = "expire_listen_key"  # user-data keys expire now (Binance listenKey)
    CLOCK_SKEW = "clock_skew"  # the twin's clock is off by params["ms"]
    BAN = "ban"  # the venue bans our IP for duration_s: REST answers with the venue's ban / limit error
    # The venue executes an order placement fully (the order exists, private updates go out), then its answer
    # is lost: replaced by the venue's 5xx / internal error (params["status"], default 500), or dropped (the
    # HTTP connection is aborted with no response bytes; a WS order request's socket is dropped unanswered).
    EXECUTE_THEN_5XX = "execute_then_5xx"
    EXECUTE_THEN_DROP = "execute_then_drop"
    # The venue changed without notice (drift): while active, every market-data frame (book / trade / ticker
    # push) and every JSON REST answer carries one extra field the documentation does not list,
    # params["field"] (default "x_new_field") = params["value"] (default 1), at the level where the venue
    # puts its own fields (the event object, the data rows); UNKNOWN_EVENT pushes, once on every public
    # connection, a frame of an event type the documentation does not list (params["event"], default
    # "x_new_event"), shaped like the venue's other pushes; injected while no public connection is open, it
    # waits for the next one.
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_EVENT = "unknown_event"


ONE_SHOT = frozenset({
    FaultKind.DROP_WS, FaultKind.SKIP_SEQUENCE, FaultKind.CORRUPT_CHECKSUM, FaultKind.MALFORMED_FRAME,
    FaultKind.EXPIRE_LISTEN_KEY, FaultKind.EXECUTE_THEN_5XX, FaultKind.EXECUTE_THEN_DROP, FaultKind.UNKNOWN_EVENT,
})


@dataclass(slots=True)
class Fault:
    """An injected fault. ``until`` is a monotonic deadline or None (until cleared / consumed)."""

    kind: FaultKind
    until: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self, now: float) -> dict[str, Any]:
        left = None if self.until is None else max(0.0, round(self.until - now, 3))
        return {"fault": self.kind.value, "remaining_s": left, "params": self.params}


class FaultController:
    """The faults of one twin.

    Args:
        clock: Monotonic seconds (injected; tests may pass a fake).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._faults: dict[FaultKind, Fault] = {}
        self._listeners: list[Callable[[Fault], None]] = []

    def now(self) -> float:
        """The controller's monotonic clock (deadlines are on it)."""
        return self._clock()

    def add_listener(self, listener: Callable[[Fault], None]) -> None:
        """Call ``listener(fault)`` synchronously on every ``inject``."""
        self._listeners.append(listener)

    def inject(self, kind: FaultKind | str, duration_s: float | None = None, **params: Any) -> Fault:
        """Activate a fault (replacing one of the same kind).

        Args:
            kind: A ``FaultKind`` or its string value.
            duration_s: Seconds it lasts; None means until cleared (or consumed, for one-shot faults).
            **params: Fault parameters, e.g. ``ms=250`` for LATENCY / CLOCK_SKEW, ``status=502`` for HTTP_5XX.

        Raises:
            ValueError: unknown kind (the message lists the known ones).
        """
        try:
            fk = FaultKind(kind)
        except ValueError:
            msg = f"unknown fault {kind!r}; expected one of {', '.join(k.value for k in FaultKind)}"
            raise ValueError(msg) from None
        until = None if duration_s is None else self._clock() + float(duration_s)
        fault = Fault(fk, until, dict(params))
        self._faults[fk] = fault
        for listener in self._listeners:
            listener(fault)
        return fault

    def clear(self, kind: FaultKind | str | None = None) -> None:
        """Clear one fault kind, or every fault when ``kind`` is None."""
        if kind is None:
            self._faults.clear()
        else:
            self._faults.pop(FaultKind(kind), None)

    def active(self, kind: FaultKind) -> Fault | None:
        """The fault of ``kind`` if it is active now (expired ones are removed)."""
        fault = self._faults.get(kind)
        if fault is not None and fault.until is not None and self._clock() >= fault.until:
            del self._faults[kind]
            return None
        return fault

    def consume(self, kind: FaultKind) -> Fault | None:
        """Like ``active``, but a fault without a duration is used up: removed after this use, or after its
        ``count`` param (default 1) uses."""
        fault = self.active(kind)
        if fault is not None and fault.until is None:
            left = int(fault.params.get("count", 1)) - 1
            if left > 0:
                fault.params["count"] = left
            else:
                del self._faults[kind]
        return fault

    def param(self, kind: FaultKind, name: str, default: float) -> float:
        """A numeric parameter of an active fault, or ``default`` when inactive/absent."""
        fault = self.active(kind)
        if fault is None:
            return 0.0
        return float(fault.params.get(name, default))

    def snapshot(self) -> list[dict[str, Any]]:
        """Active faults as JSON-ready dicts (for ``GET /__admin/faults``)."""
        now = self._clock()
        return [f.to_json(now) for k, f in list(self._faults.items()) if self.active(k) is not None]
