"""``python -m simulator``: JSON line first, clean exit on SIGTERM, clear error for unknown venues, latency options."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

from twin_helpers import REPO, simulator_process, stop

from tests.ports import free_port_base


def _free_base(offset: int = 1) -> int:
    """A ``--port-base`` whose venue at ``offset`` (binance 1, okx 3) gets a port that was just free."""
    return free_port_base((offset,))


def test_main_prints_its_json_line_first_serves_and_exits_zero_on_sigterm() -> None:
    base = _free_base()
    with simulator_process("--venues", "binance", "--port-base", str(base), "--symbols", "BTC,SOL",
                           "--rate", "20") as (proc, first):
        bn = first["binance"]
        assert bn["rest"] == f"http://127.0.0.1:{base + 1}" and set(bn["credentials"]) == {"api_key", "secret"}
        assert bn["ws"]["public"].startswith("ws://127.0.0.1:")
        with urllib.request.urlopen(f"{bn['rest']}/fapi/v1/ticker/price?symbol=SOLUSDT", timeout=5) as r:
            assert json.loads(r.read())["symbol"] == "SOLUSDT"
        assert stop(proc) == 0


def test_main_gives_every_twin_a_round_trip_and_jitter() -> None:
    with simulator_process("--venues", "okx", "--port-base", str(_free_base(3)), "--symbols", "BTC", "--rtt-ms", "300",
                           "--jitter-ms", "20", "--seed", "6") as (proc, first):
        with urllib.request.urlopen(f"{first['okx']['rest']}/__admin/latency", timeout=5) as r:
            assert json.loads(r.read())["latency"] == {"rest_in_ms": 150.0, "rest_out_ms": 150.0, "ws_in_ms": 150.0,
                                                       "ws_out_ms": 150.0, "jitter_ms": 20.0, "seed": 6}
        assert stop(proc) == 0


def test_main_refuses_a_negative_round_trip() -> None:
    out = subprocess.run([sys.executable, "-m", "simulator", "--rtt-ms", "-5"], cwd=REPO, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "--rtt-ms and --jitter-ms must be >= 0" in out.stderr


def test_main_rejects_an_unknown_venue_with_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "simulator", "--venues", "binance,kraken"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no twin for venue 'kraken'" in out.stderr and "binance" in out.stderr


def test_main_passes_twin_options_and_refuses_malformed_ones() -> None:
    """``--twin-option VENUE.KEY=JSON`` is accepted (that it reaches the twin is shown end to end by
    tests/e2e/test_dead_mans_switch.py, whose Bybit twin refuses DCP by one); a malformed one is exit 2 with
    the reason. The admin view of the account's open orders answers."""
    with simulator_process("--venues", "binance", "--port-base", str(_free_base()), "--symbols", "BTC",
                           "--twin-option", "binance.hedge_mode=true") as (proc, first):
        bn = first["binance"]
        with urllib.request.urlopen(f"{bn['rest']}/__admin/orders", timeout=5) as r:
            assert json.loads(r.read()) == {"open": []}  # the admin view of the account's open orders
        assert stop(proc) == 0
    out = subprocess.run([sys.executable, "-m", "simulator", "--twin-option", "binance-hedge"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "expected VENUE.KEY=JSON" in out.stderr
