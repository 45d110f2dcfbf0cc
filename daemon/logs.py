"""One log format per output: Python ``logging`` records in the daemon's own shape, and repeats counted.

Rules:
- JSON mode (not a terminal, or ``--log-format json``): every record is one JSON line on the daemon's
  output, ``{"ts", "event": "log", "level", "logger", "message"}``, the shape of every other daemon line, so
  a log shipper parses every line.
- Table mode (a terminal): records are kept for the live table's "recent warnings" list, never printed
  between its refreshes.
- Text mode: one plain line per record.
- Repeats: the same (logger, level, message) within ``quiet_s`` is not written again; the next one written
  after the quiet period says how many were held back (``repeated``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from typing import TextIO

__all__ = ["DaemonLogHandler", "install"]


class DaemonLogHandler(logging.Handler):
    """Args:
        mode: "json", "text" or "table".
        out: Where json / text lines go (the daemon's output).
        quiet_s: How long an identical record is held back after it was written.
        recent: How many records table mode keeps.
    """

    def __init__(self, mode: str, out: TextIO | None = None, *, quiet_s: float = 30.0, recent: int = 8) -> None:
        super().__init__(level=logging.WARNING)
        self.mode = mode
        self.out = out or sys.stdout
        self.quiet_s = quiet_s
        self.recent: deque[str] = deque(maxlen=recent)
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (written at, held back since)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            key = (record.name, record.levelno, message)
            now = time.monotonic()
            last = self._last.get(key)
            if last is not None and now - last[0] < self.quiet_s:
                self._last[key] = (last[0], last[1] + 1)
                return
            repeated = last[1] if last is not None else 0
            self._last[key] = (now, 0)
            if len(self._last) > 10_000:  # bounded: forget the oldest quiet periods
                del self._last[next(iter(self._last))]
            if self.mode == "json":
                line = {"ts": time.time(), "event": "log", "level": record.levelname.lower(), "logger": record.name,
                        "message": message}
                if repeated:
                    line["repeated"] = repeated
                self.out.write(json.dumps(line, default=str) + "\n")
                self.out.flush()
                return
            text = f"{time.strftime('%H:%M:%S')} {record.levelname.lower()} {record.name}: {message}"
            if repeated:
                text += f" (and {repeated} more like it)"
            if self.mode == "table":
                self.recent.append(text)
            else:
                self.out.write(text + "\n")
                self.out.flush()
        except Exception:  # noqa: BLE001 - logging must never take the daemon down
            self.handleError(record)


def install(mode: str, out: TextIO | None = None) -> DaemonLogHandler:
    """Route every ``logging`` record of the process through one handler of ``mode`` (and nothing else)."""
    handler = DaemonLogHandler(mode, out)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return handler
