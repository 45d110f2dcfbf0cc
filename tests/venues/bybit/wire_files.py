"""Where the shared wire fixtures live, and a reader that skips the test when they are absent.

The folder is ``$CROSSBOOK_WIRE_FIXTURES`` or ``<repo>/../shared/fixtures/wire``; nothing is copied into
the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_REPO = Path(__file__).resolve().parents[3]
WIRE_DIR = Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", str(_REPO.parent / "shared" / "fixtures" / "wire")))


def wire_path(name: str) -> Path:
    """The fixture's path; skips the calling test when it does not exist."""
    path = WIRE_DIR / name
    if not path.is_file():
        pytest.skip(
            f"wire fixture {path} not found (set CROSSBOOK_WIRE_FIXTURES to the fixtures/wire folder)"
        )
    return path


def wire_bytes(name: str) -> bytes:
    """``wire_bytes("bybit/ws_kline.json")`` -> the file's bytes (skips when absent)."""
    return wire_path(name).read_bytes()


def wire_json(name: str) -> Any:
    """The fixture parsed as JSON (skips when absent)."""
    return json.loads(wire_bytes(name))
