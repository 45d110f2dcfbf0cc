"""The Deribit twin under the doctor's strict reading (venues/deribit/schema.py through venues.drift): a clean
twin says nothing the documentation does not know; its drift faults (UNKNOWN_FIELD, UNKNOWN_EVENT) are found,
exactly; ``ip_allowed=False`` refuses the key's auth and private calls with 13021."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.deribit import DeribitAdapter
from actors.transport import RestClient
from messages import (
    CancelOrder,
    ClientOrderId,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    InstrumentId,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
    TimeInForce,
    Venue,
)
from simulator.faults import FaultKind
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import wait_for
from venues import Credentials
from venues.deribit import schema
from venues.deribit.session import DeribitSession, Login
from venues.drift import DriftCollector, Finding, Shape
from venues.errors import AuthError
from venues.http import RequestSpec, Response
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USD-PERP")
D = Decimal


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def bus() -> Any:
    b = Bus()
    yield b
    b.close()


class _Seen:
    """venues.deribit.schema, counting the kinds it tells apart (so a test knows what it has read)."""

    FRAMES: Mapping[str, Shape] = schema.FRAMES
    REST: Mapping[str, Shape] = schema.REST
    ENUMS: Mapping[str, frozenset[str]] = schema.ENUMS

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}
        self.paths: dict[str, int] = {}

    def frame_kind(self, stream: str, obj: Any) -> str | None:
        kind = schema.frame_kind(stream, obj)
        self.kinds[str(kind)] = self.kinds.get(str(kind), 0) + 1
        return kind


def _tap(monkeypatch: pytest.MonkeyPatch, collector: DriftCollector, seen: _Seen) -> None:
    """Every frame an ExchangeActor reads and every HTTP answer its gateway gets go to ``collector`` too."""
    on_frame = ExchangeActor.on_frame
    send = RestClient.send

    def frame(self: ExchangeActor, st: Any, data: str | bytes, ts: int) -> None:
        collector.frame(st.spec.name, data)
        on_frame(self, st, data, ts)

    async def http(self: RestClient, spec: RequestSpec) -> Response:
        resp = await send(self, spec)
        seen.paths[spec.path] = seen.paths.get(spec.path, 0) + 1
        collector.response(spec.path, resp.body)
        return resp

    monkeypatch.setattr(ExchangeActor, "on_frame", frame)
    monkeypatch.setattr(RestClient, "send", http)


def _actor(twins: Any, bus: Bus, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["deribit"]
    creds = rt.twin.credentials
    adapter = DeribitAdapter(InstrumentRegistry(), _endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=5), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _endpoints(rt: Any) -> Any:
    from actors.exchanges.adapter import Endpoints

    return Endpoints(rest=rt.rest, ws=dict(rt.ws))


async def _wait(pred: Any, timeout: float = 10.0) -> None:
    await wait_for(pred, timeout)


def _resting(actor: ExchangeActor, twin: Any, cid: str) -> PlaceOrder:
    """A post-only buy 5% under the best bid (it rests)."""
    tick = actor.registry.get(Venue.DERIBIT, BTC).tick_size
    bid = D(str(twin.book_json("BTC-PERPETUAL", 1)["bids"][0][0]))
    price = (bid * D("0.95") / tick).to_integral_value(ROUND_DOWN) * tick
    return PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=D("10"), price=price, post_only=True)


def _market(cid: str) -> PlaceOrder:
    return PlaceOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=D("10"), order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC)


async def _trade_a_little(actor: ExchangeActor, ref: Any, twin: Any, tag: str) -> None:
    """Place (resting and filled), query, cancel, read balances, positions and open orders; the preflight
    reads too."""
    ack = await ref.ask(_resting(actor, twin, f"{tag}-rest"))
    assert ack.status is OrderStatus.SUBMITTED
    await ref.ask(QueryOrder(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(f"{tag}-rest")))
    await ref.ask(GetOpenOrders(venue=Venue.DERIBIT))
    cancelled = await ref.ask(CancelOrder(venue=Venue.DERIBIT, instrument=BTC,
                                          client_order_id=ClientOrderId(f"{tag}-rest")))
    assert cancelled.status is OrderStatus.CANCELLED
    filled = await ref.ask(_market(f"{tag}-fill"))
    assert filled.status is OrderStatus.FILLED
    await ref.ask(GetBalances(venue=Venue.DERIBIT))
    await ref.ask(GetPositions(venue=Venue.DERIBIT))
    adapter = actor.adapter
    for spec in (adapter.key_permissions(actor), *adapter.instrument_settings(BTC, actor)):
        assert spec is not None
        await actor.rest.request(spec)


async def _run_session(twins: Any, bus: Bus, tag: str, during: Any = None, **adapter_kw: Any) -> None:
    actor = _actor(twins, bus, **adapter_kw)
    twin = twins["deribit"].twin
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        await _wait(lambda: actor.adapter.book_state_live(BTC))
        switch = actor.session.switch
        if switch is not None:
            await _wait(lambda: switch.armed)
        if during is not None:
            during()
        await _trade_a_little(actor, ref, twin, tag)
        if switch is not None:
            disarm = actor.adapter.disarm_switch(actor)
            assert disarm is not None
            for spec in disarm:
                await actor.rest.request(spec)
        await anyio.sleep(1.0)  # heartbeats, test_requests, candles and private pushes arrive
        tg.cancel_scope.cancel()


_TWIN = {"deribit": {"heartbeat_unit_s": 0.03}}  # a wire-valid interval lasts a fraction of a second


@pytest.mark.anyio
async def test_a_clean_twin_trading_over_http_and_over_the_socket_says_nothing_the_docs_do_not_know(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _Seen()
    collector = DriftCollector(seen)
    _tap(monkeypatch, collector, seen)
    async with start_twins(["deribit"], symbols=["BTC"], rate=30, options=_TWIN) as twins:
        # Orders over the socket (the dead-man's switch on), then over HTTP with user.changes.
        await _run_session(twins, bus, "ws", dead_mans_switch_s=24.0, klines=("1m",))
        await _run_session(twins, bus, "http", positions_stream=True)
    assert collector.report() == []
    assert collector.unreadable == 0
    documented = {"book", "trades", "chart.trades", "heartbeat", "user.orders", "user.trades", "user.changes",
                  "answer/auth", "answer/placement", "answer/order", "answer"}
    assert documented <= set(seen.kinds), seen.kinds
    assert "None" not in seen.kinds
    assert {"/api/v2/public/get_time", "/api/v2/public/get_instruments", "/api/v2/public/auth",
            "/api/v2/private/buy", "/api/v2/private/cancel", "/api/v2/private/get_order_state_by_label",
            "/api/v2/private/get_open_orders", "/api/v2/private/get_account_summaries",
            "/api/v2/private/get_account_summary", "/api/v2/private/get_positions"} <= set(seen.paths), seen.paths
    assert collector.frames > 100 and collector.responses >= 15


def _field_only(findings: list[Finding], field: str) -> list[Finding]:
    return [f for f in findings if not (f.what == "unknown field" and f.where.endswith(f".{field}"))]


@pytest.mark.anyio
async def test_twin_drift_faults_are_found_exactly_the_new_field_everywhere_and_the_new_channel_once(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _Seen()
    collector = DriftCollector(seen)
    _tap(monkeypatch, collector, seen)
    async with start_twins(["deribit"], symbols=["BTC"], rate=30, options=_TWIN) as twins:
        twin: Any = twins["deribit"].twin
        twin.faults.inject(FaultKind.UNKNOWN_FIELD, field="x_depth_v2", value={"a": 1})

        def new_event() -> None:
            assert len(twin.hub.conns) == 1
            twin.faults.inject(FaultKind.UNKNOWN_EVENT, event="book_v2.BTC-PERPETUAL")

        await _run_session(twins, bus, "ws", during=new_event, dead_mans_switch_s=24.0, klines=("1m",))
        assert twin.faults.active(FaultKind.UNKNOWN_EVENT) is None  # one-shot: used up
    report = collector.report()
    events = [f for f in report if f.what == "unknown event type"]
    assert len(events) == 1 and events[0].count == 1 and "book_v2.BTC-PERPETUAL" in events[0].example, events
    assert [f for f in _field_only(report, "x_depth_v2") if f.what != "unknown event type"] == []
    where = {f.where for f in report if f.what == "unknown field"}
    # Market data (each object, each row), answers on the socket and answers over HTTP all carry it.
    for expected in ("book/params.data.x_depth_v2", "trades/params.data.x_depth_v2",
                     "chart.trades/params.data.x_depth_v2", "answer/auth/result.x_depth_v2",
                     "answer/placement/result.x_depth_v2", "answer/order/result.x_depth_v2",
                     "/api/v2/public/get_instruments/result.x_depth_v2",
                     "/api/v2/private/get_account_summaries/result.x_depth_v2",
                     "/api/v2/public/auth/result.x_depth_v2"):
        assert expected in where, sorted(where)
    # Private pushes are not market data: they stay as documented.
    assert not any(w.startswith("user.") for w in where), sorted(where)


@pytest.mark.anyio
async def test_an_ip_outside_the_keys_whitelist_gets_13021_on_auth_and_private_calls_and_public_data_flows(
    bus: Bus,
) -> None:
    async with start_twins(["deribit"], symbols=["BTC"], rate=30,
                           options={"deribit": {"ip_allowed": False}}) as twins:
        actor = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await _wait(lambda: actor.adapter.book_state_live(BTC))  # public data needs no key
            session = actor.session
            assert isinstance(session, DeribitSession)
            await _wait(lambda: session.login is Login.FAILED)
            for spec in (actor.adapter.key_permissions(actor), *actor.adapter.instrument_settings(BTC, actor),
                         actor.adapter.balances(actor)[0]):
                assert spec is not None
                with pytest.raises(AuthError) as refused:
                    await actor.rest.request(spec)
                assert refused.value.code == "13021" and "forbidden" in str(refused.value)
            assert (await actor.rest.request(actor.adapter.server_time_request())).status == 200
            tg.cancel_scope.cancel()
