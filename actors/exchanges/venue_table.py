"""The venue table: for each venue, the adapter that wires it, where it lives (live and testnet endpoints) and
what else the adapter needs to talk to the testnet. The daemon builds every adapter from this table; nothing
branches on a venue name to find one.

Every adapter takes the same daemon options (``CommonOptions`` in adapter.py: ``stale_after_s``, ``trades``,
``klines``, ``emit_deltas``, ``dead_mans_switch_s``), so the table holds only what differs between venues. Testnet options:
- Binance ``ws_routing="legacy"``: its testnet has only the /ws paths (actors/exchanges/binance.py).
- OKX ``demo=True``: the ``x-simulated-trading: 1`` header on every REST request (actors/exchanges/okx.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from actors.exchanges import binance, bybit, deribit, okx
from actors.exchanges.adapter import Endpoints, VenueAdapter
from messages.base import Venue

__all__ = ["VenueEntry", "VENUE_TABLE"]


class VenueEntry(NamedTuple):
    adapter: Callable[..., VenueAdapter]
    """The adapter class: ``adapter(registry, endpoints, **options)``."""
    live: Endpoints
    testnet: Endpoints
    """The testnet / demo environment's endpoints, with the same stream names as ``live``."""
    testnet_options: Mapping[str, Any]
    """Adapter keyword arguments the testnet needs beyond its endpoints."""


VENUE_TABLE: Mapping[Venue, VenueEntry] = {
    Venue.BINANCE: VenueEntry(binance.BinanceAdapter, binance.LIVE_ENDPOINTS, binance.TESTNET_ENDPOINTS,
                              {"ws_routing": binance.TESTNET_WS_ROUTING}),
    Venue.BYBIT: VenueEntry(bybit.BybitAdapter, bybit.LIVE_ENDPOINTS, bybit.TESTNET_ENDPOINTS, {}),
    Venue.OKX: VenueEntry(okx.OkxAdapter, okx.LIVE_ENDPOINTS, okx.TESTNET_ENDPOINTS, {"demo": True}),
    Venue.DERIBIT: VenueEntry(deribit.DeribitAdapter, deribit.LIVE_ENDPOINTS, deribit.TESTNET_ENDPOINTS, {}),
}
