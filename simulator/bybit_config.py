"""Bybit twin records shared by simulator.bybit and its REST/WS modules: ``BybitConfig``, the per-symbol
``SymbolState`` with its ``DepthView`` per orderbook depth, and ``BybitTwinLike`` (what bybit_rest and bybit_ws
use of the twin).

Rule: imports no bybit.py, bybit_rest.py or bybit_ws.py, so the twin -> REST/WS direction has no way back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from simulator.account import PositionSide
from simulator.book import BookMirror, PublicTrade
from simulator.bybit_auth import LimitState, RateLimits
from simulator.bybit_dcp import DcpState, Fired
from simulator.matching import Order
from simulator.twin import TwinConfig, TwinLike

__all__ = ["BybitConfig", "DepthView", "SymbolState", "BybitTwinLike"]


@dataclass(frozen=True, slots=True)
class BybitConfig(TwinConfig):
    """Knobs of the Bybit twin (venue-realistic defaults).

    ``idle_timeout_s``: a WebSocket that sends nothing for this long is dropped (10 min live).
    ``settle_coins``: ``("USDT",)``, or ``("USDT", "USDC")`` to list USDC perpetuals too (each coin's wallet
    starts at ``balance_usdt`` / ``balance_usdc``). ``hedge``: start in hedge mode. ``page_size``: at most this
    many rows per list page (0: the venue's limits only). ``dcp_enabled``: the account has disconnection
    protection for DERIVATIVES (Bybit enables it on request); ``dcp_apply_delay_s``: how long a new DCP window
    takes to come into force (bybit_dcp.py). ``ip_allowed=False``: the key is bound to other IPs than the
    caller's, so every signed REST request and every private WS auth is refused 10010 "Unmatched IP, please
    check your API key's bound IP addresses." (docs/v5/error.mdx).
    """

    limits: RateLimits = field(default_factory=RateLimits)
    idle_timeout_s: float = 600.0
    balance_usdt: Decimal = Decimal(100_000)
    balance_usdc: Decimal = Decimal(100_000)
    level1_repeat_ms: int = 3000
    settle_coins: tuple[str, ...] = ("USDT",)
    hedge: bool = False
    page_size: int = 0
    dcp_enabled: bool = True
    dcp_apply_delay_s: float = 0.0


@dataclass(slots=True)
class DepthView:
    """What subscribers of one ``orderbook.{depth}.{symbol}`` topic hold."""

    depth: int
    u: int
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    restart: bool = False
    last_push_ms: int = 0


@dataclass(slots=True)
class SymbolState:
    mirror: BookMirror
    seq: int
    views: dict[int, DepthView] = field(default_factory=dict)
    ticker: dict[str, str] | None = None
    last_trade_px: Decimal | None = None
    tick_dir: str = "ZeroPlusTick"


class BybitTwinLike(TwinLike[BybitConfig], Protocol):
    """The twin as its REST and WebSocket modules use it (BybitTwin implements it)."""

    cancel_types: dict[int, str]
    dcp: DcpState
    extra_count: int
    extra_orders: dict[int, tuple[Order, str]]
    launch_ms: int
    limits: LimitState
    link_ids: set[tuple[str, str]]
    min_notional: dict[str, Decimal]
    recent_closed: deque[int]
    refuse_logins: int
    refuse_subscribes: int
    reject_reasons: dict[int, str]
    state: dict[str, SymbolState]
    trades: dict[str, deque[tuple[PublicTrade, int, int]]]

    def dcp_tick(self, now: int | None = None) -> list[Fired]: ...
    def drift_field(self) -> tuple[str, Any] | None: ...
    def drifted(self, payload: dict[str, Any]) -> dict[str, Any]: ...
    def flush_private(self, now: int | None = None) -> None: ...
    def hedged(self, symbol: str) -> bool: ...
    def next_unlinked(self) -> int: ...
    def position_item(self, symbol: str, side: PositionSide, *, ws: bool) -> dict[str, Any]: ...
    def position_sides(self, symbol: str) -> tuple[PositionSide, ...]: ...
    def publish_killed(self, order: Order, reason: str) -> None: ...
    def snapshot_message(self, symbol: str, view: DepthView, now: int) -> dict[str, Any]: ...
    def ticker_fields(self, symbol: str, now: int) -> dict[str, str]: ...
    def ticker_snapshot(self, symbol: str, now: int) -> dict[str, Any]: ...
    def unknown_event(self) -> dict[str, Any]: ...
    def view(self, symbol: str, depth: int) -> DepthView: ...
    def wallet_item(self) -> dict[str, Any]: ...
