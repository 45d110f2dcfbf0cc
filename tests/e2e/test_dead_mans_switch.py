"""A dead daemon leaves no resting orders: the real daemon, with every venue's dead-man's switch configured,
rests an order on all four twins (the twins in a process of their own, as the venues are), is killed with
SIGKILL, and each venue's own switch cancels its orders: Binance's countdown and OKX's cancel-all-after
when their heartbeat stops, Bybit's disconnection protection when its private stream stays away, Deribit's
cancel-on-disconnect when its connection closes.

A configured switch the venue refuses stops the daemon at start with one line and exit code 2.

The time from the kill to each venue's cancel is printed (and written as JSON to
``$CROSSBOOK_SWITCH_TIMINGS`` when set): speed is reported, never asserted here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port_base

REPO = Path(__file__).resolve().parents[2]
VENUES = ("binance", "bybit", "okx", "deribit")
WINDOW_S = {"binance": 3.0, "bybit": 3.0, "okx": 10.0, "deribit": 10.0}  # each venue's minimum or near it
INSTRUMENT = {"binance": "BTC-USDT-PERP", "bybit": "BTC-USDT-PERP", "okx": "BTC-USDT-PERP", "deribit": "BTC-USD-PERP"}
QUANTITY = {"binance": "0.002", "bybit": "0.001", "okx": "1", "deribit": "10"}  # each venue's own unit


def _toml(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _config(tmp_path: Path, twins: dict[str, Any], windows: dict[str, float]) -> tuple[Path, dict[str, str]]:
    """The daemon's config pointing at the twins, and the environment carrying their credentials."""
    env: dict[str, str] = {}
    parts = [f"""
[daemon]
journal = "{tmp_path / 'journal.sqlite'}"
metrics = ""
status_interval_s = 1.0
shutdown_timeout_s = 5

[health]
probe_interval_s = 1.0
hold_s = 1.0
"""]
    for n, venue in enumerate(VENUES):
        t = twins[venue]
        creds = t["credentials"]
        up = venue.upper()
        env[f"CB_{up}_KEY"], env[f"CB_{up}_SECRET"] = creds["api_key"], creds["secret"]
        cred = {"api_key_env": f"CB_{up}_KEY", "secret_env": f"CB_{up}_SECRET"}
        if creds.get("passphrase"):
            env[f"CB_{up}_PASS"] = creds["passphrase"]
            cred["passphrase_env"] = f"CB_{up}_PASS"
        ws = _ws(venue, t["ws"])
        parts.append(f"""
[venues.{venue}]
instruments = ["{INSTRUMENT[venue]}"]
rest = "{t['rest']}"
ws = {_toml(ws)}
priority = {n + 1}
trades = false
dead_mans_switch_s = {windows.get(venue, 0.0)}
credentials = {_toml(cred)}
""")
    instruments = {v: INSTRUMENT[v] for v in VENUES}
    parts.append(f"""
[[strategies]]
name = "resting"
path = "tests.e2e.resting_everywhere:RestingEverywhere"
settings = {{ instruments = {_toml(instruments)}, quantities = {_toml(QUANTITY)} }}
""")
    p = tmp_path / "crossbook.toml"
    p.write_text("".join(parts))
    return p, env


def _ws(venue: str, urls: dict[str, str]) -> dict[str, str]:
    """The twin's WebSocket URLs under the names the venue's live endpoints use (Deribit has one socket,
    "main"; the twin names it by role)."""
    return {"main": next(iter(urls.values()))} if venue == "deribit" else urls


def _open_orders(twin: dict[str, Any]) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{twin['rest']}/__admin/orders", timeout=5) as r:  # noqa: S310 - loopback twin
        rows: list[dict[str, Any]] = json.loads(r.read())["open"]
    return rows


