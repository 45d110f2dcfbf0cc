"""Bybit's disconnection protection (DCP) in the twin, built from Bybit's documentation (not from our client).

Sources: docs/v5/order/dcp.mdx ("Set Disconnect Cancel All"), docs/v5/account/dcp-info.mdx ("Get DCP Info"),
docs/v5/websocket/private/dcp.mdx; V5 change log 2024-06-18 (``product`` added; ``dcp`` topic deprecated for
``dcp.future`` / ``dcp.spot`` / ``dcp.option``), the last entry about DCP up to 2026-02-12.

Invariants:
- One account. DCP is enabled for DERIVATIVES (the only product the twin trades) unless the twin is built with
  ``dcp_enabled=False``; Bybit's default window is 10 s.
- ``POST /v5/order/disconnected-cancel-all`` ``{"product", "timeWindow"}``: ``product`` OPTIONS (the default
  when absent), DERIVATIVES or SPOT, anything else 10001; ``timeWindow`` an integer in [3, 300], else 10001
  (Bybit's parameter error, as everywhere in the twin). A product DCP is not enabled for is refused 10005
  "Permission denied" (an assumption: Bybit does not document that answer; 10005 is its permission error).
  The answer is the doc example, ``{"retCode": 0, "retMsg": "success"}`` and nothing else. The new window
  takes effect ``apply_delay_ms`` later on the twin clock (0: at once; Bybit: "the system needs a certain
  time to take effect"), in query-dcp-info and in the trigger alike.
- ``GET /v5/account/query-dcp-info``: ``{"dcpInfos": [{"product", "dcpStatus": "ON", "timeWindow": "<s>"}]}``
  for each enabled product, an empty list when DCP is not enabled.
- Trigger: a product's countdown starts (on the twin clock) when the last private connection holding its
  topic goes away: closed, dropped by a fault, closed for idleness (the twin's heartbeat timeout), or
  unsubscribing it. A private connection subscribing the topic stops the countdown, after firing it if it
  was already overdue. A countdown that passes its window cancels every open order of the product through
  the engine (``cancelType`` ``CancelByDCP``), pushed on the private ``order`` topic like any cancel (there
  may be no connection left to receive them: a client then sees them through queries).
- The twin has no timer task of its own: an overdue countdown fires at the next market step, REST request,
  private subscribe or admin call (within one step while the market driver runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.bybit_auth import BybitError

__all__ = ["DcpState", "Fired", "PRODUCTS", "TOPICS", "DEFAULT_WINDOW_S", "WINDOW_RANGE_S", "DERIVATIVES"]

DERIVATIVES = "DERIVATIVES"
PRODUCTS = ("OPTIONS", DERIVATIVES, "SPOT")
TOPICS = {"dcp.future": DERIVATIVES, "dcp.spot": "SPOT", "dcp.option": "OPTIONS"}
"""Private topic -> the DCP product a connection holding it counts for."""
DEFAULT_WINDOW_S = 10
WINDOW_RANGE_S = (3, 300)


@dataclass(frozen=True, slots=True)
class Fired:
    """One trigger: when, for which product, after which countdown, and the orders it cancelled."""

    product: str
    at_ms: int
    since_ms: int
    window_s: int
    order_ids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"product": self.product, "at_ms": self.at_ms, "since_ms": self.since_ms, "window_s": self.window_s,
                "cancelled": len(self.order_ids)}


@dataclass(slots=True)
class DcpState:
    """The account's DCP: enabled products, their windows, running countdowns and what fired.

    Args:
        enabled: DCP enabled for DERIVATIVES (Bybit enables it per account, on request).
        apply_delay_ms: how long after a set its window takes effect (twin clock).
    """

    enabled: bool = True
    apply_delay_ms: int = 0
    windows: dict[str, int] = field(default_factory=dict)  # product -> window in force (s)
    pending: dict[str, tuple[int, int]] = field(default_factory=dict)  # product -> (window, in force from ms)
    countdowns: dict[str, int] = field(default_factory=dict)  # product -> since (ms)
    fired: list[Fired] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.enabled and not self.windows:
            self.windows[DERIVATIVES] = DEFAULT_WINDOW_S

    def products(self) -> tuple[str, ...]:
        """The products DCP is enabled for."""
        return tuple(self.windows)

    def window(self, product: str, now_ms: int) -> int | None:
        """The window in force for ``product`` at ``now_ms`` (None: not enabled)."""
        self._apply(now_ms)
        return self.windows.get(product)

    def _apply(self, now_ms: int) -> None:
        for product, (window, at) in list(self.pending.items()):
            if now_ms >= at:
                self.windows[product] = window
                del self.pending[product]

    # -- REST ----------------------------------------------------------------------------------------------
    def set_window(self, params: dict[str, Any], now_ms: int) -> None:
        """``POST /v5/order/disconnected-cancel-all``.

        Raises:
            BybitError: 10001 for a bad ``product`` / ``timeWindow``, 10005 for a product without DCP.
        """
        product = params.get("product") or "OPTIONS"
        if product not in PRODUCTS:
            raise BybitError(10001, "params error: product invalid")
        raw = params.get("timeWindow")
        if raw is None or raw == "":
            raise BybitError(10001, "params error: timeWindow is required")
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
            raise BybitError(10001, "params error: timeWindow invalid")
        window = int(raw)
        lo, hi = WINDOW_RANGE_S
        if not lo <= window <= hi:
            raise BybitError(10001, f"params error: timeWindow must be between {lo} and {hi}")
        if product not in self.windows:
            raise BybitError(10005, "Permission denied, please check your API key permissions.")
        if self.apply_delay_ms <= 0:
            self.windows[product] = window
            self.pending.pop(product, None)
        else:
            self.pending[product] = (window, now_ms + self.apply_delay_ms)

    def info(self, now_ms: int) -> dict[str, Any]:
        """``GET /v5/account/query-dcp-info``'s result."""
        self._apply(now_ms)
        return {"dcpInfos": [{"product": p, "dcpStatus": "ON", "timeWindow": str(w)} for p, w in self.windows.items()]}

    # -- connections -------------------------------------------------------------------------------------------
    def lost(self, product: str, now_ms: int) -> None:
        """The last connection holding ``product``'s topic went away: its countdown starts (if not running)."""
        if product in self.windows:
            self.countdowns.setdefault(product, now_ms)

    def held(self, product: str) -> None:
        """A connection subscribed ``product``'s topic: its countdown stops (fire overdue ones first: ``due``)."""
        self.countdowns.pop(product, None)

    def due(self, now_ms: int) -> list[tuple[str, int, int]]:
        """Countdowns that have passed their window at ``now_ms``, removed: (product, since, window)."""
        out = []
        for product, since in list(self.countdowns.items()):
            window = self.window(product, now_ms)
            if window is not None and now_ms >= since + window * 1000:
                del self.countdowns[product]
                out.append((product, since, window))
        return out

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """The admin view."""
        self._apply(now_ms)
        return {"enabled": self.products(), "windows": dict(self.windows),
                "pending": {p: {"timeWindow": w, "from_ms": at} for p, (w, at) in self.pending.items()},
                "countdowns": dict(self.countdowns), "fired": [f.to_json() for f in self.fired], "now_ms": now_ms}
