"""Shared fixtures: the anyio backend, a manual clock, and the wire-fixture loader."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from actors.clock import ManualClock

REPO = Path(__file__).resolve().parent.parent


def wire_fixtures_dir() -> Path:
    """Where the recorded venue payloads are: $CROSSBOOK_WIRE_FIXTURES or ../shared/fixtures/wire."""
    return Path(os.environ.get("CROSSBOOK_WIRE_FIXTURES", str(REPO.parent / "shared" / "fixtures" / "wire")))


def load_wire(relpath: str) -> Any:
    """Load one fixture file (JSON), skipping the test with a clear reason when it is absent."""
    path = wire_fixtures_dir() / relpath
    if not path.exists():
        pytest.skip(f"wire fixture {relpath} not found under {wire_fixtures_dir()} (set CROSSBOOK_WIRE_FIXTURES)")
    return json.loads(path.read_text())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI (``CI=true``) a test that skips because something it needs is missing (nats-server, the wire
    fixtures, ccxt) fails instead: a broken install step must not turn tests into silent skips."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must have every component: {reason}"
