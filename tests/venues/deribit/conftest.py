"""Fixture loading for the Deribit codec tests.

Wire fixtures live outside the repo: ``$CROSSBOOK_WIRE_FIXTURES`` or ``<repo>/../shared/fixtures/wire``.
Tests that need them skip with a clear reason when they are absent; every module also carries its own
payloads written from Deribit's documented fields, so the suite means something without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

_REPO = Path(__file__).resolve().parents[3]


def _wire_root() -> Path:
    return Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", str(_REPO.parent / "shared" / "fixtures" / "wire")))


@pytest.fixture
def wire_root() -> Path:
    """The wire-fixture folder (skips the test when it is absent)."""
    root = _wire_root()
    if not (root / "deribit").is_dir():
        pytest.skip(f"Deribit wire fixtures not found at {root}/deribit (set CROSSBOOK_WIRE_FIXTURES)")
    return root


@pytest.fixture
def deribit_bytes(wire_root: Path) -> Callable[[str], bytes]:
    """Read one file of fixtures/wire/deribit as bytes."""

    def read(name: str) -> bytes:
        return (wire_root / "deribit" / name).read_bytes()

    return read


@pytest.fixture
def deribit_json(deribit_bytes: Callable[[str], bytes]) -> Callable[[str], Any]:
    """Read one file of fixtures/wire/deribit as parsed JSON (for expected values)."""

    def read(name: str) -> Any:
        return json.loads(deribit_bytes(name))

    return read


@pytest.fixture
def notification(deribit_bytes: Callable[[str], bytes]) -> Callable[[str, str], bytes]:
    """Wrap a ``*_data.json`` fixture (params.data only) into the frame Deribit sends on the wire."""

    def wrap(name: str, channel: str) -> bytes:
        data = msgspec.json.decode(deribit_bytes(name))
        frame = {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
        return msgspec.json.encode(frame)

    return wrap
