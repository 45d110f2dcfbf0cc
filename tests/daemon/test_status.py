"""The status view: what it shows of each venue, from the bus (a real Bus and a real StatusView actor)."""

from __future__ import annotations

import io
import json

import anyio
import pytest

from actors.bus import Bus
from daemon.status import StatusView
from messages import AccountConfig, PositionMode, Venue
from tests.actors.exchanges.conftest import wait_for


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_each_venues_position_mode_is_shown_and_a_change_is_logged() -> None:
    bus = Bus()
    out = io.StringIO()
    view = StatusView(bus, tty=False, json_logs=True, interval_s=3600.0, out=out)
    async with anyio.create_task_group() as tg:
        await tg.start(view.run)
        bus.publish_msg(AccountConfig(venue=Venue.BINANCE, position_mode=PositionMode.HEDGE, ts=1))
        bus.publish_msg(AccountConfig(venue=Venue.OKX, position_mode=PositionMode.ONE_WAY, ts=1))
        await wait_for(lambda: len(view.configs) == 2, what="both venues' settings")
        snap = view.snapshot()["venues"]
        assert (snap["binance"]["position_mode"], snap["okx"]["position_mode"]) == ("hedge", "one_way")
        assert "hedge" in view.render()
        assert out.getvalue() == ""  # first readings are shown, not logged
        bus.publish_msg(AccountConfig(venue=Venue.BINANCE, position_mode=PositionMode.ONE_WAY, ts=2, detail="switched"))
        await wait_for(lambda: view.configs[Venue.BINANCE].position_mode is PositionMode.ONE_WAY)
        [line] = [json.loads(x) for x in out.getvalue().splitlines()]
        assert line["event"] == "AccountConfig" and line["position_mode"] == "one_way" and line["venue"] == "binance"
        tg.cancel_scope.cancel()
    bus.close()
