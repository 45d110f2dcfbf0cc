"""Instruments and message builders shared by the aggregator and strategy tests."""

from __future__ import annotations

from decimal import Decimal

from messages import (
    BookSnapshot,
    ContractType,
    Instrument,
    InstrumentId,
    InstrumentKind,
    Level,
    Quote,
    Venue,
)
from venues.symbols import InstrumentRegistry

USDT = InstrumentId("BTC-USDT-PERP")
USD = InstrumentId("BTC-USD-PERP")
VENUES = (Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.DERIBIT)


def instrument(
    venue: Venue,
    inst_id: InstrumentId = USDT,
    *,
    contract_size: str = "1",
    inverse: bool = False,
    lot: str = "0.001",
    tick: str = "0.1",
) -> Instrument:
    return Instrument(
        id=inst_id, venue=venue, venue_symbol=f"{venue}-{inst_id}", kind=InstrumentKind.PERPETUAL, base="BTC",
        quote="USD" if inverse else "USDT", settle="BTC" if inverse else "USDT",
        contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
        tick_size=Decimal(tick), lot_size=Decimal(lot), contract_size=Decimal(contract_size),
    )


def registry(*insts: Instrument) -> InstrumentRegistry:
    reg = InstrumentRegistry()
    for inst in insts:
        reg.add(inst)
    return reg


def quote(venue: Venue, bid: float, ask: float, *, size: float = 1.0, ask_size: float | None = None,
          inst: InstrumentId = USDT, ts: int = 0) -> Quote:
    return Quote(venue=venue, instrument=inst, bid_px=bid, bid_sz=size, ask_px=ask,
                 ask_sz=size if ask_size is None else ask_size, ts_event=ts, ts_recv=ts)


def book(venue: Venue, bids: list[Level], asks: list[Level], *, inst: InstrumentId = USDT, ts: int = 0) -> BookSnapshot:
    return BookSnapshot(venue=venue, instrument=inst, bids=tuple(bids), asks=tuple(asks), sequence=1,
                        ts_event=ts, ts_recv=ts)
