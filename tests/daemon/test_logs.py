"""The daemon's log handler: Python logging records in the daemon's JSON shape, repeats held back and counted."""

from __future__ import annotations

import io
import json
import logging

from daemon.logs import DaemonLogHandler


def _logger(handler: DaemonLogHandler) -> logging.Logger:
    log = logging.getLogger(f"test.logs.{id(handler)}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.WARNING)
    return log


def test_records_are_json_lines_of_the_daemons_shape_and_repeats_are_counted() -> None:
    out = io.StringIO()
    handler = DaemonLogHandler("json", out, quiet_s=3600.0)
    log = _logger(handler)
    for _ in range(5):
        log.warning("account: %s failed (%s)", "binance", "ActorDead")
    log.warning("account: %s failed (%s)", "okx", "ActorDead")  # another message: written
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(x["event"], x["level"], x["message"]) for x in lines] == [
        ("log", "warning", "account: binance failed (ActorDead)"), ("log", "warning", "account: okx failed (ActorDead)")]
    handler.quiet_s = 0.0  # the quiet period is over: the next one says how many were held back
    log.warning("account: %s failed (%s)", "binance", "ActorDead")
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last["repeated"] == 4 and last["logger"] == log.name


def test_table_mode_keeps_the_recent_warnings_for_the_table_and_prints_nothing() -> None:
    out = io.StringIO()
    handler = DaemonLogHandler("table", out, recent=3)
    log = _logger(handler)
    for n in range(5):
        log.warning("venue %d is slow", n)
    assert out.getvalue() == ""
    assert [w.split(": ", 1)[1] for w in handler.recent] == ["venue 2 is slow", "venue 3 is slow", "venue 4 is slow"]
