"""OKX dead-man's switch (Cancel All After) end to end: real twin on loopback, real actor, real bus; and the
sans-IO session's part of it (OkxSession with a SwitchKeeper) fed by hand."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest

from actors.bus import Bus
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from actors.exchanges.okx import OkxAdapter
from messages import (
    ClientOrderId,
    DeadMansSwitch,
    InstrumentId,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    Side,
    SwitchState,
    Venue,
)
from simulator.okx import OkxTwin
from simulator.okx_auth import RateLimits
from simulator.runner import start_twins
from tests.actors.exchanges.conftest import Recorder, endpoints, wait_for
from venues import Credentials
from venues.errors import ConfigError, RateLimited, SwitchNotArmed, VenueReject
from venues.http import Method, Response
from venues.okx.codec import OkxCodec
from venues.okx.session import OkxSession, SessionOptions
from venues.session import Fetch, SetTimer
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")
KEY = "switch:cancel-all-after"
WINDOW = 10  # OKX's smallest window


def _actor(twins: Any, bus: Bus, config: ExchangeConfig | None = None, **adapter_kw: Any) -> ExchangeActor:
    rt = twins["okx"]
    creds = rt.twin.credentials
    adapter = OkxAdapter(InstrumentRegistry(), endpoints(rt), **adapter_kw)
    return ExchangeActor(adapter, config or ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus,
                         credentials=Credentials(creds.api_key, creds.secret, creds.passphrase or ""))


def _twin(twins: Any) -> OkxTwin:
    twin = twins["okx"].twin
    assert isinstance(twin, OkxTwin)
    return twin


def _resting(cid: str, twins: Any) -> PlaceOrder:
    """A buy 10 % under the twin's best bid: it rests."""
    book = _twin(twins).book_json("BTC-USDT-SWAP", 1)
    assert book is not None
    price = Decimal(str(round(float(book["bids"][0][0]) * 0.9, 1)))
    return PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId(cid), side=Side.BUY,
                      quantity=Decimal("1"), price=price)


def _states(rec: Recorder) -> list[DeadMansSwitch]:
    return rec.of(DeadMansSwitch)


# -- end to end on the twin ------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_okx_switch_arms_at_start_and_each_refresh_moves_the_twin_deadline_forward(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=10) as twins:
        twin = _twin(twins)
        actor = _actor(twins, bus, dead_mans_switch_s=WINDOW, dead_mans_switch_refresh_s=1.2)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            await wait_for(lambda: any(s.state is SwitchState.ARMED for s in _states(rec)), what="ARMED")
            armed = next(s for s in _states(rec) if s.state is SwitchState.ARMED)
            assert (armed.venue, armed.window_s) == (Venue.OKX, WINDOW)
            assert "timeOut 10 s" in armed.detail and "triggerTime" in armed.detail
            first = twin.caa.deadlines[""]
            assert 0 < first - twin.now_ms() <= WINDOW * 1000  # the account-level timer, on the twin's clock
            await wait_for(lambda: twin.caa.deadlines.get("", 0) > first, what="a refresh")
            second = twin.caa.deadlines[""]
            await wait_for(lambda: twin.caa.deadlines.get("", 0) > second, what="another refresh")
            stats = actor.stats()
            assert (stats.switch, stats.switch_window_s) == ("armed", WINDOW)
            tg.cancel_scope.cancel()
    assert [s.state for s in _states(rec)] == [SwitchState.ARMED]  # armed once, never lost on the way
    assert list(twin.caa.fired) == []


