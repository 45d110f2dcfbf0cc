"""Venue-like round trips for the benches: parsing ``--rtt`` profiles into the twins' ``LatencyProfile``.

A profile is written ``0`` (loopback, no added latency), ``200`` (a fixed 200 ms round trip: half each way,
REST and WebSocket) or ``20-80`` (a round trip between 20 and 80 ms: 20 ms fixed plus up to 30 ms jitter on
each direction, drawn per request and per frame from a seeded generator).
"""

from __future__ import annotations

import argparse

from simulator import LatencyProfile

__all__ = ["parse_rtt", "rtt_label", "rtt_list"]


def parse_rtt(text: str, seed: int = 1) -> LatencyProfile | None:
    """``"0"`` -> None, ``"200"`` -> fixed, ``"20-80"`` -> 20 fixed + 0..30 jitter per direction.

    Raises:
        ValueError: not a number or a ``low-high`` range with 0 <= low <= high.
    """
    low_s, _, high_s = text.partition("-")
    low = float(low_s)
    high = float(high_s) if high_s else low
    if not 0 <= low <= high:
        msg = f"expected a round trip in ms such as 0, 200 or 20-80, got {text!r}"
        raise ValueError(msg)
    if high == 0:
        return None
    return LatencyProfile.from_rtt(low, jitter_ms=(high - low) / 2, seed=seed)


def rtt_label(text: str) -> str:
    """How a profile is named in tables: ``rtt 0 ms``, ``rtt 20-80 ms``."""
    return f"rtt {text} ms"


def rtt_list(ap: argparse.ArgumentParser, text: str) -> list[str]:
    """A ``--rtt`` comma list, each checked (a bad one ends the script through ``ap.error``)."""
    rtts = [r for r in text.split(",") if r]
    for rtt in rtts:
        try:
            parse_rtt(rtt)
        except ValueError as exc:
            ap.error(f"--rtt: {exc}")
    return rtts
