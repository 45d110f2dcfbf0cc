"""Two daemon processes joined by a real nats-server: a venues process (twins in-process, router, journal)
and a strategies process (a strategy only). Intents go over JetStream to the router; order updates come
back; the strategy process, the venues process and nats-server are each killed or stopped and restarted."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.actors.test_nats_bridge import NatsServer, _nats_server_binary
from tests.daemon.test_daemon import Daemon
from tests.ports import free_port

pytestmark = [pytest.mark.slow]

_VENUES = """
[venues.binance]
instruments = ["BTC-USDT-PERP"]
priority = 1
stale_after_s = 0.5
[venues.bybit]
instruments = ["BTC-USDT-PERP"]
priority = 2
stale_after_s = 0.5

[[groups]]
name = "BTC-PERP"
members = ["binance:BTC-USDT-PERP", "bybit:BTC-USDT-PERP"]

[health]
probe_interval_s = 1.0
hold_s = 1.0
"""


def _venues_config(tmp_path: Path, url: str) -> Path:
    p = tmp_path / "venues.toml"
    p.write_text(f"""
[daemon]
role = "venues"
journal = "{tmp_path / 'journal.sqlite'}"
metrics = "127.0.0.1:{free_port()}"
shutdown_policy = "cancel"
shutdown_timeout_s = 5
status_interval_s = 0.5

[nats]
url = "{url}"
node = "venues"
reconnect_wait_s = 0.2
{_VENUES}
""")
    return p


def _strategies_config(tmp_path: Path, url: str, metrics: int, batch: int = 1) -> Path:
    p = tmp_path / "strategies.toml"
    p.write_text(f"""
[daemon]
role = "strategies"
metrics = "127.0.0.1:{metrics}"
status_interval_s = 0.5

