"""DeribitSession driven by hand: events in (connect, frames through the codec, timers), effects out. No I/O.

Answers to our requests are fed through ``session.feed`` (the codec reads them) and the codec's events handed
to ``session.on_event``, as the actor does; so these tests also hold the session to what the codec emits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import (
    AccountConfig,
    BookState,
    ContractType,
    DeadMansSwitch,
    Instrument,
    InstrumentId,
    InstrumentKind,
    OrderStatus,
    OrderUpdate,
    PositionMode,
    SwitchState,
    Venue,
)
from messages.base import ClientOrderId, OrderType, Side, VenueOrderId
from messages.control import BookIntegrity
from venues import Credentials
from venues.deribit.codec import DeribitCodec
from venues.deribit.frames import Interval
from venues.deribit.session import (
    COD_PART,
    HEARTBEAT_PART,
    MAIN,
    REFRESH_AUTH,
    SUBSCRIBE_RETRY,
    SWITCH_RETRY,
    DeribitSession,
    Login,
    OrderIds,
    SessionOptions,
)
from venues.errors import SwitchNotArmed
from venues.events import (
    CodecEvent,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import Response
from venues.session import Out, Reconnect, Send, SetTimer, VenueSession
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USD-PERP")
ETH = InstrumentId("ETH-USD-PERP")
BTC_USDC = InstrumentId("BTC-USDC-PERP")
NOW = 1_700_000_000_000
URL = "wss://example.test/ws/api/v2"
USER = ["user.orders.any.any.raw", "user.trades.any.any.raw"]
ANY_DETAIL = "deribit has no hedge mode: one net position per instrument"
AUTH_RESULT = {"access_token": "tok-1", "refresh_token": "ref-1", "expires_in": 900, "scope": "connection",
               "token_type": "bearer"}


def _registry() -> InstrumentRegistry:
    reg = InstrumentRegistry()
    for iid, symbol, settle, quote, ctype in (
        (BTC, "BTC-PERPETUAL", "BTC", "USD", ContractType.INVERSE),
        (ETH, "ETH-PERPETUAL", "ETH", "USD", ContractType.INVERSE),
        (BTC_USDC, "BTC_USDC-PERPETUAL", "USDC", "USDC", ContractType.LINEAR),
    ):
        reg.add(Instrument(id=iid, venue=Venue.DERIBIT, venue_symbol=symbol, kind=InstrumentKind.PERPETUAL,
                           base=iid.split("-")[0], quote=quote, settle=settle, contract_type=ctype,
                           tick_size=Decimal("0.5"), lot_size=Decimal("10")))
    return reg


class _Nonces:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"nonce{self.n}"


def _session(*, credentials: bool = True, **options: Any) -> DeribitSession:
    creds = Credentials("key", "secret") if credentials else None
    return DeribitSession(DeribitCodec(_registry()), _registry(), SessionOptions(URL, **options), creds, _Nonces())


def _sent(outs: Sequence[Out]) -> list[dict[str, Any]]:
    """The frames among ``outs`` (all on ``main``), decoded; nothing else may be in the list."""
    frames = []
    for o in outs:
        assert isinstance(o, Send) and o.stream == MAIN, o
        frames.append(json.loads(o.frame))
    return frames


def _calls(outs: Sequence[Out]) -> list[tuple[str, Any]]:
    """(method, channels or params) per frame: what a reader of the wire would see."""
    out = []
    for f in _sent(outs):
        params = f["params"]
        out.append((f["method"], params.get("channels", params)))
    return out


def _answer(session: DeribitSession, request: dict[str, Any], result: Any = None,
            error: dict[str, Any] | None = None) -> list[Out]:
    """Feed the venue's answer to ``request`` and hand each codec event to the session."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
    body.update({"error": error} if error is not None else {"result": result})
    return _deliver(session, msgspec.json.encode(body))


def _deliver(session: DeribitSession, frame: bytes | str) -> list[Out]:
    out: list[Out] = []
    for item in session.feed(MAIN, frame, NOW * 1_000_000):
        out.append(item)
        if isinstance(item, CodecEvent):
            out += session.on_event(item, MAIN, NOW)
    return out


def _effects(outs: list[Out]) -> list[Out]:
    """The effects only (not the codec events or messages the feed also returned)."""
    return [o for o in outs if isinstance(o, Send | SetTimer | Reconnect)]


