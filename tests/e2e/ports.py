"""Loopback ports for the twins of an end-to-end test (``python -m simulator --port-base P``: binance P+1,
bybit P+2, okx P+3, deribit P+4)."""

from __future__ import annotations

import socket


def free_port_base(offsets: tuple[int, ...]) -> int:
    """A base P with P+k free on loopback for every k in ``offsets``."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1]) - 1
        if base + max(offsets) < 65535 and all(_free(base + k) for k in offsets):
            return base
    raise AssertionError(f"no free ports at offsets {offsets}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
