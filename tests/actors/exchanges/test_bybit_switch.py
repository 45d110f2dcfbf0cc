"""Bybit disconnection protection (DCP) as the dead-man's switch: the session driven by hand, then the real
ExchangeActor with the Bybit adapter against the Bybit twin on loopback, with a real bus.

Windows pass on the twin clock, moved by hand (``TwinClock``): no test waits for one on the wall clock.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.bybit import BybitAdapter
from messages import (
    ClientOrderId,
    DeadMansSwitch,
    InstrumentId,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
    Side,
    SwitchState,
    Venue,
)
from simulator.bybit import BybitTwin
from simulator.faults import FaultKind
from simulator.runner import Twins, start_twins
from tests.actors.exchanges.conftest import Recorder, endpoints, wait_for
from tests.venues.bybit.sample_registry import build_registry
from venues import Credentials
from venues.bybit import BybitCodec
from venues.bybit.dcp import NOT_ENABLED, RECHECK, RETRY
from venues.bybit.modes import PositionModes
from venues.bybit.session import BybitSession, KnownOrders, SessionOptions
from venues.errors import ConfigError, RateLimited, SwitchNotArmed, VenueReject
from venues.events import LoggedIn, Subscribed, SubscribeFailed
from venues.http import Response
from venues.session import Fetch, Out, Send, SetTimer
from venues.switch import SwitchKeeper
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
T0 = 1_700_000_000_000
CREDS = Credentials("key-1", "secret-1")
WS = {"public": "wss://example.test/v5/public/linear", "private": "wss://example.test/v5/private"}


# -- the session alone ---------------------------------------------------------------------------------------------
def _session(window: int = 3, creds: Credentials | None = CREDS, **options: Any) -> BybitSession:
    registry = build_registry()
    return BybitSession(BybitCodec(registry, depth=50), registry, SessionOptions(dict(WS), dcp_window_s=window, **options),
                        creds, KnownOrders(), PositionModes())


def _ok(result: Any = None, bare: bool = False) -> Response:
    body: dict[str, Any] = {"retCode": 0, "retMsg": "success"}
    if not bare:
        body |= {"result": result if result is not None else {}, "retExtInfo": {}, "time": T0}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


def _info(*entries: tuple[str, str, str]) -> Response:
    return _ok({"dcpInfos": [{"product": p, "dcpStatus": st, "timeWindow": w} for p, st, w in entries]})


def _switch_fetches(outs: list[Out]) -> list[Fetch]:
    return [o for o in outs if isinstance(o, Fetch) and SwitchKeeper.owns(o.key)]


def _states(outs: list[Out]) -> list[SwitchState]:
    return [o.state for o in outs if isinstance(o, DeadMansSwitch)]


def _dcp_subscribe(s: BybitSession, now: int = T0) -> tuple[list[Out], str]:
    """Connect the private stream; the outs and the req_id of its dcp.future subscribe."""
    outs = s.connected("private", now)
    frames = [json.loads(o.frame) for o in outs if isinstance(o, Send)]
    [dcp] = [f for f in frames if f.get("args") == ["dcp.future"]]
    return outs, str(dcp["req_id"])


def test_the_switch_starts_arming_and_sets_the_window_for_derivatives_first() -> None:
    s = _session(window=7)
    assert s.switch is not None and s.switch.state is SwitchState.ARMING and s.switch.window_s == 7.0
    outs = s.start(T0)
    assert _states(outs) == [SwitchState.ARMING]
    [fetch] = _switch_fetches(outs)
    assert (fetch.key, fetch.urgent, fetch.spec.method, fetch.spec.path) == (
        "switch:window", True, "POST", "/v5/order/disconnected-cancel-all")
    assert json.loads(fetch.spec.body) == {"product": "DERIVATIVES", "timeWindow": 7}
    assert {"X-BAPI-SIGN", "X-BAPI-TIMESTAMP", "X-BAPI-API-KEY"} <= set(fetch.spec.headers)
    assert not any(f.key.startswith("switch:") for f in outs if isinstance(f, Fetch) and f is not fetch)


def test_the_account_is_read_only_after_the_windows_answer() -> None:
    s = _session()
    s.start(T0)
    outs = s.response("switch:window", _ok(bare=True), T0 + 5)  # the documented answer: no result, no time
    [info] = _switch_fetches(outs)
    assert (info.key, info.urgent, info.spec.method, info.spec.path) == ("switch:account", True, "GET",
                                                                         "/v5/account/query-dcp-info")
    assert _states(outs) == []  # window confirmed, still arming


@pytest.mark.parametrize("order", list(itertools.permutations(["window+account", "stream"])))
def test_the_switch_arms_only_when_window_account_and_stream_are_all_confirmed(order: tuple[str, ...]) -> None:
    s = _session()
    s.start(T0)
    outs, req = _dcp_subscribe(s)
    [main] = [json.loads(o.frame)["req_id"] for o in outs if isinstance(o, Send) and b"order.linear" in o.frame]
    s.on_event(LoggedIn(), "private", T0)
    s.on_event(Subscribed(channels=(), request_id=main), "private", T0)  # the order topics: not the switch's
    seen: list[SwitchState] = []
    steps: dict[str, Callable[[], list[Out]]] = {
        "window+account": lambda: [*s.response("switch:window", _ok(bare=True), T0 + 1),
                                   *s.response("switch:account", _info(("DERIVATIVES", "ON", "3")), T0 + 2)],
        "stream": lambda: s.on_event(Subscribed(channels=(), request_id=req), "private", T0 + 3),
    }
    for i, step in enumerate(order):
        seen += _states(steps[step]())
        assert s.switch is not None
        assert s.switch.armed is (i == len(order) - 1)
    assert seen == [SwitchState.ARMED]
    assert s.switch is not None and "timeWindow 3 s" in s.switch.detail


def test_window_and_account_alone_do_not_arm_it_nor_the_stream_alone() -> None:
    s = _session()
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    s.response("switch:account", _info(("DERIVATIVES", "ON", "3")), T0)
    assert s.switch is not None and not s.switch.armed
    t = _session()
    t.start(T0)
    _, req = _dcp_subscribe(t)
    t.on_event(Subscribed(channels=(), request_id=req), "private", T0)
    t.response("switch:window", _ok(bare=True), T0)
    assert t.switch is not None and not t.switch.armed


def test_dcp_future_goes_in_a_subscribe_of_its_own_behind_the_private_topics_and_again_after_a_failed_login() -> None:
    s = _session()
    outs, req = _dcp_subscribe(s)
    frames = [json.loads(o.frame) for o in outs if isinstance(o, Send)]
    assert [f["op"] for f in frames] == ["auth", "subscribe", "subscribe", "ping"]  # the heartbeat resumes at once
    assert frames[1]["args"] == ["order.linear", "execution.linear", "position.linear", "wallet"]
    assert frames[2] == {"op": "subscribe", "args": ["dcp.future"], "req_id": req}
    s.on_event(SubscribeFailed(code="", text="bad auth", request_id=s._auth_req), "private", T0)
    again = s.timer("relogin", T0 + 1000)
    frames = [json.loads(o.frame) for o in again if isinstance(o, Send)]
    assert [f.get("args") for f in frames[1:]] == [["order.linear", "execution.linear", "position.linear", "wallet"],
                                                   ["dcp.future"], None]
    assert frames[2]["req_id"] != req and frames[2]["req_id"] == s.dcp.req_id  # type: ignore[union-attr]


def test_without_credentials_or_without_a_window_there_is_no_switch() -> None:
    assert _session(creds=None).switch is None
    assert _session(window=0).switch is None
    plain = _session(window=0)
    outs = plain.connected("private", T0)
    assert all("dcp" not in o.frame.decode() for o in outs if isinstance(o, Send))


def test_the_private_stream_down_makes_the_switch_failing_until_the_next_connections_ack() -> None:
    s = _session()
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    s.response("switch:account", _info(("DERIVATIVES", "ON", "3")), T0)
    _, req = _dcp_subscribe(s)
    s.on_event(LoggedIn(), "private", T0)
    assert _states(s.on_event(Subscribed(channels=(), request_id=req), "private", T0)) == [SwitchState.ARMED]
    down = s.disconnected("private", T0 + 10)
    assert _states(down) == [SwitchState.FAILING]
    assert s.switch is not None and "private stream down" in s.switch.detail and "3 s" in s.switch.detail
    _, req2 = _dcp_subscribe(s, T0 + 500)
    assert req2 != req and not s.switch.armed
    assert _states(s.on_event(Subscribed(channels=(), request_id=req2), "private", T0 + 600)) == [SwitchState.ARMED]


def test_a_refused_dcp_subscribe_loses_the_stream_part_and_is_sent_again() -> None:
    s = _session()
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    s.response("switch:account", _info(("DERIVATIVES", "ON", "3")), T0)
    _, req = _dcp_subscribe(s)
    s.on_event(Subscribed(channels=(), request_id=req), "private", T0)
    assert s.switch is not None and s.switch.armed
    _, req2 = _dcp_subscribe(s, T0 + 1)  # a new connection whose dcp subscribe is refused
    outs = s.on_event(SubscribeFailed(code="", text="error:busy", request_id=req2), "private", T0 + 2)
    assert _states(outs) == [SwitchState.FAILING] and "dcp.future subscribe refused (error:busy)" in s.switch.detail
    [timer] = [o for o in outs if isinstance(o, SetTimer)]
    resent = s.timer(timer.key, T0 + 1002)
    assert [json.loads(o.frame)["args"] for o in resent if isinstance(o, Send)] == [["dcp.future"]]
    assert _states(s.on_event(Subscribed(channels=(), request_id=req2), "private", T0 + 1003)) == [SwitchState.ARMED]


def test_an_account_without_dcp_refuses_the_switch_with_the_reason() -> None:
    s = _session()
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    outs = s.response("switch:account", _info(), T0)
    assert _states(outs) == [SwitchState.REFUSED]
    assert s.switch is not None and s.switch.detail.startswith(NOT_ENABLED)
    assert s.timer(RETRY, T0 + 1) == [] and s.timer(RECHECK, T0 + 1) == []  # final


def test_a_refused_window_is_explained_by_the_accounts_setting() -> None:
    s = _session()
    s.start(T0)
    refusal = VenueReject("bybit", 10005, "Permission denied, please check your API key permissions.")
    outs = s.failed("switch:window", refusal, T0)
    assert _states(outs) == [] and [f.key for f in _switch_fetches(outs)] == ["switch:account"]
    outs = s.response("switch:account", _info(), T0 + 1)
    assert _states(outs) == [SwitchState.REFUSED] and s.switch is not None
    assert NOT_ENABLED in s.switch.detail and "10005" in s.switch.detail
    t = _session()
    t.start(T0)
    t.failed("switch:window", VenueReject("bybit", 10001, "params error"), T0)
    t.response("switch:account", _info(("DERIVATIVES", "ON", "10")), T0)
    assert t.switch is not None and t.switch.state is SwitchState.REFUSED
    assert "refused to set the DERIVATIVES DCP window to 3 s" in t.switch.detail and "10001" in t.switch.detail


@pytest.mark.parametrize(("entries", "words"), [
    ((("SPOT", "ON", "3"),), "enabled for SPOT only, not DERIVATIVES"),
    ((("DERIVATIVES", "OFF", "3"),), "dcpStatus 'OFF'"),
])
def test_dcp_enabled_for_another_product_or_not_on_is_refused(entries: tuple[tuple[str, str, str], ...],
                                                              words: str) -> None:
    s = _session()
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    assert _states(s.response("switch:account", _info(*entries), T0)) == [SwitchState.REFUSED]
    assert s.switch is not None and words in s.switch.detail


def test_another_window_is_read_again_until_bybit_applies_ours_then_refused_if_it_never_does() -> None:
    s = _session(dcp_recheck_s=10.0, dcp_rechecks=2)
    s.start(T0)
    s.response("switch:window", _ok(bare=True), T0)
    outs = s.response("switch:account", _info(("DERIVATIVES", "ON", "10")), T0)
    assert _states(outs) == [] and outs == [SetTimer(key=RECHECK, after_s=10.0)]
    assert s.switch is not None and s.switch.state is SwitchState.ARMING and "reading again in 10 s" in s.switch.detail
    [again] = _switch_fetches(s.timer(RECHECK, T0 + 10_000))
    assert again.key == "switch:account" and again.spec.headers["X-BAPI-TIMESTAMP"] == str(T0 + 10_000)
    assert s.response("switch:account", _info(("DERIVATIVES", "ON", "10")), T0 + 10_100) == [
        SetTimer(key=RECHECK, after_s=10.0)]
    outs = s.response("switch:account", _info(("DERIVATIVES", "ON", "10")), T0 + 20_100)
    assert _states(outs) == [SwitchState.REFUSED] and "still after 3 reads" in s.switch.detail
    u = _session()
    u.start(T0)
    u.response("switch:window", _ok(bare=True), T0)
    u.response("switch:account", _info(("DERIVATIVES", "ON", "10")), T0)
    _, req = _dcp_subscribe(u)
    u.on_event(Subscribed(channels=(), request_id=req), "private", T0)
    assert _states(u.response("switch:account", _info(("DERIVATIVES", "ON", "3")), T0 + 10_000)) == [SwitchState.ARMED]


def test_a_transient_failure_is_failing_and_the_step_is_asked_again_after_the_backoff() -> None:
    s = _session(retry_base_s=1.0, retry_cap_s=8.0)
    s.start(T0)
    outs = s.failed("switch:window", RateLimited("bybit", 10006, "Too many visits"), T0)
    assert _states(outs) == [SwitchState.FAILING] and SetTimer(key=RETRY, after_s=1.0) in outs
    outs = s.failed("switch:window", RateLimited("bybit", 10006, "Too many visits"), T0 + 1000)
    assert SetTimer(key=RETRY, after_s=2.0) in outs
    [again] = _switch_fetches(s.timer(RETRY, T0 + 3000))
    assert again.key == "switch:window" and again.spec.headers["X-BAPI-TIMESTAMP"] == str(T0 + 3000)
    [info] = _switch_fetches(s.response("switch:window", _ok(bare=True), T0 + 3100))
    _, req = _dcp_subscribe(s)
    s.on_event(Subscribed(channels=(), request_id=req), "private", T0)
    assert _states(s.response(info.key, _info(("DERIVATIVES", "ON", "3")), T0 + 3200)) == [SwitchState.ARMED]


def test_a_dcp_push_is_counted_never_dropped() -> None:
    s = _session()
    frame = json.dumps({"topic": "dcp.future", "creationTime": T0, "data": [{"dcpStatus": "ON"}]}).encode()
    assert s.feed("private", frame, T0 * 1_000_000) == []
    assert s.codec.ignored["dcp.future"] == 1


@pytest.mark.parametrize("bad", [2, 301, 2.5, -3, float("nan")])
def test_a_dead_mans_switch_window_outside_3_to_300_whole_seconds_is_a_config_error(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"bybit .*\[3, 300\]"):
        BybitAdapter(InstrumentRegistry(), dead_mans_switch_s=bad)


def test_the_adapter_passes_the_window_to_its_sessions_and_leaves_it_off_by_default() -> None:
    on = BybitAdapter(InstrumentRegistry(), dead_mans_switch_s=30)
    switch = on.session(CREDS, lambda: "n").switch
    assert switch is not None and switch.window_s == 30.0
    assert on.session(None, lambda: "n").switch is None
    assert BybitAdapter(InstrumentRegistry()).session(CREDS, lambda: "n").switch is None


# -- the actor against the twin ----------------------------------------------------------------------------------
class TwinClock:
    """The twin's clock (epoch ms): the wall clock plus an offset, which a test moves on (``jump``) or stops
    (``freeze``; only once the actor is gone, whose signatures would otherwise fall out of the receive window)."""

    def __init__(self) -> None:
        self.offset = 0
        self.frozen: int | None = None

    def __call__(self) -> int:
        return self.frozen if self.frozen is not None else time.time_ns() // 1_000_000 + self.offset

    def jump(self, ms: int) -> None:
        self.offset += ms

    def freeze(self, at: int | None = None) -> None:
        self.frozen = at if at is not None else self()


def _actor(twins: Twins, bus: Bus, window: float = 3, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["bybit"]
    creds = rt.twin.credentials
    adapter = BybitAdapter(InstrumentRegistry(), endpoints(rt), depth=50, stale_after_s=30.0,
                           dead_mans_switch_s=window, **adapter_kw)
    return ExchangeActor(adapter, ExchangeConfig(instruments=[str(BTC)], depth_levels=0), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret))


def _bybit(twins: Twins) -> BybitTwin:
    twin = twins["bybit"].twin
    assert isinstance(twin, BybitTwin)
    return twin


def _resting(twins: Twins, cid: str) -> PlaceOrder:
    bid = float(_bybit(twins).book_json("BTCUSDT", 1)["bids"][0][0])  # type: ignore[index]
    return PlaceOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=Decimal("0.010"), price=Decimal(str(round(bid * 0.8, 1))))


def _switches(rec: Recorder) -> list[DeadMansSwitch]:
    return [m for m in rec.of(DeadMansSwitch) if m.venue is Venue.BYBIT]


async def _state(rec: Recorder, state: SwitchState, after: int = 0) -> DeadMansSwitch:
    """The first switch message in ``state`` past the ``after`` first ones."""
    await wait_for(lambda: any(m.state is state for m in _switches(rec)[after:]), what=f"switch {state}")
    return next(m for m in _switches(rec)[after:] if m.state is state)


def _engine_status(twins: Twins, cid: str) -> str:
    twin = _bybit(twins)
    [order] = [o for o in twin.engine.orders.values() if o.client_id == cid]
    return order.status.value


@pytest.mark.anyio
async def test_the_switch_arms_only_after_bybit_shows_our_window_and_placements_wait_for_it(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.bybit")
    options = {"bybit": {"dcp_apply_delay_s": 1.0}}  # Bybit applies a new window "after a certain time"
    async with start_twins(["bybit"], symbols=["BTC"], rate=20, options=options) as twins:
        actor = _actor(twins, bus, dcp_recheck_s=0.5)  # read again up to 6 times: 3 s for the twin's 1 s
        twin = _bybit(twins)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: twin.hub.dcp_holders()["dcp.future"] == 1, what="dcp.future subscribed")
            await wait_for(lambda: "reading again" in actor.stats().switch_detail, what="the account read")
            assert twin.dcp.pending != {}  # set, not in force yet
            early = _resting(twins, "cb-dcp-early")
            with pytest.raises(SwitchNotArmed, match="arming"):
                await ref.ask(early)
            assert twin.received.count("cb-dcp-early") == 0  # nothing reached the twin
            assert actor.stats().switch == "arming"
            armed = await _state(rec, SwitchState.ARMED)
            assert twin.dcp.window("DERIVATIVES", twin.now_ms()) == 3 and twin.hub.dcp_holders()["dcp.future"] == 1
            assert [m.state for m in _switches(rec)] == [SwitchState.ARMING, SwitchState.ARMED]
            assert armed.window_s == 3.0 and "timeWindow 3 s" in armed.detail
            ack = await ref.ask(_resting(twins, "cb-dcp-1"))
            assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            assert twin.received.count("cb-dcp-1") == 1 and actor.stats().switch == "armed"
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_the_private_stream_dropped_makes_the_switch_failing_then_armed_after_the_reconnects_ack(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.bybit")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        actor = _actor(twins, bus)
        twin = _bybit(twins)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _state(rec, SwitchState.ARMED)
            n = len(_switches(rec))
            twin.faults.inject(FaultKind.DROP_WS.value)
            failing = await _state(rec, SwitchState.FAILING, after=n)
            assert "private stream down" in failing.detail
            await _state(rec, SwitchState.ARMED, after=n)
            assert [m.state for m in _switches(rec)] == [SwitchState.ARMING, SwitchState.ARMED, SwitchState.FAILING,
                                                         SwitchState.ARMED]
            assert twin.hub.dcp_holders()["dcp.future"] == 1 and twin.dcp.countdowns == {}
            ack = await ref.ask(_resting(twins, "cb-dcp-2"))
            assert ack.status is OrderStatus.SUBMITTED
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_bybit_cancels_the_resting_orders_once_the_window_passes_after_the_actor_stops(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.bybit")
    clock = TwinClock()
    async with start_twins(["bybit"], symbols=["BTC"], rate=0, clock_ms=clock) as twins:
        twins.step(5)
        actor = _actor(twins, bus)
        twin = _bybit(twins)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _state(rec, SwitchState.ARMED)
            for cid in ("cb-dcp-3", "cb-dcp-4"):
                assert (await ref.ask(_resting(twins, cid))).status is OrderStatus.SUBMITTED
            tg.cancel_scope.cancel()  # the daemon dies: its private connection goes away
        clock.freeze()
        await wait_for(lambda: "DERIVATIVES" in twin.dcp.countdowns, what="the twin's DCP countdown")
        since = twin.dcp.countdowns["DERIVATIVES"]
        clock.freeze(since + 2999)
        twins.step()
        assert [_engine_status(twins, c) for c in ("cb-dcp-3", "cb-dcp-4")] == ["NEW", "NEW"]
        clock.freeze(since + 3000)
        twins.step()
        assert [_engine_status(twins, c) for c in ("cb-dcp-3", "cb-dcp-4")] == ["CANCELED", "CANCELED"]
        assert [(f.window_s, len(f.order_ids)) for f in twin.dcp.fired] == [(3, 2)]
        assert {twin.cancel_types[i] for i in twin.dcp.fired[0].order_ids} == {"CancelByDCP"}


@pytest.mark.anyio
async def test_a_reconnect_within_the_window_keeps_the_resting_orders(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.bybit")
    clock = TwinClock()
    async with start_twins(["bybit"], symbols=["BTC"], rate=0, clock_ms=clock) as twins:
        twins.step(5)
        actor = _actor(twins, bus)
        twin = _bybit(twins)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await _state(rec, SwitchState.ARMED)
            assert (await ref.ask(_resting(twins, "cb-dcp-5"))).status is OrderStatus.SUBMITTED
            n = len(_switches(rec))
            twin.faults.inject(FaultKind.DROP_WS.value)
            await wait_for(lambda: "DERIVATIVES" in twin.dcp.countdowns, what="the twin's DCP countdown")
            await _state(rec, SwitchState.ARMED, after=n)  # reconnected and dcp.future acked
            assert twin.dcp.countdowns == {} and twin.dcp.fired == []
            clock.jump(4000)  # past the window counted from the drop (still inside the 5 s receive window)
            twins.step()
            assert _engine_status(twins, "cb-dcp-5") == "NEW" and twin.dcp.fired == []
            q = await ref.ask(QueryOrder(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId("cb-dcp-5")))
            assert q.status is OrderStatus.SUBMITTED
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_an_account_without_dcp_refuses_the_switch_with_a_clear_detail_and_no_order_leaves(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.bybit")
    async with start_twins(["bybit"], symbols=["BTC"], rate=20, options={"bybit": {"dcp_enabled": False}}) as twins:
        actor = _actor(twins, bus, window=10)
        twin = _bybit(twins)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            refused = await _state(rec, SwitchState.REFUSED)
            assert refused.detail.startswith(NOT_ENABLED) and "10005" in refused.detail
            assert "account manager" in refused.detail
            assert [m.state for m in _switches(rec)] == [SwitchState.ARMING, SwitchState.REFUSED]
            with pytest.raises(SwitchNotArmed, match="refused"):
                await ref.ask(_resting(twins, "cb-dcp-6"))
            assert twin.received.count("cb-dcp-6") == 0
            stats = actor.stats()
            assert (stats.switch, stats.switch_window_s) == ("refused", 10.0)
            tg.cancel_scope.cancel()
