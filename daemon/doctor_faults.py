"""What ``doctor --simulate --simulate-faults`` does to the twins, so that a user sees every kind of result
(PASS, WARN, FAIL with its advice) before meeting a real venue:

- binance: the venue's clock 10 s ahead of ours (WARN: crossbook corrects for it), hedge (dual side) position
  mode, a key that may withdraw (WARN), one undocumented field in every push and answer (drift WARN), and
  the public WebSocket route pointed at the market route, where Binance delivers no book and says nothing
  (book FAIL);
- bybit: the key used from an IP not on its allow-list (auth FAIL: 10010; the market data is still judged);
- okx: BTC-USDT-SWAP suspended (instrument FAIL) and one push of a channel no documentation lists (drift);
- deribit: a wrong key (auth FAIL: the venue's words and ours).

Each part is a twin option (given when the twins start), a fault (injected once they run), a route or a
credential changed on our side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.exchanges.adapter import Endpoints
from venues import Credentials

__all__ = ["TWIN_OPTIONS", "FAULTS", "MISROUTED", "WRONG_KEY", "inject", "endpoints", "credentials"]

TWIN_OPTIONS: Mapping[str, dict[str, Any]] = {
    "binance": {"hedge_mode": True, "can_withdraw": True},
    "bybit": {"ip_allowed": False},
    "okx": {"instrument_states": {"BTC-USDT-SWAP": "suspend"}},
}
"""Per twin: the options it starts with (simulator/runner.py factories)."""

FAULTS: Mapping[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "binance": (("clock_skew", {"ms": 10_000}), ("unknown_field", {"field": "x_new_field"})),
    "okx": (("unknown_event", {"event": "x-new-channel"}),),
}
"""Per twin: the faults injected once it runs (simulator/faults.py kinds and parameters)."""

MISROUTED: Mapping[str, tuple[str, str]] = {"binance": ("public", "market")}
"""Per venue: (route, the route whose URL it is given instead)."""

WRONG_KEY = frozenset({"deribit"})
"""Venues whose credentials are replaced by a key the twin does not know."""


def inject(venue: str, twin: Any) -> None:
    """Inject ``venue``'s faults into its running twin."""
    for kind, params in FAULTS.get(venue, ()):
        twin.faults.inject(kind, **params)


def endpoints(venue: str, ep: Endpoints) -> Endpoints:
    """``ep`` with ``venue``'s misrouted WebSocket route, if any."""
    if venue not in MISROUTED:
        return ep
    route, instead = MISROUTED[venue]
    return Endpoints(rest=ep.rest, ws={**ep.ws, route: ep.ws[instead]})


def credentials(venue: str, creds: Credentials) -> Credentials:
    """``creds``, or a key the twin does not know."""
    if venue not in WRONG_KEY:
        return creds
    return Credentials("not-a-key-of-this-account", "not-its-secret", creds.passphrase)