@pytest.mark.anyio
async def test_okx_placements_wait_for_the_switch_while_arming_and_failing_and_nothing_reaches_the_twin(
        bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.okx")
    # The twin lets no Cancel All After through (limit 0 a second): every call answers 50011, a transient error.
    opts = {"okx": {"limits": RateLimits({"trade/cancel-all-after": 0})}}
    async with start_twins(["okx"], symbols=["BTC"], rate=10, options=opts) as twins:
        twin = _twin(twins)
        # Each 50011 pauses the venue 1 s before the retry: 3 retries keep the switch ARMING for 3 s at least,
        # the actor is ready after the first pause.
        config = ExchangeConfig(instruments=[BTC], depth_levels=0, rest_retries=3)
        actor = _actor(twins, bus, config, dead_mans_switch_s=WINDOW)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            assert actor.session.switch is not None and actor.session.switch.state is SwitchState.ARMING
            with pytest.raises(SwitchNotArmed, match="dead-man's switch arming .* cbsw1 not sent"):
                await ref.ask(_resting("cbsw1", twins))
            await wait_for(lambda: any(s.state is SwitchState.FAILING for s in _states(rec)), what="FAILING")
            (failing,) = _states(rec)
            assert failing.state is SwitchState.FAILING and "50011" in failing.detail
            with pytest.raises(SwitchNotArmed, match="dead-man's switch failing"):
                await ref.ask(_resting("cbsw2", twins))
            assert actor.stats().switch == "failing"
            tg.cancel_scope.cancel()
    assert (twin.received.count("cbsw1"), twin.received.count("cbsw2")) == (0, 0)
    assert twin.engine.orders == {}


@pytest.mark.anyio
async def test_okx_switch_refused_by_the_twin_names_okx_code_and_orders_never_leave(bus: Bus) -> None:
    rec = Recorder(bus, "venue.switch.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=10) as twins:
        twin = _twin(twins)
        adapter = OkxAdapter(InstrumentRegistry(), endpoints(twins["okx"]), dead_mans_switch_s=WINDOW)
        # The adapter refuses a 5 s window (ConfigError); forced past it, OKX's own answer is what decides.
        adapter._options = msgspec.structs.replace(adapter._options, dead_mans_switch_s=5.0)  # noqa: SLF001
        creds = twin.credentials
        actor = ExchangeActor(adapter, ExchangeConfig(instruments=[BTC], depth_levels=0), bus=bus,
                              credentials=Credentials(creds.api_key, creds.secret, creds.passphrase or ""))
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: bool(_states(rec)), what="a switch state")
            (refused,) = _states(rec)
            assert refused.state is SwitchState.REFUSED
            assert "51000" in refused.detail and "Parameter timeOut error" in refused.detail
            with pytest.raises(SwitchNotArmed, match="dead-man's switch refused .*51000"):
                await ref.ask(_resting("cbsw3", twins))
            assert actor.stats().switch == "refused"
            tg.cancel_scope.cancel()
    assert twin.received.count("cbsw3") == 0 and twin.caa.deadlines == {}


@pytest.mark.anyio
async def test_okx_orders_left_by_a_stopped_actor_are_cancelled_by_the_twin_and_the_private_stream_says_so(
        bus: Bus) -> None:
    switch = Recorder(bus, "venue.switch.okx")
    updates = Recorder(bus, "orders.update.okx")
    async with start_twins(["okx"], symbols=["BTC"], rate=10) as twins:
        twin = _twin(twins)
        actor = _actor(twins, bus, dead_mans_switch_s=WINDOW)
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)
            await wait_for(lambda: any(s.state is SwitchState.ARMED for s in _states(switch)), what="ARMED")
            for cid in ("cbdm1", "cbdm2"):
                ack = await ref.ask(_resting(cid, twins))
                assert isinstance(ack, OrderUpdate) and ack.status is OrderStatus.SUBMITTED
            await ref.stop()  # the daemon dies: nobody refreshes the switch any more
            tg.cancel_scope.cancel()
        assert len(twin.engine.open_orders()) == 2 and "" in twin.caa.deadlines  # OKX's timer still runs

        # A second actor (no switch of its own) watches the private stream while OKX's timer runs out.
        watcher = _actor(twins, bus)
        async with anyio.create_task_group() as tg:
            await tg.start(watcher.run)
            session = watcher.session
            assert isinstance(session, OkxSession)
            await wait_for(lambda: "orders:SWAP" in session.private_channels, what="private orders subscribed")
            twin.caa.expire_in("", 0)  # the deadline is now: the twin's check fires it

            def cancelled() -> set[str]:
                return {u.client_order_id for u in updates.of(OrderUpdate) if u.status is OrderStatus.CANCELLED}

            await wait_for(lambda: cancelled() == {"cbdm1", "cbdm2"}, what="both orders cancelled on the stream")
            tg.cancel_scope.cancel()
    assert twin.engine.open_orders() == [] and twin.caa.deadlines == {}
    (fired,) = twin.caa.fired
    assert (fired.tag, len(fired.order_ids)) == ("", 2)


# -- configuration ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [5, 9, 121, 10.5, -1, math.nan, math.inf])
def test_okx_adapter_refuses_a_switch_window_okx_cannot_take(window: float) -> None:
    with pytest.raises(ConfigError, match=r"okx dead-man's switch window: expected 0 \(off\) or whole seconds "
                                          r"from 10 to 120 \(OKX cancel-all-after timeOut\)"):
        OkxAdapter(InstrumentRegistry(), dead_mans_switch_s=window)


@pytest.mark.parametrize(("window", "refresh"), [(10, 0.5), (10, 3.5), (30, 10.5)])
def test_okx_adapter_refuses_a_switch_refresh_faster_than_okx_allows_or_too_slow_for_the_window(
        window: int, refresh: float) -> None:
    with pytest.raises(ConfigError, match="okx dead-man's switch refresh: expected 0"):
        OkxAdapter(InstrumentRegistry(), dead_mans_switch_s=window, dead_mans_switch_refresh_s=refresh)


@pytest.mark.parametrize("window", [0, 10, 30.0, 120])
def test_okx_adapter_takes_0_and_whole_seconds_from_10_to_120(window: float) -> None:
    adapter = OkxAdapter(InstrumentRegistry(), dead_mans_switch_s=window)
    session = adapter.session(Credentials("k", "s", "p"), lambda: "")
    assert (session.switch is None) is (window == 0)
    assert adapter.session(None, lambda: "").switch is None  # no credentials, no orders: no switch


def test_okx_adapter_has_a_cancel_all_after_bucket_of_one_request_a_second() -> None:
    buckets, _ = OkxAdapter(InstrumentRegistry()).rate_buckets()
    (bucket,) = [b for b in buckets if b.name == "trade/cancel-all-after"]
    assert (bucket.capacity, bucket.period_s) == (1, 1.0)


