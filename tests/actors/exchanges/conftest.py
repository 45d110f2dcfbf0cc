"""Fixtures for exchange-actor tests: real twins on loopback, real actors, a real bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.adapter import Endpoints
from simulator.runner import RunningTwin


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def endpoints(rt: RunningTwin) -> Endpoints:
    return Endpoints(rest=rt.rest, ws=dict(rt.ws))


async def wait_for(pred: Any, timeout: float = 10.0, what: str = "condition") -> None:
    with anyio.fail_after(timeout):
        while not pred():
            await anyio.sleep(0.01)


class Recorder:
    """Collects everything published on some topics (a real event subscription on the bus)."""

    def __init__(self, bus: Bus, pattern: str = ">") -> None:
        self.sub = bus.subscribe_events(pattern, name="recorder", capacity=1_000_000)
        self.items: list[Any] = []

    def drain(self) -> list[Any]:
        rx = self.sub.receiver
        assert rx is not None
        while rx.has_items():
            self.items.append(rx.receive_nowait())
        return self.items

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.drain() if isinstance(m, cls)]


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    b = Bus()
    yield b
    b.close()


# -- klines and book deltas (shared by the per-venue actor tests) ------------------------------------------
def clock_near_minute_end(lead_s: float = 2.0) -> Any:
    """A twin clock (epoch ms) shifted by a constant so the next minute starts ``lead_s`` from now: a test of
    a few seconds sees a 1m candle roll over without any clock jump."""
    import time

    now = time.time_ns() // 1_000_000
    offset = (60_000 - int(lead_s * 1000)) - now % 60_000

    def clock() -> int:
        return time.time_ns() // 1_000_000 + offset

    return clock


def rebuild_book(messages: list[Any]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Apply the BookDeltas after the first BookSnapshot (a later snapshot, a resync, starts over) and
    return (bids best first, asks best first). Deltas must chain: each ``prev_sequence`` is the last
    sequence applied (or 0 where a venue gives none)."""
    from messages import BookDelta, BookSnapshot

    bids: dict[float, float] | None = None
    asks: dict[float, float] = {}
    last, fresh = 0, False
    for m in messages:
        if isinstance(m, BookSnapshot):
            bids, asks, last, fresh = dict(m.bids), dict(m.asks), m.sequence, True
        elif isinstance(m, BookDelta) and bids is not None:
            # The first delta after a snapshot may straddle it (Binance: U <= lastUpdateId <= u).
            ok = m.prev_sequence <= last <= m.sequence if fresh else m.prev_sequence in (0, last)
            assert ok, (m.prev_sequence, last, m.sequence)
            fresh = False
            for side, levels in ((bids, m.bids), (asks, m.asks)):
                for px, sz in levels:
                    if sz == 0.0:
                        side.pop(px, None)
                    else:
                        side[px] = sz
            last = m.sequence
    assert bids is not None, "no BookSnapshot"
    return sorted(bids.items(), reverse=True), sorted(asks.items())


def check_klines(klines: list[Any], agg: Any, trade_prices: list[Any], *, venue_closes: bool) -> None:
    """Klines from the bus against the twin's own aggregator (``simulator.klines.KlineAggregator``).

    Each candle's last update equals the twin's candle of that open time; every update is a sane OHLC inside
    the range the twin traded; the candle rolled over at least once; with ``venue_closes`` the finished candle
    also arrived with ``closed`` set (and its final values)."""
    assert klines, "no klines"
    lo, hi = float(min(trade_prices)), float(max(trade_prices))
    for k in klines:
        assert k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high, k
        assert lo <= k.low and k.high <= hi, (k, lo, hi)
        assert k.volume > 0 and k.close_time > k.open_time
        assert k.interval == "1m" and k.close_time - k.open_time in (59_999_000_000, 60_000_000_000)
    last: dict[int, Any] = {}
    for k in klines:
        last[k.open_time] = k
    assert len(last) >= 2, f"no candle rollover: open times {sorted(last)}"
    twin = {k.open_time * 1_000_000: k for k in agg.history(limit=10)}
    for open_time, k in last.items():
        t = twin[open_time]
        assert (k.open, k.high, k.low, k.close) == (float(t.open), float(t.high), float(t.low), float(t.close)), (k, t)
        assert abs(k.volume - float(t.volume)) <= 1e-6 * max(1.0, float(t.volume)), (k, t)
    closed = [k for k in klines if k.closed]
    if venue_closes:
        first = min(last)
        assert closed and {k.open_time for k in closed} == {first}, closed
        assert closed[-1] == last[first]  # the final values, and nothing for that candle after them
    else:
        assert not closed


async def run_klines_and_deltas(bus: Bus, twins: Any, make_actor: Any, instrument: Any, *, seconds: float = 3.0,
                                pause: float = 0.01) -> tuple[list[Any], Any]:
    """Run an actor (``make_actor()``, built with klines=("1m",) and emit_deltas=True, depth_levels=0) on a
    ``rate=0`` twin stepped by hand for ``seconds`` (long enough to cross the minute of
    ``clock_near_minute_end``), pause the market, let the last frames land, and return everything
    published on ``md.>`` in order and the actor's book (bids, asks) at that quiet moment."""
    rec = Recorder(bus, "md.>")
    actor = make_actor()
    async with anyio.create_task_group() as tg:
        await tg.start(actor.run)
        with anyio.fail_after(seconds + 10.0):
            while not actor.adapter.book_state_live(instrument):
                twins.step()
                await anyio.sleep(pause)
        end = anyio.current_time() + seconds
        while anyio.current_time() < end:
            twins.step()
            await anyio.sleep(pause)
        await anyio.sleep(0.4)
        book = actor.adapter.codec.book(instrument).as_sorted()
        items = list(rec.drain())
        tg.cancel_scope.cancel()
    return items, book
