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

Sending: the frames are pre-built as WebSocket frames (header + the venue's bytes, split around the stamp),
so a send is a bytes join and one ``transport.write`` per batch of due frames (up to 64: a writev-sized
write when the schedule is behind), not an aiohttp ``send_str`` per frame. One pacer task per connection;
the streams are generated once and cached in the temp directory (a shorter stream is a prefix of a longer
one). This source sustains a few hundred thousand frames/s on its core, so the throughput ramp measures
the pipeline, not the source.

Send stamp: each frame's venue event-time field (Binance ``T``, Bybit ``ts``, OKX ``ts``, Deribit
``timestamp``: the field each codec turns into ``ts_event``) carries ``time.time_ns()`` taken just before
the frame is written, instead of epoch ms. Codecs multiply it by 1e6 as if it were ms, so the server send
stamp in ns is ``ts_event // 1_000_000`` on the receiving side. Only in this bench source; nothing in the
codecs or twins changes. The process pins itself to ``cpu`` (sched_setaffinity) when given.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import re
import time
from typing import Any

import anyio

__all__ = ["FrameSource", "run_source", "EVENT_TIME_FIELDS", "WS_STREAM"]

# The field each venue's codec turns into Quote.ts_event (bytes before the number; OKX quotes it).
EVENT_TIME_FIELDS = {"binance": rb'"T":', "bybit": rb'"ts":', "okx": rb'"ts":"', "deribit": rb'"timestamp":'}
# The adapter's stream name whose URL must point at the bench stream.
WS_STREAM = {"binance": "public", "bybit": "public", "okx": "public", "deribit": "main"}


def _ws_header(n: int) -> bytes:
    """RFC 6455 header of one unmasked (server -> client) FIN text frame with an ``n``-byte payload."""
    if n < 126:
        return bytes((0x81, n))
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big")
    return bytes((0x81, 127)) + n.to_bytes(8, "big")


STAMP_DIGITS = len(str(time.time_ns()))  # 19 until the year 2286: every frame keeps one length


def _template(venue: str, frame: bytes) -> tuple[bytes, bytes]:
    """Pre-frame ``frame`` as a WebSocket text frame split around its event-time number:
    (header + text before, text after). The stamp patched in between always has STAMP_DIGITS digits, so
    the header's payload length is known in advance."""
    key = EVENT_TIME_FIELDS[venue]
    m = re.search(re.escape(key) + rb"(\d+)", frame)
    if m is None:
        raise ValueError(f"{venue}: no event time {key!r} in frame {frame[:200]!r}")
    pre, post = frame[: m.start(1)], frame[m.end(1):]
    return _ws_header(len(pre) + STAMP_DIGITS + len(post)) + pre, post


