"""The doctor's Bybit reads through the real ExchangeActor's RestGateway against the Bybit twin: the key's
permissions, the instrument's margin mode and leverage, and no way to disarm DCP."""

from __future__ import annotations

import json

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.bybit import BybitAdapter
from messages import InstrumentId
from simulator.bybit import BybitTwin
from simulator.runner import Twins, start_twins
from tests.actors.exchanges.conftest import endpoints
from venues import Credentials
from venues.errors import AuthError
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
pytestmark = pytest.mark.anyio


def _actor(twins: Twins, bus: Bus) -> tuple[ExchangeActor, BybitAdapter]:
    rt = twins["bybit"]
    creds = rt.twin.credentials
    adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=50, stale_after_s=30.0)
    actor = ExchangeActor(adapter, ExchangeConfig(instruments=[str(BTC)], depth_levels=0), bus=bus,
                          credentials=Credentials(creds.api_key, creds.secret))
    return actor, adapter


def _twin(twins: Twins) -> BybitTwin:
    twin = twins["bybit"].twin
    assert isinstance(twin, BybitTwin)
    return twin


async def test_the_key_reads_as_a_trading_key_without_withdrawals_and_unbound_to_ips(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor, adapter = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            spec = adapter.key_permissions(actor)
            assert spec is not None and spec.path == "/v5/user/query-api" and spec.signed
            facts = adapter.parse_key_permissions(await actor.rest.request(spec))
            assert facts == KeyFacts(can_trade=True, can_withdraw=False, ip_restricted=False,
                                     detail="readOnly=0; ContractTrade=Order,Position; Derivatives=DerivativesTrade; "
                                            "Wallet=AccountTransfer; ips=*")
            tg.cancel_scope.cancel()


async def test_instrument_settings_read_the_symbols_leverage_and_the_unified_accounts_margin_mode(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor, adapter = _actor(twins, bus)
        _twin(twins).engine.account.leverage = 7
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            specs = adapter.instrument_settings(BTC, actor)
            assert [s.path for s in specs] == ["/v5/account/info", "/v5/position/list"]
            assert "symbol=BTCUSDT" in specs[1].query
            # A unified account: the margin mode is the account's (tradeMode is always 0 there).
            facts = adapter.parse_instrument_settings(BTC, [await actor.rest.request(s) for s in specs])
            assert facts == InstrumentFacts(margin_mode="cross", leverage="7",
                                            detail="BTCUSDT: tradeMode=0, leverage=7; account marginMode=REGULAR_MARGIN")
            tg.cancel_scope.cancel()


async def test_hedge_mode_lists_both_sides_with_one_leverage(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20, options={"bybit": {"hedge": True}}) as twins:
        actor, adapter = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            specs = adapter.instrument_settings(BTC, actor)
            facts = adapter.parse_instrument_settings(BTC, [await actor.rest.request(s) for s in specs])
            assert facts.leverage == str(_twin(twins).engine.account.leverage) and facts.margin_mode == "cross"
            tg.cancel_scope.cancel()


async def test_an_ip_not_bound_to_the_key_is_an_auth_error_in_bybits_words(bus: Bus) -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor, adapter = _actor(twins, bus)
        twin = _twin(twins)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            object.__setattr__(twin.config, "ip_allowed", False)  # the key's IP binding changed under us
            spec = adapter.key_permissions(actor)
            assert spec is not None
            with pytest.raises(AuthError) as err:
                await actor.rest.request(spec)
            assert err.value.code == "10010" and "Unmatched IP" in err.value.text
            tg.cancel_scope.cancel()


def test_dcp_cannot_be_disarmed_by_api() -> None:
    adapter = BybitAdapter(InstrumentRegistry(), dead_mans_switch_s=10)
    assert adapter.disarm_switch(None) is None  # type: ignore[arg-type]
    assert "contact your client manager" in (adapter.disarm_switch.__doc__ or "")


def test_a_read_only_key_with_withdrawals_bound_to_an_ip_reads_so() -> None:
    body = {"retCode": 0, "retMsg": "", "time": 1, "retExtInfo": {},
            "result": {"readOnly": 1, "ips": ["192.0.2.7"],
                       "permissions": {"ContractTrade": ["Order", "Position"], "Wallet": ["AccountTransfer", "Withdraw"]}}}
    facts = BybitAdapter(InstrumentRegistry()).parse_key_permissions(
        Response(status=200, headers={}, body=json.dumps(body).encode()))
    assert (facts.can_trade, facts.can_withdraw, facts.ip_restricted) == (False, True, True)
    assert "ips=192.0.2.7" in facts.detail  # the venue's words kept