def _connect_and_login(session: DeribitSession) -> tuple[list[Out], list[Out]]:
    """(what ``connected`` returned, what the auth answer returned)."""
    first = session.connected(MAIN, NOW)
    auth = _sent(first)[0]
    assert auth["method"] == "public/auth"
    return first, _effects(_answer(session, auth, AUTH_RESULT))


def _book_frame(kind: str, change_id: int, prev: int | None = None, channel: str = "book.BTC-PERPETUAL.100ms") -> bytes:
    data: dict[str, Any] = {"type": kind, "timestamp": NOW, "instrument_name": "BTC-PERPETUAL", "change_id": change_id,
                            "bids": [["new", 100.0, 10.0]], "asks": [["new", 100.5, 20.0]]}
    if prev is not None:
        data["prev_change_id"] = prev
    return msgspec.json.encode({"jsonrpc": "2.0", "method": "subscription",
                                "params": {"channel": channel, "data": data}})


# -- the session is a VenueSession -------------------------------------------------------------------------
def test_deribit_session_is_a_venue_session_with_one_main_stream_private_only_with_credentials() -> None:
    session: VenueSession = _session(stale_after_s=2.5, control_rate_per_s=3.0)
    (spec,) = session.streams()
    assert (spec.name, spec.private, spec.stale_after_s, spec.control_rate_per_s) == (MAIN, True, 2.5, 3.0)
    assert [s.private for s in _session(credentials=False).streams()] == [False]
    assert session.url(MAIN, NOW) == URL
    assert session.ping_frame(MAIN, 0) is None  # the venue's heartbeat keeps the socket alive
    assert session.response("anything", Response(status=200, headers={}, body=b"{}"), NOW) == []
    assert session.failed("anything", ValueError("x"), NOW) == []


# -- start: Deribit has no hedge mode -----------------------------------------------------------------------
def test_start_publishes_the_one_way_mode_once_with_credentials_and_fetches_nothing() -> None:
    session = _session()
    assert session.start(NOW) == [AccountConfig(venue=Venue.DERIBIT, position_mode=PositionMode.ONE_WAY,
                                                ts=NOW * 1_000_000, detail=ANY_DETAIL)]
    assert session.position_mode is PositionMode.ONE_WAY
    assert _session(credentials=False).start(NOW) == []  # market data only: no account to describe


# -- connect: auth first, nothing that needs the login before its answer ------------------------------------
def test_connect_sends_auth_then_heartbeat_then_public_channels_and_nothing_private() -> None:
    session = _session(heartbeat_s=15, resolutions=("1",))
    session.subscribe([BTC], NOW)
    outs = session.connected(MAIN, NOW)
    frames = _sent(outs)
    assert [f["method"] for f in frames] == ["public/auth", "public/set_heartbeat", "public/subscribe"]
    auth = frames[0]["params"]
    assert (auth["grant_type"], auth["client_id"], auth["timestamp"], auth["nonce"]) == (
        "client_signature", "key", NOW, "nonce1")
    assert frames[1]["params"] == {"interval": 15}
    assert frames[2]["params"]["channels"] == ["book.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.100ms",
                                               "chart.trades.BTC-PERPETUAL.1", "instrument.state.future.BTC"]
    assert session.login is Login.PENDING and session.up


def test_private_subscribe_and_cancel_on_disconnect_go_only_after_logged_in() -> None:
    session = _session(cancel_on_disconnect=True)
    session.subscribe([BTC, ETH], NOW)
    first, after_login = _connect_and_login(session)
    assert not any(m.startswith("private/") for m, _ in _calls(first))
    assert _calls(after_login[:-1]) == [
        ("private/enable_cancel_on_disconnect", {"scope": "connection"}),
        ("private/subscribe", [*USER, "user.portfolio.btc", "user.portfolio.eth"]),
    ]
    assert after_login[-1] == SetTimer(key=REFRESH_AUTH, after_s=300.0)
    assert session.login is Login.LOGGED_IN


def test_positions_stream_subscribes_user_changes_instead_of_orders_and_trades() -> None:
    session = _session(positions_stream=True)
    session.subscribe([BTC], NOW)
    _, after_login = _connect_and_login(session)
    assert _calls(after_login[:-1]) == [("private/subscribe", ["user.changes.any.any.raw", "user.portfolio.btc"])]