[nats]
url = "{url}"
node = "strat1"
reconnect_wait_s = 0.2
{_VENUES}
[[strategies]]
name = "remote"
path = "tests.daemon.remote_orders:RemoteOrders"
settings = {{ instrument = "BTC-USDT-PERP", count = 3, quantity = "0.002", batch = {batch} }}
""")
    return p


def _start(cfg: Path, *extra: str) -> Daemon:
    return Daemon(["--config", str(cfg), *extra, "--rate", "20", "--log-format", "json"])


def _updates(d: Daemon) -> list[tuple[str, str]]:
    return [(e["client_order_id"], e["status"]) for e in d.events("OrderUpdate")]


def _published(d: Daemon) -> list[tuple[str, str, int]]:
    """Every OrderUpdate as published (the venue may report one status more than once: ts_recv tells them apart)."""
    return [(e["client_order_id"], e["status"], e["ts_recv"]) for e in d.events("OrderUpdate")]


def _wait_statuses(d: Daemon, pred: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred(_updates(d)):
        left = deadline - time.monotonic()
        assert left > 0, f"order updates so far: {_updates(d)}"
        d.read_until(lambda e: e.get("event") in ("OrderUpdate", "status"), left)


def _nats_state(d: Daemon, states: tuple[str, ...], timeout: float, since: int = 0) -> dict[str, Any]:
    return d.read_until(lambda e: e.get("event") == "status" and e.get("nats", {}).get("state") in states, timeout,
                        since)


def _stop(d: Daemon) -> int:
    if d.proc.poll() is None:
        d.proc.send_signal(signal.SIGTERM)
    return d.finish(timeout=60)


def _kill(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.send_signal(signal.SIGKILL)
    d.finish(timeout=30)


def test_strategies_and_venues_in_two_processes_over_nats_survive_kills_and_restarts(tmp_path: Path) -> None:
    binary = _nats_server_binary()
    if binary is None:
        pytest.skip("no nats-server binary on PATH (apt-get install nats-server, or set NATS_SERVER_BIN)")
    server = NatsServer(binary, tmp_path / "js")
    server.start()
    smetrics = free_port()
    vcfg = _venues_config(tmp_path, server.url)
    scfg = _strategies_config(tmp_path, server.url, smetrics)
    procs: list[Daemon] = []
    try:
        # 1. Both up: the strategy's intents reach the router over NATS, its orders rest, updates come back.
        venues = _start(vcfg, "--simulate")
        procs.append(venues)
        s1 = _start(scfg)
        procs.append(s1)
        started = s1.read_until(lambda e: e.get("event") == "daemon.starting", 30)
        assert started["role"] == "strategies" and started["venues"] == []
        _nats_state(s1, ("connected",), 30)
        _wait_statuses(s1, lambda u: len({c for c, s in u if s == "submitted"}) >= 3, 60)
        first = sorted({c for c, s in _updates(s1) if s == "submitted"})
        assert len(first) == 3
        assert not s1.events("twin.started")  # no twins, exchange actors or journal in a strategies process

        # 2. The strategy process dies; its orders are cancelled from the venues side while it is down.
        _kill(s1)
        assert _stop(venues) == 0, venues.stderr[-2000:]
        settled = venues.events("router.settled")
        assert settled and settled[0]["cancelled"] == 3, settled
        con = sqlite3.connect(tmp_path / "journal.sqlite")
        try:
            assert dict(con.execute("select status, count(*) from intents group by status").fetchall()) == {"cancelled": 3}
        finally:
            con.close()

        # 3. The strategy process comes back (same config, same durable consumer): the cancellations arrive,
        #    once each; the venues process comes back too and the strategy's new orders rest.
        s2 = _start(scfg)
        procs.append(s2)
        _wait_statuses(s2, lambda u: {c for c, s in u if s == "cancelled"} >= set(first), 30)
        venues2 = _start(vcfg, "--simulate")
        procs.append(venues2)
        _wait_statuses(s2, lambda u: len({c for c, s in u if s == "submitted"} - set(first)) >= 3, 60)
        second = sorted({c for c, s in _updates(s2) if s == "submitted"} - set(first))
        assert len(second) == 3
        # Everything the first venues process published reached the strategy side exactly once, across the kill.
        got = Counter(_published(s1) + _published(s2))
        assert all(n == 1 for n in got.values()), [k for k, n in got.items() if n > 1]
        assert set(_published(venues)) <= set(got), set(_published(venues)) - set(got)
        assert {(c, s) for c, s, _ in _published(venues)} >= {(c, s) for c in first for s in ("submitted", "cancelled")}

        # 4. nats-server is killed and restarted on the same port and store: both processes report it and
        #    reconnect, and orders flow again.
        #    A status line only counts from the mark on: an older "connected" line read but not consumed before
        #    the kill would otherwise pass for the reconnection.
        marks = {d: len(d.lines) for d in (s2, venues2)}
        server.kill()
        _nats_state(s2, ("reconnecting", "disconnected"), 15, marks[s2])
        _nats_state(venues2, ("reconnecting", "disconnected"), 15, marks[venues2])
        marks = {d: len(d.lines) for d in (s2, venues2)}
        server.start()
        _nats_state(s2, ("connected",), 30, marks[s2])
        _nats_state(venues2, ("connected",), 30, marks[venues2])
        states = [e["state"] for e in s2.events("nats.state")]
        assert states[-2:] == ["reconnecting", "connected"] or states[-1] == "connected", states
        _strategies_config(tmp_path, server.url, smetrics, batch=2)
        s2.proc.send_signal(signal.SIGHUP)
        s2.read_until(lambda e: e.get("event") == "strategy.reloaded", 20)
        _wait_statuses(s2, lambda u: len({c for c, s in u if s == "submitted"} - set(first) - set(second)) >= 3, 40)
        got = Counter(_published(s1) + _published(s2))  # no duplicate across the NATS restart either
        assert all(n == 1 for n in got.values()), [k for k, n in got.items() if n > 1]
        last = s2.read_until(lambda e: e.get("event") == "status", 10, since=len(s2.lines))["nats"]  # a fresh line
        assert last["state"] == "connected" and last["reconnects"] >= 1 and last["received_js"] >= 9

        assert _stop(s2) == 0, s2.stderr[-2000:]
        assert _stop(venues2) == 0, venues2.stderr[-2000:]
        assert venues2.events("router.settled")[0]["cancelled"] == 6
    finally:
        for d in procs:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(10)
        server.stop()
