"""The daemon as users run it: a real subprocess on the venue twins, read through its JSON log lines."""

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

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, *, strategies: str = "", extra: str = "") -> Path:
    metrics = free_port()
    text = f"""
[daemon]
journal = "{tmp_path / 'journal.sqlite'}"
metrics = "127.0.0.1:{metrics}"
shutdown_policy = "cancel"
shutdown_timeout_s = 5

[venues.binance]
instruments = ["BTC-USDT-PERP"]
priority = 1
stale_after_s = 0.5
[venues.bybit]
instruments = ["BTC-USDT-PERP"]
priority = 2
stale_after_s = 0.5
[venues.okx]
instruments = ["BTC-USDT-PERP"]
priority = 3
stale_after_s = 0.5
[venues.deribit]
instruments = ["BTC-USD-PERP"]
priority = 4
stale_after_s = 0.5

[[groups]]
name = "BTC-PERP"
members = ["binance:BTC-USDT-PERP", "bybit:BTC-USDT-PERP", "okx:BTC-USDT-PERP", "deribit:BTC-USD-PERP"]

[aggregator]
threshold_bps = 1.0

[health]
probe_interval_s = 1.0
hold_s = 1.0

[[strategies]]
name = "spread"
path = "actors.strategies.spread_monitor:SpreadMonitor"
{strategies}
{extra}
"""
    p = tmp_path / "crossbook.toml"
    p.write_text(text)
    return p


class Daemon:
    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "supervisor", *args], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict[str, Any]] = []
        self._used: set[int] = set()

    def read_until(self, pred: Any, timeout: float, since: int = 0) -> dict[str, Any]:
        """The first event (already read or still to come) matching ``pred``; ``since``: only events from that
        index of ``lines`` on (what happened after a mark, not an older event that also matches)."""
        for ev in self.lines[since:]:
            if pred(ev) and id(ev) not in self._used:
                self._used.add(id(ev))
                return ev
        return self._read_until(pred, timeout)

    def _read_until(self, pred: Any, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                ev = json.loads(line)
                self.lines.append(ev)
                if pred(ev):
                    self._used.add(id(ev))
                    return ev
        raise AssertionError(f"event not seen within {timeout} s; last events: {[e.get('event') for e in self.lines[-15:]]}")

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.lines if e.get("event") == name]

    def finish(self, timeout: float = 30.0) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        for line in out.splitlines():
            if line.startswith("{"):
                self.lines.append(json.loads(line))
        self.stderr = err
        return self.proc.returncode