def test_raw_books_wait_for_the_login_and_trades_do_not() -> None:
    session = _session(book_interval=Interval.RAW)
    session.subscribe([BTC], NOW)
    first, after_login = _connect_and_login(session)
    assert _calls(first)[1:] == [("public/set_heartbeat", {"interval": 10}),
                                 ("public/subscribe", ["trades.BTC-PERPETUAL.100ms", "instrument.state.future.BTC"])]
    assert _calls(after_login[:-1]) == [("private/subscribe", [*USER, "user.portfolio.btc"]),
                                        ("public/subscribe", ["book.BTC-PERPETUAL.raw"])]


def test_a_failed_login_subscribes_no_private_channel_and_raw_books_fall_back_to_100ms() -> None:
    session = _session(book_interval=Interval.RAW, cancel_on_disconnect=True)
    session.subscribe([BTC], NOW)
    auth = _sent(session.connected(MAIN, NOW))[0]
    outs = _answer(session, auth, error={"code": 13004, "message": "invalid_credentials"})
    assert [o for o in outs if isinstance(o, CodecEvent)] == [LoginFailed(code="13004", text="invalid_credentials")]
    assert _calls(_effects(outs)) == [("public/subscribe", ["book.BTC-PERPETUAL.100ms"])]
    assert session.login is Login.FAILED
    assert _calls(session.subscribe([ETH], NOW)) == [("public/subscribe", ["book.ETH-PERPETUAL.100ms",
                                                                             "trades.ETH-PERPETUAL.100ms",
                                                                             "instrument.state.future.ETH"])]
    assert session.timer(REFRESH_AUTH, NOW) == []
    # With 100ms books nothing was waiting for the login.
    plain = _session()
    auth = _sent(plain.connected(MAIN, NOW))[0]
    assert _effects(_answer(plain, auth, error={"code": 13004, "message": "invalid_credentials"})) == []


def test_without_credentials_there_is_no_auth_and_raw_books_are_subscribed_at_100ms() -> None:
    session = _session(credentials=False, book_interval=Interval.RAW, trades=False)
    session.subscribe([BTC], NOW)
    assert _calls(session.connected(MAIN, NOW)) == [("public/set_heartbeat", {"interval": 10}),
                                                    ("public/subscribe", ["book.BTC-PERPETUAL.100ms"])]
    assert session.login is Login.NONE
    assert session.on_event(LoggedIn(), MAIN, NOW) == []  # a stray answer sets nothing up
    assert session.on_event(LoginFailed(code="1", text="x"), MAIN, NOW) == []


def test_no_instruments_means_no_public_subscribe_and_only_the_user_channels() -> None:
    session = _session()
    first, after_login = _connect_and_login(session)
    assert [m for m, _ in _calls(first)] == ["public/auth", "public/set_heartbeat"]
    assert _calls(after_login[:-1]) == [("private/subscribe", USER)]


# -- codec events --------------------------------------------------------------------------------------------
def test_a_heartbeat_test_request_is_answered_with_public_test_on_main() -> None:
    session = _session(credentials=False)
    session.connected(MAIN, NOW)
    outs = _deliver(session, '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')
    assert [m for m, _ in _calls(_effects(outs))] == ["public/test"]


def test_a_book_gap_is_answered_by_unsubscribing_and_subscribing_that_book() -> None:
    session = _session(credentials=False)
    session.subscribe([BTC], NOW)
    session.connected(MAIN, NOW)
    _deliver(session, _book_frame("snapshot", 10))
    assert session.book_live(BTC)
    outs = _deliver(session, _book_frame("change", 12, prev=11))
    assert NeedResubscribe in {type(o) for o in outs}
    assert _calls(_effects(outs)) == [("public/unsubscribe", ["book.BTC-PERPETUAL.100ms"]),
                                      ("public/subscribe", ["book.BTC-PERPETUAL.100ms"])]
    assert [(o.key, o.resync) for o in _effects(outs) if isinstance(o, Send)] == [
        ("unsubscribe BTC-USD-PERP", True), ("subscribe BTC-USD-PERP", False)]  # keyed per book, counted once
    assert not session.book_live(BTC)
    session.disconnected(MAIN, NOW)
    assert session.on_event(NeedResubscribe(instrument=BTC, reason="late"), MAIN, NOW) == []  # reconnect does it


