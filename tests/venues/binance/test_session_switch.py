"""BinanceSession's dead-man's switch, sans-IO: countdownCancelAll per traded symbol, refreshed every third of
the window, confirmed only by the venue's exact echo."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from messages import DeadMansSwitch, InstrumentId, SwitchState, Venue
from venues import Credentials
from venues.binance import BinanceCodec, rest
from venues.binance.session import BinanceSession, SessionOptions
from venues.errors import AuthError, ConfigError, DecodeError, VenueUnavailable
from venues.http import Method, Response
from venues.session import Fetch, SetTimer
from venues.symbols import InstrumentRegistry

CREDS = Credentials("key-abcdef", "secret-123")
WS = {"public": "wss://h/public", "market": "wss://h/market", "private": "wss://h/private"}
BTC = InstrumentId("BTC-USDT-PERP")
SUSHI = InstrumentId("SUSHI-USDT-PERP")
ADA = InstrumentId("ADA-USDT-PERP")
NOW = 1_700_000_000_000


def session(registry: InstrumentRegistry, creds: Credentials | None = CREDS, window_s: float = 6.0,
            instruments: tuple[InstrumentId, ...] = (BTC, SUSHI)) -> BinanceSession:
    s = BinanceSession(BinanceCodec(registry), registry, SessionOptions(WS, dead_mans_switch_s=window_s), creds)
    s.subscribe(list(instruments), NOW)  # the actor subscribes its instruments before it starts the session
    return s


def answer(symbol: str, countdown: str | int) -> Response:
    """The venue's answer (it documents ``countdownTime`` as a string)."""
    return Response(status=200, headers={}, body=json.dumps({"symbol": symbol, "countdownTime": countdown}).encode())


def countdowns(outs: list[Any]) -> dict[str, Fetch]:
    """The countdownCancelAll fetches of a list of effects, by the symbol in their signed body."""
    found = {}
    for o in outs:
        if isinstance(o, Fetch) and o.spec.path == "/fapi/v1/countdownCancelAll":
            found[dict(parse_qsl(o.spec.body.decode()))["symbol"]] = o
    return found


def arm(s: BinanceSession, now: int = NOW) -> list[Any]:
    """Start the session and confirm every countdown with the venue's exact echo; the outputs of the last."""
    outs: list[Any] = []
    for symbol, fetch in countdowns(s.start(now)).items():
        outs = s.response(fetch.key, answer(symbol, "6000"), now + 3)
    return outs


def test_start_sends_one_signed_countdown_per_traded_symbol_and_the_refresh_timer(
    registry: InstrumentRegistry,
) -> None:
    s = session(registry)
    assert s.switch is not None and s.switch.state is SwitchState.ARMING
    outs = s.start(NOW)
    found = countdowns(outs)
    assert sorted(found) == ["BTCUSDT", "SUSHIUSDT"]
    for symbol, fetch in found.items():
        spec = fetch.spec
        assert fetch.urgent and fetch.key == f"switch:{symbol}"
        assert (spec.method, spec.weight, spec.endpoint, spec.idempotent) == (Method.POST, 10, "countdownCancelAll", True)
        body = spec.body.decode()
        payload, _, signature = body.rpartition("&signature=")
        assert payload == f"symbol={symbol}&countdownTime=6000&recvWindow=5000&timestamp={NOW}"
        assert signature == hmac.new(b"secret-123", payload.encode(), hashlib.sha256).hexdigest()
        assert spec.headers["X-MBX-APIKEY"] == "key-abcdef" and spec.query == ""
    assert SetTimer(key="switch:refresh", after_s=2.0) in outs  # a third of the window
    assert any(isinstance(o, Fetch) and o.spec.path == "/fapi/v1/positionSide/dual" for o in outs)


def test_the_switch_arms_only_when_every_symbols_countdown_is_confirmed(registry: InstrumentRegistry) -> None:
    s = session(registry)
    found = countdowns(s.start(NOW))
    assert s.response(found["BTCUSDT"].key, answer("BTCUSDT", "6000"), NOW + 1) == []
    assert s.switch is not None and not s.switch.armed
    assert s.switch_covers("BTCUSDT") and not s.switch_covers("SUSHIUSDT")
    (armed,) = s.response(found["SUSHIUSDT"].key, answer("SUSHIUSDT", "6000"), NOW + 2)
    assert isinstance(armed, DeadMansSwitch)
    assert (armed.venue, armed.state, armed.window_s, armed.ts) == (Venue.BINANCE, SwitchState.ARMED, 6.0,
                                                                    (NOW + 2) * 1_000_000)
    assert "6000 ms on BTCUSDT, SUSHIUSDT" in armed.detail and s.switch.state is SwitchState.ARMED
    assert not s.switch_covers("ADAUSDT")  # never subscribed: no countdown, no orders


