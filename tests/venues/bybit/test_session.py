"""BybitSession driven by hand: connects, codec events, the private silence timer, reconnects, subscribe,
failed subscribes and logins retried with backoff, position modes read, paged and pushed.

No network and no clock: every event is a method call with its time, every effect is checked as returned.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from messages import (
    BookIntegrity,
    BookState,
    ClientOrderId,
    InstrumentId,
    OrderStatus,
    OrderUpdate,
    Venue,
    VenueOrderId,
)
from messages.base import OrderType, Side
from tests.venues.bybit.sample_registry import build_registry
from venues import Credentials
from venues.bybit import BybitCodec
from venues.bybit.modes import PositionModes
from venues.bybit.session import PRIVATE_SILENCE, BybitSession, KnownOrders, SessionOptions
from venues.bybit.signing import ws_auth_signature
from venues.errors import VenueReject
from venues.events import (
    CodecEvent,
    Dropped,
    LoggedIn,
    NeedResubscribe,
    NeedSnapshot,
    Pong,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.http import Response
from venues.session import Fetch, Out, Reconnect, Send, SetTimer

BTC = InstrumentId("BTC-USDT-PERP")
ETH = InstrumentId("ETH-USDT-PERP")
WS = {"public": "wss://example.test/v5/public/linear", "private": "wss://example.test/v5/private"}
T0 = 1_700_000_000_000  # ms
CREDS = Credentials("key-1", "secret-1")
PRIVATE_TOPICS = ["order.linear", "execution.linear", "position.linear", "wallet"]


def make(*, creds: Credentials | None = CREDS, modes: PositionModes | None = None, **options: Any) -> BybitSession:
    registry = build_registry()
    codec = BybitCodec(registry, depth=50, contiguous_u=True)
    return BybitSession(codec, registry, SessionOptions(dict(WS), **options), creds, KnownOrders(),
                        modes if modes is not None else PositionModes())


def frames_of(outs: list[Out], stream: str | None = None) -> list[Any]:
    """The JSON of each Send in ``outs`` (on ``stream`` when given), in order, req_id included."""
    return [json.loads(o.frame) for o in outs if isinstance(o, Send) and (stream is None or o.stream == stream)]


def sent(outs: list[Out], stream: str | None = None) -> list[Any]:
    """``frames_of`` without the req_id every subscribe and auth carries (checked on its own)."""
    return [{k: v for k, v in f.items() if k != "req_id"} for f in frames_of(outs, stream)]


def sends(outs: list[Out]) -> list[Out]:
    return [o for o in outs if not isinstance(o, Fetch)]


def book_frame(kind: str, u: int, bid: str = "30000.0", ask: str = "30000.5", symbol: str = "BTCUSDT") -> bytes:
    data = {"s": symbol, "b": [[bid, "1.0"]], "a": [[ask, "2.0"]], "u": u, "seq": u * 10}
    return json.dumps({"topic": f"orderbook.50.{symbol}", "type": kind, "ts": T0, "data": data, "cts": T0}).encode()


def order_frame(status: str, *, oid: str = "oid-1", cid: str = "cb-1", filled: str = "0") -> bytes:
    row = {"category": "linear", "symbol": "BTCUSDT", "orderId": oid, "orderLinkId": cid, "side": "Buy",
           "orderType": "Limit", "price": "30000.0", "qty": "0.010", "orderStatus": status, "avgPrice": "",
           "cumExecQty": filled, "updatedTime": str(T0), "timeInForce": "GTC", "rejectReason": "EC_NoError"}
    return json.dumps({"id": "x", "topic": "order", "creationTime": T0, "data": [row]}).encode()


PONG = b'{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}'


# -- streams and connects --------------------------------------------------------------------------------
def test_streams_are_public_with_a_data_limit_and_private_only_with_credentials() -> None:
    s = make(stale_after_s=2.0, ping_interval_s=15.0)
    public, private = s.streams()
    assert (public.name, public.stale_after_s, public.ping_interval_s, public.private) == ("public", 2.0, 15.0, False)
    assert (private.name, private.private, private.stale_after_s, private.ping_interval_s) == ("private", True, None,
                                                                                                15.0)
    assert [sp.name for sp in make(creds=None).streams()] == ["public"]
    assert s.url("public", T0) == WS["public"] and s.url("private", T0) == WS["private"]


def test_private_connect_sends_auth_then_the_private_topics_then_starts_the_silence_check() -> None:
    s = make(auth_expires_ms=7_000, ping_interval_s=20.0)
    outs = s.connected("private", T0)
    assert [type(o) for o in outs] == [Send, Send, SetTimer]
    assert all(o.stream == "private" for o in outs if isinstance(o, Send))
    auth, sub = frames_of(outs)
    assert auth == {"req_id": auth["req_id"], "op": "auth",
                    "args": ["key-1", T0 + 7_000, ws_auth_signature("secret-1", T0 + 7_000)]}
    # Categorised topics: the all-in-one order/execution/position carry spot and option rows too.
    assert sub == {"op": "subscribe", "args": PRIVATE_TOPICS, "req_id": sub["req_id"]}
    assert auth["req_id"] != sub["req_id"]
    assert outs[2] == SetTimer(key=PRIVATE_SILENCE, after_s=5.0)  # min(5 s, ping interval)
    assert s.private_session and not s.logged_in
    assert make(ping_interval_s=2.0).connected("private", T0)[2] == SetTimer(key=PRIVATE_SILENCE, after_s=2.0)


def test_private_connect_without_credentials_sends_nothing() -> None:
    s = make(creds=None)
    assert s.connected("private", T0) == [] and not s.private_session


def test_public_connect_subscribes_book_trades_and_klines_per_instrument_in_frames_of_ten_topics() -> None:
    s = make(klines=("1", "60", "D", "5", "15"))
    assert sends(s.subscribe([BTC, ETH], T0)) == []  # nothing is up yet: remembered for the connect
    outs = s.connected("public", T0)
    assert all(isinstance(o, Send) and o.stream == "public" for o in outs)
    frames = sent(outs)
    per = ["orderbook.50.{}", "publicTrade.{}", "kline.1.{}", "kline.60.{}", "kline.D.{}", "kline.5.{}", "kline.15.{}"]
    topics = [t.format(sym) for sym in ("BTCUSDT", "ETHUSDT") for t in per]
    assert [f["op"] for f in frames] == ["subscribe", "subscribe"]
    assert [f["args"] for f in frames] == [topics[:10], topics[10:]]
    assert len({f["req_id"] for f in frames_of(outs)}) == 2  # each frame its own request id


def test_public_connect_without_trades_subscribes_books_only_and_nothing_without_instruments() -> None:
    s = make(trades=False)
    assert s.connected("public", T0) == []  # no instrument: no (empty, refused) subscribe frame
    assert sent(s.subscribe([BTC], T0)) == [{"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}]


def test_subscribe_while_up_sends_only_the_new_instrument_on_public() -> None:
    s = make(trades=True)
    s.subscribe([BTC], T0)
    s.connected("public", T0)
    s.connected("private", T0)
    outs = s.subscribe([BTC, ETH, ETH], T0)
    assert [o.stream for o in outs if isinstance(o, Send)] == ["public"]
    assert sent(outs) == [{"op": "subscribe", "args": ["orderbook.50.ETHUSDT", "publicTrade.ETHUSDT"]}]
    assert len(sends(outs)) == 1
    assert s.subscribe([ETH], T0) == [] and s.instruments == [BTC, ETH]


def test_subscribe_while_public_is_down_sends_nothing_and_the_next_connect_covers_it() -> None:
    s = make(trades=False)
    s.subscribe([BTC], T0)
    s.connected("public", T0)
    s.connected("private", T0)
    s.disconnected("public", T0)
    assert sends(s.subscribe([ETH], T0)) == []  # private is up, but private topics cover every symbol already
    assert [f["args"] for f in sent(s.connected("public", T0))] == [["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]]


def test_ping_frame_carries_the_send_time() -> None:
    assert json.loads(make().ping_frame("private", 123456789) or b"") == {"req_id": "123456789", "op": "ping"}


# -- codec events ----------------------------------------------------------------------------------------
def _live(s: BybitSession) -> None:
    s.subscribe([BTC], T0)
    s.connected("public", T0)
    s.feed("public", book_frame("snapshot", 100), 1)
    assert s.book_live(BTC)


def test_a_gap_is_answered_by_unsubscribe_then_subscribe_of_that_book_on_public() -> None:
    s = make()
    _live(s)
    out = s.feed("public", book_frame("delta", 102), 2)  # 101 is missing
    (need,) = [o for o in out if isinstance(o, NeedResubscribe)]
    assert any(isinstance(o, BookIntegrity) and o.state is BookState.RESYNCING for o in out)
    effects = s.on_event(need, "public", T0)
    assert all(isinstance(o, Send) and o.stream == "public" for o in effects)
    unsub_id, sub_id = [f["req_id"] for f in frames_of(effects)]
    assert unsub_id != sub_id
    assert sent(effects) == [{"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]},
                             {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}]
    # Keyed per book (the resync queue holds one while it waits) and counted once as a book resync.
    assert [(o.key, o.resync) for o in effects if isinstance(o, Send)] == [
        ("unsubscribe BTC-USDT-PERP", True), ("subscribe BTC-USDT-PERP", False)]
    s.feed("public", book_frame("snapshot", 500), 3)  # the venue's fresh snapshot
    assert s.book_live(BTC)


def test_a_resubscribe_asked_while_public_is_down_sends_nothing() -> None:
    s = make()
    _live(s)
    s.disconnected("public", T0)
    assert s.on_event(NeedResubscribe(instrument=BTC, reason="late"), "public", T0) == []


def test_stream_expired_reconnects_that_stream_and_send_frame_sends_on_it() -> None:
    s = make()
    assert s.on_event(StreamExpired(reason="bye"), "private", T0) == [Reconnect(stream="private", reason="bye")]
    assert s.on_event(SendFrame(frame=b"x"), "public", T0) == [Send(stream="public", frame=b"x")]


def test_logged_in_is_remembered_for_the_private_connection_only() -> None:
    s = make()
    s.connected("private", T0)

    def logged_in() -> bool:  # read afresh each time (mypy would narrow the attribute across calls)
        return s.logged_in

    assert s.on_event(LoggedIn(), "public", T0) == [] and not logged_in()
    assert s.on_event(LoggedIn(), "private", T0) == [] and logged_in()
    s.disconnected("private", T0)
    assert not logged_in() and not s.private_session


@pytest.mark.parametrize("event", [
    Subscribed(channels=()), SubscribeFailed(code="", text="ping: no", request_id="1700000000123"),
    Pong(ts_sent=1), Dropped(reason="decode_error", error="x"), NeedSnapshot(instrument=BTC, reason="r"),
])
def test_other_codec_events_ask_for_nothing(event: CodecEvent) -> None:
    s = make()
    _live(s)
    s.connected("private", T0)
    assert s.on_event(event, "private", T0) == [] and s.on_event(event, "public", T0) == []


def test_answers_and_failures_of_fetches_the_session_did_not_ask_for_ask_for_nothing() -> None:
    s = make()
    assert s.response("anything", Response(status=200, headers={}, body=b"{}"), T0) == []
    assert s.failed("anything", VenueReject("bybit", "1", "no"), T0) == []


# -- the private stream's silence check ------------------------------------------------------------------
def _check(s: BybitSession, at_s: float) -> list[Out]:
    return s.timer(PRIVATE_SILENCE, T0 + int(at_s * 1000))


def test_a_silent_private_stream_is_replaced_once_per_silence() -> None:
    s = make(private_stale_after_s=45.0, ping_interval_s=20.0)
    s.connected("private", T0)
    again = SetTimer(key=PRIVATE_SILENCE, after_s=5.0)
    s.feed("private", PONG, 111)
    assert _check(s, 5) == [again]  # a frame came: quiet from here
    for t in range(10, 55, 5):
        assert _check(s, t) == [again], t  # 45 s quiet is not more than 45 s
    (timer, reconnect) = _check(s, 55)
    assert timer == again and isinstance(reconnect, Reconnect) and reconnect.stream == "private"
    assert "50.0 s" in reconnect.reason and "45.0 s" in reconnect.reason
    assert _check(s, 60) == [again]  # one reconnect per silence: counted afresh from the last one
    assert len(_check(s, 101)) == 2


def test_any_private_frame_keeps_the_stream_whatever_clock_stamped_it() -> None:
    """Frames are stamped by the transport's clock, timers by another: only a change of the stamp counts."""
    s = make(private_stale_after_s=10.0)
    s.connected("private", T0)
    for i, t in enumerate(range(5, 200, 5)):
        s.feed("private", PONG, 7 + i)  # stamps far behind the timer's clock (e.g. a skewed venue clock)
        assert _check(s, t) == [SetTimer(key=PRIVATE_SILENCE, after_s=5.0)], t


