"""``python -m supervisor``: the crossbook daemon's command (daemon/cli.py). The supervisor itself, which
starts actors from specs, restarts what fails and stops everything in reverse order, is
actors/supervision.py; its names are importable from here too."""

from __future__ import annotations

import sys

from actors.supervision import (
    Backoff,
    ChildHandle,
    ChildSpec,
    Intensity,
    RestartPolicy,
    Supervisor,
)
from daemon.cli import main

__all__ = ["Backoff", "ChildHandle", "ChildSpec", "Intensity", "RestartPolicy", "Supervisor", "main"]

if __name__ == "__main__":
    sys.exit(main())
