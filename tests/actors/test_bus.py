from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import topics
from actors.bus import Bus
from messages import InstrumentId, MailboxOverflow, Quote, Side, Trade, Venue

TOKENS = st.sampled_from(["md", "quote", "okx", "binance", "BTC-USDT-PERP", "a", "b"])


def reference_match(pattern: str, topic: str) -> bool:
    """An independent matcher: translate the NATS pattern into a regex."""
    parts = pattern.split(".")
    rx = []
    for n, p in enumerate(parts):
        if p == ">":
            rx.append(r"[^.]+(\.[^.]+)*")
        elif p == "*":
            rx.append(r"[^.]+")
        else:
            rx.append(re.escape(p))
    return re.fullmatch(r"\.".join(rx), topic) is not None


@st.composite
def patterns(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 5))
    parts = [draw(st.one_of(TOKENS, st.just("*"))) for _ in range(n)]
    if draw(st.booleans()):
        parts.append(">")
    return ".".join(parts)


@settings(max_examples=500)
@given(patterns(), st.lists(TOKENS, min_size=1, max_size=6).map(".".join))
def test_wildcard_matching_agrees_with_a_reference_matcher(pattern: str, topic: str) -> None:
    assert topics.matches(pattern, topic) == reference_match(pattern, topic)


def test_gt_wildcard_needs_at_least_one_token_and_must_be_last() -> None:
    assert topics.matches("md.>", "md.quote")
    assert not topics.matches("md.>", "md")
    with pytest.raises(ValueError, match="must be the last token"):
        topics.matches("md.>.x", "md.a.x")


def test_topic_builders_refuse_tokens_with_separators() -> None:
    with pytest.raises(ValueError, match="invalid topic token"):
        topics.quote(Venue.OKX, InstrumentId("BTC.USDT"))


def _quote(venue: Venue, bid: float) -> Quote:
    return Quote(venue=venue, instrument=InstrumentId("BTC-USDT-PERP"), bid_px=bid, bid_sz=1.0, ask_px=bid + 1,
                 ask_sz=1.0, ts_event=1, ts_recv=2)


def test_publish_fans_out_to_every_matching_subscriber_only() -> None:
    bus = Bus()
    all_quotes = bus.subscribe_conflating(topics.quote("*", "*"), name="all")
    okx_only = bus.subscribe_conflating(topics.quote(Venue.OKX, "*"), name="okx")
    trades = bus.subscribe_events(topics.trade(">"), name="trades")
    q1, q2 = _quote(Venue.OKX, 100.0), _quote(Venue.BINANCE, 101.0)
    assert bus.publish_msg(q1) == 2
    assert bus.publish_msg(q2) == 1
    assert all_quotes.receiver is not None and okx_only.receiver is not None and trades.receiver is not None
    assert [all_quotes.receiver.receive_nowait(), all_quotes.receiver.receive_nowait()] == [q1, q2]
    assert okx_only.receiver.receive_nowait() == q1
    assert not trades.receiver.has_items()
    bus.close()


def test_conflating_subscriber_sees_only_the_newest_quote_per_topic() -> None:
    bus = Bus()
    sub = bus.subscribe_conflating(topics.quote("*", "*"))
    for px in (100.0, 101.0, 102.0):
        bus.publish_msg(_quote(Venue.OKX, px))
    bus.publish_msg(_quote(Venue.BYBIT, 50.0))
    assert sub.receiver is not None
    got = [sub.receiver.receive_nowait(), sub.receiver.receive_nowait()]
    assert [q.bid_px for q in got] == [102.0, 50.0]
    bus.close()


def test_slow_event_subscriber_gets_an_overflow_notice_not_a_silent_gap() -> None:
    bus = Bus()
    sub = bus.subscribe_events(topics.trade(">"), name="slow", capacity=2)
    for n in range(5):
        t = Trade(venue=Venue.OKX, instrument=InstrumentId("X"), price=1.0, size=1.0, side=Side.BUY,
                  trade_id=str(n), ts_event=n, ts_recv=n)
        bus.publish_msg(t)
    assert sub.receiver is not None
    assert [sub.receiver.receive_nowait().trade_id for _ in range(2)] == ["0", "1"]
    bus.publish_msg(Trade(venue=Venue.OKX, instrument=InstrumentId("X"), price=1.0, size=1.0, side=Side.BUY,
                          trade_id="5", ts_event=5, ts_recv=5))
    notice = sub.receiver.receive_nowait()
    assert isinstance(notice, MailboxOverflow) and notice.dropped == 3
    assert sub.receiver.receive_nowait().trade_id == "5"
    bus.close()


def test_unsubscribed_or_closed_subscribers_stop_receiving() -> None:
    bus = Bus()
    a = bus.subscribe_conflating(topics.quote(">"))
    b = bus.subscribe_conflating(topics.quote(">"))
    a.cancel()
    assert bus.publish_msg(_quote(Venue.OKX, 1.0)) == 1
    assert b.receiver is not None
    b.receiver.close()
    assert bus.publish_msg(_quote(Venue.OKX, 2.0)) == 0
    assert bus.subscriptions() == []
    bus.close()


def test_every_message_kind_has_a_topic() -> None:
    q = _quote(Venue.DERIBIT, 1.0)
    assert topics.topic_for(q) == "md.quote.deribit.BTC-USDT-PERP"
    assert topics.matches(topics.quote(Venue.DERIBIT), topics.topic_for(q))
