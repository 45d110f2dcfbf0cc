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