def test_a_stream_expiry_replaces_the_connection() -> None:
    session = _session()
    session.connected(MAIN, NOW)
    assert session.on_event(StreamExpired(reason="10028 too_many_requests"), MAIN, NOW) == [
        Reconnect(stream=MAIN, reason="10028 too_many_requests")]


def test_a_refused_subscribe_is_sent_again_with_a_doubling_delay_and_an_accepted_one_resets_it() -> None:
    session = _session(credentials=False)
    session.subscribe([BTC], NOW)
    sub = _sent(session.connected(MAIN, NOW))[1]
    refused = {"code": 10028, "message": "too_many_requests"}
    outs = _answer(session, sub, error=refused)
    assert [o for o in outs if isinstance(o, CodecEvent)] == [
        SubscribeFailed(code="10028", text="too_many_requests", request_id=str(sub["id"]))]
    assert _effects(outs) == [SetTimer(key=SUBSCRIBE_RETRY, after_s=1.0)]
    again = _sent(session.timer(SUBSCRIBE_RETRY, NOW))
    assert [(f["method"], f["params"]["channels"]) for f in again] == [("public/subscribe", sub["params"]["channels"])]
    assert session.timer(SUBSCRIBE_RETRY, NOW) == []  # nothing left to retry
    assert _effects(_answer(session, again[0], error=refused)) == [SetTimer(key=SUBSCRIBE_RETRY, after_s=2.0)]
    third = _sent(session.timer(SUBSCRIBE_RETRY, NOW))[0]
    assert _effects(_answer(session, third, sub["params"]["channels"])) == []
    fourth = _sent(session.subscribe([ETH], NOW))[0]
    assert _effects(_answer(session, fourth, error=refused)) == [SetTimer(key=SUBSCRIBE_RETRY, after_s=1.0)]
    assert session.subscribes_refused == 3
    # Someone else's request id (or an answer after the connection is gone) is not ours to retry.
    assert session.on_event(SubscribeFailed(code="1", text="x", request_id="999999"), MAIN, NOW) == []


def test_refused_private_channels_are_retried_while_logged_in_and_left_to_the_next_login_after_a_drop() -> None:
    session = _session()
    session.subscribe([BTC], NOW)
    _, after_login = _connect_and_login(session)
    private = _sent(after_login[:1])[0]
    unauthorized = {"code": 13009, "message": "unauthorized"}
    assert _effects(_answer(session, private, error=unauthorized)) == [SetTimer(key=SUBSCRIBE_RETRY, after_s=1.0)]
    again = session.timer(SUBSCRIBE_RETRY, NOW)
    assert _calls(again) == [("private/subscribe", [*USER, "user.portfolio.btc"])]
    _answer(session, _sent(again)[0], error=unauthorized)
    session.disconnected(MAIN, NOW)  # the retry timer fires after the drop, then after the reconnect
    assert session.timer(SUBSCRIBE_RETRY, NOW) == []
    auth = _sent(session.connected(MAIN, NOW))[0]
    assert session.timer(SUBSCRIBE_RETRY, NOW) == []
    after_login = _effects(_answer(session, auth, AUTH_RESULT))
    assert _calls(after_login[:-1]) == [("private/subscribe", [*USER, "user.portfolio.btc"])]


def test_subscribed_answers_and_other_events_ask_for_nothing() -> None:
    session = _session()
    session.connected(MAIN, NOW)
    assert session.on_event(Subscribed(channels=("x",), request_id="1"), MAIN, NOW) == []


# -- timers ---------------------------------------------------------------------------------------------------
def test_the_refresh_timer_renews_the_session_and_its_answer_sets_nothing_up_again() -> None:
    session = _session(refresh_s=120.0)
    session.subscribe([BTC], NOW)
    assert session.timer(REFRESH_AUTH, NOW) == []  # not connected
    session.connected(MAIN, NOW)
    assert session.timer(REFRESH_AUTH, NOW) == []  # not logged in yet
    session.disconnected(MAIN, NOW)
    _connect_and_login(session)
    outs = session.timer(REFRESH_AUTH, NOW)
    assert outs[1:] == [SetTimer(key=REFRESH_AUTH, after_s=120.0)]
    (refresh,) = _sent(outs[:1])
    assert (refresh["method"], refresh["params"]) == ("public/auth", {"grant_type": "refresh_token",
                                                                       "refresh_token": "ref-1"})
    renewed = dict(AUTH_RESULT, access_token="tok-2")
    outs = _answer(session, refresh, renewed)
    assert [o for o in outs if isinstance(o, CodecEvent)] == [LoggedIn()]
    assert _effects(outs) == []  # no second private subscribe, no second timer
    assert session.codec.access_token == "tok-2"
    assert session.timer("unknown", NOW) == []


