"""Loopback ports for servers a test starts in another process (a daemon's metrics endpoint, twins at
``--port-base P``: binance P+1, bybit P+2, okx P+3, deribit P+4, a nats-server).

A port the kernel handed out for ``bind(0)`` and then released is taken from the ephemeral range, where the
kernel goes on handing ports to everything else that binds port 0 (twins started in that daemon, client
sockets): the metrics endpoint once found its port taken by a twin of its own daemon and the test read the
twin's 404. These ports come from below the ephemeral range, which the kernel never hands out by itself, and
are checked free when chosen."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOW = 10_000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default range starts here


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(offsets: tuple[int, ...]) -> int:
    """A base P with P+k free on loopback for every k in ``offsets``, outside the ephemeral range."""
    high = _ephemeral_low() - max(offsets) - 1
    for _ in range(200):
        base = random.randrange(_LOW, high)
        if all(_free(base + k) for k in offsets):
            return base
    raise AssertionError(f"no free ports at offsets {offsets} in {_LOW}..{high}")


def free_port() -> int:
    """One free loopback port outside the ephemeral range."""
    return free_port_base((0,))
