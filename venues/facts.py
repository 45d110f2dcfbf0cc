"""What a venue says about an API key and an account's instrument settings (the doctor's private checks).

Adapters build the requests and read the answers (``VenueAdapter.key_permissions`` /
``parse_key_permissions``, ``instrument_settings`` / ``parse_instrument_settings``); these Structs are the
venue-neutral reading, with the venue's own words kept in ``detail``.
"""

from __future__ import annotations

import msgspec

__all__ = ["KeyFacts", "InstrumentFacts"]


class KeyFacts(msgspec.Struct, frozen=True, kw_only=True):
    """An API key's permissions as the venue lists them.

    ``can_trade``: orders on the venue's derivatives may be placed with it; ``can_withdraw``: withdrawals are
    enabled (a risk for a trading key); ``ip_restricted``: the key only works from listed IPs (None: the
    venue does not say); ``detail``: the venue's own words (e.g. ``perm=read_only,trade``).
    """

    can_trade: bool
    can_withdraw: bool
    ip_restricted: bool | None
    detail: str


class InstrumentFacts(msgspec.Struct, frozen=True, kw_only=True):
    """An account's settings for one instrument: ``margin_mode`` ("cross", "isolated", or the venue's word,
    e.g. Deribit's "cross_sm"), ``leverage`` as the venue states it ("" where the venue has none per
    instrument), ``detail`` in the venue's words."""

    margin_mode: str
    leverage: str
    detail: str = ""