def test_the_refresh_timer_sends_every_countdown_again_and_re_arms_itself(registry: InstrumentRegistry) -> None:
    s = session(registry)
    arm(s)
    outs = s.timer("switch:refresh", NOW + 2000)
    found = countdowns(outs)
    assert sorted(found) == ["BTCUSDT", "SUSHIUSDT"] and outs[-1] == SetTimer(key="switch:refresh", after_s=2.0)
    assert all(f"timestamp={NOW + 2000}" in f.spec.body.decode() for f in found.values())
    assert s.response(found["BTCUSDT"].key, answer("BTCUSDT", "6000"), NOW + 2003) == []  # still armed: no news


def test_a_symbol_subscribed_later_gets_its_countdown_at_once_in_a_full_round(registry: InstrumentRegistry) -> None:
    s = session(registry)
    arm(s)
    outs = s.subscribe([ADA], NOW + 500)
    assert sorted(countdowns(outs)) == ["ADAUSDT", "BTCUSDT", "SUSHIUSDT"]
    assert outs[-1] == SetTimer(key="switch:refresh", after_s=2.0)
    assert not s.switch_covers("ADAUSDT")
    s.response("switch:ADAUSDT", answer("ADAUSDT", "6000"), NOW + 501)
    assert s.switch_covers("ADAUSDT")
    assert countdowns(s.subscribe([ADA], NOW + 600)) == {}  # nothing new


def test_an_echo_of_another_symbol_or_window_refuses_the_switch_and_nothing_more_is_sent(
    registry: InstrumentRegistry,
) -> None:
    for symbol, countdown, said in (("SUSHIUSDT", "6000", "countdownTime=6000 for 'SUSHIUSDT'"),
                                    ("BTCUSDT", "5000", "countdownTime=5000 for 'BTCUSDT'")):
        s = session(registry)
        found = countdowns(s.start(NOW))
        (refused,) = s.response(found["BTCUSDT"].key, answer(symbol, countdown), NOW + 1)
        assert isinstance(refused, DeadMansSwitch) and refused.state is SwitchState.REFUSED
        assert refused.detail.startswith("BTCUSDT: countdownCancelAll asked countdownTime=6000 for BTCUSDT")
        assert said in refused.detail
        assert s.response(found["SUSHIUSDT"].key, answer("SUSHIUSDT", "6000"), NOW + 2) == []  # final
        assert s.timer("switch:refresh", NOW + 2000) == []
        assert countdowns(s.subscribe([ADA], NOW + 2001)) == {}


def test_a_venue_reject_refuses_the_switch_with_the_venues_code(registry: InstrumentRegistry) -> None:
    s = session(registry)
    found = countdowns(s.start(NOW))
    error = AuthError("binance", -2015, "Invalid API-key, IP, or permissions for action.", 401)
    (refused,) = s.failed(found["BTCUSDT"].key, error, NOW + 1)
    assert isinstance(refused, DeadMansSwitch) and refused.state is SwitchState.REFUSED
    assert "BTCUSDT" in refused.detail and "-2015" in refused.detail


def test_a_transient_failure_fails_the_switch_until_the_next_round_confirms_it(registry: InstrumentRegistry) -> None:
    s = session(registry)
    arm(s)
    (failing,) = s.failed("switch:SUSHIUSDT", VenueUnavailable("binance", -1000, "unknown error", 500), NOW + 2001)
    assert isinstance(failing, DeadMansSwitch) and failing.state is SwitchState.FAILING
    assert s.switch is not None and not s.switch.armed and not s.switch_covers("SUSHIUSDT")
    (back,) = s.response("switch:SUSHIUSDT", answer("SUSHIUSDT", "6000"), NOW + 4001)
    assert isinstance(back, DeadMansSwitch) and back.state is SwitchState.ARMED


def test_an_unreadable_answer_is_an_error_the_caller_hands_back_as_a_failure(registry: InstrumentRegistry) -> None:
    s = session(registry)
    found = countdowns(s.start(NOW))
    with pytest.raises(DecodeError, match="countdownCancelAll"):
        s.response(found["BTCUSDT"].key, Response(status=200, headers={}, body=b'{"symbol":"BTCUSDT"}'), NOW + 1)


def test_the_countdown_is_read_as_a_string_or_a_number(registry: InstrumentRegistry) -> None:
    assert rest.parse_countdown(answer("BTCUSDT", "100000")) == ("BTCUSDT", 100000)
    assert rest.parse_countdown(answer("BTCUSDT", 100000)) == ("BTCUSDT", 100000)
    with pytest.raises(ConfigError, match="0 ms or more"):
        rest.countdown_cancel_all("BTCUSDT", -1, CREDS, NOW)


def test_no_switch_without_a_window_or_without_credentials(registry: InstrumentRegistry) -> None:
    off = session(registry, window_s=0.0)
    assert off.switch is None and countdowns(off.start(NOW)) == {} and off.switch_covers("ADAUSDT")
    public = session(registry, creds=None)
    assert public.switch is None and public.start(NOW) == []
