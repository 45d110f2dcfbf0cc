"""Binance twin records shared by simulator.binance and its REST/WS modules: ``BinanceConfig`` and
``BinanceTwinLike``, the twin as binance_rest and binance_ws see it (its per-symbol published books are
``book.Depth``).

Rule: this module imports none of binance.py, binance_rest.py, binance_ws.py. The twin imports its REST and WS
modules and hands itself to them; they never import it back (type hints go through ``BinanceTwinLike``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from simulator.binance_auth import LimitState, RateLimits
from simulator.binance_countdown import Countdowns
from simulator.twin import BookTwinLike, TwinConfig

__all__ = ["BinanceConfig", "BinanceTwinLike"]


@dataclass(frozen=True, slots=True)
class BinanceConfig(TwinConfig):
    """Knobs of the Binance twin (all have venue-realistic defaults).

    ``credentials``: accepted keys (the first is advertised). ``ping_interval_s``: server WS ping period
    (3 min live). ``max_incoming_per_s``: WS messages per second before the server closes the connection.
    ``hedge_mode``: the account starts in hedge (dual side) position mode. ``legacy_all_streams``: the
    unrouted ``/ws`` and ``/stream`` paths serve every stream and user data, as the testnet does; by default
    they serve ``/public`` data only, as production has since 2026-04-23. ``ip_allowed``: False plays a key
    used from an IP not on its allow-list: every SIGNED and USER_STREAM request (the listenKey included) is
    answered -2015 "Invalid API-key, IP, or permissions for action." (HTTP 401), after the key's format check.
    ``can_trade`` / ``can_withdraw``: what GET /fapi/v1/accountConfig says of the account (by default a
    well-kept trading key: trading on, withdrawals off).
    """

    limits: RateLimits = field(default_factory=RateLimits)
    ping_interval_s: float = 180.0
    pong_timeout_s: float = 600.0
    max_incoming_per_s: int = 10
    max_streams: int = 1024
    listen_key_ttl_s: float = 3600.0
    balance_usdt: Decimal = Decimal(100_000)
    hedge_mode: bool = False
    legacy_all_streams: bool = False
    can_trade: bool = True
    can_withdraw: bool = False


class BinanceTwinLike(BookTwinLike[BinanceConfig], Protocol):
    """The twin as its REST and WebSocket modules use it (BinanceTwin implements it)."""

    countdowns: Countdowns
    leverages: dict[str, int]
    limits: LimitState
    listen_keys: dict[str, int]
    margin_types: dict[str, str]
    min_notional: dict[str, Decimal]

    def create_listen_key(self) -> str: ...
    def emit_user_event(self, name: str, **fields: Any) -> dict[str, Any]: ...
    def expire_listen_keys(self, all_keys: bool = False) -> None: ...
    def flush_user_events(self, now: int | None = None) -> None: ...
    def listen_key_valid(self, key: str) -> bool: ...
