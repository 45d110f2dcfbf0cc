"""Shared pytest fixtures for the Bybit codec tests (see wire_files.py for where wire fixtures come from)."""

from __future__ import annotations

import pytest

from tests.venues.bybit.sample_registry import build_registry
from venues.symbols import InstrumentRegistry


@pytest.fixture
def registry() -> InstrumentRegistry:
    """See ``sample_registry.build_registry``."""
    return build_registry()
