"""Instrument definitions: one unified id, the venue's own symbol and the sizing rules."""

from __future__ import annotations

from decimal import Decimal

from messages.base import ContractType, InstrumentId, InstrumentKind, Message, Venue

__all__ = ["Instrument"]


class Instrument(Message, frozen=True, kw_only=True):
    """A tradable instrument on one venue.

    ``contract_size`` is what one unit of the venue's quantity is worth: in base units for linear
    contracts (OKX ``ctVal`` 0.01 BTC, Binance 1), in quote units for inverse ones (Deribit 10 USD).
    Quantities in orders are always in the venue's own unit; venues/symbols.py is the one conversion path.
    """

    id: InstrumentId
    venue: Venue
    venue_symbol: str
    kind: InstrumentKind
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    tick_size: Decimal
    lot_size: Decimal
    contract_size: Decimal = Decimal(1)
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    @property
    def inverse(self) -> bool:
        return self.contract_type is ContractType.INVERSE
