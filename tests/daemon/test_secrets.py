"""Secrets never reach the daemon's output: the actual API keys and secrets the twins issued are searched for in
stdout, stderr, the JSON log lines and /metrics, in a normal run and in failure paths (a refused signature, a
crash). Real daemon processes, real twins."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import pytest

from simulator.runner import start_twins
from tests.ports import free_port, free_port_base

REPO = Path(__file__).resolve().parents[2]
VENUES = ["binance", "bybit", "okx", "deribit"]


def _issued(seed: int) -> list[str]:
    """The keys, secrets and passphrases the twins of ``seed`` issue (they derive them from the seed)."""

    async def read() -> list[str]:
        async with start_twins(VENUES, seed=seed, symbols=["BTC", "ETH"], rate=0) as twins:
            out = []
            for rt in twins.running.values():
                c = rt.twin.credentials
                out += [c.api_key, c.secret] + ([c.passphrase] if c.passphrase else [])
            return out

    values = anyio.run(read)
    assert values and all(len(v) >= 8 for v in values)
    return values


def _assert_absent(values: list[str], *texts: str) -> None:
    for v in values:
        for t in texts:
            assert v not in t, "a credential reached the output"


@pytest.mark.slow
def test_no_issued_credential_reaches_output_logs_or_metrics_in_a_normal_run() -> None:
    seed = 5
    port = free_port()
    cfg_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"crossbook-secrets-{os.getpid()}"
    cfg_dir.mkdir(exist_ok=True)
    cfg = cfg_dir / "c.toml"
    cfg.write_text(f'[daemon]\njournal = "{cfg_dir / "j.sqlite"}"\nmetrics = "127.0.0.1:{port}"\n'
                   + "".join(f'[venues.{v}]\ninstruments = ["{"BTC-USD-PERP" if v == "deribit" else "BTC-USDT-PERP"}"]\n'
                             for v in VENUES))
    proc = subprocess.Popen([sys.executable, "-m", "supervisor", "--config", str(cfg), "--simulate", "--seed", str(seed),
                             "--log-format", "json"], cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ev = json.loads(proc.stdout.readline())
            if ev.get("event") == "status" and all(ev["venues"].get(v, {}).get("books") == "1/1" for v in VENUES):
                break
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    _assert_absent(_issued(seed), out, err, metrics, health)


@pytest.mark.slow
def test_no_credential_reaches_the_output_when_signatures_are_refused_or_an_actor_crashes(tmp_path: Path) -> None:
    """A wrong secret (every signed request refused) and a crashing actor: the failure is reported, the
    values are not, neither the wrong ones we sent nor the right ones the twins issued."""
    seed = 6
    wrong = {"CB_K": "wrongkey-0123456789abcdef", "CB_S": "wrongsecret-0123456789abcdef", "CB_P": "wrongpass-0123"}
    port_base = free_port_base((1, 3))
    twins = subprocess.Popen([sys.executable, "-m", "simulator", "--venues", "binance,okx", "--port-base",
                              str(port_base), "--seed", str(seed), "--rate", "5"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert twins.stdout is not None
        urls = json.loads(twins.stdout.readline())
        issued = [v for venue in urls.values() for v in venue["credentials"].values()]
        creds = '[venues.{v}.credentials]\napi_key_env = "CB_K"\nsecret_env = "CB_S"\n'
        text = (f'[daemon]\njournal = "{tmp_path / "j.sqlite"}"\nmetrics = ""\n'
                '[restart]\nbase_s = 0.01\ncap_s = 0.02\nmax_restarts = 2\n')
        for v in ("binance", "okx"):
            ws = ", ".join(f'{k} = "{u}"' for k, u in urls[v]["ws"].items())
            text += (f'[venues.{v}]\ninstruments = ["BTC-USDT-PERP"]\nrest = "{urls[v]["rest"]}"\nws = {{ {ws} }}\n'
                     + creds.format(v=v) + ('passphrase_env = "CB_P"\n' if v == "okx" else ""))
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        env = dict(os.environ, **wrong, CROSSBOOK_FAULT_FAIL_ACTOR="aggregator")
        out = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(cfg), "--duration", "6",
                              "--log-format", "json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
    finally:
        twins.send_signal(signal.SIGTERM)
        twins.communicate(timeout=30)
    events = [json.loads(x) for x in out.stdout.splitlines()]
    said = json.dumps(events)
    # The venues' refusals are reported, in their words (OKX refuses the REST key check at start, 50111, or the
    # WebSocket login, 60005, whichever comes first)...
    assert "-2015" in said and ("50111" in said or "60005" in said), said[-3000:]
    assert any(e.get("event") == "ActorFailed" and e["name"] == "aggregator" for e in events)  # ...and the crash
    assert out.returncode == 3  # the drilled aggregator gave up: the daemon stopped, loudly
    _assert_absent(issued + list(wrong.values()), out.stdout, out.stderr)
