"""Fixtures for the twin tests (helpers live in twin_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# twin_helpers.py sits next to this file; make it importable whatever pytest's import mode is.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
