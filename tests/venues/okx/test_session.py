"""OkxSession driven by hand: events in, effects out; no socket, no clock, no actor."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from messages.account import AccountConfig, PositionMode
from messages.base import BookState, ClientOrderId, InstrumentId, OrderStatus, Venue
from messages.control import BookIntegrity
from messages.market import Quote
from messages.orders import OrderUpdate
from tests.venues.okx.conftest import make_instrument
from tests.venues.okx.test_books import SNAP_ASKS, SNAP_BIDS, BookFeed
from venues import Credentials
from venues.errors import DecodeError, VenueUnavailable
from venues.events import (
    Dropped,
    LoggedIn,
    LoginFailed,
    NeedSnapshot,
    Pong,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import Response
from venues.okx import OkxCodec, signing
from venues.okx.session import RECENT_ORDERS, SUBSCRIBE_BATCH, OkxSession, SessionOptions
from venues.session import Fetch, Reconnect, Send, SetTimer, StreamSpec
from venues.symbols import InstrumentRegistry

PERP = InstrumentId("BTC-USDT-PERP")
INVERSE = InstrumentId("BTC-USD-PERP")
BCH = InstrumentId("BCH-USDT-PERP")
CREDS = Credentials("key", "secret", "pass")
WS = {"public": "wss://okx.test/ws/v5/public", "private": "wss://okx.test/ws/v5/private",
      "business": "wss://okx.test/ws/v5/business"}
NOW_MS = 1_700_000_000_987
PRIVATE_SUBSCRIBE = {"op": "subscribe", "args": [
    {"channel": "orders", "instType": "SWAP"}, {"channel": "positions", "instType": "SWAP"}, {"channel": "account"}]}


def _session(registry: InstrumentRegistry, creds: Credentials | None = CREDS, **options: Any) -> OkxSession:
    return OkxSession(OkxCodec(registry), registry, SessionOptions(dict(WS), **options), creds)


def _frames(outs: list[Any], stream: str) -> list[dict[str, Any]]:
    """The JSON of every Send (all of them must be on ``stream``)."""
    assert all(isinstance(o, Send) and o.stream == stream for o in outs), outs
    return [json.loads(o.frame) for o in outs]


def _order_push(cid: str, state: str, ord_id: str = "77") -> str:
    return json.dumps({"arg": {"channel": "orders", "instType": "SWAP"}, "data": [{
        "instId": "BTC-USDT-SWAP", "ordId": ord_id, "clOrdId": cid, "state": state, "side": "buy",
        "ordType": "limit", "sz": "2", "px": "30000", "accFillSz": "0", "avgPx": "", "fillSz": "0", "fillPx": "",
        "tradeId": "", "fillFee": "0", "fillFeeCcy": "USDT", "execType": "", "uTime": "1700000000001",
        "cTime": "1700000000000"}]})


# -- streams and where they live -------------------------------------------------------------------
def test_streams_are_public_then_private_with_credentials_then_business_with_klines(
    registry: InstrumentRegistry,
) -> None:
    specs = _session(registry, bars=("1m",), stale_after_s=2.5, ping_interval_s=15.0,
                     private_heartbeat_s=12.0).streams()
    assert specs == [
        StreamSpec(name="public", stale_after_s=2.5, ping_interval_s=15.0, control_rate_per_s=4.0),
        StreamSpec(name="private", private=True, ping_interval_s=15.0, protocol_heartbeat_s=12.0,
                   control_rate_per_s=4.0),
        StreamSpec(name="business", ping_interval_s=15.0, control_rate_per_s=4.0),
    ]
    assert [s.name for s in _session(registry, creds=None).streams()] == ["public"]


def test_url_is_the_configured_endpoint_and_the_keep_alive_is_the_text_ping(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    assert [session.url(s, NOW_MS) for s in ("public", "private", "business")] == list(WS.values())
    assert session.ping_frame("public", 0) == session.ping_frame("private", 0) == b"ping"


# -- connect: login first, subscriptions after its ack ---------------------------------------------
def test_private_connect_sends_the_login_alone_signed_with_epoch_seconds(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.subscribe([PERP], NOW_MS)
    (login,) = _frames(session.connected("private", NOW_MS), "private")
    assert login == {"op": "login", "args": [signing.ws_login_args(CREDS, 1_700_000_000)]}
    assert login["args"][0]["timestamp"] == "1700000000"  # SECONDS: OKX refuses a login in ms
    assert session.login_sent and not session.private_channels
    assert session.connected("private", NOW_MS + 5) == []  # told twice: still one login on one connection
    # A new instrument never touches the private stream (no second login on a connection that has one).
    assert session.subscribe([BCH], NOW_MS) == []


def test_private_subscriptions_follow_the_login_ack_and_the_acks_are_recorded(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.connected("private", NOW_MS)
    assert session.on_event(LoggedIn(), "public", NOW_MS) == []  # only the private stream logs in
    (sub,) = _frames(session.on_event(LoggedIn(), "private", NOW_MS), "private")
    assert sub == PRIVATE_SUBSCRIBE
    assert session.on_event(Subscribed(channels=("orders:SWAP",)), "private", NOW_MS) == []
    session.on_event(Subscribed(channels=("account:",)), "private", NOW_MS)
    session.on_event(Subscribed(channels=("books:BTC-USDT-SWAP",)), "public", NOW_MS)  # not a private channel
    assert session.private_channels == {"orders:SWAP", "account:"}


def test_the_login_ack_frame_through_feed_leads_to_the_private_subscribe(registry: InstrumentRegistry) -> None:
    session = _session(registry, inst_type="FUTURES")
    session.connected("private", NOW_MS)
    (event,) = session.feed("private", '{"event":"login","code":"0","msg":"","connId":"a"}', 1)
    assert isinstance(event, LoggedIn)
    (sub,) = _frames(session.on_event(event, "private", NOW_MS), "private")
    assert [a.get("instType") for a in sub["args"]] == ["FUTURES", "FUTURES", None]


def test_without_credentials_the_private_stream_never_logs_in(registry: InstrumentRegistry) -> None:
    assert _session(registry, creds=None).connected("private", NOW_MS) == []


def test_public_connect_subscribes_books_and_trades_of_every_tracked_instrument(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    assert session.connected("public", NOW_MS) == []  # nothing tracked yet: nothing to send
    session.disconnected("public", NOW_MS)
    assert session.subscribe([PERP, INVERSE, PERP], NOW_MS) == []  # no stream up: remembered for the connect
    (sub,) = _frames(session.connected("public", NOW_MS), "public")
    assert sub == {"op": "subscribe", "args": [
        {"channel": "books", "instId": "BTC-USDT-SWAP"}, {"channel": "trades", "instId": "BTC-USDT-SWAP"},
        {"channel": "books", "instId": "BTC-USD-SWAP"}, {"channel": "trades", "instId": "BTC-USD-SWAP"}]}
    assert session.instruments == [PERP, INVERSE]


def test_public_connect_without_trades_subscribes_books_only(registry: InstrumentRegistry) -> None:
    session = _session(registry, trades=False)
    session.subscribe([PERP], NOW_MS)
    (sub,) = _frames(session.connected("public", NOW_MS), "public")
    assert sub["args"] == [{"channel": "books", "instId": "BTC-USDT-SWAP"}]


def test_subscriptions_are_batched_fifty_args_per_frame_in_order() -> None:
    registry = InstrumentRegistry()
    insts = []
    for i in range(30):  # 60 args: books + trades each
        registry.add(make_instrument(f"C{i}-USDT-SWAP", f"C{i}-USDT-PERP"))
        insts.append(InstrumentId(f"C{i}-USDT-PERP"))
    session = _session(registry)
    session.subscribe(insts, NOW_MS)
    first, second = _frames(session.connected("public", NOW_MS), "public")
    assert (len(first["args"]), len(second["args"])) == (SUBSCRIBE_BATCH, 60 - SUBSCRIBE_BATCH)
    sent = [a["instId"] for a in first["args"] + second["args"]]
    assert sent == [f"C{i}-USDT-SWAP" for i in range(30) for _ in ("books", "trades")]


def test_business_connect_subscribes_every_bar_of_every_instrument(registry: InstrumentRegistry) -> None:
    session = _session(registry, bars=("1m", "1H"))
    session.subscribe([PERP, BCH], NOW_MS)
    (sub,) = _frames(session.connected("business", NOW_MS), "business")
    assert sub["args"] == [
        {"channel": "candle1m", "instId": "BTC-USDT-SWAP"}, {"channel": "candle1H", "instId": "BTC-USDT-SWAP"},
        {"channel": "candle1m", "instId": "BCH-USDT-SWAP"}, {"channel": "candle1H", "instId": "BCH-USDT-SWAP"}]


# -- subscribe while up / down ---------------------------------------------------------------------
def test_a_new_instrument_while_up_is_subscribed_alone_on_every_market_stream(registry: InstrumentRegistry) -> None:
    session = _session(registry, bars=("5m",))
    session.subscribe([PERP], NOW_MS)
    for stream in ("public", "private", "business"):
        session.connected(stream, NOW_MS)
    outs = session.subscribe([PERP, BCH], NOW_MS)  # PERP is already subscribed: only BCH goes out
    public, business = outs
    assert _frames([public], "public") == [{"op": "subscribe", "args": [
        {"channel": "books", "instId": "BCH-USDT-SWAP"}, {"channel": "trades", "instId": "BCH-USDT-SWAP"}]}]
    assert _frames([business], "business") == [{"op": "subscribe", "args": [
        {"channel": "candle5m", "instId": "BCH-USDT-SWAP"}]}]
    assert session.subscribe([BCH], NOW_MS) == []


def test_a_new_instrument_while_down_goes_out_with_the_next_connect(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.subscribe([PERP], NOW_MS)
    session.connected("public", NOW_MS)
    session.disconnected("public", NOW_MS)
    assert session.subscribe([BCH], NOW_MS) == []
    (sub,) = _frames(session.connected("public", NOW_MS), "public")
    assert [a["instId"] for a in sub["args"]] == ["BTC-USDT-SWAP"] * 2 + ["BCH-USDT-SWAP"] * 2


# -- a reconnect resets what belonged to the connection --------------------------------------------
def test_a_private_reconnect_forgets_the_login_and_the_acks_and_logs_in_again(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.connected("private", NOW_MS)
    session.on_event(Subscribed(channels=("orders:SWAP",)), "private", NOW_MS)
    assert session.disconnected("private", NOW_MS) == []
    assert not session.login_sent and session.private_channels == set()
    (login,) = _frames(session.connected("private", NOW_MS + 60_000), "private")
    assert login["op"] == "login" and login["args"][0]["timestamp"] == "1700000060"


def test_a_public_reconnect_puts_the_books_back_to_syncing_stamped_with_now(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.subscribe([PERP], NOW_MS)
    session.connected("public", NOW_MS)
    session.feed("public", BookFeed().snapshot(SNAP_BIDS, SNAP_ASKS), 1)
    assert session.book_live(PERP)
    assert session.disconnected("public", NOW_MS) == [BookIntegrity(
        venue=Venue.OKX, instrument=PERP, state=BookState.SYNCING, reason="disconnected", ts=NOW_MS * 1_000_000)]
    assert not session.book_live(PERP) and "public" not in session.up
    assert session.disconnected("business", NOW_MS) == []


# -- codec events: books bootstrap over REST ------------------------------------------------------
def test_a_book_that_needs_a_snapshot_gets_a_rest_fetch_keyed_per_book(registry: InstrumentRegistry) -> None:
    session = _session(registry, snapshot_depth=200, demo=True)
    outs = session.on_event(NeedSnapshot(instrument=INVERSE, reason="gap"), "public", NOW_MS)
    assert len(outs) == 1 and isinstance(outs[0], Fetch)
    fetch = outs[0]
    # Keyed per book (the resync queue takes one while one waits) and counted as a book resync; never a
    # resubscribe (2 of the 480 ops per connection-hour each).
    assert (fetch.key, fetch.resync) == ("snapshot BTC-USD-PERP", True)
    assert (fetch.spec.path, fetch.spec.query, fetch.spec.endpoint) == (
        "/api/v5/market/books", "instId=BTC-USD-SWAP&sz=200", "market/books")
    assert fetch.spec.headers == {"x-simulated-trading": "1"} and not fetch.spec.signed


def test_a_gap_fed_through_the_codec_is_answered_by_the_rest_bootstrap(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    venue = BookFeed()
    session.feed("public", venue.snapshot(SNAP_BIDS, SNAP_ASKS), 1)
    venue.update([("100.1", "1")], [])  # lost on the way
    (need,) = [o for o in session.feed("public", venue.update([("100.2", "1")], []), 2) if isinstance(o, NeedSnapshot)]
    (fetch,) = session.on_event(need, "public", NOW_MS)
    assert isinstance(fetch, Fetch) and fetch.spec.query == "instId=BTC-USDT-SWAP&sz=400"
    out = session.response(fetch.key, venue.rest(), NOW_MS)
    assert isinstance(out[0], BookIntegrity) and out[0].state is BookState.LIVE and out[0].ts == NOW_MS * 1_000_000
    assert session.book_live(PERP) and session.codec.book(PERP).as_sorted() == venue.truth()


def test_a_failed_snapshot_is_asked_for_again_and_an_unreadable_one_raises(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.feed("public", BookFeed().update([("100.1", "1")], []), 1)
    assert session.failed("snapshot BTC-USDT-PERP", VenueUnavailable("okx", "50001", "down"), NOW_MS) == [
        NeedSnapshot(instrument=PERP, reason="snapshot retry: okx rejected the request with code 50001: down")]
    with pytest.raises(DecodeError):  # the actor's resync queue counts it, backs off and calls failed()
        session.response("snapshot BTC-USDT-PERP", Response(status=200, headers={}, body=b'{"code":"0","data":[]}'),
                         NOW_MS)


def test_a_server_ping_is_answered_on_its_stream_and_a_notice_replaces_that_connection(
    registry: InstrumentRegistry,
) -> None:
    session = _session(registry)
    (event,) = session.feed("business", b"ping", 1)
    assert isinstance(event, SendFrame)
    assert session.on_event(event, "business", NOW_MS) == [Send(stream="business", frame=b"pong")]
    assert session.on_event(SendFrame(frame=b"x"), "private", NOW_MS) == [Send(stream="private", frame=b"x")]
    notice = StreamExpired(reason="okx notice 64008: upgrade")
    assert session.on_event(notice, "private", NOW_MS) == [Reconnect(stream="private", reason=notice.reason)]


@pytest.mark.parametrize("event", [
    LoginFailed(code="60009", text="Login failed."), SubscribeFailed(code="60018", text="bad channel"), Pong(),
    Dropped(reason="malformed", error="x"), Subscribed(channels=("books:BTC-USDT-SWAP",)),
])
def test_notices_the_actor_reports_ask_nothing_of_the_session(registry: InstrumentRegistry, event: Any) -> None:
    session = _session(registry)
    session.connected("private", NOW_MS)
    assert session.on_event(event, "public", NOW_MS) == []
    assert session.on_event(event, "private", NOW_MS) == []
    assert session.login_sent  # a refused login is reported by the actor; it is not retried on this connection


def test_connecting_asks_no_fetch_and_stray_answers_change_nothing(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.subscribe([PERP], NOW_MS)
    outs = [*session.connected("public", NOW_MS), *session.connected("private", NOW_MS),
            *session.on_event(LoggedIn(), "private", NOW_MS)]
    assert all(isinstance(o, Send) for o in outs)  # no SetTimer, no Fetch
    assert session.timer("anything", NOW_MS) == []
    assert session.response("anything", Response(status=200, headers={}, body=b"{}"), NOW_MS) == []
    assert session.failed("anything", VenueUnavailable("okx", "x", "down"), NOW_MS) == []
    assert session.instruments == [PERP] and session.login_sent


# -- the account's position mode -------------------------------------------------------------------
def _config(pos_mode: str) -> Response:
    """GET /api/v5/account/config (the documented row, the fields that matter here)."""
    row = {"acctLv": "2", "posMode": pos_mode, "uid": "44705892343619584", "autoLoan": False, "level": "Lv1"}
    return Response(status=200, headers={}, body=json.dumps({"code": "0", "msg": "", "data": [row]}).encode())


def test_start_reads_the_account_config_first_and_then_every_refresh(registry: InstrumentRegistry) -> None:
    session = _session(registry, config_refresh_s=30.0)
    fetch, timer = session.start(NOW_MS)
    assert isinstance(fetch, Fetch) and fetch.key == "account config" and timer == SetTimer(key="account config", after_s=30.0)
    assert (fetch.spec.method.value, fetch.spec.path, fetch.spec.endpoint, fetch.spec.signed) == (
        "GET", "/api/v5/account/config", "account/config", True)
    assert session.position_mode.value == "one_way"  # until known (not narrowed: response() changes it)
    (config,) = session.response(fetch.key, _config("long_short_mode"), NOW_MS)
    assert config == AccountConfig(venue=Venue.OKX, position_mode=PositionMode.HEDGE, ts=NOW_MS * 1_000_000,
                                   detail="GET /api/v5/account/config: posMode long_short_mode")  # fmt: skip
    assert (session.position_mode, session.codec.position_mode) == (PositionMode.HEDGE, PositionMode.HEDGE)
    again, rearm = session.timer("account config", NOW_MS + 30_000)
    assert isinstance(again, Fetch) and again.key == "account config" and rearm == timer
    assert session.response(again.key, _config("long_short_mode"), NOW_MS + 30_001) == []  # unchanged: silent
    (changed,) = session.response(again.key, _config("net_mode"), NOW_MS + 60_001)
    assert isinstance(changed, AccountConfig) and changed.position_mode is PositionMode.ONE_WAY
    assert (session.position_mode, session.codec.position_mode) == (PositionMode.ONE_WAY, PositionMode.ONE_WAY)
    # A failed refresh changes nothing; the next timer reads it again.
    assert session.failed("account config", VenueUnavailable("okx", "50001", "down"), NOW_MS) == []


def test_the_first_config_read_is_published_even_in_net_mode(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    (config,) = session.response("account config", _config("net_mode"), NOW_MS)
    assert isinstance(config, AccountConfig) and config.position_mode is PositionMode.ONE_WAY
    with pytest.raises(DecodeError, match="expected 'net_mode' or 'long_short_mode', got 'both'"):
        session.response("account config", _config("both"), NOW_MS)


def test_without_credentials_nothing_is_read_at_start(registry: InstrumentRegistry) -> None:
    session = _session(registry, creds=None)
    assert session.start(NOW_MS) == [] and session.timer("account config", NOW_MS) == []
    session.position_side_refused()
    assert session.on_event(Pong(), "public", NOW_MS) == []


def test_a_private_reconnect_reads_the_config_again(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    assert len(_frames(session.connected("private", NOW_MS), "private")) == 1  # never read yet: start() does
    session.response("account config", _config("net_mode"), NOW_MS)
    session.disconnected("private", NOW_MS)
    login, fetch = session.connected("private", NOW_MS + 1000)
    assert isinstance(login, Send) and json.loads(login.frame)["op"] == "login"
    assert isinstance(fetch, Fetch) and fetch.key == "account config"


def test_a_refused_pos_side_rereads_the_config_at_the_next_event(registry: InstrumentRegistry) -> None:
    session = _session(registry, config_refresh_s=0)
    assert session.start(NOW_MS)[1:] == []  # refresh 0: no periodic read
    session.response("account config", _config("net_mode"), NOW_MS)
    session.position_side_refused()
    (fetch,) = session.on_event(Pong(), "private", NOW_MS + 5)
    assert isinstance(fetch, Fetch) and fetch.key == "account config"
    assert session.on_event(Pong(), "private", NOW_MS + 6) == []  # once
    (config,) = session.response(fetch.key, _config("long_short_mode"), NOW_MS + 7)
    assert isinstance(config, AccountConfig) and config.position_mode is PositionMode.HEDGE


def test_a_private_row_showing_the_other_mode_changes_it_at_once(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.response("account config", _config("net_mode"), NOW_MS)
    push = json.loads(_order_push("cb1", "live"))
    push["data"][0] |= {"instType": "SWAP", "posSide": "short"}
    out = session.feed("private", json.dumps(push), 1)
    assert [type(o) for o in out][0] is AccountConfig and session.position_mode is PositionMode.HEDGE


# -- the hot path and the order-state memo ---------------------------------------------------------
def test_private_order_pushes_are_remembered_for_the_placement_answer(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    cid = ClientOrderId("cb9")
    assert session.recent_order(cid) is None
    (live,) = [o for o in session.feed("private", _order_push("cb9", "live"), 1) if isinstance(o, OrderUpdate)]
    assert session.recent_order(cid) == live and live.status is OrderStatus.SUBMITTED
    session.feed("private", _order_push("cb9", "canceled").encode(), 2)  # bytes as well as str
    seen = session.recent_order(cid)
    assert seen is not None and seen.status is OrderStatus.CANCELLED and seen.quantity == Decimal("2")


def test_order_pushes_on_another_stream_are_not_remembered(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    out = session.feed("public", _order_push("cb9", "live"), 1)
    assert any(isinstance(o, OrderUpdate) for o in out)  # decoded and returned all the same
    assert session.recent_order(ClientOrderId("cb9")) is None


def test_the_memo_keeps_the_most_recently_updated_orders(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.feed("private", _order_push("cbfirst", "live"), 1)
    for i in range(RECENT_ORDERS - 1):
        session.feed("private", _order_push(f"cb{i}", "live", ord_id=str(i)), 1)
    session.feed("private", _order_push("cbfirst", "partially_filled"), 2)  # touched: now the newest
    session.feed("private", _order_push("cbnew", "live"), 3)  # one too many: the oldest goes
    assert session.recent_order(ClientOrderId("cb0")) is None
    assert session.recent_order(ClientOrderId("cbfirst")) is not None
    assert session.recent_order(ClientOrderId("cbnew")) is not None


def test_feed_returns_the_codecs_output_unchanged(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    frame = BookFeed().snapshot(SNAP_BIDS, SNAP_ASKS)
    assert session.feed("public", frame.decode(), 5) == OkxCodec(registry).feed(frame, 5)


def test_top_of_books_lists_live_tracked_books_only(registry: InstrumentRegistry) -> None:
    session = _session(registry)
    session.subscribe([PERP, BCH], NOW_MS)
    out = session.feed("public", BookFeed().snapshot(SNAP_BIDS, SNAP_ASKS), 1)
    assert any(isinstance(o, Quote) for o in out)
    assert session.top_of_books(2) == [(PERP, [(100.5, 3.0), (100.4, 2.0)], [(100.6, 1.0), (100.7, 4.0)])]
    assert session.book_live(PERP) and not session.book_live(BCH)
