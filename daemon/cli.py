"""The daemon's command line: ``python -m supervisor [run|doctor] ...`` (supervisor.py calls ``main``)."""

from __future__ import annotations

import argparse

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m supervisor",
        description="Run crossbook: exchange actors, aggregator, router and strategies under one supervisor.",
    )
    p.add_argument("command", nargs="?", choices=["run", "doctor"], default="run",
                   help="run (default): the daemon; doctor: a preflight of the config's venues, then exit "
                        "(0 all pass, 1 warnings, 2 failures)")
    p.add_argument("--config", metavar="FILE", help="TOML configuration file")
    p.add_argument("--simulate", action="store_true", help="start the venue twins and point every venue at them")
    p.add_argument("--check", action="store_true", help="validate the configuration and exit")
    p.add_argument("--duration", type=float, metavar="S", help="run for S seconds, then shut down and exit 0")
    p.add_argument("--log-format", choices=["auto", "json", "text"], default="auto",
                   help="auto: live table on a terminal, JSON lines otherwise")
    p.add_argument("--seed", type=int, default=1, help="with --simulate: the twins' market seed")
    p.add_argument("--rate", type=float, default=10.0, help="with --simulate: book updates per second per instrument")
    p.add_argument("--simulate-rtt-ms", type=float, default=0.0, metavar="MS",
                   help="with --simulate: the twins' network round trip; each REST request and response and each "
                        "WebSocket frame either way waits MS/2")
    p.add_argument("--simulate-jitter-ms", type=float, default=0.0, metavar="MS",
                   help="with --simulate: uniform 0..MS extra on each of those waits (seeded by --seed)")
    p.add_argument("--venues", metavar="LIST", help="doctor: only these venues (comma separated)")
    p.add_argument("--seconds", type=float, default=10.0, metavar="N",
                   help="doctor: how long each book must stay in sequence (default 10)")
    p.add_argument("--json", metavar="PATH", help="doctor: also write every result as JSON to PATH")
    p.add_argument("--place-test-order", action="store_true",
                   help="doctor: place one post-only buy far below the market on each venue (its first instrument) "
                        "and cancel it at once")
    p.add_argument("--arm-switches", action="store_true",
                   help="doctor: arm each configured dead-man's switch on the real account, then turn it off "
                        "(never while a daemon trades on that account: it turns the daemon's switch off too)")
    p.add_argument("--simulate-faults", action="store_true",
                   help="doctor --simulate: the twins play a wrong key, an IP not allowed, hedge mode, a suspended "
                        "instrument, drift, a silent misrouted stream and a clock 10 s off (daemon/doctor_faults.py)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Daemon entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from daemon.doctor import run_doctor

        return run_doctor(args)
    from daemon.app import run_daemon  # the daemon's wiring lives in its own package

    return run_daemon(args)