def _start_twins(base: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--port-base", str(base), "--symbols", "BTC",
                             "--rate", "5"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first, "the twins process printed nothing"
    return proc, json.loads(first)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _wait(pred: Any, timeout: float, what: str, poll_s: float = 0.05) -> float:
    """Poll ``pred`` until it holds; returns when (a bounded loop: a deadline, never an asserted speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(poll_s)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.mark.slow
def test_a_daemon_killed_with_sigkill_leaves_no_resting_order_on_any_venue(tmp_path: Path) -> None:
    base = free_port_base((1, 2, 3, 4))
    twins_proc, twins = _start_twins(base)
    daemon: subprocess.Popen[str] | None = None
    try:
        cfg, creds = _config(tmp_path, twins, WINDOW_S)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **creds)
        log_path = tmp_path / "daemon.log"
        with log_path.open("w") as log:
            daemon = subprocess.Popen([sys.executable, "-m", "supervisor", "--config", str(cfg), "--log-format",
                                       "json"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
            # One order resting on every venue, each venue's switch armed (orders go out only then).
            try:
                _wait(lambda: all(len(_open_orders(twins[v])) == 1 for v in VENUES) or daemon.poll() is not None,
                      60.0, "an order resting on every venue")
            except AssertionError:
                resting = {v: len(_open_orders(twins[v])) for v in VENUES}
                said = [line[:300] for line in log_path.read_text().splitlines()
                        if '"OrderRejected"' in line or '"DeadMansSwitch"' in line or "ERROR" in line][-12:]
                raise AssertionError(f"resting per venue: {resting}; the daemon said: {said}") from None
            assert daemon.poll() is None, log_path.read_text()[-3000:]
            events = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            armed = {e["venue"] for e in events if e.get("event") == "DeadMansSwitch" and e["state"] == "armed"}
            assert armed == set(VENUES), armed
            daemon.kill()  # SIGKILL: no shutdown, no cancel, no logout; the kernel closes its sockets
            killed = time.monotonic()
            daemon.wait(timeout=30)
        assert daemon.returncode == -signal.SIGKILL
        cancelled: dict[str, float] = {}
        deadline = killed + max(WINDOW_S.values()) + 30.0
        while len(cancelled) < len(VENUES) and time.monotonic() < deadline:
            for v in VENUES:
                if v not in cancelled and not _open_orders(twins[v]):
                    cancelled[v] = round(time.monotonic() - killed, 2)
            time.sleep(0.05)
        # Nobody but the venue itself could have cancelled them: the daemon is dead.
        assert set(cancelled) == set(VENUES), f"still resting: {sorted(set(VENUES) - set(cancelled))}"
        report = {v: {"window_s": WINDOW_S[v], "cancelled_after_kill_s": cancelled[v]} for v in VENUES}
        print(f"dead-man's switch, cancel after SIGKILL: {json.dumps(report)}")
        out = os.environ.get("CROSSBOOK_SWITCH_TIMINGS")
        if out:
            Path(out).write_text(json.dumps(report, indent=2))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        _stop(twins_proc)


@pytest.mark.slow
def test_a_switch_the_venue_refuses_stops_the_daemon_at_start_with_one_line(tmp_path: Path) -> None:
    """Bybit's twin started without disconnection protection for the account (as an account Bybit has not
    enabled it for): the daemon configured with Bybit's switch says so in one line and exits 2; no order is
    sent anywhere."""
    base = free_port_base((1, 2, 3, 4))
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--port-base", str(base), "--symbols", "BTC",
                             "--rate", "5", "--venues", "bybit", "--twin-option", "bybit.dcp_enabled=false"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout is not None
        twins = json.loads(proc.stdout.readline())
        cfg, creds = _config_one(tmp_path, twins, "bybit", 5.0)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **creds)
        done = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(cfg), "--log-format", "json"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("crossbook: refusing to start: bybit: dead-man's switch"), lines[0]
        assert "DCP" in lines[0], lines[0]
        assert _open_orders(twins["bybit"]) == []
    finally:
        _stop(proc)


def _config_one(tmp_path: Path, twins: dict[str, Any], venue: str, window_s: float) -> tuple[Path, dict[str, str]]:
    t = twins[venue]
    creds = t["credentials"]
    env = {"CB_KEY": creds["api_key"], "CB_SECRET": creds["secret"]}
    text = f"""
[daemon]
journal = "{tmp_path / 'journal.sqlite'}"
metrics = ""
status_interval_s = 1.0

[venues.{venue}]
instruments = ["{INSTRUMENT[venue]}"]
rest = "{t['rest']}"
ws = {_toml(_ws(venue, t['ws']))}
trades = false
dead_mans_switch_s = {window_s}
credentials = {{ api_key_env = "CB_KEY", secret_env = "CB_SECRET" }}
"""
    p = tmp_path / "crossbook.toml"
    p.write_text(text)
    return p, env