def test_daemon_on_the_twins_publishes_best_prices_and_arbitrage_then_exits_cleanly(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    d = Daemon(["--config", str(cfg), "--simulate", "--duration", "25", "--rate", "25", "--log-format", "json"])
    rc = d.finish(timeout=90)
    assert rc == 0, d.stderr[-2000:]
    status = [e for e in d.lines if e.get("event") == "status"]
    best = status[-1]["best"]["BTC-PERP"]
    assert best["bid"] > 0 and best["ask"] > 0 and best["bid_venue"] and best["ask_venue"]
    assert set(best["included"]) == {"binance", "bybit", "okx", "deribit"}
    account = status[-1]["account"]  # the consolidated account view, gathered from all four venues
    assert account is not None and account["stale"] == [] and account["exposures"] == {}
    opened = [e for e in d.events("ArbOpportunity") if e["phase"] == "opened"]
    assert opened, "no arbitrage opportunity in 25 s of twin market"
    assert all(e["buy_venue"] != e["sell_venue"] and e["net_bps"] >= 1.0 for e in opened)
    assert d.lines[-1]["event"] == "daemon.stopped"


def test_venue_outage_produces_a_failover_in_the_log_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    d = Daemon(["--config", str(cfg), "--simulate", "--rate", "25", "--log-format", "json"])
    try:
        twins = {}
        d.read_until(lambda e: e.get("event") == "daemon.started", 60)
        twins = {e["venue"]: e["rest"] for e in d.events("twin.started")}
        first = d.read_until(lambda e: e.get("event") == "Failover", 30)
        assert first["to_venue"] == "binance"  # priority 1
        # Binance goes dark: sockets dropped and new connections refused for a while.
        for fault in ({"fault": "refuse_connections", "duration_s": 8}, {"fault": "drop_ws"}):
            req = urllib.request.Request(twins["binance"] + "/__admin/faults", data=json.dumps(fault).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            urllib.request.urlopen(req, timeout=5).read()
        away = d.read_until(lambda e: e.get("event") == "Failover" and e.get("from_venue") == "binance", 30)
        assert away["to_venue"] == "bybit"
        assert away["ts_switched"] >= away["ts_detected"]
        back = d.read_until(lambda e: e.get("event") == "Failover" and e.get("to_venue") == "binance", 60)
        assert back["from_venue"] == "bybit"
        d.read_until(lambda e: e.get("event") == "status", 10)  # still running
    finally:
        d.proc.send_signal(signal.SIGTERM)
        rc = d.finish(timeout=60)
    assert rc == 0
    assert d.lines[-1]["event"] == "daemon.stopped"


def test_sigterm_cancels_working_orders_and_leaves_none_in_an_unknown_state(tmp_path: Path) -> None:
    resting = """
[[strategies]]
name = "rest"
path = "tests.daemon.resting_orders:RestingOrders"
settings = { instrument = "BTC-USDT-PERP", count = 3, quantity = "0.002" }
"""
    cfg = _config(tmp_path, strategies=resting)
    d = Daemon(["--config", str(cfg), "--simulate", "--rate", "25", "--log-format", "json"])
    import sqlite3

    def journal_states() -> dict[str, int]:
        con = sqlite3.connect(tmp_path / "journal.sqlite")
        try:
            return dict(con.execute("select state, count(*) from intents group by state").fetchall())
        finally:
            con.close()

    try:
        d.read_until(lambda e: e.get("event") == "daemon.started", 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and journal_states().get("open", 0) < 3:
            time.sleep(0.2)
        assert journal_states().get("open", 0) == 3, journal_states()
    finally:
        d.proc.send_signal(signal.SIGTERM)
        rc = d.finish(timeout=60)
    assert rc == 0, d.stderr[-2000:]
    settled = d.events("router.settled")
    assert len(settled) == 1
    assert settled[0]["cancelled"] == 3 and settled[0]["working"] == 0 and settled[0]["unknown"] == 0
    states = journal_states()
    assert states == {"done": 3}, states
    con = sqlite3.connect(tmp_path / "journal.sqlite")
    statuses = [r[0] for r in con.execute("select status from intents").fetchall()]
    con.close()
    assert statuses == ["cancelled"] * 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[venues.binance]\nenabeld = true\n", "unknown field `enabeld`"),
        ("[daemon]\nlog_format = 3\n", "Expected `str`, got `int` - at `$.daemon.log_format`"),
        ("[venues.kraken]\n", "unknown venue 'kraken'"),
        ("[[strategies]]\nname = 'x'\npath = 'nowhere:Nothing'\n", "strategy 'nowhere:Nothing' cannot be loaded"),
        ("[daemon\n", "not valid TOML"),
        ("[venues.okx]\nmax_in_flight = 0\n", "[venues.okx] max_in_flight and cancel_in_flight must be at least 1"),
        ("[venues.okx]\ndead_mans_switch_s = 5\n", "okx dead-man's switch window: expected 0 (off) or whole seconds"),
        ("[venues.bybit]\ndead_mans_switch_s = 301\n", "bybit"),
        ("[venues.deribit]\ndead_mans_switch_s = 4\n", "deribit dead_mans_switch_s must be 0 (off) or >= 10"),
        ("[venues.binance]\ndead_mans_switch_s = 1\n", "binance"),
    ],
)
def test_broken_config_is_one_line_naming_the_problem_and_exit_code_2(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(p), "--check"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and str(p) in lines[0] or needle in lines[0]


def test_check_accepts_the_built_in_demo_config() -> None:
    out = subprocess.run([sys.executable, "-m", "supervisor", "--check", "--simulate"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "config ok" in out.stdout and "4 venues" in out.stdout


def test_the_readme_config_example_loads_with_every_key_known(tmp_path: Path) -> None:
    """The README's example is what users copy: it must pass the same strict check as their own files."""
    from daemon.config import load_config

    readme = (REPO / "README.md").read_text()
    start = readme.index("```toml\n") + len("```toml\n")
    p = tmp_path / "readme.toml"
    p.write_text(readme[start : readme.index("```", start)])
    cfg = load_config(p)
    binance = cfg.venues["binance"]
    assert binance.klines == ["1m"] and binance.trades is True and binance.instruments == ["BTC-USDT-PERP"]
    assert binance.max_in_flight == 16


def test_credentials_come_from_the_environment_never_from_the_config_text(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[venues.binance]\ninstruments = ["BTC-USDT-PERP"]\n'
                 '[venues.binance.credentials]\napi_key_env = "CB_TEST_KEY"\nsecret_env = "CB_TEST_SECRET"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CB_TEST_")}
    out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(p), "--check"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "CB_TEST_KEY" in out.stderr
    env.update(CB_TEST_KEY="k" * 16, CB_TEST_SECRET="super-secret-value")
    out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(p), "--check"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "super-secret-value" not in out.stdout + out.stderr


def test_metrics_endpoint_and_health_json_while_running_and_sighup_reload(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    port = int(cfg.read_text().split('metrics = "127.0.0.1:')[1].split('"')[0])
    d = Daemon(["--config", str(cfg), "--simulate", "--rate", "25", "--log-format", "json"])
    try:
        d.read_until(lambda e: e.get("event") == "daemon.started", 60)
        # The metrics read the same published counters as the status line: once it shows OKX's book live, so do they.
        d.read_until(lambda e: e.get("event") == "status" and e["best"].get("BTC-PERP")
                     and e["venues"].get("okx", {}).get("books") == "1/1", 30)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        for name in ("crossbook_ws_frames_total", "crossbook_ws_reconnects_total", "crossbook_books_live",
                     "crossbook_rest_latency_ms_bucket", "crossbook_clock_offset_ms", "crossbook_ratelimit_headroom_ratio",
                     "crossbook_mailbox_depth", "crossbook_venue_health", "crossbook_failovers_total",
                     "crossbook_book_resyncs_total"):
            assert f"\n{name}" in body or body.startswith(name), name
        assert 'crossbook_books_live{venue="okx"} 1' in body
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read())
        assert health["status"] == "ok" and health["active_venue"] == "binance"
        assert set(health["venues"]) == {"binance", "bybit", "okx", "deribit"}
        # SIGHUP: the strategies' settings are read again from the file.
        cfg.write_text(cfg.read_text().replace('path = "actors.strategies.spread_monitor:SpreadMonitor"',
                                               'path = "actors.strategies.spread_monitor:SpreadMonitor"\n'
                                               'settings = { log_updates = true }'))
        d.proc.send_signal(signal.SIGHUP)
        ev = d.read_until(lambda e: e.get("event") == "strategy.reloaded", 20)
        assert ev["strategy"] == "spread"
    finally:
        d.proc.send_signal(signal.SIGTERM)
        rc = d.finish(timeout=60)
    assert rc == 0
    secrets_ = [line for line in json.dumps(d.lines).split(",") if "secret" in line.lower()]
    assert secrets_ == []


# -- start-up refusals: one line, exit 2, never a traceback, nothing sent -----------------------------------
def test_a_journal_that_is_not_a_database_is_refused_in_one_line(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (tmp_path / "journal.sqlite").write_bytes(b"a grocery list, not a database\n" * 200)
    out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(cfg), "--simulate", "--duration", "5",
                          "--log-format", "json"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr[-2000:]
    [line] = out.stderr.strip().splitlines()
    assert "refusing to start" in line and str(tmp_path / "journal.sqlite") in line and "move it aside" in line
    assert not any(json.loads(x).get("event") == "daemon.started" for x in out.stdout.splitlines() if x.startswith("{"))


def test_a_second_daemon_on_the_same_journal_is_refused_naming_the_first(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    first = Daemon(["--config", str(cfg), "--simulate", "--rate", "25", "--log-format", "json"])
    try:
        first.read_until(lambda e: e.get("event") == "daemon.started", 60)
        out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(cfg), "--simulate", "--duration", "5",
                              "--log-format", "json"], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr[-2000:]
        [line] = out.stderr.strip().splitlines()
        assert f"in use by another crossbook process (pid {first.proc.pid})" in line, line
        assert first.proc.poll() is None  # the first one runs on, undisturbed
    finally:
        first.proc.send_signal(signal.SIGTERM)
        assert first.finish(timeout=60) == 0


# -- give-ups: a critical actor stops the daemon loudly, a strategy stops alone ----------------------------
def _drill(tmp_path: Path, actor: str) -> tuple[int, list[dict[str, Any]], str]:
    cfg = _config(tmp_path, extra="[restart]\nbase_s = 0.01\ncap_s = 0.02\nmax_restarts = 2\nwindow_s = 60.0\n")
    env = dict(os.environ, CROSSBOOK_FAULT_FAIL_ACTOR=actor)
    out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(cfg), "--simulate", "--duration", "8",
                          "--log-format", "json"], cwd=REPO, capture_output=True, text=True, timeout=90, env=env)
    lines = [json.loads(x) for x in out.stdout.splitlines()]  # every line on stdout is JSON
    return out.returncode, lines, out.stderr


def test_a_critical_actor_that_gives_up_stops_the_daemon_with_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    rc, lines, err = _drill(tmp_path, "aggregator")
    assert rc == 3, err[-2000:]
    [line] = err.strip().splitlines()
    assert line.startswith("crossbook: stopped: aggregator gave up after") and "fails every start" in line
    assert any(e.get("event") == "ActorGaveUp" and e["name"] == "aggregator" for e in lines)
    assert lines[-1]["event"] == "daemon.stopped" and "aggregator gave up" in lines[-1]["error"]


def test_a_strategy_that_gives_up_stops_alone_and_loudly(tmp_path: Path) -> None:
    rc, lines, err = _drill(tmp_path, "strategy.spread")
    assert rc == 0, err[-2000:]  # the daemon ran its full duration
    assert any(e.get("event") == "ActorGaveUp" and e["name"] == "strategy.spread" for e in lines)
    assert any(e.get("event") == "log" and e["level"] == "error" and "strategy.spread stopped: gave up" in e["message"]
               for e in lines)
    assert lines[-1]["event"] == "daemon.stopped" and "error" not in lines[-1]