def _streams(venues: list[str], n_frames: int) -> dict[str, Any]:
    """Every venue's generated stream (snapshot, frames), cached on disk: generating 100 k frames of four
    venues costs about 20 s of Python, and a stream of N frames is a prefix of any longer one (same seed)."""
    import pickle
    import tempfile

    from bench import frames as gen

    out = {}
    for v in venues:
        path = os.path.join(tempfile.gettempdir(), f"crossbook-bench-frames-{v}.pkl")
        cached = None
        try:
            with open(path, "rb") as f:
                cached = pickle.load(f)
            if cached["digest"] != _gen_digest() or len(cached["frames"]) < n_frames:
                cached = None
        except (OSError, EOFError, KeyError, pickle.PickleError):
            cached = None
        if cached is None:
            s = gen.generate(v, n_frames)
            cached = {"digest": _gen_digest(), "snapshot": s.snapshot, "frames": s.frames}
            tmp = f"{path}.{os.getpid()}"
            with open(tmp, "wb") as f:
                pickle.dump(cached, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        out[v] = (cached["snapshot"], cached["frames"][:n_frames])
    return out


def _gen_digest() -> str:
    """Digest of bench/frames.py: a cache written by another version of the generator is not used."""
    import hashlib
    from pathlib import Path

    return hashlib.sha256((Path(__file__).resolve().parent / "frames.py").read_bytes()).hexdigest()


def run_source(conn: Any, venues: list[str], n_frames: int, cpu: int | None) -> None:
    """Child process: generate streams, start twins + bench middleware, report URLs, serve until told."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    import sys
    from pathlib import Path

    sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]  # bench/nats.py must not shadow the nats package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    streams = {}
    for v, (snapshot, frames) in _streams(venues, n_frames).items():
        streams[v] = (snapshot.decode(), [_template(v, f) for f in frames])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, venues, streams))


async def _serve(conn: Any, venues: list[str], streams: dict[str, tuple[str, list[tuple[bytes, bytes]]]]) -> None:
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
            rate_s, _, rest = path[len("/bench/r"):].partition("/")
            rate = float(rate_s)
            phase = float(rest[1:].split("/", 1)[0]) if rest.startswith("p") else None
            ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 22, compress=False)
            await ws.prepare(request)
            if venue != "binance":
                await ws.send_str(snapshot)
            transport = request.transport
            assert transport is not None
            async with anyio.create_task_group() as tg:  # the pacer is owned by this connection's handler
                tg.start_soon(_pace, transport, venue, frames, rate, sent, phase)
                async for msg in ws:  # subscribe / ping frames: read and ignored
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                        break
                tg.cancel_scope.cancel()
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


MAX_BATCH = 64  # frames per write (one writev-sized syscall) when the schedule is behind
MAX_BUFFERED = 1 << 20  # bytes queued in the transport before the pacer waits for the reader


async def _pace(transport: Any, venue: str, frames: list[tuple[bytes, bytes]], rate: float,
                sent: dict[str, int], phase: float | None = None) -> None:
    """Write the pre-framed frames at ``rate``/s from frame 0, straight to the connection's transport.

    ``phase`` (0..1 of a period) puts the schedule on one grid shared by every connection of this process:
    equal phases send in the same instants (aligned streams, the worst case for a reader of all four), other
    phases that fraction of a period later. None: the schedule starts when the connection does (arbitrary).

    Every frame that is due is written in one ``transport.write`` (up to MAX_BATCH frames), each carrying
    the ``time.time_ns()`` read just before that write; a reader that falls MAX_BUFFERED bytes behind
    holds the pacer back (the achieved rate then falls below the offered one, which the benchmarks see).
    Frames go on in sequence from the snapshot push (sent through aiohttp before this starts).
    """
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    t0 = loop.time() + 0.05
    if phase is not None:  # the next grid instant at least 50 ms ahead, shifted by the phase
        t0 = (math.floor(t0 / period) + 1 + phase) * period
    i = 0
    n = len(frames)
    now_ns = time.time_ns
    mono = loop.time
    write = transport.write
    buffered = transport.get_write_buffer_size
    join = b"".join
    while i < n:
        if transport.is_closing():
            return
        due = min(n, int((mono() - t0) / period) + 1, i + MAX_BATCH)
        if due > i:
            if buffered() > MAX_BUFFERED:
                await asyncio.sleep(0.0005)
                continue
            stamp = b"%d" % now_ns()
            if due == i + 1:
                pre, post = frames[i]
                write(join((pre, stamp, post)))
            else:
                parts: list[bytes] = []
                for k in range(i, due):
                    pre, post = frames[k]
                    parts += (pre, stamp, post)
                write(join(parts))
            sent[venue] += due - i
            i = due
            if i < n and t0 + i * period <= mono():
                await asyncio.sleep(0)  # still behind: let the other connections write too
                continue
        await asyncio.sleep(max(0.0, t0 + i * period - mono()))


class FrameSource:
    """Parent-side handle on the source process."""

    def __init__(self, venues: list[str], n_frames: int, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=run_source, args=(child, venues, n_frames, cpu), daemon=True)
        self.proc.start()
        kind, self.urls = self._conn.recv()
        assert kind == "ready", kind

    def stream_url(self, venue: str, rate: float, phase: float | None = None) -> str:
        """The paced stream's URL; ``phase`` (0..1) puts it on the shared grid (see ``_pace``)."""
        at = f"/p{phase:.6f}" if phase is not None else ""
        return f"{self.urls[venue]['base_ws']}/bench/r{rate:g}{at}/{venue}"

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
