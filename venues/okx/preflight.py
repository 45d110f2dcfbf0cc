"""OKX v5 preflight reads for the doctor: the API key's permissions, an instrument's margin mode and leverage,
and turning the dead-man's switch off again. Request specs and parsers only (sans-IO).

Rules (OKX v5 docs as of 2026-12):
- Key permissions: GET /api/v5/account/config (signed, 5 requests / 2 s per User ID) describes the REQUESTING
  key: ``perm`` is a comma-separated list of ``read_only``, ``trade``, ``withdraw``; ``ip`` lists the IPs
  bound to the key, comma-separated, "" when none is bound; ``label`` is the key's note. A key is restricted
  to IPs iff ``ip`` is not "".
- Instrument settings: OKX has no per-instrument margin mode; the trade mode (``tdMode`` cross / isolated) is
  chosen on each order, and leverage is set per instrument and margin mode (per side in long_short_mode for
  isolated). So the read is GET /api/v5/account/leverage-info?instId=<id>&mgnMode=<our tdMode> (signed, 20 / 2 s
  per User ID; ``mgnMode`` required): the margin mode reported is the one we trade with, the leverage is
  OKX's ``lever`` for it ("long 10 / short 5" when the two sides differ in long_short_mode).
- Switch off: POST /api/v5/trade/cancel-all-after with ``timeOut`` "0" (rest.cancel_all_after); OKX answers
  ``triggerTime`` "0".
"""

from __future__ import annotations

from venues import Credentials
from venues.errors import DecodeError
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Method, RequestSpec, Response
from venues.okx import rest, wire
from venues.okx.codes import VENUE

__all__ = ["key_permissions", "parse_key_permissions", "leverage_info", "parse_leverage_info", "disarm_switch"]

LEVERAGE_ENDPOINT = "account/leverage-info"


def key_permissions(creds: Credentials, now_ms: int, demo: bool = False) -> RequestSpec:
    """GET /api/v5/account/config, signed: the requesting key's ``perm`` and ``ip``."""
    return rest.account_config(creds, now_ms, demo=demo)


def parse_key_permissions(resp: Response) -> KeyFacts:
    """The key's permissions from an account-config answer.

    Raises:
        VenueReject subclass: OKX refused the read (50110: this IP is not on the key's whitelist, 501xx...).
        DecodeError: no row.
    """
    rows = rest._data(resp, list[wire.AccountConfigData], "account config")
    if not rows:
        raise DecodeError(VENUE, "account config", "expected one row, got none", resp.body)
    row = rows[0]
    perms = {p.strip() for p in row.perm.split(",") if p.strip()}
    ips = row.ip.strip()
    detail = f"perm={row.perm}; " + (f"ip={ips}" if ips else "no IP bound")
    if row.label:
        detail += f"; label={row.label}"
    return KeyFacts(can_trade="trade" in perms, can_withdraw="withdraw" in perms, ip_restricted=bool(ips),
                    detail=detail)


def leverage_info(creds: Credentials, now_ms: int, symbol: str, mgn_mode: str, demo: bool = False) -> RequestSpec:
    """GET /api/v5/account/leverage-info for one instrument in ``mgn_mode`` (cross / isolated), signed."""
    return rest._signed(Method.GET, "/api/v5/account/leverage-info", creds, now_ms, LEVERAGE_ENDPOINT,
                        {"instId": symbol, "mgnMode": mgn_mode}, demo=demo)


def parse_leverage_info(resp: Response, symbol: str) -> InstrumentFacts:
    """Margin mode and leverage of ``symbol`` from a leverage-info answer.

    Raises:
        VenueReject subclass: OKX refused the read (51001 unknown instrument, 51000 / 50014 parameters...).
        DecodeError: no row for ``symbol``.
    """
    rows = [r for r in rest._data(resp, list[wire.LeverageInfoData], "leverage info") if r.instId == symbol]
    if not rows:
        raise DecodeError(VENUE, "leverage info", f"expected a row for {symbol}, got none", resp.body)
    levers = {r.posSide or "net": r.lever for r in rows}
    leverage = rows[0].lever if len(set(levers.values())) == 1 else " / ".join(f"{s} {v}" for s, v in levers.items())
    detail = f"mgnMode {rows[0].mgnMode}, " + ", ".join(f"posSide {s} lever {v}" for s, v in levers.items())
    return InstrumentFacts(margin_mode=rows[0].mgnMode, leverage=leverage, detail=detail)


def disarm_switch(creds: Credentials, now_ms: int, demo: bool = False) -> list[RequestSpec]:
    """Cancel All After with ``timeOut`` "0": the account-level timer off."""
    return [rest.cancel_all_after(creds, now_ms, 0, demo=demo)]
