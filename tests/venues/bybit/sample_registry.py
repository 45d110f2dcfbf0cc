"""Instruments used by the Bybit tests (built by hand from instruments-info fields, so no fixture is needed)."""

from __future__ import annotations

from decimal import Decimal

from messages.base import ContractType, InstrumentId, InstrumentKind, Venue
from messages.instruments import Instrument
from venues.symbols import InstrumentRegistry


def make_instrument(
    uid: str, symbol: str, base: str, quote: str, *, tick: str = "0.10", lot: str = "0.001",
    kind: InstrumentKind = InstrumentKind.PERPETUAL, contract_type: ContractType = ContractType.LINEAR,
    settle: str = "", min_qty: str = "0.001", min_notional: str = "5",
) -> Instrument:  # fmt: skip
    return Instrument(
        id=InstrumentId(uid),
        venue=Venue.BYBIT,
        venue_symbol=symbol,
        kind=kind,
        base=base,
        quote=quote,
        settle=settle or quote,
        contract_type=contract_type,
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
        min_qty=Decimal(min_qty),
        min_notional=Decimal(min_notional),
    )


BTC_PERP = make_instrument("BTC-USDT-PERP", "BTCUSDT", "BTC", "USDT")
ETH_PERP = make_instrument("ETH-USDT-PERP", "ETHUSDT", "ETH", "USDT", tick="0.01", lot="0.01", min_qty="0.01")
BTC_INVERSE = make_instrument(
    "BTC-USD-PERP", "BTCUSD", "BTC", "USD", tick="0.5", lot="1", min_qty="1", min_notional="0",
    contract_type=ContractType.INVERSE, settle="BTC",
)  # fmt: skip
BTC_USDC_PERP = make_instrument("BTC-USDC-PERP", "BTCPERP", "BTC", "USDC")
ETH_OPTION = make_instrument(
    "ETH-30DEC22-1400-C", "ETH-30DEC22-1400-C", "ETH", "USDC", kind=InstrumentKind.OPTION, tick="0.1",
    lot="0.1", min_qty="0.1", min_notional="0",
)  # fmt: skip


def build_registry() -> InstrumentRegistry:
    """BTCUSDT / ETHUSDT linear perps, BTCPERP (USDC), BTCUSD inverse and one ETH option."""
    reg = InstrumentRegistry()
    for inst in (BTC_PERP, ETH_PERP, BTC_INVERSE, BTC_USDC_PERP, ETH_OPTION):
        reg.add(inst)
    return reg
