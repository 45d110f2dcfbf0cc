"""The dead-man's switch keeper (venues/switch.py): armed only when every part is confirmed, a refusal is
final, every change of state is reported once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from messages import DeadMansSwitch, SwitchState, Venue
from venues.errors import AuthError, InvalidParameter, RateLimited, TimestampError, VenueUnavailable
from venues.http import RequestSpec
from venues.session import Fetch, SetTimer
from venues.switch import REFRESH, SWITCH, SwitchKeeper, is_refusal

_SPEC = RequestSpec(method="POST", path="/x")


def _states(outs: list[object]) -> list[SwitchState]:
    return [o.state for o in outs if isinstance(o, DeadMansSwitch)]


def test_a_round_is_urgent_fetches_then_the_refresh_timer() -> None:
    k = SwitchKeeper(Venue.BINANCE, 30.0, 10.0)
    outs = k.round([("BTCUSDT", _SPEC), ("ETHUSDT", _SPEC)])
    assert outs == [Fetch(key=SWITCH + "BTCUSDT", spec=_SPEC, urgent=True),
                    Fetch(key=SWITCH + "ETHUSDT", spec=_SPEC, urgent=True), SetTimer(key=REFRESH, after_s=10.0)]
    assert k.owns(SWITCH + "BTCUSDT") and k.part(SWITCH + "BTCUSDT") == "BTCUSDT" and not k.owns("snapshot:x")
    held = SwitchKeeper(Venue.BYBIT, 10.0, None)  # held by a stream: nothing to call again
    assert held.round([("window", _SPEC)]) == [Fetch(key=SWITCH + "window", spec=_SPEC, urgent=True)]


def test_standing_down_sends_no_more_rounds() -> None:
    """Before the doctor turns a switch off, refreshes stop: one landing after the "off" would arm it again."""
    k = SwitchKeeper(Venue.OKX, 30.0, 10.0)
    k.round([("caa", _SPEC)])
    k.stand_down()
    assert k.round([("caa", _SPEC)]) == []


def test_armed_only_once_every_part_is_confirmed_and_reported_once() -> None:
    k = SwitchKeeper(Venue.BINANCE, 30.0, 10.0)
    k.round([("BTCUSDT", _SPEC), ("ETHUSDT", _SPEC)])
    assert k.confirmed("BTCUSDT", 1_000, "ok") == [] and not k.armed
    (msg,) = k.confirmed("ETHUSDT", 1_001, "ok")
    assert isinstance(msg, DeadMansSwitch) and msg.state is SwitchState.ARMED and msg.ts == 1_001_000_000
    assert k.confirmed("ETHUSDT", 1_002, "ok") == []  # a refresh of an armed switch says nothing
    assert k.refreshed_ms == 1_002


def test_a_transient_failure_is_failing_until_confirmed_again_and_a_refusal_is_final() -> None:
    k = SwitchKeeper(Venue.OKX, 30.0, 10.0)
    k.round([("timer", _SPEC)])
    k.confirmed("timer", 1, "ok")
    assert _states(k.failed("timer", VenueUnavailable("okx", "500", "down"), 2)) == [SwitchState.FAILING]
    assert not k.armed
    assert _states(k.confirmed("timer", 3, "ok")) == [SwitchState.ARMED]
    assert _states(k.failed("timer", InvalidParameter("okx", "51000", "Parameter timeOut error"), 4)) == [
        SwitchState.REFUSED]
    assert "51000" in k.detail
    assert k.confirmed("timer", 5, "ok") == [] and k.state is SwitchState.REFUSED  # final for this session
    assert k.round([("timer", _SPEC)]) == [Fetch(key=SWITCH + "timer", spec=_SPEC, urgent=True)]  # no more timer


def test_refusal_is_a_definite_answer_only() -> None:
    assert is_refusal(AuthError("bybit", "10003", "invalid key"))
    assert is_refusal(InvalidParameter("okx", "51000", "bad"))
    for transient in (RateLimited("okx", "50011", "slow down"), TimestampError("binance", "-1021", "clock"),
                      VenueUnavailable("deribit", "503", "maintenance"), ValueError("not a venue answer")):
        assert not is_refusal(transient)


_EVENTS = st.lists(st.tuples(st.sampled_from(["ok", "lost", "transient", "refused"]), st.sampled_from("abc")),
                   max_size=40)


@given(_EVENTS)
def test_armed_exactly_when_every_part_holds_and_nothing_was_refused(events: list[tuple[str, str]]) -> None:
    """Whatever happens in whatever order: ARMED iff all parts are confirmed and none was refused; each
    reported state differs from the one before (no repeated report)."""
    k = SwitchKeeper(Venue.BINANCE, 30.0, 10.0)
    k.require("abc")
    holding: set[str] = set()
    refused = False
    reported: list[SwitchState] = [SwitchState.ARMING]
    for n, (what, part) in enumerate(events):
        if what == "ok":
            outs = k.confirmed(part, n, "ok")
            holding.add(part)
        elif what == "lost":
            outs = k.lost(part, "gone", n)
            holding.discard(part)
        elif what == "transient":
            outs = k.failed(part, VenueUnavailable("binance", "503", "x"), n)
            holding.discard(part)
        else:
            outs = k.failed(part, InvalidParameter("binance", "-1102", "x"), n)
            holding.discard(part)
            refused = True
        for s in _states(outs):
            assert s is not reported[-1]
            reported.append(s)
        assert k.armed == (not refused and holding == set("abc") and reported[-1] is SwitchState.ARMED)
        if refused:
            assert k.state is SwitchState.REFUSED
