"""What every twin's WebSocket hub does with a connection, in one place.

A connection has a bounded send stream (its writer task drains it) and the aiohttp request (for its TCP
transport). Pushing never blocks the market driver: a connection whose send buffer is full is too slow and
is aborted, as a venue would drop it; pushing to a closed connection is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import anyio
from aiohttp import web

__all__ = ["Conn", "enqueue", "abort", "abort_all"]


class Conn(Protocol):
    send: Any  # anyio MemoryObjectSendStream of frames (bytes or str, per venue)
    request: web.Request


def enqueue(conn: Conn, frame: bytes | str) -> None:
    """Queue ``frame`` for the connection's writer; abort a connection that cannot keep up."""
    try:
        conn.send.send_nowait(frame)
    except anyio.WouldBlock:
        abort(conn)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


def abort(conn: Conn) -> None:
    """Drop the TCP connection abruptly (no close frame) and end its writer."""
    transport = conn.request.transport
    if transport is not None:
        transport.abort()
    conn.send.close()


def abort_all(conns: Iterable[Conn]) -> None:
    for conn in list(conns):
        abort(conn)
