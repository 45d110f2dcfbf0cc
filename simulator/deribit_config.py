"""Deribit twin records: ``DeribitConfig``, chart ``RESOLUTIONS``, and the protocols deribit_market, deribit_rest, deribit_trading and deribit_ws type
the twin (``DeribitTwinLike``) and its hub (``PrivateStreams``) with.

Rule: deribit.py imports those modules and passes itself in; none of them imports deribit.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from simulator import deribit_format as fmt
from simulator.deribit_auth import CreditLimiter, DeribitError, RateLimits, TokenStore
from simulator.market import MarketModel
from simulator.matching import Order
from simulator.twin import BookTwinLike, TwinConfig

__all__ = ["DeribitConfig", "RESOLUTIONS", "PrivateStreams", "DeribitTwinLike"]


RESOLUTIONS: dict[str, int] = {
    "1": 60_000, "3": 180_000, "5": 300_000, "10": 600_000, "15": 900_000, "30": 1_800_000, "60": 3_600_000,
    "120": 7_200_000, "180": 10_800_000, "360": 21_600_000, "720": 43_200_000, "1D": 86_400_000,
}
"""``get_tradingview_chart_data`` / ``chart.trades`` resolutions (minutes, or ``1D``) -> milliseconds."""


def _default_balances() -> dict[str, Decimal]:
    return {"BTC": Decimal(10), "ETH": Decimal(100), "USDC": Decimal(1_000_000)}


@dataclass(frozen=True, slots=True)
class DeribitConfig(TwinConfig):
    """Knobs of the Deribit twin (venue-realistic defaults).

    ``heartbeat_unit_s`` scales ``public/set_heartbeat``'s interval (1.0 = seconds; tests shrink it so a
    wire-valid ``interval: 10`` lasts a fraction of a second). ``raw_requires_auth``: ``*.raw`` market
    channels need an authorised connection (13778), as on today's platform. ``ip_allowed=False``: the
    client's IP is not on the key's whitelist: ``public/auth`` and every private call answer 13021
    ``forbidden`` (deribit_rest.dispatch has why that code).
    """

    limits: RateLimits = field(default_factory=RateLimits)
    token_ttl_s: int = 900
    signature_window_ms: int = 60_000
    heartbeat_unit_s: float = 1.0
    min_heartbeat_interval: int = 10
    raw_requires_auth: bool = True
    balances: dict[str, Decimal] = field(default_factory=_default_balances)
    maker_fee: Decimal = Decimal("0")
    taker_fee: Decimal = Decimal("0.0005")
    testnet: bool = False
    api_version: str = "1.2.26"


class PrivateStreams(Protocol):
    """What order handling needs of the WebSocket hub (deribit_ws.DeribitHub)."""

    def publish_private(self, prefix: str, inst: fmt.DeribitInstrument, interval: str, data: Any, *,
                        only_raw: bool) -> None: ...


class DeribitTwinLike(BookTwinLike[DeribitConfig], Protocol):
    """The twin as its REST and WebSocket modules use it (DeribitTwin implements it)."""

    account_created_ms: int
    book_states: dict[str, str]
    cancel_reasons: dict[int, str]
    cod_account: bool
    created_via: dict[int, int]
    instruments: dict[str, fmt.DeribitInstrument]
    labels: dict[int, str]
    limiter: CreditLimiter
    model: MarketModel
    monotonic: Callable[[], float]
    replaced: set[int]
    tokens: TokenStore

    def engine_client_id(self, label: str) -> str: ...
    def envelope(self, req_id: Any, *, result: Any = None, error: DeribitError | None = None,
                 us_in: int, with_id: bool = True) -> dict[str, Any]: ...
    def find_order(self, raw_id: Any) -> tuple[fmt.DeribitInstrument, Order]: ...
    def flush_user_events(self, now: int | None = None) -> dict[int, list[dict[str, Any]]]: ...
    @property
    def hub(self) -> PrivateStreams: ...
    def index_price(self, name: str) -> float: ...
    def mark(self, name: str) -> Decimal: ...
    def now_us(self) -> int: ...
    def order_json(self, o: Order, context: str) -> dict[str, Any]: ...
    def portfolio(self, currency: str) -> dict[str, Any]: ...
    def position(self, name: str, *, stream: bool) -> dict[str, Any]: ...
    def server_error(self, status: int) -> DeribitError: ...
