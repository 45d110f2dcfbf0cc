"""Bench frame source: the real twins (REST, handshakes) with a paced depth stream served from bench/frames.py.

    run_source(conn, venues, n_frames, cpu)      # child-process entry (multiprocessing, spawn)
    FrameSource(...)                             # parent-side handle: start, urls, stop

Why not the twins' own market driver: a twin model step (4 venues, one BTC book each) costs about 1.3 ms
of Python on this machine (book.apply_step, number formatting), so the twins top out near 700 steps/s
(2.8 k msgs/s) on a whole core: enough for 4 x 250, not for 4 x 1000 or a 60 k msgs/s throughput ramp.
So the source process runs the real twin apps (``simulator.runner.start_twins``, rate 0) for everything
but the public depth stream, and a bench middleware mounted on each twin app serves:

- ``GET /fapi/v1/depth`` (Binance REST snapshot): the generator's snapshot, whose ``lastUpdateId`` the
  stream's first frame straddles;
- ``/bench/r<RATE>/...`` WebSocket: the generator's stream (bench/frames.py, byte for byte the venue's
  format) from frame 0, paced at RATE frames/s on this connection (snapshot push first for Bybit, OKX,
  Deribit). Incoming frames (subscribe, ping) are read and ignored.

Send stamp: each frame's venue event-time field (Binance ``T``, Bybit ``ts``, OKX ``ts``, Deribit
``timestamp``: the field each codec turns into ``ts_event``) carries ``time.time_ns()`` taken just before
the frame is written, instead of epoch ms. Codecs multiply it by 1e6 as if it were ms, so the server send
stamp in ns is ``ts_event // 1_000_000`` on the receiving side. Only in this bench source; nothing in the
codecs or twins changes. The process pins itself to ``cpu`` (sched_setaffinity) when given.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import time
from typing import Any

__all__ = ["FrameSource", "run_source", "EVENT_TIME_FIELDS", "WS_STREAM"]

# The field each venue's codec turns into Quote.ts_event (bytes before the number; OKX quotes it).
EVENT_TIME_FIELDS = {"binance": rb'"T":', "bybit": rb'"ts":', "okx": rb'"ts":"', "deribit": rb'"timestamp":'}
# The adapter's stream name whose URL must point at the bench stream.
WS_STREAM = {"binance": "public", "bybit": "public", "okx": "public", "deribit": "main"}


def _template(venue: str, frame: bytes) -> tuple[str, str]:
    """Split a frame around its event-time number: (text before, text after)."""
    key = EVENT_TIME_FIELDS[venue]
    m = re.search(re.escape(key) + rb"(\d+)", frame)
    if m is None:
        raise ValueError(f"{venue}: no event time {key!r} in frame {frame[:200]!r}")
    return frame[: m.start(1)].decode(), frame[m.end(1):].decode()


def run_source(conn: Any, venues: list[str], n_frames: int, cpu: int | None) -> None:
    """Child process: generate streams, start twins + bench middleware, report URLs, serve until told."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import frames as gen

    streams = {}
    for v in venues:
        s = gen.generate(v, n_frames)
        streams[v] = (s.snapshot.decode(), [_template(v, f) for f in s.frames])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, venues, streams))


async def _serve(conn: Any, venues: list[str], streams: dict[str, tuple[str, list[tuple[str, str]]]]) -> None:
    from aiohttp import WSMsgType, web

    from simulator.runner import default_factories, start_twins

    defaults = default_factories()
    sent = {v: 0 for v in venues}

    def middleware_for(venue: str) -> Any:
        snapshot, frames = streams[venue]

        @web.middleware
        async def bench_stream(request: web.Request, handler: Any) -> web.StreamResponse:
            path = request.path
            if venue == "binance" and path == "/fapi/v1/depth":
                return web.Response(text=snapshot, content_type="application/json")
            if not path.startswith("/bench/r"):
                return await handler(request)
            rate = float(path[len("/bench/r"):].split("/", 1)[0])
            ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 22, compress=False)
            await ws.prepare(request)
            pacer = asyncio.get_running_loop().create_task(_pace(ws, venue, snapshot, frames, rate, sent))
            try:
                async for msg in ws:  # subscribe / ping frames: read and ignored
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                        break
            finally:
                pacer.cancel()
            return ws

        return bench_stream

    def wrap(name: str) -> Any:
        def factory(model: Any, seed: int, options: dict[str, Any]) -> Any:
            twin = defaults[name](model, seed, options)
            twin.app.middlewares.append(middleware_for(name))
            return twin

        return factory

    async with start_twins(venues, symbols=["BTC"], rate=0, factories={v: wrap(v) for v in venues}) as twins:
        urls = {v: {"rest": twins[v].rest, "ws": dict(twins[v].ws),
                    "base_ws": twins[v].rest.replace("http://", "ws://")} for v in venues}  # fmt: skip
        conn.send(("ready", urls))
        loop = asyncio.get_running_loop()
        while True:
            ready = await loop.run_in_executor(None, conn.poll, 0.2)
            if ready:
                cmd = conn.recv()
                if cmd == "stop":
                    conn.send(("stopped", sent))
                    return
                if cmd == "sent":
                    conn.send(("sent", dict(sent)))


async def _pace(ws: Any, venue: str, snapshot: str, frames: list[tuple[str, str]], rate: float,
                sent: dict[str, int]) -> None:
    """Send the snapshot push (WS-snapshot venues), then the frames at ``rate``/s from frame 0."""
    if venue != "binance":
        await ws.send_str(snapshot)
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    t0 = loop.time() + 0.05
    i = 0
    n = len(frames)
    now_ns = time.time_ns
    try:
        while i < n:
            due = min(n, int((loop.time() - t0) / period) + 1)
            while i < due:
                pre, post = frames[i]
                await ws.send_str(pre + str(now_ns()) + post)
                i += 1
                sent[venue] += 1
            await asyncio.sleep(max(0.0, t0 + i * period - loop.time()))
    except (ConnectionResetError, RuntimeError):
        return


class FrameSource:
    """Parent-side handle on the source process."""

    def __init__(self, venues: list[str], n_frames: int, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=run_source, args=(child, venues, n_frames, cpu), daemon=True)
        self.proc.start()
        kind, self.urls = self._conn.recv()
        assert kind == "ready", kind

    def stream_url(self, venue: str, rate: float) -> str:
        return f"{self.urls[venue]['base_ws']}/bench/r{rate:g}/{venue}"

    def stop(self) -> dict[str, int]:
        try:
            self._conn.send("stop")
            _, sent = self._conn.recv()
        except (EOFError, BrokenPipeError, OSError):
            sent = {}
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
        return sent