def test_a_refused_refresh_replaces_the_connection() -> None:
    session = _session()
    _connect_and_login(session)
    (refresh,) = _sent(session.timer(REFRESH_AUTH, NOW)[:1])
    outs = _answer(session, refresh, error={"code": 13009, "message": "unauthorized"})
    (reconnect,) = _effects(outs)
    assert isinstance(reconnect, Reconnect) and reconnect.stream == MAIN and "13009" in reconnect.reason


# -- reconnects -------------------------------------------------------------------------------------------------
def test_a_dropped_connection_resets_books_and_login_and_the_next_one_logs_in_afresh() -> None:
    session = _session(book_interval=Interval.RAW)
    session.subscribe([BTC], NOW)
    _connect_and_login(session)
    _deliver(session, _book_frame("snapshot", 10, channel="book.BTC-PERPETUAL.raw"))
    assert session.book_live(BTC) and session.top_of_books(1) == [(BTC, [(100.0, 10.0)], [(100.5, 20.0)])]
    down = session.disconnected(MAIN, NOW)
    assert down == [BookIntegrity(venue=Venue.DERIBIT, instrument=BTC, state=BookState.SYNCING,
                                  reason="disconnected", ts=NOW * 1_000_000)]
    assert (session.up, session.login, session.top_of_books(1)) == (False, Login.NONE, [])
    assert session.timer(REFRESH_AUTH, NOW) == []
    first, after_login = _connect_and_login(session)
    assert _sent(first)[0]["params"]["nonce"] == "nonce2"  # a fresh signature
    assert [m for m, _ in _calls(first)] == ["public/auth", "public/set_heartbeat", "public/subscribe"]
    assert _calls(after_login[:-1]) == [("private/subscribe", [*USER, "user.portfolio.btc"]),
                                        ("public/subscribe", ["book.BTC-PERPETUAL.raw"])]


def test_an_answer_from_before_the_drop_is_not_mistaken_for_this_connections_login() -> None:
    session = _session()
    auth = _sent(session.connected(MAIN, NOW))[0]
    session.disconnected(MAIN, NOW)
    session.connected(MAIN, NOW)
    outs = _answer(session, auth, AUTH_RESULT)  # the codec forgot the old request id
    assert _effects(outs) == [] and session.login is Login.PENDING


# -- subscribe ------------------------------------------------------------------------------------------------
def test_subscribe_while_down_only_remembers_and_the_next_connection_subscribes_everything() -> None:
    session = _session(credentials=False)
    assert session.subscribe([BTC], NOW) == []
    assert session.subscribe([ETH, BTC, ETH], NOW) == []
    assert session.instruments == [BTC, ETH]
    assert _calls(session.connected(MAIN, NOW))[1] == ("public/subscribe", [
        "book.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.100ms",
        "trades.ETH-PERPETUAL.100ms"])


def test_subscribe_while_logged_in_sends_the_books_and_a_new_currencys_portfolio_once() -> None:
    session = _session(book_interval=Interval.RAW, trades=False)
    session.subscribe([BTC], NOW)
    _connect_and_login(session)
    assert _calls(session.subscribe([ETH], NOW)) == [
        ("public/subscribe", ["book.ETH-PERPETUAL.raw", "instrument.state.future.ETH"]),
        ("private/subscribe", ["user.portfolio.eth"])]
    assert _calls(session.subscribe([BTC_USDC], NOW)) == [
        ("public/subscribe", ["book.BTC_USDC-PERPETUAL.raw", "instrument.state.future.USDC"]),
        ("private/subscribe", ["user.portfolio.usdc"])]
    assert session.subscribe([ETH], NOW) == []  # already there


