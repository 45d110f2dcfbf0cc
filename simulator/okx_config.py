"""OKX twin records: ``OkxConfig`` and ``OkxTwinLike``, the surface okx_rest, okx_ws and okx_account use of the
twin (its per-instrument published books are ``book.Depth``).

Rule: okx.py imports its REST/WS/account modules; they import this module for types, never okx.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random
from typing import Any, Protocol

from simulator.okx_auth import LimitState, RateLimits
from simulator.okx_caa import CancelAllAfter
from simulator.okx_format import LastFill, OrderMeta
from simulator.twin import BookTwinLike, TwinConfig

__all__ = ["OkxConfig", "OkxTwinLike"]


@dataclass(frozen=True, slots=True)
class OkxConfig(TwinConfig):
    """Knobs of the OKX twin (all have venue-realistic defaults).

    ``timestamp_window_s``: allowed REST/login clock difference (30 s live). ``idle_timeout_s``: a WebSocket
    with no traffic either way for this long is closed (30 s live). ``balances``: initial wallet per currency.
    ``book_snapshot``: a ``books`` subscription starts with ``action: snapshot`` (False: updates only, as OKX
    announced). ``real_checksum``: CRC32 checksums instead of OKX's 0. ``hedge``: the account starts in
    ``long_short_mode``. ``instrument_states``: instId -> OKX state for instruments that are not ``live``.
    ``perm`` / ``key_ips``: the API key's permissions and bound IPs as GET /api/v5/account/config reports them
    (``perm``, ``ip``: "" when no IP is bound). ``ip_allowed`` False: this host is not on the key's IP whitelist,
    so every signed REST request and the private WS login are refused with 50110.
    """

    limits: RateLimits = field(default_factory=RateLimits)
    timestamp_window_s: float = 30.0
    idle_timeout_s: float = 30.0
    balances: Mapping[str, Decimal] = field(default_factory=lambda: {
        "USDT": Decimal(100_000), "BTC": Decimal(2), "ETH": Decimal(40)})
    leverage: int = 20
    uid: str = "614488474791936"
    book_snapshot: bool = True
    real_checksum: bool = False
    hedge: bool = False
    instrument_states: Mapping[str, str] = field(default_factory=dict)
    perm: str = "read_only,trade"
    key_ips: str = ""


class OkxTwinLike(BookTwinLike[OkxConfig], Protocol):
    """The twin as its REST and WebSocket modules use it (OkxTwin implements it)."""

    caa: CancelAllAfter
    last_fill: dict[int, LastFill]
    limits: LimitState
    list_time_ms: int
    order_meta: dict[int, OrderMeta]
    rng: Random

    def book_update(self, symbol: str, seq: int, prev: int, bids: list[list[str]], asks: list[list[str]],
                    ts: int) -> dict[str, Any]: ...
    def drift_rows(self, rows: Any) -> Any: ...
    def flush_user_events(self, now: int | None = None) -> None: ...
    def instrument_state(self, symbol: str) -> str: ...
    def last_price(self, symbol: str) -> Decimal: ...
    def mark(self, symbol: str) -> Decimal: ...
    def order_json(self, order_id: int) -> dict[str, Any]: ...
    def ticker(self, symbol: str, now: int) -> dict[str, Any]: ...
    def usd_price(self, ccy: str) -> Decimal: ...
