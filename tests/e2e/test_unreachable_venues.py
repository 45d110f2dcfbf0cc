"""Never silent, never half-dead: the real daemon started while its venues cannot be reached keeps saying so,
keeps trying, and trades on when they come up, with no restart (real processes, real sockets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port_base

REPO = Path(__file__).resolve().parents[2]
DOWN_S = 20.0  # how long the venues stay unreachable (as in the issue: the twins come up 20 s later)


def _config(tmp_path: Path, base: int) -> Path:
    b, o = base + 1, base + 3
    text = f"""
[daemon]
journal = "{tmp_path / 'journal.sqlite'}"
metrics = ""
status_interval_s = 1.0
shutdown_timeout_s = 5

[restart]
venue_cap_s = 3.0

[venues.binance]
instruments = ["BTC-USDT-PERP"]
rest = "http://127.0.0.1:{b}"
ws = {{ public = "ws://127.0.0.1:{b}/public", market = "ws://127.0.0.1:{b}/market", private = "ws://127.0.0.1:{b}/private" }}
priority = 1

[venues.okx]
instruments = ["BTC-USDT-PERP"]
rest = "http://127.0.0.1:{o}"
ws = {{ public = "ws://127.0.0.1:{o}/ws/v5/public", private = "ws://127.0.0.1:{o}/ws/v5/private", business = "ws://127.0.0.1:{o}/ws/v5/business" }}
priority = 2

[health]
probe_interval_s = 1.0
hold_s = 1.0
"""
    p = tmp_path / "crossbook.toml"
    p.write_text(text)
    return p


def _lines(proc: subprocess.Popen[str], until: Any, timeout: float, seen: list[dict[str, Any]]) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        ev = json.loads(line)  # every line of the daemon's output is JSON (no plain logging line in between)
        seen.append(ev)
        if until(ev):
            return ev
    raise AssertionError(f"not seen within {timeout} s; last: {[e.get('event') for e in seen[-10:]]}")


def _status_ok(ev: dict[str, Any]) -> bool:
    if ev.get("event") != "status":
        return False
    venues = ev["venues"]
    return all(venues.get(v, {}).get("books") == "1/1" and venues[v].get("health") == "ok" for v in ("binance", "okx"))


@pytest.mark.slow
def test_venues_unreachable_at_start_are_retried_reported_and_recovered_without_a_restart(tmp_path: Path) -> None:
    base = free_port_base((1, 3))
    cfg = _config(tmp_path, base)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    daemon = subprocess.Popen([sys.executable, "-m", "supervisor", "--config", str(cfg), "--log-format", "json"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    twins: subprocess.Popen[str] | None = None
    seen: list[dict[str, Any]] = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < DOWN_S:  # while the venues are away: status lines every interval
            _lines(daemon, lambda e: e.get("event") == "status", 5.0, seen)
        down = [e for e in seen if e.get("event") == "status"]
        assert len(down) >= int(DOWN_S) - 2, len(down)
        last = down[-1]["venues"]
        for v in ("binance", "okx"):
            assert last[v]["state"] == "down" and "Connect" in last[v]["last_error"], last[v]
            assert last[v]["health"] == "down"
        assert all(not f for e in down for f in e["failovers"]), "no venue may be chosen while none answered"
        restarts = [e for e in seen if e.get("event") == "ActorRestarted"]
        assert {e["name"] for e in restarts} == {"exchange.binance", "exchange.okx"}
        assert not any(e.get("event") == "ActorGaveUp" for e in seen)  # never given up on
        twins = subprocess.Popen([sys.executable, "-m", "simulator", "--venues", "binance,okx", "--port-base", str(base),
                                  "--rate", "10"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
        _lines(daemon, _status_ok, 30.0, seen)  # both back, books live, no restart of the daemon
        failovers = [e for e in seen if e.get("event") == "Failover"]
        assert failovers and failovers[0]["from_venue"] is None and failovers[0]["to_venue"] in ("binance", "okx")
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
        if twins is not None:
            twins.send_signal(signal.SIGTERM)
            twins.communicate(timeout=30)
    assert daemon.returncode == 0, err[-2000:]
    for line in out.splitlines():
        json.loads(line)
    assert err.strip() == "", err[-2000:]  # nothing on stderr: every record went out as a JSON line
