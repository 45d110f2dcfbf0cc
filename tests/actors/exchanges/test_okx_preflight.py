"""OKX preflight reads through the real adapter and the real ExchangeActor's RestGateway against the twin: the
key's permissions (GET account/config), an instrument's margin mode and leverage (GET account/leverage-info),
the dead-man's switch turned off again (Cancel All After timeOut 0), and a host off the key's whitelist."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.okx import OkxAdapter
from messages import DeadMansSwitch, InstrumentId, SwitchState
from simulator.okx import OkxConfig, OkxTwin
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import Recorder, endpoints, wait_for
from venues import Credentials
from venues.errors import AuthError
from venues.facts import InstrumentFacts, KeyFacts
from venues.okx import rest
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")


def _actor(twins: Any, bus: Bus, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["okx"]
    creds = rt.twin.credentials
    adapter = OkxAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret, creds.passphrase or ""))


@pytest.mark.anyio
@pytest.mark.parametrize(("perm", "ips", "want"), [
    ("read_only,trade", "", KeyFacts(can_trade=True, can_withdraw=False, ip_restricted=False,
                                     detail="perm=read_only,trade; no IP bound; label=twin")),
    ("read_only,withdraw,trade", "203.0.113.7", KeyFacts(can_trade=True, can_withdraw=True, ip_restricted=True,
                                                         detail="perm=read_only,withdraw,trade; ip=203.0.113.7; "
                                                                "label=twin")),
    ("read_only", "", KeyFacts(can_trade=False, can_withdraw=False, ip_restricted=False,
                               detail="perm=read_only; no IP bound; label=twin")),
], ids=["trade", "withdraw-and-ip", "read-only"])
async def test_okx_key_permissions_are_read_from_the_account_config(bus: Bus, perm: str, ips: str,
                                                                     want: KeyFacts) -> None:
    opts = {"okx": {"config": OkxConfig(perm=perm, key_ips=ips)}}
    async with start_twins(["okx"], symbols=["BTC"], rate=0, options=opts) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            spec = actor.adapter.key_permissions(actor)
            assert spec is not None and spec.path == "/api/v5/account/config" and spec.signed
            assert actor.adapter.parse_key_permissions(await actor.rest.request(spec)) == want
            tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.parametrize("hedge", [False, True], ids=["net_mode", "long_short_mode"])
async def test_okx_instrument_settings_are_the_trade_mode_we_use_and_its_leverage(bus: Bus, hedge: bool) -> None:
    opts = {"okx": {"config": OkxConfig(hedge=hedge, leverage=7)}}
    async with start_twins(["okx"], symbols=["BTC"], rate=0, options=opts) as twins:
        actor = _actor(twins, bus, td_mode="isolated")
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            [spec] = actor.adapter.instrument_settings(BTC, actor)
            assert spec.query == "instId=BTC-USDT-SWAP&mgnMode=isolated"
            facts = actor.adapter.parse_instrument_settings(BTC, [await actor.rest.request(spec)])
            sides = "posSide long lever 7, posSide short lever 7" if hedge else "posSide net lever 7"
            assert facts == InstrumentFacts(margin_mode="isolated", leverage="7", detail=f"mgnMode isolated, {sides}")
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_okx_switch_armed_by_the_session_is_turned_off_by_disarm_and_cancels_nothing(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=0) as twins:
        twin = twins["okx"].twin
        assert isinstance(twin, OkxTwin)
        actor = _actor(twins, bus, dead_mans_switch_s=10)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: any(s.state is SwitchState.ARMED for s in rec.of(DeadMansSwitch)), what="ARMED")
            assert "" in twin.caa.deadlines
            specs = actor.adapter.disarm_switch(actor)
            assert specs is not None and [s.body for s in specs] == [b'{"timeOut":"0"}']
            await anyio.sleep(1.05)  # OKX takes one Cancel All After a second
            for spec in specs:
                assert rest.parse_cancel_all_after(await actor.rest.request(spec)).trigger_ms == 0
            assert twin.caa.deadlines == {}  # the account-level timer is off: nothing will be cancelled
            tg.cancel_scope.cancel()
    assert list(twin.caa.fired) == []


@pytest.mark.anyio
async def test_okx_host_off_the_whitelist_fails_with_okx_50110_as_an_auth_error(bus: Bus) -> None:
    opts = {"okx": {"config": OkxConfig(ip_allowed=False)}}
    async with start_twins(["okx"], symbols=["BTC"], rate=0, options=opts) as twins:
        actor = _actor(twins, bus)
        with pytest.raises(BaseException) as info:  # noqa: PT011 - the actor's start fails, wrapped by anyio
            async with anyio.create_task_group() as tg:
                await tg.start(actor.run)
        err = info.value
        while isinstance(err, BaseExceptionGroup) and len(err.exceptions) == 1:
            err = err.exceptions[0]
        assert isinstance(err, AuthError) and err.code == "50110", repr(err)
        assert "not included in your API key's IP whitelist" in err.text
