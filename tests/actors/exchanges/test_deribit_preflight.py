"""The doctor's Deribit preflight reads through the real actor's gateway against the twin: the key's scope
(public/auth), the account's margin model (get_account_summary), and disarming cancel-on-disconnect on the
socket (private/disable_cancel_on_disconnect)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import anyio
import msgspec
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.deribit import DeribitAdapter
from messages import ClientOrderId, InstrumentId, OrderStatus, PlaceOrder, Side, Venue
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import endpoints, wait_for
from venues import Credentials
from venues.deribit.session import MAIN
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USD-PERP")
D = Decimal


def _actor(twins: Any, bus: Bus, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["deribit"]
    creds = rt.twin.credentials
    adapter = DeribitAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


@pytest.mark.anyio
async def test_deribit_key_permissions_and_margin_model_are_read_through_the_gateway(bus: Bus) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            adapter = actor.adapter
            spec = adapter.key_permissions(actor)
            assert spec is not None and spec.path == "/api/v2/public/auth"
            key = adapter.parse_key_permissions(await actor.rest.request(spec))
            # The twin's key has the default scope of a well-kept trading key: trading, no withdrawals.
            assert key == KeyFacts(can_trade=True, can_withdraw=False, ip_restricted=None,
                                   detail="scope=account:read_write trade:read_write wallet:read connection "
                                          "mainaccount")
            [spec] = adapter.instrument_settings(BTC, actor)
            assert spec.path == "/api/v2/private/get_account_summary" and "currency=BTC" in spec.query
            facts = adapter.parse_instrument_settings(BTC, [await actor.rest.request(spec)])
            assert facts == InstrumentFacts(margin_mode="segregated_sm", leverage="",
                                            detail="BTC margin_model=segregated_sm, portfolio_margining_enabled=false, "
                                                   "cross_collateral_enabled=false")
            tg.cancel_scope.cancel()


def _auth_answer(scope: str) -> Response:
    body = {"jsonrpc": "2.0", "id": 1, "result": {"access_token": "a", "refresh_token": "r", "expires_in": 900,
                                                   "scope": scope, "token_type": "bearer", "enabled_features": []}}
    return Response(status=200, headers={}, body=msgspec.json.encode(body))


@pytest.mark.parametrize(("scope", "trade", "withdraw"), [
    ("trade:read wallet:read account:read connection", False, False),
    ("trade:read_write wallet:read connection session:bot", True, False),
    ("trade:none wallet:read_write", False, True),
])
def test_deribit_key_permissions_follow_the_granted_scope_and_never_show_a_session_name(
    scope: str, trade: bool, withdraw: bool
) -> None:
    facts = DeribitAdapter(InstrumentRegistry()).parse_key_permissions(_auth_answer(scope))
    assert (facts.can_trade, facts.can_withdraw, facts.ip_restricted) == (trade, withdraw, None)
    assert facts.detail.startswith("scope=") and "session:" not in facts.detail


@pytest.mark.anyio
async def test_deribit_disarm_turns_cancel_on_disconnect_off_on_the_socket_and_a_dropped_connection_then_cancels_nothing(
    bus: Bus,
) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=20) as twins:
        twin: Any = twins["deribit"].twin
        actor = _actor(twins, bus, dead_mans_switch_s=24.0)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            switch = actor.session.switch
            assert switch is not None
            await wait_for(lambda: switch.armed, what="switch armed")
            await wait_for(lambda: actor.adapter.book_state_live(BTC))
            tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
            bid = D(str(twin.book_json("BTC-PERPETUAL", 1)["bids"][0][0]))
            price = (bid * D("0.95") / tick).to_integral_value(ROUND_DOWN) * tick
            ack = await ref.ask(PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId("cb-dis-1"),
                                           side=Side.BUY, quantity=D("10"), price=price, post_only=True))
            assert ack.status is OrderStatus.SUBMITTED
            (conn,) = twin.hub.conns
            assert conn.cancel_on_disconnect

            specs = actor.adapter.disarm_switch(actor)
            assert specs is not None and len(specs) == 1
            (spec,) = specs
            assert spec.stream == MAIN and spec.path == "/api/v2/private/disable_cancel_on_disconnect"
            assert "Authorization" not in spec.headers
            frames = actor.rest.stream_requests
            resp = await actor.rest.request(spec)
            assert msgspec.json.decode(resp.body)["result"] == "ok"
            assert actor.rest.stream_requests == frames + 1  # on the socket, not over HTTP
            assert not conn.cancel_on_disconnect

            twin.hub.drop_all()  # the connection goes: nothing is cancelled any more
            await anyio.sleep(0.3)
            order = twin.find_order(ack.venue_order_id)[1]
            assert order.status.is_open
            tg.cancel_scope.cancel()
