"""AccountBook: concurrent gathering, stale venues, exposure across venues in base units."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors import topics
from actors.account import AccountBook, AccountConfig
from actors.base import Actor
from actors.bus import Bus
from messages import AccountView, Balance, GetAccount, Position, Side, Venue, VenueAccount
from tests.actors.market_fixtures import USD, USDT, instrument, quote, registry

B, Y, D = Venue.BINANCE, Venue.BYBIT, Venue.DERIBIT
REG = registry(instrument(B), instrument(Y, contract_size="0.5"), instrument(D, USD, inverse=True, lot="10"))


def _pos(venue: Venue, inst: Any, side: Side, size: str) -> Position:
    return Position(venue=venue, instrument=inst, side=side, size=Decimal(size), entry_price=Decimal(90000),
                    unrealized_pnl=Decimal(0), ts_event=0, ts_recv=0)


def _acct(venue: Venue, *positions: Position) -> VenueAccount:
    bal = Balance(venue=venue, asset="USDT", total=Decimal(1000), available=Decimal(900), ts_event=0, ts_recv=0)
    return VenueAccount(venue=venue, balances=(bal,), positions=positions, ts=0)


class VenueStub(Actor):
    """An exchange actor stand-in that answers GetAccount after ``delay`` seconds."""

    def __init__(self, venue: Venue, delay: float, *positions: Position) -> None:
        super().__init__(f"stub-{venue}")
        self.venue, self.delay, self.positions = venue, delay, positions

    async def handle(self, msg: Any) -> Any:
        match msg:
            case GetAccount():
                await anyio.sleep(self.delay)
                return _acct(self.venue, *self.positions)
        return None


@pytest.mark.anyio
async def test_account_view_gathers_venues_concurrently_and_nets_exposure_in_base_units() -> None:
    bus = Bus()
    stub = VenueStub(D, 0.3, _pos(D, USD, Side.SELL, "50000"))  # short 50000 USD inverse

    async def binance() -> VenueAccount:
        await anyio.sleep(0.3)
        return _acct(B, _pos(B, USDT, Side.BUY, "1.5"))

    async def bybit() -> VenueAccount:
        await anyio.sleep(0.3)
        return _acct(Y, _pos(Y, USDT, Side.BUY, "2"))  # 2 contracts of 0.5 BTC

    book = AccountBook({B: binance, Y: bybit, D: stub.ref}, REG, AccountConfig(interval_s=0, timeout_s=2.0), bus=bus)
    async with anyio.create_task_group() as tg:
        await tg.start(stub.run)
        await tg.start(book.run)
        bus.publish(topics.quote(D, USD), quote(D, 99_990.0, 100_010.0, inst=USD))  # mid 100000
        await anyio.sleep(0.01)
        start = time.monotonic()
        view: AccountView = await book.ref.ask(GetAccount(), timeout=5)
        elapsed = time.monotonic() - start
        await book.stop()
        await stub.stop()
    assert elapsed < 0.6  # three venues of 0.3 s each: the slowest, not the sum (0.9 s)
    assert view.stale == ()
    [btc] = view.exposures
    # 1.5 + 2 x 0.5 - 50000 / 100000 = 2.0 BTC, valued at the 100000 mid
    assert (btc.underlying, btc.base_qty, btc.quote_value) == ("BTC", Decimal("2.0"), Decimal("2.0") * 100000)
    assert set(btc.venues) == {B, Y, D} and len(view.balances) == 3


@pytest.mark.anyio
async def test_slow_venue_is_marked_stale_and_keeps_its_last_known_values() -> None:
    bus = Bus()
    delay = {"b": 0.0}

    async def binance() -> VenueAccount:
        await anyio.sleep(delay["b"])
        return _acct(B, _pos(B, USDT, Side.BUY, "1"))

    async def bybit() -> VenueAccount:
        return _acct(Y)

    views: list[AccountView] = []
    book = AccountBook({B: binance, Y: bybit}, REG, AccountConfig(interval_s=0, timeout_s=0.2), bus=bus)
    async with anyio.create_task_group() as tg:
        await tg.start(book.run)
        first = await book.ref.ask(GetAccount())
        delay["b"] = 5.0
        start = time.monotonic()
        second = await book.ref.ask(GetAccount())
        elapsed = time.monotonic() - start
        views += [first, second]
        await book.stop()
    assert first.stale == () and second.stale == (B,)
    assert elapsed < 1.0  # the timeout, not the slow venue
    assert second.exposures[0].base_qty == Decimal(1)  # binance's last known position is kept
