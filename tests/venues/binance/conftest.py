"""Fixtures for the Binance USD-M codec tests.

Wire fixtures are read at run time from ``$CROSSBOOK_WIRE_FIXTURES`` (default ``<repo>/../shared/fixtures/wire``);
tests that need them skip with the reason when they are absent. Every module also carries its own payloads
written from the documented fields, so the suite means something without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from messages import ContractType, Instrument, InstrumentId, InstrumentKind, Venue
from venues.symbols import InstrumentRegistry

_REPO = Path(__file__).resolve().parents[3]


def _wire_root() -> Path:
    return Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", str(_REPO.parent / "shared" / "fixtures" / "wire")))


@pytest.fixture(scope="session")
def wire_root() -> Path:
    root = _wire_root()
    if not (root / "binance").is_dir():
        pytest.skip(
            f"wire fixtures not found at {root} (set CROSSBOOK_WIRE_FIXTURES to shared/fixtures/wire)"
        )
    return root


@pytest.fixture(scope="session")
def wire_bytes(wire_root: Path) -> Callable[[str], bytes]:
    """Read ``binance/<name>`` as bytes, skipping when that one file is missing."""

    def read(name: str) -> bytes:
        path = wire_root / "binance" / name
        if not path.is_file():
            pytest.skip(f"wire fixture {path} is missing")
        return path.read_bytes()

    return read


@pytest.fixture(scope="session")
def wire_json(wire_bytes: Callable[[str], bytes]) -> Callable[[str], Any]:
    """Read ``binance/<name>`` as JSON (the expected values of the tests come from here)."""

    def read(name: str) -> Any:
        return json.loads(wire_bytes(name))

    return read


@pytest.fixture(scope="session")
def top_json(wire_root: Path) -> Callable[[str], Any]:
    """Read a top-level fixture file (signing vectors, status vocabularies) as JSON."""

    def read(name: str) -> Any:
        path = wire_root / name
        if not path.is_file():
            pytest.skip(f"wire fixture {path} is missing")
        return json.loads(path.read_bytes())

    return read


def _perp(symbol: str, base: str, tick: str, lot: str) -> Instrument:
    return Instrument(
        id=InstrumentId(f"{base}-USDT-PERP"),
        venue=Venue.BINANCE,
        venue_symbol=symbol,
        kind=InstrumentKind.PERPETUAL,
        base=base,
        quote="USDT",
        settle="USDT",
        contract_type=ContractType.LINEAR,
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
        min_qty=Decimal(lot),
        min_notional=Decimal(5),
    )


@pytest.fixture(scope="session")
def registry() -> InstrumentRegistry:
    """The instruments the fixtures mention (the real SUSHIUSDT tick is 0.001, BTCUSDT 0.01 / 0.001)."""
    reg = InstrumentRegistry()
    for inst in (
        _perp("SUSHIUSDT", "SUSHI", "0.001", "1"),
        _perp("BTCUSDT", "BTC", "0.01", "0.001"),
        _perp("CTKUSDT", "CTK", "0.001", "1"),
        _perp("ADAUSDT", "ADA", "0.0001", "1"),
    ):
        reg.add(inst)
    return reg