def test_subscribe_while_the_login_is_pending_defers_raw_books_to_the_login() -> None:
    session = _session(book_interval=Interval.RAW)
    session.subscribe([BTC], NOW)
    auth = _sent(session.connected(MAIN, NOW))[0]
    assert _calls(session.subscribe([ETH], NOW)) == [("public/subscribe", ["trades.ETH-PERPETUAL.100ms",
                                                                         "instrument.state.future.ETH"])]
    after_login = _effects(_answer(session, auth, AUTH_RESULT))
    assert _calls(after_login[:-1]) == [
        ("private/subscribe", [*USER, "user.portfolio.btc", "user.portfolio.eth"]),
        ("public/subscribe", ["book.BTC-PERPETUAL.raw", "book.ETH-PERPETUAL.raw"]),
    ]


def test_instrument_state_channels_go_once_per_kind_and_currency_on_each_connection_with_credentials() -> None:
    session = _session(trades=False)
    session.subscribe([BTC, ETH], NOW)
    channels = ["book.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.100ms", "instrument.state.future.BTC",
                "instrument.state.future.ETH"]
    assert _calls(session.connected(MAIN, NOW))[2] == ("public/subscribe", channels)
    assert _calls(session.subscribe([BTC_USDC], NOW))[0] == (
        "public/subscribe", ["book.BTC_USDC-PERPETUAL.100ms", "instrument.state.future.USDC"])
    session.disconnected(MAIN, NOW)
    first, _ = _connect_and_login(session)  # a new connection subscribes every one again
    assert _calls(first)[2] == ("public/subscribe", channels[:2] + ["book.BTC_USDC-PERPETUAL.100ms", *channels[2:],
                                                                    "instrument.state.future.USDC"])
    assert _calls(session.subscribe([BTC_USDC], NOW)) == []  # already there
    plain = _session(credentials=False, trades=False)  # nothing to trade: no book states needed
    plain.subscribe([BTC], NOW)
    assert _calls(plain.connected(MAIN, NOW)) == [("public/set_heartbeat", {"interval": 10}),
                                                  ("public/subscribe", ["book.BTC-PERPETUAL.100ms"])]


# -- the hot path ---------------------------------------------------------------------------------------------
def test_feed_is_the_codecs_output_for_text_and_bytes_alike() -> None:
    a, b = _session(credentials=False), _session(credentials=False)
    for s in (a, b):
        s.subscribe([BTC], NOW)
        s.connected(MAIN, NOW)
    frame = _book_frame("snapshot", 10)
    assert a.feed(MAIN, frame, 5) == b.feed(MAIN, frame.decode(), 5) != []


# -- order ids ------------------------------------------------------------------------------------------------
def _update(cid: str | None, vid: str | None) -> OrderUpdate:
    return OrderUpdate(venue=Venue.DERIBIT, instrument=BTC, client_order_id=ClientOrderId(cid) if cid else None,
                       venue_order_id=VenueOrderId(vid) if vid else None, status=OrderStatus.SUBMITTED,
                       raw_status="open", side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("10"),
                       filled_qty=Decimal(0), avg_price=None, price=Decimal("100"), ts_event=0, ts_recv=0)


def test_order_ids_remember_the_latest_venue_id_per_label_and_forget_the_oldest_first() -> None:
    ids = OrderIds(limit=2)
    upd = _update("a", "1")
    assert ids.learn(upd) is upd
    ids.learn(_update("b", "2"))
    ids.learn(_update("c", None))  # nothing to learn
    assert (ids.venue_id(ClientOrderId("a"), None), ids.venue_id(ClientOrderId("c"), None)) == ("1", None)
    assert ids.venue_id(ClientOrderId("a"), VenueOrderId("9")) == "9"  # a given venue id wins
    assert ids.venue_id(None, None) is None
    ids.learn(_update("a", "3"))  # refreshed: now the newest
    ids.learn(_update("d", "4"))  # "b" is the oldest: forgotten
    assert [ids.venue_id(ClientOrderId(c), None) for c in "abd"] == ["3", None, "4"] and len(ids) == 2
    ids.clear()
    assert len(ids) == 0


def test_each_session_has_its_own_order_ids() -> None:
    assert _session().order_ids is not _session().order_ids


