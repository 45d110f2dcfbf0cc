"""OKX test fixtures: the wire-fixture reader (skips when absent) and an instrument registry.

Fixtures are read at run time from $CROSSBOOK_WIRE_FIXTURES or <repo>/../shared/fixtures/wire; tests
that need them skip with the path in the reason. Our own payloads (written from the documented fields)
live in the test modules so the suite still means something without the shared files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from messages.base import ContractType, InstrumentId, InstrumentKind, Venue
from messages.instruments import Instrument
from venues.symbols import InstrumentRegistry

_REPO = Path(__file__).resolve().parents[3]
WIRE_DIR = Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", str(_REPO.parent / "shared" / "fixtures" / "wire")))

OkxBytes = Callable[[str], bytes]
OkxJson = Callable[[str], Any]


def _path(relpath: str) -> Path:
    path = WIRE_DIR / relpath
    if not path.exists():
        pytest.skip(f"wire fixture {relpath} not found under {WIRE_DIR} (set CROSSBOOK_WIRE_FIXTURES)")
    return path


@pytest.fixture
def okx_bytes() -> OkxBytes:
    """Read ``okx/<name>`` as bytes (skip the test when the shared fixtures are absent)."""
    return lambda name: _path(f"okx/{name}").read_bytes()


@pytest.fixture
def okx_json() -> OkxJson:
    """Read a wire fixture (path relative to the fixture root) as JSON."""
    return lambda relpath: json.loads(_path(relpath).read_text())


def make_instrument(
    symbol: str, inst_id: str, ct_val: str = "0.01", inverse: bool = False, spot: bool = False
) -> Instrument:
    base, quote = symbol.split("-")[:2]
    return Instrument(
        id=InstrumentId(inst_id),
        venue=Venue.OKX,
        venue_symbol=symbol,
        kind=InstrumentKind.SPOT if spot else InstrumentKind.PERPETUAL,
        base=base,
        quote=quote,
        settle=base if inverse else quote,
        contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
        tick_size=Decimal("0.1") if not spot else Decimal("0.1"),
        lot_size=Decimal("1") if not spot else Decimal("0.00000001"),
        contract_size=Decimal(1) if spot else Decimal(ct_val),
        min_qty=Decimal("1") if not spot else Decimal("0.00001"),
    )


@pytest.fixture
def registry() -> InstrumentRegistry:
    """The instruments the OKX fixtures use (spot BTC-USDT appears in doc and real captures)."""
    reg = InstrumentRegistry()
    reg.add(make_instrument("BTC-USDT-SWAP", "BTC-USDT-PERP", "0.01"))
    reg.add(make_instrument("BTC-USD-SWAP", "BTC-USD-PERP", "100", inverse=True))
    reg.add(make_instrument("BCH-USDT-SWAP", "BCH-USDT-PERP", "0.1"))
    reg.add(make_instrument("UNI-USD-SWAP", "UNI-USD-PERP", "10", inverse=True))
    reg.add(make_instrument("BTC-USDT", "BTC-USDT", spot=True))
    return reg
