from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages import ContractType, Instrument, InstrumentId, InstrumentKind, Side, Venue
from venues.errors import InstrumentError, InvalidOrder
from venues.symbols import InstrumentRegistry, check_order_size, from_base, round_price, round_qty, to_base


def inst(venue: Venue = Venue.OKX, symbol: str = "BTC-USDT-SWAP", uid: str = "BTC-USDT-PERP", *,
         ctype: ContractType = ContractType.LINEAR, cs: str = "0.01", lot: str = "1", tick: str = "0.1") -> Instrument:
    return Instrument(id=InstrumentId(uid), venue=venue, venue_symbol=symbol, kind=InstrumentKind.PERPETUAL,
                      base="BTC", quote=uid.split("-")[1], settle="USDT", contract_type=ctype,
                      tick_size=Decimal(tick), lot_size=Decimal(lot), contract_size=Decimal(cs))


def test_registry_refuses_a_second_instrument_under_the_same_key() -> None:
    reg = InstrumentRegistry()
    reg.add(inst())
    reg.add(inst())  # the same definition again is fine
    with pytest.raises(InstrumentError, match="already registered"):
        reg.add(inst(symbol="BTC-USD-SWAP", ctype=ContractType.INVERSE))
    with pytest.raises(InstrumentError, match="already registered as BTC-USDT-PERP"):
        reg.add(inst(uid="BTC-USDC-PERP"))
    assert reg.by_symbol(Venue.OKX, "BTC-USDT-SWAP").id == "BTC-USDT-PERP"


def test_okx_linear_contracts_convert_through_ctval() -> None:
    i = inst()
    assert to_base(i, Decimal(3), Decimal("96500")) == Decimal("0.03")
    assert from_base(i, Decimal("0.0349"), Decimal("96500")) == Decimal(3)


def test_deribit_inverse_usd_amount_converts_by_price() -> None:
    i = inst(Venue.DERIBIT, "BTC-PERPETUAL", "BTC-USD-PERP", ctype=ContractType.INVERSE, cs="1", lot="10", tick="0.5")
    assert to_base(i, Decimal(965000), Decimal("96500")) == Decimal(10)
    assert from_base(i, Decimal("0.0012"), Decimal("96500")) == Decimal(110)  # 115.8 USD rounds down to the lot


@given(st.decimals(min_value=Decimal("0.1"), max_value=Decimal("200000"), places=4))
def test_passive_price_rounding_never_makes_an_order_more_aggressive(px: Decimal) -> None:
    i = inst()
    buy = round_price(i, px, Side.BUY)
    sell = round_price(i, px, Side.SELL)
    assert buy <= px <= sell
    assert buy % i.tick_size == 0 and sell % i.tick_size == 0
    assert sell - buy <= i.tick_size


@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=3))
def test_quantity_rounds_down_to_a_lot_multiple(q: Decimal) -> None:
    i = inst(lot="0.001", cs="1")
    r = round_qty(i, q)
    assert r <= q and r % i.lot_size == 0 and q - r < i.lot_size


def test_order_size_checks_name_the_rule_broken() -> None:
    i = inst(lot="1")
    with pytest.raises(InvalidOrder, match="not a multiple of the lot size 1"):
        check_order_size(i, Decimal("1.5"), Decimal("100"))
    with pytest.raises(InvalidOrder, match="not a multiple of the tick size 0.1"):
        check_order_size(i, Decimal("1"), Decimal("100.05"))
    check_order_size(i, Decimal("2"), Decimal("100.1"))