# -- invariant: nothing that needs the login goes out before it, nothing goes out while down ----------------------
_SYMBOLS = {"BTC-PERPETUAL": BTC, "ETH-PERPETUAL": ETH, "BTC_USDC-PERPETUAL": BTC_USDC}
_ACTIONS = st.lists(st.sampled_from(["connect", "disconnect", "login", "login_failed", "refuse", "sub_btc", "sub_eth",
                                     "sub_usdc", "refresh", "retry", "gap"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(actions=_ACTIONS, raw=st.booleans(), credentials=st.booleans())
def test_login_bound_frames_never_precede_the_login_of_their_connection(actions: list[str], raw: bool,
                                                                         credentials: bool) -> None:
    session = _session(credentials=credentials, book_interval=Interval.RAW if raw else Interval.MS100,
                       cancel_on_disconnect=True)
    up = logged_in = False
    auth: dict[str, Any] | None = None
    last_subscribe: dict[str, Any] | None = None
    books: list[InstrumentId] = []  # books subscribed on this connection (the codec resyncs only those)
    for action in actions:
        outs: list[Out] = []
        match action:
            case "connect" if not up:
                outs = session.connected(MAIN, NOW)
                up, logged_in, books = True, False, []
                auth = next((f for f in _sent(outs) if f["method"] == "public/auth"), None)
            case "disconnect" if up:
                session.disconnected(MAIN, NOW)
                up, logged_in, auth = False, False, None
            case "login" if auth is not None:
                outs = _effects(_answer(session, auth, AUTH_RESULT))
                logged_in, auth = True, None
            case "login_failed" if auth is not None:
                outs = _effects(_answer(session, auth, error={"code": 13004, "message": "invalid_credentials"}))
                auth = None
            case "refuse" if last_subscribe is not None:
                outs = session.on_event(SubscribeFailed(code="10028", text="x", request_id=str(last_subscribe["id"])),
                                        MAIN, NOW)
            case "sub_btc" | "sub_eth" | "sub_usdc":
                outs = session.subscribe([{"sub_btc": BTC, "sub_eth": ETH, "sub_usdc": BTC_USDC}[action]], NOW)
            case "refresh":
                outs = session.timer(REFRESH_AUTH, NOW)
            case "retry":
                outs = session.timer(SUBSCRIBE_RETRY, NOW)
            case "gap" if books:
                outs = session.on_event(NeedResubscribe(instrument=books[0], reason="gap"), MAIN, NOW)
        sends = [o for o in outs if isinstance(o, Send)]
        assert up or not sends, f"{action}: frames while down"
        for frame in _sent(sends):
            channels = frame["params"].get("channels", []) if isinstance(frame["params"], dict) else []
            needs_login = frame["method"].startswith("private/") or any(c.endswith(".raw") and c.startswith("book.")
                                                                          for c in channels)
            assert logged_in or not needs_login, f"{action}: {frame['method']} {channels} before the login"
            if frame["method"].endswith("/subscribe"):
                last_subscribe = frame
                books += [_SYMBOLS[c.split(".")[1]] for c in channels if c.startswith("book.")]
        assert (session.login is Login.LOGGED_IN) == logged_in


# -- the dead-man's switch: cancel-on-disconnect with the heartbeat at the window ----------------------------
def _switch_session(window: float = 15.0) -> DeribitSession:
    session = _session(dead_mans_switch_s=window, heartbeat_s=30)
    session.subscribe([BTC], NOW)
    return session


def _frames(outs: Sequence[Any]) -> list[dict[str, Any]]:
    """The frames sent among ``outs`` (effects, messages and events mixed), decoded."""
    return _sent([o for o in outs if isinstance(o, Send)])


def _requests(outs: Sequence[Any]) -> list[tuple[str, Any]]:
    return _calls([o for o in outs if isinstance(o, Send)])


def _switch_states(outs: Sequence[Any]) -> list[SwitchState]:
    return [o.state for o in outs if isinstance(o, DeadMansSwitch)]


def _arm(session: DeribitSession) -> list[Out]:
    """Connect, answer the heartbeat and the login, then the cancel-on-disconnect request: everything returned."""
    first = session.connected(MAIN, NOW)
    heartbeat = next(f for f in _frames(first) if f["method"] == "public/set_heartbeat")
    outs = _answer(session, heartbeat, "ok")
    auth = _frames(first)[0]
    after_login = _answer(session, auth, AUTH_RESULT)
    cod = next(f for f in _frames(_effects(after_login)) if f["method"] == "private/enable_cancel_on_disconnect")
    return [*first, *outs, *after_login, *_answer(session, cod, "ok")]


def test_the_switch_arms_on_the_heartbeat_and_cancel_on_disconnect_answers_of_the_connection() -> None:
    session = _switch_session()
    switch = session.switch
    assert switch is not None and switch.need == {HEARTBEAT_PART, COD_PART} and switch.refresh_s is None
    start = session.start(NOW)
    assert _switch_states(start) == [SwitchState.ARMING]  # configured, shown at once
    first = session.connected(MAIN, NOW)
    # Half the window (at least 10), not heartbeat_s: an unanswered test_request is cut at the next one.
    assert _requests(first)[1] == ("public/set_heartbeat", {"interval": 10})
    wide = _session(dead_mans_switch_s=80, heartbeat_s=30)
    assert _requests(wide.connected(MAIN, NOW))[1] == ("public/set_heartbeat", {"interval": 40})
    assert not any(m.startswith("private/") for m, _ in _requests(first))
    heartbeat, auth = _frames(first)[1], _frames(first)[0]
    assert _switch_states(_answer(session, heartbeat, "ok")) == []  # one part of two
    after_login = _effects(_answer(session, auth, AUTH_RESULT))
    assert _requests(after_login)[0] == ("private/enable_cancel_on_disconnect", {"scope": "connection"})
    with pytest.raises(SwitchNotArmed, match="arming"):
        session.order_stream(placement=True)
    assert session.order_stream(placement=False) == MAIN  # a cancel: the connection is logged in
    armed = _answer(session, _frames(after_login)[0], "ok")
    assert [(m.state, m.window_s) for m in armed if isinstance(m, DeadMansSwitch)] == [(SwitchState.ARMED, 15.0)]
    assert switch.armed and session.order_stream(placement=True) == MAIN


def test_the_switch_is_lost_with_its_connection_and_armed_again_by_the_next_ones_answers() -> None:
    session = _switch_session()
    assert _switch_states(_arm(session)) == [SwitchState.ARMED]
    down = session.disconnected(MAIN, NOW)
    assert _switch_states(down) == [SwitchState.FAILING]
    assert session.switch is not None and "connection went" in session.switch.detail
    with pytest.raises(SwitchNotArmed, match="failing"):
        session.order_stream(placement=True)
    assert session.order_stream(placement=False) is None  # a cancel goes over HTTP meanwhile
    assert _switch_states(_arm(session)) == [SwitchState.ARMED]


def test_a_refused_cancel_on_disconnect_is_final_and_a_transient_failure_is_sent_again() -> None:
    refused = _switch_session()
    outs = _arm_with_cod_answer(refused, error={"code": 13403, "message": "scope_exceeded"})
    assert _switch_states(outs) == [SwitchState.REFUSED]
    assert refused.timer(SWITCH_RETRY, NOW) == []
    assert _switch_states(_arm(refused)) == []  # REFUSED stays for this session
    transient = _switch_session()
    outs = _arm_with_cod_answer(transient, error={"code": 13028, "message": "temporarily_unavailable"})
    assert _switch_states(outs) == [SwitchState.FAILING]
    assert SetTimer(key=SWITCH_RETRY, after_s=1.0) in outs
    again = transient.timer(SWITCH_RETRY, NOW)
    assert _requests(again) == [("private/enable_cancel_on_disconnect", {"scope": "connection"})]
    assert _switch_states(_answer(transient, _frames(again)[0], "ok")) == [SwitchState.ARMED]


def _arm_with_cod_answer(session: DeribitSession, *, error: dict[str, Any]) -> list[Out]:
    first = session.connected(MAIN, NOW)
    _answer(session, _frames(first)[1], "ok")
    after_login = _effects(_answer(session, _frames(first)[0], AUTH_RESULT))
    return _answer(session, _frames(after_login)[0], error=error)


def test_a_failed_login_leaves_the_switch_failing_not_refused() -> None:
    session = _switch_session()
    first = session.connected(MAIN, NOW)
    outs = _answer(session, _frames(first)[0], error={"code": 13004, "message": "invalid_credentials"})
    assert _switch_states(outs) == [SwitchState.FAILING]
    assert session.switch is not None and "login failed" in session.switch.detail


def test_without_the_switch_orders_go_over_http_and_without_credentials_there_is_no_switch() -> None:
    plain = _session(cancel_on_disconnect=True)
    assert plain.switch is None and plain.order_stream(placement=True) is None
    _arm(plain)
    assert plain.order_stream(placement=True) is None and plain.order_stream(placement=False) is None
    assert _session(credentials=False, dead_mans_switch_s=20.0).switch is None  # nothing to protect
