"""In CI a skip is a failure: a missing component (nats-server, the wire fixtures, ccxt) must not pass unseen."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()
SKIPPING = """
import pytest

def test_needs_nats() -> None:
    pytest.skip("nats-server not installed")
"""


@pytest.mark.parametrize(("ci", "outcome"), [("true", {"failed": 1}), ("", {"skipped": 1})])
def test_a_skip_fails_in_ci_and_stays_a_skip_elsewhere(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                        ci: str, outcome: dict[str, int]) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SKIPPING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    if ci:
        result.stdout.fnmatch_lines(["*skipped in CI, which must have every component*nats-server not installed*"])
