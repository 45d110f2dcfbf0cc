"""BinanceCodec: book sync (real SUSHIUSDT capture and own payloads), control frames, garbage, invariants."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages import (
    BookDelta,
    BookIntegrity,
    BookSnapshot,
    BookState,
    InstrumentId,
    Message,
    Quote,
    Venue,
)
from venues.binance import BinanceCodec
from venues.book import L2Book
from venues.events import (
    SUPERSEDED,
    CodecEvent,
    Dropped,
    NeedSnapshot,
    Pong,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)
from venues.symbols import InstrumentRegistry

SUSHI = InstrumentId("SUSHI-USDT-PERP")
BTC = InstrumentId("BTC-USDT-PERP")
SNAPSHOT = "rest_depth_snapshot_real_SUSHIUSDT.json"
SEQUENCE = "ws_depth_diff_real_sequence_SUSHIUSDT.jsonl"

Levels = list[tuple[float, float]]


# -- helpers: own payloads written from the documented fields ---------------------------------------------
def depth_frame(
    U: int, u: int, pu: int, bids: Levels, asks: Levels, symbol: str = "BTCUSDT", combined: bool = True
) -> bytes:
    data = {
        "e": "depthUpdate",
        "E": 1_700_000_000_100 + u,
        "T": 1_700_000_000_000 + u,
        "s": symbol,
        "U": U,
        "u": u,
        "pu": pu,
        "b": [[repr(p), repr(q)] for p, q in bids],
        "a": [[repr(p), repr(q)] for p, q in asks],
    }
    body = {"stream": f"{symbol.lower()}@depth@100ms", "data": data} if combined else data
    return json.dumps(body).encode()


def snapshot_body(last_update_id: int, bids: Levels, asks: Levels) -> bytes:
    return json.dumps(
        {
            "lastUpdateId": last_update_id,
            "E": 1_700_000_000_000,
            "T": 1_700_000_000_000,
            "bids": [[repr(p), repr(q)] for p, q in bids],
            "asks": [[repr(p), repr(q)] for p, q in asks],
        }
    ).encode()


def of_type(out: Iterable[object], cls: type[Any]) -> list[Any]:
    return [m for m in out if isinstance(m, cls)]


def reference_book(
    snapshot: dict[str, Any], events: Iterable[dict[str, Any]]
) -> tuple[dict[float, float], ...]:
    """The book computed by hand: dicts, absolute sizes, "0" deletes, events with u < lastUpdateId skipped."""
    bids = {float(p): float(q) for p, q in snapshot["bids"]}
    asks = {float(p): float(q) for p, q in snapshot["asks"]}
    for ev in events:
        if ev["u"] < snapshot["lastUpdateId"]:
            continue
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in ev[key]:
                if float(q) == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
    return bids, asks


def live_btc_codec(registry: InstrumentRegistry, emit_deltas: bool = False) -> BinanceCodec:
    codec = BinanceCodec(registry, emit_deltas=emit_deltas)
    codec.feed(depth_frame(99, 101, 95, [(100.0, 1.0)], []), 0)
    codec.apply_snapshot(
        BTC, snapshot_body(100, [(100.0, 2.0), (99.0, 1.0)], [(101.0, 1.0), (102.0, 3.0)]), 1
    )
    return codec


# -- the real SUSHIUSDT capture ----------------------------------------------------------------------------
def test_real_sushiusdt_sequence_buffered_before_the_snapshot_replays_without_false_gap(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    lines = wire_bytes(SEQUENCE).splitlines()
    events = [json.loads(line)["data"] for line in lines]
    snapshot = wire_json(SNAPSHOT)
    codec = BinanceCodec(registry, emit_deltas=True)

    (first,) = codec.feed(lines[0], 10)
    assert isinstance(first, NeedSnapshot) and first.instrument == SUSHI
    assert all(codec.feed(line, 10) == [] for line in lines[1:])
    assert codec.book_state(SUSHI) is BookState.SYNCING

    out = codec.apply_snapshot(SUSHI, wire_bytes(SNAPSHOT), 20)

    assert codec.book_state(SUSHI) is BookState.LIVE
    assert of_type(out, NeedSnapshot) == [] and of_type(out, Dropped) == []
    assert codec.stale_events == 3  # the capture's first three events end before lastUpdateId
    integrity = of_type(out, BookIntegrity)
    assert [i.state for i in integrity] == [BookState.LIVE]
    deltas = of_type(out, BookDelta)
    # the boundary event U == lastUpdateId is the first one applied, then the 19 that follow it
    assert events[3]["U"] == snapshot["lastUpdateId"]
    assert [d.sequence for d in deltas] == [ev["u"] for ev in events[3:]]
    assert [d.prev_sequence for d in deltas] == [ev["pu"] for ev in events[3:]]
    snap = of_type(out, BookSnapshot)[0]
    assert snap.sequence == 600859605926
    assert snap.bids[0] == (float(snapshot["bids"][0][0]), float(snapshot["bids"][0][1]))
    assert snap.asks[-1] == (float(snapshot["asks"][-1][0]), float(snapshot["asks"][-1][1]))

    bids, asks = reference_book(snapshot, events)
    best_bid, best_ask = max(bids), min(asks)
    assert (best_bid, bids[best_bid], best_ask, asks[best_ask]) == (7.611, 23.0, 7.612, 297.0)
    (quote,) = of_type(out, Quote)
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (7.611, 23.0, 7.612, 297.0)
    book_bids, book_asks = codec.book(SUSHI).as_sorted()
    assert dict(book_bids) == bids and dict(book_asks) == asks


def test_real_sushiusdt_events_after_the_snapshot_drop_stale_and_apply_the_boundary_event(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    lines = wire_bytes(SEQUENCE).splitlines()
    events = [json.loads(line)["data"] for line in lines]
    snapshot = wire_json(SNAPSHOT)
    codec = BinanceCodec(registry)
    codec.subscribe_book(SUSHI)
    codec.apply_snapshot(SUSHI, wire_bytes(SNAPSHOT), 1)

    assert [codec.feed(line, 2) for line in lines[:3]] == [[SUPERSEDED]] * 3  # stale: data, not a fault
    assert codec.stale_events == 3
    for i, line in enumerate(lines[3:], start=3):
        (quote,) = codec.feed(line, 3)
        bids, asks = reference_book(snapshot, events[: i + 1])
        assert isinstance(quote, Quote)
        assert (quote.bid_px, quote.bid_sz) == (max(bids), bids[max(bids)])
        assert (quote.ask_px, quote.ask_sz) == (min(asks), asks[min(asks)])
        assert quote.ts_event == events[i]["T"] * 1_000_000 and quote.ts_recv == 3
    assert codec.book_state(SUSHI) is BookState.LIVE


def test_injected_pu_mismatch_in_the_real_sequence_triggers_resync_and_stops_applying(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes]
) -> None:
    lines = wire_bytes(SEQUENCE).splitlines()
    codec = BinanceCodec(registry)
    codec.subscribe_book(SUSHI)
    codec.apply_snapshot(SUSHI, wire_bytes(SNAPSHOT), 1)
    for line in lines[:10]:
        codec.feed(line, 2)
    bad = json.loads(lines[10])
    expected_pu = json.loads(lines[9])["data"]["u"]
    bad["data"]["pu"] = expected_pu - 1

    out = codec.feed(json.dumps(bad).encode(), 3)

    integrity, need = out
    assert isinstance(integrity, BookIntegrity) and isinstance(need, NeedSnapshot)
    assert integrity.state is BookState.RESYNCING and need.instrument == SUSHI
    assert f"expected pu (previous u) {expected_pu}, got {expected_pu - 1}" in integrity.reason
    assert codec.book(SUSHI).depth == (0, 0)
    assert codec.feed(lines[11], 4) == []  # buffered, not applied, no second NeedSnapshot
    assert codec.book_state(SUSHI) is BookState.RESYNCING


def test_spot_contiguity_rule_is_not_used_on_futures(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry)
    # U jumps far past previous u + 1, but pu links the events: no gap on futures.
    out = codec.feed(depth_frame(500, 600, 101, [(100.0, 5.0)], []), 2)
    assert [type(m) for m in out] == [Quote]


# -- own payloads: sync procedure edge cases ---------------------------------------------------------------
def test_snapshot_older_than_the_buffered_stream_asks_for_another_snapshot(
    registry: InstrumentRegistry,
) -> None:
    codec = BinanceCodec(registry)
    codec.feed(depth_frame(200, 210, 190, [(100.0, 1.0)], []), 0)
    out = codec.apply_snapshot(BTC, snapshot_body(150, [(100.0, 2.0)], [(101.0, 1.0)]), 1)
    integrity, need = out
    assert isinstance(integrity, BookIntegrity) and integrity.state is BookState.RESYNCING
    assert "expected U <= lastUpdateId (snapshot too old) 150, got 200" in integrity.reason
    assert isinstance(need, NeedSnapshot)
    # the buffered event is kept: a newer snapshot overlapping it brings the book up
    out = codec.apply_snapshot(BTC, snapshot_body(205, [(100.0, 2.0)], [(101.0, 1.0)]), 2)
    assert codec.book_state(BTC) is BookState.LIVE
    assert of_type(out, Quote)[0].bid_sz == 1.0


def test_first_event_after_the_snapshot_must_cover_last_update_id(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    codec.subscribe_book(BTC)
    codec.apply_snapshot(BTC, snapshot_body(100, [(100.0, 2.0)], [(101.0, 1.0)]), 1)
    assert codec.feed(depth_frame(90, 99, 80, [(100.0, 9.0)], []), 2) == [SUPERSEDED]  # stale
    out = codec.feed(depth_frame(101, 110, 99, [(100.0, 9.0)], []), 3)  # U > lastUpdateId: ids 100..100 lost
    assert [type(m) for m in out] == [BookIntegrity, NeedSnapshot]
    assert "expected U <= lastUpdateId 100, got 101" in out[0].reason  # type: ignore[union-attr]


def test_crossed_book_goes_to_resyncing_and_is_cleared(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry)
    out = codec.feed(depth_frame(102, 102, 101, [(101.5, 1.0)], []), 2)
    assert [type(m) for m in out] == [BookIntegrity, NeedSnapshot]
    integrity = out[0]
    assert isinstance(integrity, BookIntegrity)
    assert integrity.state is BookState.RESYNCING
    assert "crossed: best bid 101.5 >= best ask 101.0" in integrity.reason
    assert codec.book(BTC).depth == (0, 0)
    assert codec.feed(depth_frame(103, 103, 102, [(99.0, 1.0)], []), 3) == []


def test_reset_after_reconnect_puts_every_book_back_to_syncing(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry)
    out = codec.reset(ts_recv=7)
    assert [(m.instrument, m.state, m.ts) for m in of_type(out, BookIntegrity)] == [
        (BTC, BookState.SYNCING, 7)
    ]
    assert codec.book_state(BTC) is BookState.SYNCING and codec.book(BTC).depth == (0, 0)
    # the next depth event asks for a snapshot again
    assert [type(m) for m in codec.feed(depth_frame(300, 301, 299, [], []), 8)] == [NeedSnapshot]


def test_live_updates_emit_delta_then_quote_when_deltas_are_requested(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry, emit_deltas=True)
    delta, quote = codec.feed(depth_frame(102, 104, 101, [(100.5, 4.0)], [(101.0, 0.0)]), 9)
    assert delta == BookDelta(
        venue=Venue.BINANCE,
        instrument=BTC,
        bids=((100.5, 4.0),),
        asks=((101.0, 0.0),),
        sequence=104,
        prev_sequence=101,
        ts_event=(1_700_000_000_000 + 104) * 1_000_000,
        ts_recv=9,
    )
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (100.5, 4.0, 102.0, 3.0)  # type: ignore[union-attr]


def test_raw_stream_frames_decode_like_combined_ones(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry)
    (quote,) = codec.feed(depth_frame(102, 104, 101, [(100.5, 4.0)], [], combined=False), 2)
    assert isinstance(quote, Quote) and quote.bid_px == 100.5


# -- control frames ----------------------------------------------------------------------------------------
def test_subscribe_ack_becomes_subscribed_with_the_requested_streams(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    frame = json.loads(codec.subscribe(["btcusdt@bookTicker", "btcusdt@aggTrade"]))
    ack = json.dumps({"result": None, "id": frame["id"]}).encode()
    assert codec.feed(ack, 1) == [
        Subscribed(channels=("btcusdt@bookTicker", "btcusdt@aggTrade"), request_id=str(frame["id"]))
    ]


def test_ping_answer_becomes_pong_carrying_the_send_time(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    frame = json.loads(codec.ping(ts_sent=123_456))
    assert frame["method"] == "LIST_SUBSCRIPTIONS"
    assert codec.feed(json.dumps({"result": [], "id": frame["id"]}).encode(), 2) == [Pong(ts_sent=123_456)]


def test_documented_subscribe_response_acks_the_documented_subscribe_request(
    registry: InstrumentRegistry, wire_json: Callable[[str], Any], wire_bytes: Callable[[str], bytes]
) -> None:
    request = wire_json("ws_subscribe_request.json")
    answer = wire_json("ws_subscribe_response.json")
    codec = BinanceCodec(registry)
    sent = json.loads(codec.subscribe(request["params"]))
    assert (sent["method"], sent["params"], sent["id"]) == (
        request["method"],
        request["params"],
        request["id"],
    )
    assert answer["id"] == sent["id"] and answer["result"] is None
    assert codec.feed(wire_bytes("ws_subscribe_response.json"), 1) == [
        Subscribed(channels=tuple(request["params"]), request_id=str(answer["id"]))
    ]


def test_documented_list_subscriptions_response(
    registry: InstrumentRegistry, wire_json: Callable[[str], Any], wire_bytes: Callable[[str], bytes]
) -> None:
    answer = wire_json("ws_list_subscriptions_response.json")
    raw = wire_bytes("ws_list_subscriptions_response.json")
    # Not one of our requests: the listed streams are reported as they are.
    assert BinanceCodec(registry).feed(raw, 1) == [
        Subscribed(channels=tuple(answer["result"]), request_id=str(answer["id"]))
    ]
    # As the answer to our ping (LIST_SUBSCRIPTIONS with the same id) it becomes the Pong.
    codec = BinanceCodec(registry)
    while True:
        sent = json.loads(codec.ping(ts_sent=777))
        if sent["id"] >= answer["id"]:
            break
    assert sent == {"method": "LIST_SUBSCRIPTIONS", "params": [], "id": answer["id"]}
    assert codec.feed(raw, 2) == [Pong(ts_sent=777)]


def test_error_answers_become_subscribe_failed(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    old = b'{"code": 2, "msg": "Invalid request: unknown variant", "id": 5}'
    new = b'{"error": {"code": 0, "msg": "Unknown property"}, "id": 6}'
    assert codec.feed(old, 1) == [
        SubscribeFailed(code="2", text="Invalid request: unknown variant", request_id="5")
    ]
    assert codec.feed(new, 1) == [SubscribeFailed(code="0", text="Unknown property", request_id="6")]


def test_listen_key_expired_becomes_stream_expired_without_the_key(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    frame = b'{"e": "listenKeyExpired", "E": 1576653824250, "listenKey": "SECRETKEY123"}'
    (event,) = codec.feed(frame, 1)
    assert isinstance(event, StreamExpired) and "SECRETKEY123" not in event.reason


# The documented examples of the user-data events crossbook decodes and does not use (USD-M docs,
# user-data-streams pages, read 2026-12: Event-Trade-Lite, Event-Margin-Call, Event-Account-Configuration-
# Update-previous-Leverage-Update, Event-STRATEGY-UPDATE, Event-GRID-UPDATE,
# Event-Conditional-Order-Trigger-Reject), and markPriceUpdate from the market streams.
IGNORED_DOC_EVENTS: dict[str, bytes] = {
    "TRADE_LITE": b'{"e":"TRADE_LITE","E":1721895408092,"T":1721895408214,"s":"BTCUSDT","q":"0.001","p":"0",'
    b'"m":false,"c":"z8hcUoOsqEdKMeKPSABslD","S":"BUY","L":"64089.20","l":"0.040","t":109100866,"i":8886774}',
    "MARGIN_CALL": b'{"e":"MARGIN_CALL","E":1587727187525,"cw":"3.16812045","p":[{"s":"ETHUSDT","ps":"LONG",'
    b'"pa":"1.327","mt":"CROSSED","iw":"0","mp":"187.17127","up":"-1.166074","mm":"1.614445"}]}',
    "ACCOUNT_CONFIG_UPDATE": b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,'
    b'"ac":{"s":"BTCUSDT","l":25}}',
    "STRATEGY_UPDATE": b'{"e":"STRATEGY_UPDATE","T":1669261797627,"E":1669261797628,"su":{"si":176054594,'
    b'"st":"GRID","ss":"NEW","s":"BTCUSDT","ut":1669261797627,"c":8007}}',
    "GRID_UPDATE": b'{"e":"GRID_UPDATE","T":1669262908216,"E":1669262908218,"gu":{"si":176057039,"st":"GRID",'
    b'"ss":"WORKING","s":"BTCUSDT","r":"-0.00300716","up":"16720","uq":"-0.001","uf":"-0.00300716",'
    b'"mp":"0.0","ut":1669262908197}}',
    "CONDITIONAL_ORDER_TRIGGER_REJECT": b'{"e":"CONDITIONAL_ORDER_TRIGGER_REJECT","E":1685517224945,'
    b'"T":1685517224955,"or":{"s":"ETHUSDT","i":155618472834,"r":"Due to the order could not be filled '
    b'immediately, the FOK order has been rejected. The order will not be recorded in the order history"}}',
    "markPriceUpdate": b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000"}',
}


def test_every_documented_event_crossbook_does_not_use_is_decoded_and_counted_as_ignored(
    registry: InstrumentRegistry,
) -> None:
    codec = BinanceCodec(registry)
    for name, frame in IGNORED_DOC_EVENTS.items():
        assert codec.feed(frame, 1) == [], name
        assert codec.feed(b'{"stream":"listenkey","data":' + frame + b"}", 1) == [], name  # combined form
    multi_assets = b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,"ai":{"j":true}}'
    assert codec.feed(multi_assets, 1) == []
    assert codec.ignored == {name: 2 for name in IGNORED_DOC_EVENTS} | {"ACCOUNT_CONFIG_UPDATE": 3}
    assert codec.unknown_events == {}


def test_a_known_event_of_the_wrong_shape_is_malformed(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    no_strategy = b'{"e":"STRATEGY_UPDATE","T":1669261797627,"E":1669261797628}'
    bad_status_type = IGNORED_DOC_EVENTS["GRID_UPDATE"].replace(b'"ss":"WORKING"', b'"ss":7')
    for frame, where in ((no_strategy, "`su`"), (bad_status_type, "`$.gu.ss`")):
        (dropped,) = codec.feed(frame, 1)
        assert isinstance(dropped, Dropped) and dropped.reason == "malformed" and where in dropped.error
    assert codec.ignored == {} and codec.unknown_events == {}


def test_an_event_type_the_docs_do_not_list_is_counted_not_dropped(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    assert codec.feed(b'{"e":"somethingNew","E":1,"x":{"y":[1,2]}}', 1) == []
    assert codec.feed(b'{"stream":"k","data":{"e":"somethingNew","E":2}}', 1) == []
    assert codec.unknown_events == {"somethingNew": 2} and codec.ignored == {}
    (dropped,) = codec.feed(b'{"e":"somethingNew","E":1', 1)  # not JSON: malformed whatever its type
    assert isinstance(dropped, Dropped) and dropped.reason == "malformed"


def test_a_bad_price_is_dropped_with_the_path_of_the_field(registry: InstrumentRegistry) -> None:
    codec = live_btc_codec(registry)
    frame = depth_frame(102, 104, 101, [(100.5, 4.0)], []).replace(b'"100.5"', b'"nan"')
    (dropped,) = codec.feed(frame, 2)
    assert isinstance(dropped, Dropped)
    assert "Expected `float` > 0.0 - at `$.data.b[0][0]`" in dropped.error
    assert codec.book(BTC).bid_size(100.5) == 0.0


# -- hypothesis: garbage never crashes ---------------------------------------------------------------------
def _assert_typed(out: list[Message | CodecEvent]) -> None:
    assert isinstance(out, list)
    assert all(isinstance(m, Message | CodecEvent) for m in out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(registry: InstrumentRegistry, frame: bytes) -> None:
    codec = BinanceCodec(registry)
    out = codec.feed(frame, 1)
    _assert_typed(out)
    try:
        msgspec.json.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError):  # invalid UTF-8 inside a JSON string is the latter
        assert [type(m) for m in out] == [Dropped]


REAL_FRAMES = [
    depth_frame(102, 104, 101, [(100.5, 4.0), (99.0, 0.0)], [(101.0, 2.0)]),
    b'{"stream":"sushiusdt@bookTicker","data":{"e":"bookTicker","u":600859600576,"s":"SUSHIUSDT","b":"7.6110",'
    b'"B":"2","a":"7.6120","A":"297","T":1626992741012,"E":1626992741017}}',
    b'{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT","c":"TEST","S":"SELL",'
    b'"o":"LIMIT","f":"GTC","q":"0.001","p":"7000","ap":"7000","x":"TRADE","X":"FILLED","i":8886774,"l":"0.001",'
    b'"z":"0.001","L":"7000","N":"USDT","n":"0.0028","T":1568879465650,"t":12,"m":false,"R":false}}',
    b'{"result":null,"id":1}',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(REAL_FRAMES), st.data())
def test_truncated_and_mutated_real_frames_never_raise(
    registry: InstrumentRegistry, frame: bytes, data: st.DataObject
) -> None:
    codec = live_btc_codec(registry)
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    assert [type(m) for m in codec.feed(frame[:cut], 2)] == [Dropped]
    pos = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    byte = data.draw(st.integers(min_value=0, max_value=255))
    _assert_typed(codec.feed(frame[:pos] + bytes([byte]) + frame[pos + 1 :], 3))


# -- hypothesis: book invariants ---------------------------------------------------------------------------
levels = st.lists(
    st.tuples(st.integers(min_value=1, max_value=40), st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.0])), max_size=6
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=25))
def test_book_is_never_silently_wrong_and_snapshot_plus_deltas_rebuilds_it(
    registry: InstrumentRegistry, updates: list[tuple[list[tuple[int, float]], list[tuple[int, float]]]]
) -> None:
    codec = BinanceCodec(registry, emit_deltas=True)
    codec.subscribe_book(BTC)
    snap_bids = [(float(p), 1.0) for p in range(1, 20)]
    snap_asks = [(float(p), 1.0) for p in range(21, 40)]
    published: list[Message | CodecEvent] = list(
        codec.apply_snapshot(BTC, snapshot_body(10, snap_bids, snap_asks), 0)
    )
    ref_b, ref_a = dict(snap_bids), dict(snap_asks)
    prev = 9
    for i, (bids, asks) in enumerate(updates):
        u = 10 + 3 * i + 2
        fb = [(float(p), q) for p, q in bids]
        fa = [(float(p), q) for p, q in asks]
        out = codec.feed(depth_frame(prev + 1 if i else 10, u, prev, fb, fa), i)
        published += out
        prev = u
        for book, lv in ((ref_b, fb), (ref_a, fa)):
            for p, q in lv:
                if q == 0.0:
                    book.pop(p, None)
                else:
                    book[p] = q
        crossed = bool(ref_b) and bool(ref_a) and max(ref_b) >= min(ref_a)
        if crossed:
            assert [type(m) for m in out] == [BookIntegrity, NeedSnapshot]
            assert codec.book_state(BTC) is BookState.RESYNCING
            break
        assert codec.book_state(BTC) is BookState.LIVE
        got_b, got_a = codec.book(BTC).as_sorted()
        assert dict(got_b) == ref_b and dict(got_a) == ref_a
        for quote in of_type(out, Quote):
            assert quote.bid_px < quote.ask_px
            assert (quote.bid_px, quote.ask_px) == (max(ref_b), min(ref_a))
    if codec.book_state(BTC) is BookState.LIVE:
        rebuilt = L2Book("binance", BTC)
        for m in published:
            if isinstance(m, BookSnapshot):
                rebuilt.load(m.bids, m.asks)
            elif isinstance(m, BookDelta):
                rebuilt.apply(m.bids, m.asks)
        assert rebuilt.as_sorted() == codec.book(BTC).as_sorted()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(min_value=2, max_value=30),
    data=st.data(),
)
def test_every_injected_gap_is_detected_at_the_event_that_breaks_the_chain(
    registry: InstrumentRegistry, n: int, data: st.DataObject
) -> None:
    codec = BinanceCodec(registry)
    codec.subscribe_book(BTC)
    codec.apply_snapshot(BTC, snapshot_body(100, [(10.0, 1.0)], [(20.0, 1.0)]), 0)
    bad = data.draw(st.integers(min_value=1, max_value=n - 1))
    shift = data.draw(st.integers(min_value=-50, max_value=50).filter(lambda s: s != 0))
    prev_u = 99
    for i in range(n):
        jump = data.draw(st.integers(min_value=1, max_value=1000))  # futures ids are not contiguous
        U, u = (100, 100 + jump) if i == 0 else (prev_u + jump, prev_u + 2 * jump)
        pu = prev_u + shift if i == bad else prev_u
        out = codec.feed(depth_frame(U, u, pu, [(10.0, float(i + 1))], []), i)
        if i < bad:
            assert [type(m) for m in out] == [Quote]
        elif i == bad:
            assert [type(m) for m in out] == [BookIntegrity, NeedSnapshot]
            break
        prev_u = u
    assert codec.book_state(BTC) is BookState.RESYNCING