def test_public_frames_do_not_keep_the_private_stream() -> None:
    s = make(private_stale_after_s=10.0)
    _live(s)
    s.connected("private", T0)
    for t in (5, 10):
        s.feed("public", book_frame("snapshot", 100 + t), t)
        assert len(_check(s, t)) == 1
    assert s.last_private_ns == 0
    assert isinstance(_check(s, 15)[-1], Reconnect)  # quiet since the connect at T0


def test_the_silence_check_stops_while_private_is_down_and_restarts_from_the_new_connect() -> None:
    s = make(private_stale_after_s=10.0)
    s.connected("private", T0)
    s.disconnected("private", T0 + 1_000)
    assert _check(s, 5) == [] and _check(s, 100) == []  # no timer chain while down
    outs = sends(s.connected("private", T0 + 200_000))  # (and the position modes read again: below)
    assert outs[-1] == SetTimer(key=PRIVATE_SILENCE, after_s=5.0) and len(sent(outs)) == 2  # auth + subscribe again
    assert _check(s, 205) == [SetTimer(key=PRIVATE_SILENCE, after_s=5.0)]  # 5 s after the connect: fine
    assert isinstance(_check(s, 211)[-1], Reconnect)


def test_an_unknown_timer_asks_for_nothing() -> None:
    s = make()
    s.connected("private", T0)
    assert s.timer("listen_key_keepalive", T0 + 999_999) == []


