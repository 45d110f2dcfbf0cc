"""The Binance adapter's preflight reads for the doctor, sent through the real ExchangeActor's RestGateway to
a real twin: key permissions (GET /fapi/v1/accountConfig), instrument settings (GET /fapi/v1/symbolConfig),
and disarming the dead-man's switch (countdownCancelAll with countdownTime=0 per traded symbol)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import aiohttp
import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.binance import BinanceAdapter
from messages import InstrumentId
from simulator.binance import BinanceConfig, BinanceTwin
from simulator.book import Side as TwinSide
from simulator.matching import OrderRequest, OrderType
from simulator.runner import RunningTwin, Twins, start_twins
from tests.actors.exchanges.conftest import endpoints, wait_for
from venues import Credentials
from venues.errors import VenueReject
from venues.facts import InstrumentFacts, KeyFacts
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")


def _twin(rt: RunningTwin) -> BinanceTwin:
    assert isinstance(rt.twin, BinanceTwin)
    return rt.twin


def _actor(twins: Twins, bus: Bus, window_s: float = 0.0) -> ExchangeActor:
    rt = twins["binance"]
    creds = rt.twin.credentials
    adapter = BinanceAdapter(InstrumentRegistry(), endpoints(rt), dead_mans_switch_s=window_s)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[str(BTC), str(ETH)], depth_levels=0),
                         bus=bus, credentials=Credentials(creds.api_key, creds.secret))


@pytest.mark.anyio
async def test_key_permissions_read_the_accounts_can_trade_and_can_withdraw_and_say_nothing_of_ip(bus: Bus) -> None:
    options = {"binance": {"config": BinanceConfig(can_withdraw=False)}}
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0, options=options) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            spec = actor.adapter.key_permissions(actor)
            assert spec is not None and (spec.path, spec.weight) == ("/fapi/v1/accountConfig", 5)
            facts = actor.adapter.parse_key_permissions(await actor.rest.request(spec))
            assert facts == KeyFacts(can_trade=True, can_withdraw=False, ip_restricted=None,
                                     detail="canTrade=true canWithdraw=false canDeposit=true feeTier=0")
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_instrument_settings_read_the_symbols_margin_type_and_leverage_as_the_venue_holds_them(bus: Bus) -> None:
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0) as twins:
        twin = _twin(twins["binance"])
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)

            async def read(inst: InstrumentId) -> InstrumentFacts:
                [spec] = actor.adapter.instrument_settings(inst, actor)
                assert (spec.path, spec.query.split("&")[0]) == (
                    "/fapi/v1/symbolConfig", f"symbol={inst.split('-')[0]}USDT")
                return actor.adapter.parse_instrument_settings(inst, [await actor.rest.request(spec)])

            assert await read(BTC) == InstrumentFacts(
                margin_mode="cross", leverage="20", detail="marginType=CROSSED leverage=20 maxNotionalValue=10000000")
            twin.margin_types["ETHUSDT"] = "ISOLATED"
            twin.leverages["ETHUSDT"] = 5
            eth = await read(ETH)
            assert (eth.margin_mode, eth.leverage) == ("isolated", "5")
            assert (await read(BTC)).margin_mode == "cross"  # per symbol
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_disarming_the_switch_stops_every_countdown_so_closing_cancels_no_resting_order(bus: Bus) -> None:
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0) as twins:
        rt = twins["binance"]
        twin = _twin(rt)
        actor = _actor(twins, bus, window_s=2.0)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: set(twin.countdowns.running) == {"BTCUSDT", "ETHUSDT"}, what="armed")
            tg.cancel_scope.cancel()  # the doctor is done with its session
        for symbol in ("BTCUSDT", "ETHUSDT"):
            book = twin.book_json(symbol, 1)
            assert book is not None
            tick = twin.specs[symbol].tick
            price = (Decimal(book["bids"][0][0]) * Decimal("0.9") / tick).to_integral_value() * tick
            twin.engine.place(OrderRequest(symbol, TwinSide.BUY, OrderType.LIMIT, Decimal("0.010"),
                                           f"rest-{symbol}", price), twin.now_ms())
        specs = actor.adapter.disarm_switch(actor)
        assert specs is not None
        assert sorted(s.body.decode().split("&")[:2] for s in specs) == [
            ["symbol=BTCUSDT", "countdownTime=0"], ["symbol=ETHUSDT", "countdownTime=0"]]
        async with aiohttp.ClientSession() as http:
            for spec in specs:
                async with http.request(spec.method, rt.rest + spec.target, headers=spec.headers,
                                        data=spec.body) as r:
                    assert r.status == 200, await r.text()
        assert twin.countdowns.running == {}
        await anyio.sleep(2.5)  # past the window: nothing runs out
        assert twin.countdowns.fired == []
        assert sorted(o.client_id for o in twin.engine.open_orders()) == ["rest-BTCUSDT", "rest-ETHUSDT"]


@pytest.mark.anyio
async def test_disarm_switch_is_empty_before_any_symbol_is_subscribed() -> None:
    adapter = BinanceAdapter(InstrumentRegistry(), dead_mans_switch_s=2.0)

    class _Ctx:
        credentials = Credentials("k", "s")
        registry = InstrumentRegistry()

        def now_ms(self) -> int:
            return 0

    assert adapter.disarm_switch(_Ctx()) == []  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_key_from_an_ip_off_its_list_is_refused_with_2015_on_the_preflight_reads(bus: Bus) -> None:
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0) as twins:
        twin = _twin(twins["binance"])
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            twin.config = dataclasses.replace(twin.config, ip_allowed=False)  # the host's IP changed
            for spec in (actor.adapter.key_permissions(actor), *actor.adapter.instrument_settings(BTC, actor)):
                assert spec is not None
                with pytest.raises(VenueReject) as err:
                    await actor.rest.request(spec, retries=0)
                assert (err.value.code, err.value.text) == ("-2015", "Invalid API-key, IP, or permissions for action.")
            tg.cancel_scope.cancel()
