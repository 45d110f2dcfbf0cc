"""Venue-like network latency of a twin: a fixed delay per direction plus uniform jitter, REST and WebSocket.

Rules:
- A ``LatencyProfile`` is a frozen value. ``rest_in_ms`` delays a REST request before the twin handles it and
  ``rest_out_ms`` delays its response after; ``ws_in_ms`` delays each frame a client sends before the twin
  handles it and ``ws_out_ms`` each frame the twin sends. Every delayed message also gets its own uniform
  extra in ``[0, jitter_ms]``, drawn from a ``random.Random(seed)``, so a run is repeatable.
- ``LatencyProfile.from_rtt(rtt_ms, jitter_ms)`` splits a round trip half per direction for REST and WS: a
  REST call then takes ``rtt_ms`` plus two jitter draws (``rtt_ms + jitter_ms`` on average).
- A WebSocket handshake is an HTTP request answered by the upgrade: it waits ``rest_in + rest_out`` (one
  round trip) before it is handled.
- The LATENCY fault is one more source of the same delays: its ``ms`` is added to every REST request's
  inbound delay and to every outgoing WS frame, as long as it is active.
- Delays overlap, they never queue: concurrent REST requests sleep side by side, and frames on one
  WebSocket go through a ``wsconn.DelayLine``, which keeps their order (a frame leaves at max(previous
  frame's time, its own due time)).
- The admin API (``/__admin``) is never delayed.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from simulator.faults import FaultController, FaultKind

__all__ = ["LatencyProfile", "Latency"]


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """One-way delays in milliseconds, per transport and direction, plus jitter (see module rules).

    Raises:
        ValueError: a negative delay or jitter (the message names the field and the value).
    """

    rest_in_ms: float = 0.0
    rest_out_ms: float = 0.0
    ws_in_ms: float = 0.0
    ws_out_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "seed" and not value >= 0:
                msg = f"latency {f.name} must be a number of ms >= 0, got {value!r}"
                raise ValueError(msg)

    @classmethod
    def from_rtt(cls, rtt_ms: float, jitter_ms: float = 0.0, seed: int = 0) -> LatencyProfile:
        """A round trip of ``rtt_ms`` split half per direction, for REST and WebSocket alike."""
        half = rtt_ms / 2
        return cls(half, half, half, half, jitter_ms, seed)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LatencyProfile:
        """Build from the admin API body: any of the fields, and ``rtt_ms`` as a shorthand for the four delays
        (explicit fields win over it).

        Raises:
            ValueError: an unknown key, a value that is not a number, or a negative one.
        """
        known = {f.name for f in fields(cls)} | {"rtt_ms"}
        unknown = sorted(set(body) - known)
        if unknown:
            msg = f"unknown latency field(s) {', '.join(unknown)}; expected any of {', '.join(sorted(known))}"
            raise ValueError(msg)
        try:
            values: dict[str, Any] = {}
            if "rtt_ms" in body:
                values = asdict(cls.from_rtt(float(body["rtt_ms"])))
            values |= {k: int(v) if k == "seed" else float(v) for k, v in body.items() if k != "rtt_ms"}
        except (TypeError, ValueError):
            msg = f"latency fields must be numbers, got {body!r}"
            raise ValueError(msg) from None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Latency:
    """The delays one twin applies right now: its profile (changed at run time) plus an active LATENCY fault.

    Args:
        faults: The twin's fault controller (read for LATENCY; latency itself is never a fault's target).
        profile: The starting profile (default: none, loopback speed).
    """

    def __init__(self, faults: FaultController, profile: LatencyProfile | None = None) -> None:
        self._faults = faults
        self.profile = LatencyProfile()
        self._rng = random.Random(0)
        self.set(profile)

    def set(self, profile: LatencyProfile | None) -> None:
        """Use ``profile`` from now on (None: no latency); its seed restarts the jitter sequence."""
        self.profile = profile or LatencyProfile()
        self._rng = random.Random(self.profile.seed)

    def _seconds(self, base_ms: float, fault: bool) -> float:
        jitter = self.profile.jitter_ms
        ms = base_ms + (self._rng.uniform(0.0, jitter) if jitter > 0 else 0.0)
        if fault:
            ms += self._faults.param(FaultKind.LATENCY, "ms", 200)
        return ms / 1000

    def rest_in_s(self) -> float:
        """Seconds to hold a REST request before handling it (profile, jitter, LATENCY fault)."""
        return self._seconds(self.profile.rest_in_ms, fault=True)

    def rest_out_s(self) -> float:
        """Seconds to hold a REST response before sending it (profile, jitter)."""
        return self._seconds(self.profile.rest_out_ms, fault=False)

    def ws_in_s(self) -> float:
        """Seconds between a client's WS frame arriving and the twin handling it (profile, jitter)."""
        return self._seconds(self.profile.ws_in_ms, fault=False)

    def ws_out_s(self) -> float:
        """Seconds between the twin queueing a WS frame and sending it (profile, jitter, LATENCY fault)."""
        return self._seconds(self.profile.ws_out_ms, fault=True)
