"""``python -m simulator``: JSON line first, clean exit on SIGTERM, clear error for unknown venues."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_base() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1]) - 1


def test_main_prints_its_json_line_first_serves_and_exits_zero_on_sigterm() -> None:
    base = _free_base()
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--venues", "binance", "--port-base", str(base),
                             "--symbols", "BTC,SOL", "--rate", "20"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        bn = first["binance"]
        assert bn["rest"] == f"http://127.0.0.1:{base + 1}" and set(bn["credentials"]) == {"api_key", "secret"}
        assert bn["ws"]["public"].startswith("ws://127.0.0.1:")
        with urllib.request.urlopen(f"{bn['rest']}/fapi/v1/ticker/price?symbol=SOLUSDT", timeout=5) as r:
            assert json.loads(r.read())["symbol"] == "SOLUSDT"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_main_rejects_an_unknown_venue_with_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "simulator", "--venues", "binance,kraken"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no twin for venue 'kraken'" in out.stderr and "binance" in out.stderr