# -- the session, sans-IO ---------------------------------------------------------------------------------
NOW = 1_780_000_000_000


def _session(window: float = WINDOW, refresh: float = 0.0, demo: bool = False) -> OkxSession:
    options = SessionOptions({}, dead_mans_switch_s=window, switch_refresh_s=refresh, demo=demo)
    return OkxSession(OkxCodec(InstrumentRegistry()), InstrumentRegistry(), options,
                      Credentials("key", "secret", "pass"))


def _switched(outs: Sequence[object]) -> list[DeadMansSwitch]:
    """The session's outputs, all of them switch states."""
    states = [o for o in outs if isinstance(o, DeadMansSwitch)]
    assert len(states) == len(outs), outs
    return states


def _answer(trigger: str, ts: str = str(NOW)) -> Response:
    body = {"code": "0", "msg": "", "data": [{"triggerTime": trigger, "tag": "", "ts": ts}]}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


def test_session_start_arms_the_switch_with_an_urgent_signed_cancel_all_after_beside_the_config_read() -> None:
    out = _session(demo=True).start(NOW)
    fetches = [o for o in out if isinstance(o, Fetch)]
    assert [(f.key, f.urgent) for f in fetches] == [(KEY, True), ("account config", False)]
    spec = fetches[0].spec
    assert (spec.method, spec.path, spec.body, spec.endpoint) == (
        Method.POST, "/api/v5/trade/cancel-all-after", b'{"timeOut":"10"}', "trade/cancel-all-after")
    assert spec.signed and spec.headers["x-simulated-trading"] == "1" and spec.headers["OK-ACCESS-SIGN"]
    timers = {o.key: o.after_s for o in out if isinstance(o, SetTimer)}
    assert timers == {"switch:refresh": pytest.approx(WINDOW / 3), "account config": 60.0}


def test_session_confirms_the_switch_on_a_trigger_time_and_refuses_it_on_zero() -> None:
    session = _session()
    session.start(NOW)
    (armed,) = _switched(session.response(KEY, _answer(str(NOW + 10_000)), NOW + 5))
    assert (armed.state, armed.window_s) == (SwitchState.ARMED, WINDOW) and str(NOW + 10_000) in armed.detail
    assert session.switch is not None and session.switch.armed
    (refused,) = _switched(session.response(KEY, _answer("0"), NOW + 10))
    assert refused.state is SwitchState.REFUSED and "triggerTime 0" in refused.detail
    assert session.timer("switch:refresh", NOW + 3_333) == []  # refused: no more rounds


def test_session_a_definite_okx_error_refuses_the_switch_and_a_transient_one_leaves_it_failing() -> None:
    session = _session()
    session.start(NOW)
    (failing,) = _switched(session.failed(KEY, RateLimited("okx", "50011", "Rate limit reached.", 429), NOW))
    assert failing.state is SwitchState.FAILING and "50011" in failing.detail
    (armed,) = _switched(session.response(KEY, _answer(str(NOW + 10_000)), NOW + 1_000))
    assert armed.state is SwitchState.ARMED
    (refused,) = _switched(session.failed(KEY, VenueReject("okx", "51000", "Parameter timeOut error", 400), NOW + 2_000))
    assert refused.state is SwitchState.REFUSED and "51000" in refused.detail


def test_session_refresh_rounds_resend_and_a_round_finding_an_old_confirmation_calls_the_switch_lost() -> None:
    session = _session(refresh=2.0)
    session.start(NOW)
    session.response(KEY, _answer(str(NOW + 10_000)), NOW)
    on_time = session.timer("switch:refresh", NOW + 2_000)
    assert [type(o).__name__ for o in on_time] == ["Fetch", "SetTimer"]  # no state change: still armed
    # Rounds go unanswered: a confirmation 4 or 6 s old is within 10 - 1.5 x 2 = 7 s (still armed); at 8 s OKX's
    # timer may run out before another answer could confirm it: lost.
    assert [type(o).__name__ for o in session.timer("switch:refresh", NOW + 4_000)] == ["Fetch", "SetTimer"]
    assert [type(o).__name__ for o in session.timer("switch:refresh", NOW + 6_000)] == ["Fetch", "SetTimer"]
    lost, fetch, timer = session.timer("switch:refresh", NOW + 8_000)
    assert isinstance(lost, DeadMansSwitch) and lost.state is SwitchState.FAILING and "8.0 s ago" in lost.detail
    assert isinstance(fetch, Fetch) and fetch.urgent and isinstance(timer, SetTimer)
    (again,) = _switched(session.response(KEY, _answer(str(NOW + 18_100)), NOW + 8_100))
    assert again.state is SwitchState.ARMED


def test_session_without_the_switch_sends_no_cancel_all_after() -> None:
    session = _session(window=0)
    assert session.switch is None
    assert [o.key for o in session.start(NOW) if isinstance(o, Fetch)] == ["account config"]
    assert session.timer("switch:refresh", NOW) == []
