"""BybitSession's account side driven by hand: failed subscribes and logins sent again after a backoff, and
the position modes read at start (page by page, both settle coins), per symbol, after a refusal, after a
reconnect, and pushed, each change published as an AccountConfig."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from messages import AccountConfig, InstrumentId, PositionMode, Venue
from tests.venues.bybit.sample_registry import build_registry
from venues import Credentials
from venues.bybit import BybitCodec
from venues.bybit.modes import PositionIdxSeen, PositionModes
from venues.bybit.session import PRIVATE_SILENCE, RELOGIN, BybitSession, KnownOrders, SessionOptions
from venues.errors import VenueUnavailable
from venues.events import LoggedIn, LoginFailed, Subscribed, SubscribeFailed
from venues.http import Response
from venues.session import Fetch, Out, Send, SetTimer

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")
BTC_USDC = InstrumentId("BTC-USDC-PERP")
WS = {"public": "wss://example.test/v5/public/linear", "private": "wss://example.test/v5/private"}
T0 = 1_700_000_000_000
NS = 1_000_000
CREDS = Credentials("key-1", "secret-1")


def make(*, creds: Credentials | None = CREDS, **options: Any) -> BybitSession:
    registry = build_registry()
    return BybitSession(BybitCodec(registry), registry, SessionOptions(dict(WS), **options), creds, KnownOrders(),
                        PositionModes())


def frames_of(outs: list[Out], stream: str | None = None) -> list[Any]:
    return [json.loads(o.frame) for o in outs if isinstance(o, Send) and (stream is None or o.stream == stream)]


def fetches(outs: list[Out]) -> list[Fetch]:
    return [o for o in outs if isinstance(o, Fetch)]


def params(f: Fetch) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(f.spec.query).items()}


def configs(outs: list[Out]) -> list[AccountConfig]:
    return [o for o in outs if isinstance(o, AccountConfig)]


def positions(*rows: tuple[str, int], cursor: str = "") -> Response:
    """A /v5/position/list answer with one row per (symbol, positionIdx)."""
    items = [{"symbol": sym, "side": "", "size": "0", "avgPrice": "", "leverage": "10", "unrealisedPnl": "0",
              "liqPrice": "", "updatedTime": str(T0), "positionIdx": idx} for sym, idx in rows]
    body = {"retCode": 0, "retMsg": "OK", "time": T0,
            "result": {"list": items, "nextPageCursor": cursor, "category": "linear"}}
    return Response(status=200, headers={}, body=json.dumps(body).encode())


# -- failed subscribes and logins --------------------------------------------------------------------------
def test_a_failed_public_subscribe_is_sent_again_after_a_doubling_capped_backoff_until_it_succeeds() -> None:
    s = make(trades=False, retry_base_s=1.0, retry_cap_s=3.0)
    s.subscribe([BTC], T0)
    (frame,) = frames_of(s.connected("public", T0))
    req = frame["req_id"]
    key = f"resubscribe public {req}"
    for after in (1.0, 2.0, 3.0, 3.0):  # 1, 2, 4 -> capped at 3
        assert s.on_event(SubscribeFailed(code="", text="busy", request_id=req), "public", T0) == [
            SetTimer(key=key, after_s=after)]
    again = s.timer(key, T0 + 5_000)
    assert again == [Send(stream="public", frame=json.dumps(frame, separators=(",", ":")).encode(),
                          key=f"resubscribe {req}")]  # the same frame, the same req_id
    assert s.on_event(Subscribed(channels=(), request_id=req), "public", T0) == []
    assert s.timer(key, T0 + 9_000) == []  # answered: a late timer sends nothing
    assert s.on_event(SubscribeFailed(code="", text="x", request_id=req), "public", T0) == []  # no longer pending


def test_a_retry_is_not_sent_on_a_later_connection() -> None:
    s = make(trades=False)
    s.subscribe([BTC], T0)
    (frame,) = frames_of(s.connected("public", T0))
    s.on_event(SubscribeFailed(code="", text="busy", request_id=frame["req_id"]), "public", T0)
    s.disconnected("public", T0 + 1)
    fresh = frames_of(s.connected("public", T0 + 2))  # the reconnect subscribes afresh, with a new req_id
    assert fresh[0]["req_id"] != frame["req_id"]
    assert s.timer(f"resubscribe public {frame['req_id']}", T0 + 3) == []


def test_a_private_reply_without_req_id_answers_the_oldest_request_on_that_stream() -> None:
    s = make()
    outs = s.connected("private", T0)
    sub = frames_of(outs)[1]
    s.on_event(LoggedIn(), "private", T0)
    # Bybit's private acks echo no req_id: {"success":false,"ret_msg":"...","op":"subscribe","conn_id":"..."}
    assert s.on_event(SubscribeFailed(code="", text="busy"), "private", T0) == [
        SetTimer(key=f"resubscribe private {sub['req_id']}", after_s=1.0)]
    assert s.on_event(Subscribed(channels=()), "private", T0) == []
    assert s.timer(f"resubscribe private {sub['req_id']}", T0 + 1_000) == []


def test_a_failed_login_drops_the_subscribe_behind_it_and_logs_in_again_after_a_backoff() -> None:
    s = make(retry_base_s=2.0)
    first = frames_of(s.connected("private", T0))
    assert s.on_event(LoginFailed(code="", text="Params Error"), "private", T0) == [SetTimer(key=RELOGIN, after_s=2.0)]
    assert not s.logged_in
    # The venue refuses the subscribe sent behind the failed auth too: nothing to retry, the relogin resends it.
    assert s.on_event(SubscribeFailed(code="", text="Request not authorized"), "private", T0) == []
    outs = s.timer(RELOGIN, T0 + 2_000)
    auth, sub = frames_of(outs, "private")
    assert auth["op"] == "auth" and auth["args"][1] == T0 + 2_000 + 10_000  # a fresh expiry
    assert sub["args"] == first[1]["args"] and sub["req_id"] != first[1]["req_id"]
    # An error reply to the auth that names no op (it names our req_id) is a failed login too: 4 s next.
    assert s.on_event(SubscribeFailed(code="", text="request: denied", request_id=auth["req_id"]), "private",
                      T0) == [SetTimer(key=RELOGIN, after_s=4.0)]
    s.timer(RELOGIN, T0 + 6_000)
    s.on_event(LoggedIn(), "private", T0)
    assert s.logged_in and s.timer(RELOGIN, T0 + 7_000) == []  # logged in: a stale timer does nothing
    s.disconnected("private", T0 + 8_000)
    assert s.timer(RELOGIN, T0 + 9_000) == []  # nor while private is down


def test_a_failed_login_counts_afresh_on_a_new_connection() -> None:
    s = make(retry_base_s=1.0)
    s.connected("private", T0)
    s.on_event(LoginFailed(code="", text="x"), "private", T0)
    s.on_event(LoginFailed(code="", text="x"), "private", T0)
    s.disconnected("private", T0)
    s.connected("private", T0)
    assert s.on_event(LoginFailed(code="", text="x"), "private", T0) == [SetTimer(key=RELOGIN, after_s=1.0)]


# -- position modes ----------------------------------------------------------------------------------------
def test_start_reads_each_settle_coins_positions_following_the_cursor_and_publishes_the_modes() -> None:
    s = make()
    outs = s.start(T0)
    usdt, usdc = fetches(outs)
    assert (usdt.key, usdc.key) == ("modes USDT", "modes USDC") and len(outs) == 2
    assert params(usdt) == {"category": "linear", "settleCoin": "USDT", "limit": "200"}
    assert params(usdc) == {"category": "linear", "settleCoin": "USDC", "limit": "200"}
    assert usdt.spec.path == "/v5/position/list" and usdt.spec.signed
    # Page 1 of USDT: BTCUSDT hedged (its two rows), and a cursor: page 2 is asked, nothing published yet.
    more = s.response("modes USDT", positions(("BTCUSDT", 1), ("BTCUSDT", 2), cursor="page%3D2"), T0 + 1)
    (page2,) = fetches(more)
    assert page2.key == "modes USDT page%3D2" and params(page2)["cursor"] == "page%3D2"
    assert configs(more) == []
    assert configs(s.response("modes USDC", positions(("BTCPERP", 0)), T0 + 2)) == []  # page 2 still out
    assert s.response(page2.key, positions(("ETHUSDT", 0)), T0 + 3) == []
    # The actor subscribes its instruments right after the start: the first AccountConfig names their modes.
    done = s.subscribe([], T0 + 4)
    assert done == [AccountConfig(venue=Venue.BYBIT, position_mode=PositionMode.HEDGE, ts=(T0 + 4) * NS,
                                  detail="one_way: BTCPERP, ETHUSDT; hedge: BTCUSDT")]
    assert s.position_mode is PositionMode.HEDGE
    assert s.modes.get("BTCUSDT") is PositionMode.HEDGE and s.modes.get("ETHUSDT") is PositionMode.ONE_WAY


def test_without_credentials_nothing_is_read_or_published() -> None:
    s = make(creds=None)
    assert s.start(T0) == [] and s.subscribe([BTC], T0) == []
    assert s.on_event(PositionIdxSeen(symbol="BTCUSDT", position_idx=1), "private", T0) == []
    assert s.position_mode is PositionMode.ONE_WAY


def test_subscribed_symbols_of_unknown_mode_are_read_one_by_one_and_usdc_ones_are_one_way() -> None:
    s = make(settle_coins=("USDT",))
    assert s.response("modes USDT", positions(), T0) == []  # no open position: nothing known
    outs = s.subscribe([BTC, ETH, BTC_USDC], T0 + 1)
    btc, eth = fetches(outs)
    assert (btc.key, params(btc)) == ("mode BTCUSDT", {"category": "linear", "symbol": "BTCUSDT"})
    assert eth.key == "mode ETHUSDT" and configs(outs) == []  # USDC perpetuals have no hedge mode: not read
    assert configs(s.response("mode BTCUSDT", positions(("BTCUSDT", 1), ("BTCUSDT", 2)), T0 + 2)) == []
    (cfg,) = configs(s.response("mode ETHUSDT", positions(("ETHUSDT", 0)), T0 + 3))
    assert (cfg.position_mode, cfg.detail) == (PositionMode.HEDGE, "one_way: BTCPERP, ETHUSDT; hedge: BTCUSDT")
    assert fetches(s.subscribe([ETH], T0 + 4)) == []  # known: not read again


def test_a_failed_read_is_asked_again() -> None:
    s = make()
    s.start(T0)
    (again,) = s.failed("modes USDC", VenueUnavailable("bybit", 503, "busy"), T0 + 1)
    assert isinstance(again, Fetch) and again.key == "modes USDC" and params(again)["settleCoin"] == "USDC"


def test_a_pushed_position_row_changes_the_mode_and_publishes_it_at_once() -> None:
    s = make(settle_coins=("USDT",))
    s.response("modes USDT", positions(("BTCUSDT", 0)), T0)
    s.subscribe([], T0)
    seen = PositionIdxSeen(symbol="BTCUSDT", position_idx=2)
    (cfg,) = s.on_event(seen, "private", T0 + 5)
    assert cfg == AccountConfig(venue=Venue.BYBIT, position_mode=PositionMode.HEDGE, ts=(T0 + 5) * NS,
                                detail="hedge: BTCUSDT")
    assert s.on_event(seen, "private", T0 + 6) == []  # no change, nothing new
    assert s.on_event(PositionIdxSeen(symbol="BTCUSDT", position_idx=1), "private", T0 + 7) == []
    (back,) = s.on_event(PositionIdxSeen(symbol="BTCUSDT", position_idx=0), "private", T0 + 8)
    assert isinstance(back, AccountConfig) and back.position_mode is PositionMode.ONE_WAY


def test_a_refused_position_idx_makes_the_next_silence_check_read_the_modes_again() -> None:
    s = make(settle_coins=("USDT",))
    s.subscribe([BTC], T0)
    s.response("modes USDT", positions(), T0)
    s.response("mode BTCUSDT", positions(("BTCUSDT", 0)), T0)
    s.connected("private", T0)
    assert fetches(s.timer(PRIVATE_SILENCE, T0 + 5_000)) == []
    s.modes.recheck = True  # the adapter saw "position idx not match position mode"
    outs = s.timer(PRIVATE_SILENCE, T0 + 10_000)
    assert [f.key for f in fetches(outs)] == ["modes USDT", "mode BTCUSDT"] and not s.modes.recheck
    s.response("modes USDT", positions(), T0 + 11_000)
    (cfg,) = configs(s.response("mode BTCUSDT", positions(("BTCUSDT", 1), ("BTCUSDT", 2)), T0 + 11_000))
    assert cfg.position_mode is PositionMode.HEDGE and s.position_mode is PositionMode.HEDGE


def test_a_mode_a_rest_answer_showed_is_published_at_the_next_silence_check() -> None:
    s = make(settle_coins=("USDT",))
    s.response("modes USDT", positions(("BTCUSDT", 0)), T0)
    s.subscribe([], T0)
    s.connected("private", T0)
    s.modes.set("BTCUSDT", PositionMode.HEDGE)  # the adapter parsed a GetPositions answer
    (cfg,) = configs(s.timer(PRIVATE_SILENCE, T0 + 5_000))
    assert cfg.position_mode is PositionMode.HEDGE


def test_every_private_reconnect_reads_the_modes_again() -> None:
    s = make(settle_coins=("USDT",))
    s.subscribe([BTC], T0)
    assert fetches(s.connected("private", T0)) == []  # the first connect follows the start's reads
    s.disconnected("private", T0 + 1)
    assert [f.key for f in fetches(s.connected("private", T0 + 2))] == ["modes USDT", "mode BTCUSDT"]