# -- reconnects ------------------------------------------------------------------------------------------
def test_public_reconnect_resets_every_book_and_resubscribes_them_all() -> None:
    s = make(trades=False)
    _live(s)
    s.subscribe([ETH], T0)
    outs = s.disconnected("public", T0 + 5)
    assert outs == [BookIntegrity(venue=Venue.BYBIT, instrument=BTC, state=BookState.SYNCING, reason="reconnect",
                                  ts=(T0 + 5) * 1_000_000)]
    assert not s.book_live(BTC) and s.top_of_books(5) == []
    assert "public" not in s.up
    assert [f["args"] for f in sent(s.connected("public", T0 + 9))] == [["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]]
    assert s.feed("public", book_frame("delta", 101), 4)[0] == Dropped(
        reason="delta_before_snapshot", error=f"bybit {BTC} orderbook.50.BTCUSDT delta u=101 while syncing")


def test_private_reconnect_logs_in_again_and_keeps_the_known_orders() -> None:
    s = make()
    s.connected("private", T0)
    s.on_event(LoggedIn(), "private", T0)
    s.feed("private", order_frame("New"), 5)
    assert s.disconnected("private", T0 + 1) == []
    assert not s.private_session and not s.logged_in
    auth, sub = sent(s.connected("private", T0 + 2))
    assert auth["op"] == "auth" and auth["args"][1] == T0 + 2 + 10_000 and sub["args"] == PRIVATE_TOPICS
    assert s.orders.lookup(ClientOrderId("cb-1"), None) is not None


def test_top_of_books_lists_the_live_books_of_subscribed_instruments() -> None:
    s = make()
    _live(s)
    assert s.top_of_books(5) == [(BTC, [(30000.0, 1.0)], [(30000.5, 2.0)])]


# -- known orders ----------------------------------------------------------------------------------------
def test_private_order_updates_are_remembered_under_both_ids() -> None:
    s = make()
    s.connected("private", T0)
    (upd,) = s.feed("private", order_frame("PartiallyFilled", filled="0.004"), 9)
    assert isinstance(upd, OrderUpdate) and upd.status is OrderStatus.PARTIALLY_FILLED
    assert s.orders.lookup(ClientOrderId("cb-1"), None) == upd
    assert s.orders.lookup(None, VenueOrderId("oid-1")) == upd
    assert s.last_private_ns == 9


def test_order_frames_on_public_are_not_remembered() -> None:
    s = make()
    s.feed("public", order_frame("New"), 9)
    assert len(s.orders) == 0 and s.last_private_ns == 0


def _upd(cid: str, oid: str, status: OrderStatus = OrderStatus.SUBMITTED) -> OrderUpdate:
    return OrderUpdate(venue=Venue.BYBIT, instrument=BTC, client_order_id=ClientOrderId(cid) if cid else None,
                       venue_order_id=VenueOrderId(oid) if oid else None, status=status, raw_status="New",
                       side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.010"), filled_qty=Decimal(0),
                       avg_price=None, price=Decimal("30000"), ts_event=1, ts_recv=1)


def test_known_orders_prefer_the_client_id_and_forget_the_oldest_beyond_capacity() -> None:
    known = KnownOrders(capacity=4)
    a, b, c = _upd("a", "1"), _upd("b", "2"), _upd("", "3")
    for u in (a, b, c):
        known.remember(u)
    assert len(known) == 4  # a:2 keys, b:2 keys, c: 1 key -> "a" (the oldest key) is gone
    assert known.lookup(ClientOrderId("a"), None) is None and known.lookup(None, VenueOrderId("1")) is a
    assert known.lookup(ClientOrderId("b"), VenueOrderId("3")) is b
    assert known.lookup(ClientOrderId("zz"), VenueOrderId("3")) is c
    assert known.lookup(None, None) is None
